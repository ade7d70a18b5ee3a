//! Report building blocks for the benches: reading cyclictest's and callgrind's output,
//! named latency series, and the target (ratio) table. The bench assembles these into
//! `report.md` and `figures.json`; every figure in them comes from a measurement, never
//! from this code.

use hdrhistogram::Histogram;
use serde::Serialize;

use s7rt::telemetry::histogram;

use crate::Percentiles;

/// Reads cyclictest's `-h`/`-q` histogram output (`NNNNNN CCCCCC` lines: microseconds,
/// samples) into a histogram in nanoseconds (each sample at its microsecond's lower bound,
/// which is what cyclictest measured after truncation). Overflows (samples beyond the
/// histogram) are recorded at the reported maximum, so the count stays right and the tail is
/// not understated.
pub fn parse_cyclictest(text: &str) -> Result<Histogram<u64>, String> {
    let mut h = histogram();
    let mut max_us = None;
    let mut overflows = 0u64;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# Max Latencies:") {
            max_us = rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok());
        } else if let Some(rest) = line.strip_prefix("# Histogram Overflows:") {
            overflows = rest
                .split_whitespace()
                .filter_map(|v| v.parse::<u64>().ok())
                .sum();
        } else if !line.starts_with('#') {
            let mut f = line.split_whitespace();
            if let (Some(us), Some(n), None) = (f.next(), f.next(), f.next()) {
                let us: u64 = us.parse().map_err(|_| format!("bad line `{line}`"))?;
                let n: u64 = n.parse().map_err(|_| format!("bad line `{line}`"))?;
                if n > 0 {
                    h.saturating_record_n((us * 1000).max(1), n);
                }
            }
        }
    }
    if overflows > 0 {
        let max = max_us.ok_or("overflows reported without a maximum")?;
        h.saturating_record_n(max * 1000, overflows);
    }
    if h.is_empty() {
        return Err("no histogram lines in cyclictest output (was -h given?)".to_string());
    }
    Ok(h)
}

/// The total instruction count (`Ir`) of a callgrind output file: its `summary:` line, or
/// else its `totals:` line.
pub fn callgrind_total(text: &str) -> Option<u64> {
    let find = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    find("summary:").or_else(|| find("totals:"))
}

/// Instructions per request from two runs that differ only in the number of requests:
/// `(ir_large - ir_small) / (n_large - n_small)`; start-up and shutdown cancel out.
pub fn per_request(ir_small: u64, n_small: u64, ir_large: u64, n_large: u64) -> Option<f64> {
    (n_large > n_small && ir_large >= ir_small)
        .then(|| (ir_large - ir_small) as f64 / (n_large - n_small) as f64)
}

/// A named latency series.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// Name shown in tables and legends.
    pub name: String,
    /// Its percentiles (ns).
    pub percentiles: Percentiles,
    /// The histogram (not serialized: the JSON holds percentiles; `.hgrm` files hold the
    /// distribution).
    #[serde(skip)]
    pub hist: Histogram<u64>,
}

impl Series {
    /// Names `hist`.
    pub fn new(name: &str, hist: Histogram<u64>) -> Series {
        Series {
            name: name.to_string(),
            percentiles: Percentiles::of(&hist),
            hist,
        }
    }
}

/// Which way a target ratio must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Bound {
    /// The measured value must be at most the limit.
    AtMost,
    /// The measured value must be at least the limit.
    AtLeast,
}

/// One target of the issue and what was measured for it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is compared, e.g. "round trip p50, s7rtd / floor".
    pub what: String,
    /// Measured value (a ratio, or an absolute figure with `unit`).
    pub measured: Option<f64>,
    /// The limit.
    pub limit: f64,
    /// At most or at least.
    pub bound: Bound,
    /// Unit of `measured` and `limit` ("×" for ratios).
    pub unit: String,
    /// Why it was missed or not measured, and what would fix it (filled by the bench).
    pub note: String,
}

impl Target {
    /// Met, missed, or not measured.
    pub fn verdict(&self) -> &'static str {
        match self.measured {
            None => "not measured",
            Some(m) if m.is_nan() => "not measured",
            Some(m) => {
                let ok = match self.bound {
                    Bound::AtMost => m <= self.limit,
                    Bound::AtLeast => m >= self.limit,
                };
                if ok {
                    "met"
                } else {
                    "MISSED"
                }
            }
        }
    }
}

