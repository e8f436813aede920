//! The processes of the platform under test, and what they use.
//!
//! Only the platform the bench drives is followed, however many others run on the machine: the
//! process listening on the API's port, the one listening on the Temporal frontend's port, the
//! `emporium` processes connected to that frontend (the workers; with `emporium dev`, the API
//! is one of them), the NATS server the events go to (when they are published), and the
//! Postgres backends of the platform's database. Sockets and their owners come from `/proc`
//! through `procfs`. Memory is `VmRSS`, and `RssAnon`, the part not shared with other
//! processes, sampled during the run; CPU is `utime + stime` of every thread.

use procfs::net::TcpState;
use procfs::process::{FDTarget, Process as ProcProcess};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// What identifies the platform under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The API's port.
    pub api_port: u16,
    /// The Temporal frontend's port.
    pub temporal_port: u16,
    /// The platform's Postgres database.
    pub database: String,
    /// The port of the NATS server its domain events go to, if they are published.
    pub events_port: Option<u16>,
}

/// A process of the platform.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Process {
    /// Its pid.
    pub pid: i32,
    /// What it is: `api`, `worker orders`, `dev (api + every worker)`, `temporal`, `postgres`.
    pub role: String,
}

/// What one process used during the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// Its pid (0 for a group, such as every Postgres backend).
    pub pid: i32,
    /// What it is.
    pub role: String,
    /// Highest resident memory seen while sampling, MiB.
    pub rss_peak_mib: f64,
    /// Resident memory at the end, MiB.
    pub rss_end_mib: f64,
    /// Highest private resident memory seen (`RssAnon`: heap and stacks, without the pages of
    /// the binary and libraries every process of the platform shares), MiB.
    pub anon_peak_mib: f64,
    /// CPU time used during the run, seconds.
    pub cpu_secs: f64,
}

/// A TCP socket: its local and remote ports, and whether it listens or is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Socket {
    local: u16,
    remote: u16,
    listens: bool,
    connected: bool,
}

/// TCP sockets by inode.
fn sockets() -> HashMap<u64, Socket> {
    let mut found = HashMap::new();
    for table in [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .flatten()
    {
        for entry in table {
            found.insert(
                entry.inode,
                Socket {
                    local: entry.local_address.port(),
                    remote: entry.remote_address.port(),
                    listens: entry.state == TcpState::Listen,
                    connected: entry.state == TcpState::Established,
                },
            );
        }
    }
    found
}

/// The socket inodes a process holds.
fn socket_inodes(process: &ProcProcess) -> BTreeSet<u64> {
    process
        .fd()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| match fd.target {
            FDTarget::Socket(inode) => Some(inode),
            _ => None,
        })
        .collect()
}

