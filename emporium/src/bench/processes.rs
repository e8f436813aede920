//! The platform's processes as the kernel sees them: which are running (found by their command
//! line in `/proc`), how much memory they hold (`VmRSS`, sampled during the run)
//! and how much CPU they used (`utime + stime` of `/proc/<pid>/stat`, every
//! thread included).

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A process of the platform.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Process {
    /// Its pid.
    pub pid: u32,
    /// What it is: `api`, `worker orders`, `dev`, `temporal`, `postgres`.
    pub role: String,
}

/// What one process used during the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// Its pid (0 for a group, such as every Postgres backend).
    pub pid: u32,
    /// What it is.
    pub role: String,
    /// Highest resident memory seen while sampling, MiB.
    pub rss_peak_mib: f64,
    /// Resident memory at the end, MiB.
    pub rss_end_mib: f64,
    /// CPU time used during the run, seconds.
    pub cpu_secs: f64,
}

fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|part| !part.is_empty())
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect(),
    )
}

/// What a command line runs, if it is part of the platform.
fn role_of(args: &[String]) -> Option<String> {
    // Postgres backends rename themselves: `postgres: 15/main: user db 127.0.0.1(5432) idle`.
    if args.first()?.starts_with("postgres") {
        return Some("postgres".to_owned());
    }
    let program = args.first()?.rsplit('/').next()?.to_owned();
    match program.as_str() {
        "emporium" => match args.get(1).map(String::as_str) {
            Some("api") => Some("api".to_owned()),
            Some("dev") => Some("dev (api + every worker)".to_owned()),
            Some("worker") => Some(format!(
                "worker {}",
                args.iter()
                    .skip(2)
                    .filter(|a| *a != "--service")
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            _ => None,
        },
        "temporal" if args.iter().any(|a| a == "start-dev") => Some("temporal".to_owned()),
        program if program.starts_with("postgres") => Some("postgres".to_owned()),
        _ => None,
    }
}

/// The platform's processes running now (not this one).
pub fn find() -> Vec<Process> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<Process> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let role = role_of(&cmdline(pid)?)?;
            Some(Process { pid, role })
        })
        .collect();
    found.sort();
    found
}

/// Resident memory now, bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

/// CPU time used so far by every thread of the process, living or gone: `utime + stime` of
/// `/proc/<pid>/stat`, in the kernel's user-visible clock ticks (`USER_HZ`, 100 on Linux).
pub fn cpu(pid: u32) -> Option<Duration> {
    const USER_HZ: u64 = 100;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// Samples the processes' memory and CPU from [`Sampler::start`] to [`Sampler::finish`].
#[derive(Debug)]
pub struct Sampler {
    processes: Vec<Process>,
    cpu_at_start: BTreeMap<u32, Duration>,
    rss_peak: BTreeMap<u32, u64>,
}

impl Sampler {
    /// Starts counting CPU from now.
    pub fn start(processes: Vec<Process>) -> Self {
        let cpu_at_start = processes
            .iter()
            .filter_map(|p| Some((p.pid, cpu(p.pid)?)))
            .collect();
        let mut sampler = Self {
            processes,
            cpu_at_start,
            rss_peak: BTreeMap::new(),
        };
        sampler.sample();
        sampler
    }

    /// Records each process's memory now.
    pub fn sample(&mut self) {
        for process in &self.processes {
            if let Some(rss) = rss_bytes(process.pid) {
                let peak = self.rss_peak.entry(process.pid).or_default();
                *peak = (*peak).max(rss);
            }
        }
    }

    /// Each process's usage; Postgres backends are summed into one line (their memory is
    /// mostly shared buffers, so their RSS sum overstates it: read it as an upper bound).
    pub fn finish(mut self) -> Vec<Usage> {
        self.sample();
        let mib = |bytes: u64| {
            #[expect(clippy::cast_precision_loss, reason = "memory sizes far below 2^52")]
            let value = bytes as f64 / (1024.0 * 1024.0);
            super::stats::round(value)
        };
        let mut usage: Vec<Usage> = Vec::new();
        let mut postgres: Option<Usage> = None;
        for process in &self.processes {
            let used = match (cpu(process.pid), self.cpu_at_start.get(&process.pid)) {
                (Some(end), Some(start)) => end.saturating_sub(*start),
                _ => Duration::ZERO,
            };
            let line = Usage {
                pid: process.pid,
                role: process.role.clone(),
                rss_peak_mib: mib(self.rss_peak.get(&process.pid).copied().unwrap_or_default()),
                rss_end_mib: mib(rss_bytes(process.pid).unwrap_or_default()),
                cpu_secs: super::stats::round(used.as_secs_f64()),
            };
            if process.role == "postgres" {
                let total = postgres.get_or_insert(Usage {
                    pid: 0,
                    role: "postgres (all backends)".to_owned(),
                    rss_peak_mib: 0.0,
                    rss_end_mib: 0.0,
                    cpu_secs: 0.0,
                });
                total.rss_peak_mib = super::stats::round(total.rss_peak_mib + line.rss_peak_mib);
                total.rss_end_mib = super::stats::round(total.rss_end_mib + line.rss_end_mib);
                total.cpu_secs = super::stats::round(total.cpu_secs + line.cpu_secs);
            } else {
                usage.push(line);
            }
        }
        usage.extend(postgres);
        usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn platform_processes_are_told_apart_by_their_command_line() {
        assert_eq!(
            role_of(&args("/usr/local/bin/emporium api")).as_deref(),
            Some("api")
        );
        assert_eq!(
            role_of(&args("target/release/emporium worker --service orders")).as_deref(),
            Some("worker orders")
        );
        assert_eq!(
            role_of(&args("/x/temporal server start-dev --port 7233")).as_deref(),
            Some("temporal")
        );
        assert_eq!(
            role_of(&["postgres: 15/main: postgres shop 127.0.0.1(4242) idle".to_owned()])
                .as_deref(),
            Some("postgres")
        );
        assert_eq!(role_of(&args("emporium bench --orders 5")), None);
        assert_eq!(role_of(&args("/usr/bin/bash")), None);
    }

    #[test]
    fn this_process_has_memory_and_cpu_counted_over_all_its_threads() {
        let me = std::process::id();
        assert!(rss_bytes(me).is_some_and(|rss| rss > 0));
        let before = cpu(me).expect("cpu time");
        // Burn CPU on two other threads: the whole process's time must grow by it.
        let spin = || {
            std::thread::spawn(|| {
                let started = std::time::Instant::now();
                let mut x = 0_u64;
                while started.elapsed() < Duration::from_millis(300) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            })
        };
        let (a, b) = (spin(), spin());
        let _ = (a.join(), b.join());
        let after = cpu(me).expect("cpu time");
        assert!(
            after - before >= Duration::from_millis(300),
            "{before:?} -> {after:?}"
        );
    }
}
