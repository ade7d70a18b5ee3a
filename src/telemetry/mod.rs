//! Fixed-bound histograms and counters recorded on the RT thread.
//!
//! The histograms are created with bounds at start-up (`new_with_bounds` disables
//! auto-resize) and recorded with `saturating_record`, which clamps instead of growing, so
//! recording never allocates.

pub mod machine;

use hdrhistogram::Histogram;

/// Highest value a histogram holds: 10 s in nanoseconds.
pub const MAX_NS: u64 = 10_000_000_000;

/// Counters bumped by the RT thread.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Complete S7 replies (and COTP confirms) written.
    pub replies: u64,
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused because every slot was in use.
    pub refused: u64,
    /// Connections closed (any reason).
    pub closed: u64,
    /// Cycle deadlines missed entirely (the loop woke more than one period late).
    pub overruns: u64,
    /// Loop turns.
    pub turns: u64,
}

/// Everything the loop measures.
#[derive(Debug, Clone)]
pub struct Telemetry {
    /// Cycle wake-up latency (ns): actual wake-up minus the cycle deadline, recorded when the
    /// loop woke by timeout, the quantity cyclictest measures.
    pub wakeup_ns: Histogram<u64>,
    /// Service time (ns): from the wake-up that found a socket readable to the moment its
    /// answers were handed to the kernel.
    pub service_ns: Histogram<u64>,
    /// Counters.
    pub counters: Counters,
}

fn histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_NS, 3) {
        Ok(h) => h,
        // The bounds are constants that satisfy hdrhistogram's rules (low ≥ 1, high ≥ 2·low,
        // sigfig ≤ 5), so this cannot happen; an empty auto-resizing histogram would still work.
        Err(_) => Histogram::new(3).unwrap_or_else(|_| unreachable_histogram()),
    }
}

#[allow(clippy::panic)]
fn unreachable_histogram() -> Histogram<u64> {
    panic!("hdrhistogram rejected constant bounds")
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            wakeup_ns: histogram(),
            service_ns: histogram(),
            counters: Counters::default(),
        }
    }
}

impl Telemetry {
    /// Writes a one-line summary of a histogram in microseconds.
    pub fn summary(h: &Histogram<u64>) -> String {
        if h.is_empty() {
            return "no samples".to_string();
        }
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        format!(
            "n={} p50={:.1}µs p99={:.1}µs p99.9={:.1}µs p99.99={:.1}µs max={:.1}µs",
            h.len(),
            us(0.5),
            us(0.99),
            us(0.999),
            us(0.9999),
            h.max() as f64 / 1000.0
        )
    }
}

/// The percentiles every report quotes, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub n: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// Largest sample.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Reads the percentiles of `h` (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles {
                n: 0,
                p50: 0,
                p90: 0,
                p99: 0,
                p999: 0,
                p9999: 0,
                max: 0,
                mean: 0.0,
            };
        }
        Percentiles {
            n: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: h.mean(),
        }
    }

    /// One markdown table row: `| label | n | p50 | p90 | p99 | p99.9 | p99.99 | max |` in µs.
    pub fn markdown_row(&self, label: &str) -> String {
        let us = |v: u64| format!("{:.1}", v as f64 / 1000.0);
        format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |",
            self.n,
            us(self.p50),
            us(self.p90),
            us(self.p99),
            us(self.p999),
            us(self.p9999),
            us(self.max)
        )
    }

    /// The header matching [`Percentiles::markdown_row`].
    pub const MARKDOWN_HEADER: &'static str = "| | samples | p50 µs | p90 µs | p99 µs | p99.9 µs | p99.99 µs | max µs |\n|---|---:|---:|---:|---:|---:|---:|---:|";
}

/// A fresh fixed-bound histogram (1 ns ..= [`MAX_NS`], 3 significant digits) for any
/// measurement in nanoseconds.
pub fn new_histogram() -> Histogram<u64> {
    histogram()
}
