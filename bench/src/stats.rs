//! Latency summaries (an HDR histogram, microsecond resolution to three significant digits)
//! and rates.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// A latency distribution, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Percentiles {
    /// The distribution of `samples`.
    pub fn of(samples: &[Duration]) -> Self {
        let Ok(mut histogram) = Histogram::<u64>::new(3) else {
            return Self::default();
        };
        for sample in samples {
            let micros = u64::try_from(sample.as_micros()).unwrap_or(u64::MAX).max(1);
            let _ = histogram.record(micros);
        }
        if histogram.is_empty() {
            return Self::default();
        }
        #[expect(clippy::cast_precision_loss, reason = "latencies far below 2^52 µs")]
        let ms = |micros: u64| round(micros as f64 / 1000.0);
        Self {
            count: samples.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p95_ms: ms(histogram.value_at_quantile(0.95)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// Three decimals are plenty for a report.
pub fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// `count / elapsed`, per second.
pub fn per_second(count: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let rate = count as f64 / secs;
    round(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_every_sample() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&samples);
        assert_eq!(p.count, 100);
        for (got, want) in [
            (p.p50_ms, 50.0),
            (p.p95_ms, 95.0),
            (p.p99_ms, 99.0),
            (p.max_ms, 100.0),
        ] {
            assert!(
                (got - want).abs() <= want * 0.001 + 0.001,
                "{got} vs {want}"
            );
        }
        let one = Percentiles::of(&[Duration::from_millis(7)]);
        assert!((one.p99_ms - 7.0).abs() < 0.01);
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
    }

    #[test]
    fn rates_are_per_second() {
        assert_eq!(per_second(50, Duration::from_secs(2)), 25.0);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
    }
}