/// `a / b`, or `None` when either is missing or `b` is 0.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// The targets as a markdown table.
pub fn targets_table(targets: &[Target]) -> String {
    let mut out =
        String::from("| target | measured | limit | verdict | note |\n|---|---:|---:|---|---|\n");
    for t in targets {
        let measured = t
            .measured
            .filter(|m| !m.is_nan())
            .map_or("–".to_string(), |m| format!("{m:.3} {}", t.unit));
        let op = match t.bound {
            Bound::AtMost => "≤",
            Bound::AtLeast => "≥",
        };
        let limit = format!("{:.3}", t.limit);
        let limit = limit.trim_end_matches('0').trim_end_matches('.');
        out.push_str(&format!(
            "| {} | {} | {op} {} {} | {} | {} |\n",
            t.what,
            measured,
            limit,
            t.unit,
            t.verdict(),
            t.note
        ));
    }
    out
}

/// The series as a markdown percentile table (µs).
pub fn series_table(series: &[&Series]) -> String {
    let mut out = String::from(Percentiles::MARKDOWN_HEADER);
    out.push('\n');
    for s in series {
        out.push_str(&s.percentiles.markdown_row(&s.name));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CYCLICTEST: &str = "# /dev/cpu_dma_latency set to 0us\n# Histogram\n000010 000001\n000012 000000\n000013 000003\n# Total: 000000006\n# Min Latencies: 00010\n# Avg Latencies: 00015\n# Max Latencies: 00035\n# Histogram Overflows: 00002\n# Histogram Overflow at cycle number:\n# Thread 0:\n";

    #[test]
    fn cyclictest_histogram_is_read_in_nanoseconds_with_overflows_at_the_maximum() {
        let h = parse_cyclictest(CYCLICTEST).unwrap();
        assert_eq!(h.len(), 6);
        assert_eq!(h.min(), 10_000);
        assert!(h.equivalent(h.value_at_quantile(0.5), 13_000));
        assert!(h.equivalent(h.max(), 35_000));
        assert_eq!(
            parse_cyclictest("# Histogram\n# Max Latencies: 00035\n").unwrap_err(),
            "no histogram lines in cyclictest output (was -h given?)"
        );
        assert_eq!(
            parse_cyclictest("000010 00x001\n").unwrap_err(),
            "bad line `000010 00x001`"
        );
    }

    #[test]
    fn callgrind_total_prefers_summary_and_per_request_cancels_start_up() {
        let text = "events: Ir\nfn=main\n1 5\ntotals: 999\nsummary: 123456\n";
        assert_eq!(callgrind_total(text), Some(123_456));
        assert_eq!(callgrind_total("totals: 77\n"), Some(77));
        assert_eq!(callgrind_total("events: Ir\n"), None);
        assert_eq!(per_request(1_000_000, 1000, 1_500_000, 2000), Some(500.0));
        assert_eq!(per_request(1_000_000, 2000, 1_500_000, 2000), None);
    }

    #[test]
    fn targets_table_says_met_missed_or_not_measured() {
        let t = |measured, limit, bound| Target {
            what: "x".into(),
            measured,
            limit,
            bound,
            unit: "×".into(),
            note: "n".into(),
        };
        assert_eq!(t(Some(1.05), 1.1, Bound::AtMost).verdict(), "met");
        assert_eq!(t(Some(1.2), 1.1, Bound::AtMost).verdict(), "MISSED");
        assert_eq!(t(Some(1.2), 1.3, Bound::AtLeast).verdict(), "MISSED");
        assert_eq!(t(None, 1.3, Bound::AtLeast).verdict(), "not measured");
        let table = targets_table(&[t(Some(0.5), 0.75, Bound::AtMost)]);
        assert!(
            table.ends_with("| x | 0.500 × | ≤ 0.75 × | met | n |\n"),
            "{table}"
        );
        let third = targets_table(&[t(Some(0.5), 1.0 / 3.0, Bound::AtMost)]);
        assert!(third.contains("| ≤ 0.333 × | MISSED |"), "{third}");
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
        assert_eq!(ratio(Some(1.0), Some(4.0)), Some(0.25));
    }
}