/// What a platform process is, from its command line.
fn role_of(args: &[String]) -> String {
    let program = args
        .first()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or_default();
    match (program, args.get(1).map(String::as_str)) {
        ("emporium", Some("dev")) => "dev (api + every worker)".to_owned(),
        ("emporium", Some("api")) => "api".to_owned(),
        ("emporium", Some("worker")) => format!(
            "worker {}",
            args.iter()
                .skip(2)
                .filter(|a| *a != "--service")
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => program.to_owned(),
    }
}

/// Whether a command line is a Postgres backend of `database`
/// (`postgres: 15/main: user database 127.0.0.1(4242) idle`).
fn serves_database(args: &[String], database: &str) -> bool {
    let line = args.join(" ");
    line.starts_with("postgres:") && line.split_whitespace().nth(3) == Some(database)
}

/// The platform's processes running now (not this one).
pub fn find(platform: &Platform) -> Vec<Process> {
    let me = i32::try_from(std::process::id()).unwrap_or_default();
    let sockets = sockets();
    let mut found = Vec::new();
    for process in procfs::process::all_processes()
        .into_iter()
        .flatten()
        .flatten()
    {
        if process.pid == me {
            continue;
        }
        let Ok(args) = process.cmdline() else {
            continue;
        };
        if serves_database(&args, &platform.database) {
            found.push(Process {
                pid: process.pid,
                role: "postgres".to_owned(),
            });
            continue;
        }
        let held: Vec<_> = socket_inodes(&process)
            .iter()
            .filter_map(|inode| sockets.get(inode).copied())
            .collect();
        let listens = |port| held.iter().any(|s| s.listens && s.local == port);
        let uses_temporal = held
            .iter()
            .any(|s| s.connected && s.remote == platform.temporal_port);
        let role = role_of(&args);
        let nats = platform.events_port.is_some_and(listens);
        let ours = listens(platform.api_port)
            || listens(platform.temporal_port)
            || nats
            || (uses_temporal && role.starts_with("worker"));
        if ours {
            let role = if listens(platform.temporal_port) {
                "temporal".to_owned()
            } else if nats {
                "nats".to_owned()
            } else {
                role
            };
            found.push(Process {
                pid: process.pid,
                role,
            });
        }
    }
    found.sort();
    found
}

/// Resident memory now, bytes.
pub fn rss_bytes(pid: i32) -> Option<u64> {
    memory(pid).map(|(rss, _)| rss)
}

/// Resident and private (anonymous) resident memory now, bytes.
fn memory(pid: i32) -> Option<(u64, u64)> {
    let status = ProcProcess::new(pid).ok()?.status().ok()?;
    Some((
        status.vmrss? * 1024,
        status.rssanon.unwrap_or_default() * 1024,
    ))
}

/// CPU time used so far by every thread of the process, living or gone.
pub fn cpu(pid: i32) -> Option<Duration> {
    let stat = ProcProcess::new(pid).ok()?.stat().ok()?;
    let ticks = stat.utime + stat.stime;
    Some(Duration::from_millis(
        ticks * 1000 / procfs::ticks_per_second(),
    ))
}

/// Samples the processes' memory and CPU from [`Sampler::start`] to [`Sampler::finish`].
#[derive(Debug)]
pub struct Sampler {
    processes: Vec<Process>,
    cpu_at_start: BTreeMap<i32, Duration>,
    rss_peak: BTreeMap<i32, u64>,
    anon_peak: BTreeMap<i32, u64>,
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
            anon_peak: BTreeMap::new(),
        };
        sampler.sample();
        sampler
    }

    /// Records each process's memory now.
    pub fn sample(&mut self) {
        for process in &self.processes {
            if let Some((rss, anon)) = memory(process.pid) {
                let peak = self.rss_peak.entry(process.pid).or_default();
                *peak = (*peak).max(rss);
                let peak = self.anon_peak.entry(process.pid).or_default();
                *peak = (*peak).max(anon);
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
                anon_peak_mib: mib(self
                    .anon_peak
                    .get(&process.pid)
                    .copied()
                    .unwrap_or_default()),
                cpu_secs: super::stats::round(used.as_secs_f64()),
            };
            if process.role == "postgres" {
                let total = postgres.get_or_insert(Usage {
                    pid: 0,
                    role: "postgres (the platform's backends)".to_owned(),
                    rss_peak_mib: 0.0,
                    rss_end_mib: 0.0,
                    anon_peak_mib: 0.0,
                    cpu_secs: 0.0,
                });
                total.rss_peak_mib = super::stats::round(total.rss_peak_mib + line.rss_peak_mib);
                total.rss_end_mib = super::stats::round(total.rss_end_mib + line.rss_end_mib);
                total.anon_peak_mib = super::stats::round(total.anon_peak_mib + line.anon_peak_mib);
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
        assert_eq!(role_of(&args("/usr/local/bin/emporium api")), "api");
        assert_eq!(
            role_of(&args("target/release/emporium worker --service orders")),
            "worker orders"
        );
        assert_eq!(
            role_of(&args("target/release/emporium dev")),
            "dev (api + every worker)"
        );
        let backend = ["postgres: 15/main: postgres shop 127.0.0.1(4242) idle".to_owned()];
        assert!(serves_database(&backend, "shop"));
        assert!(!serves_database(&backend, "other"));
        assert!(!serves_database(&args("/usr/bin/bash"), "shop"));
    }

    #[tokio::test]
    async fn only_the_processes_of_the_platform_under_test_are_followed() {
        // This test process plays the API: it listens on a port. Another listener it does not
        // serve is ignored.
        let api = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let other = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("another port");
        let platform = Platform {
            api_port: api.local_addr().expect("an address").port(),
            temporal_port: 1,
            database: "no_such_database".to_owned(),
            events_port: None,
        };
        // `find` skips the calling process itself, so look for this one from a child's view:
        // the listener is ours, so the pid found must be ours.
        let me = i32::try_from(std::process::id()).unwrap_or_default();
        let sockets = sockets();
        let process = ProcProcess::new(me).expect("this process");
        let ports: Vec<u16> = socket_inodes(&process)
            .iter()
            .filter_map(|inode| sockets.get(inode))
            .filter(|socket| socket.listens)
            .map(|socket| socket.local)
            .collect();
        assert!(ports.contains(&platform.api_port));
        assert!(ports.contains(&other.local_addr().expect("an address").port()));
        assert!(
            find(&platform).iter().all(|p| p.pid != me),
            "the bench never counts itself"
        );
    }

    #[test]
    fn this_process_has_memory_and_cpu_counted_over_all_its_threads() {
        let me = i32::try_from(std::process::id()).unwrap_or_default();
        assert!(rss_bytes(me).is_some_and(|rss| rss > 0));
        let before = cpu(me).expect("cpu time");
        // Each thread spins until its own CPU time (its /proc/thread-self/stat) is 200 ms,
        // however busy the machine: the process's must then hold both threads' 400 ms.
        let spin = || {
            std::thread::spawn(|| {
                let path = std::fs::canonicalize("/proc/thread-self").expect("this thread");
                let thread = ProcProcess::new_with_root(path).expect("its stat");
                let own = || {
                    let stat = thread.stat().expect("its stat");
                    Duration::from_millis(
                        (stat.utime + stat.stime) * 1000 / procfs::ticks_per_second(),
                    )
                };
                let mut x = 0_u64;
                while own() < Duration::from_millis(200) {
                    for _ in 0..100_000 {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                }
            })
        };
        let (a, b) = (spin(), spin());
        let _ = (a.join(), b.join());
        let after = cpu(me).expect("cpu time");
        assert!(
            after - before >= Duration::from_millis(400),
            "{before:?} -> {after:?}"
        );
    }
}
