//! The percentiles every report quotes, read from a latency histogram.

use hdrhistogram::Histogram;

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

#[cfg(test)]
mod tests {
    use super::*;
    use s7rt::telemetry::histogram;

    #[test]
    fn percentiles_of_an_empty_histogram_are_zero() {
        let p = Percentiles::of(&histogram());
        assert_eq!((p.n, p.p50, p.max), (0, 0, 0));
        let mut h = histogram();
        h.saturating_record(2500);
        assert_eq!(
            Percentiles::of(&h).markdown_row("x"),
            "| x | 1 | 2.5 | 2.5 | 2.5 | 2.5 | 2.5 | 2.5 |"
        );
    }
}
