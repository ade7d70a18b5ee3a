//! Fixed-bound histograms and counters recorded on the RT thread.
//!
//! The histograms are created with bounds at start-up (`new_with_bounds` disables
//! auto-resize) and recorded with `saturating_record`, which clamps instead of growing, so
//! recording never allocates.

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

/// A histogram covering 1 ns ..= 10 s at 3 significant digits, all buckets allocated now.
#[allow(clippy::expect_used)] // constant bounds that satisfy hdrhistogram's rules: cannot fail
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("constant histogram bounds are valid")
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
