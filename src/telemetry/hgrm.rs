//! The histogram file format: HdrHistogram's percentile-distribution text (`.hgrm`), the
//! format `HistogramLogProcessor`, hdrhistogram's `outputPercentileDistribution` and the
//! online HdrHistogram plotter (<https://hdrhistogram.github.io/HdrHistogram/plotFiles.html>)
//! read and write.
//!
//! Housekeeping writes, into the configured directory (`[telemetry] histogram_dir`), on exit
//! and on SIGUSR1, replacing the previous files:
//! - `service_ns.hgrm`: service time since start,
//! - `rx_service_ns.hgrm`: service time from the kernel's receive timestamp,
//! - `wakeup_ns.hgrm`: cycle wake-up latency since start,
//! - `counters.txt`: one `name value` pair per line (the fields of
//!   [`Counters`] plus `queue_drops`).
//!
//! A `.hgrm` file is:
//! ```text
//!        Value     Percentile TotalCount 1/(1-Percentile)
//!
//!       12.351 0.000000000000          1           1.00
//!       ...                                              (values in microseconds)
//! #[Mean    =       14.210, StdDeviation   =        3.100]
//! #[Max     =     4562.943, Total count    =       249294]
//! #[Buckets =           24, SubBuckets     =         2048]
//! ```
//! one line per percentile step (5 steps per halving of the remaining distance to 100 %, the
//! Java default), values in microseconds (recorded in nanoseconds, scaled by 1000).

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::Counters;

/// Scale from recorded nanoseconds to the microseconds written.
pub const SCALE: f64 = 1000.0;

/// `h` (recorded in ns) as `.hgrm` text in microseconds.
pub fn to_hgrm(h: &Histogram<u64>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let value = v.value_iterated_to() as f64 / SCALE;
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / SCALE,
        h.stdev() / SCALE
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / SCALE,
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        h.distinct_values() / usize::from(h.buckets().max(1))
    );
    out
}

/// Parses the data lines of `.hgrm` text into `(value µs, percentile, total count)`.
pub fn parse_hgrm(text: &str) -> Vec<(f64, f64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let v = f.next()?.parse().ok()?;
            let q = f.next()?.parse().ok()?;
            let n = f.next()?.parse().ok()?;
            Some((v, q, n))
        })
        .collect()
}

/// The counters as `name value` lines.
pub fn counters_text(c: &Counters, queue_drops: u64) -> String {
    let fields = [
        ("replies", c.replies),
        ("reads", c.reads),
        ("writes", c.writes),
        ("setups", c.setups),
        ("other_requests", c.other_requests),
        ("errors", c.errors),
        ("accepted", c.accepted),
        ("refused", c.refused),
        ("refused_access", c.refused_access),
        ("refused_per_ip", c.refused_per_ip),
        ("evicted", c.evicted),
        ("handshake_timeouts", c.handshake_timeouts),
        ("accept_errors", c.accept_errors),
        ("closed", c.closed),
        ("overruns", c.overruns),
        ("turns", c.turns),
        ("queue_drops", queue_drops),
    ];
    fields.iter().map(|(k, v)| format!("{k} {v}\n")).collect()
}

/// Writes the three files into `dir` (creating it), each through a temporary file and a
/// rename so a reader never sees half a file.
pub fn write_dir(
    dir: &std::path::Path,
    t: &super::Telemetry,
    queue_drops: u64,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let files = [
        ("service_ns.hgrm", to_hgrm(&t.service_ns)),
        ("rx_service_ns.hgrm", to_hgrm(&t.rx_service_ns)),
        ("wakeup_ns.hgrm", to_hgrm(&t.wakeup_ns)),
        ("counters.txt", counters_text(&t.counters, queue_drops)),
    ];
    for (name, text) in files {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hgrm_round_trips_percentiles_and_count_in_microseconds() {
        let mut h = super::super::histogram();
        for i in 1..=1000u64 {
            h.saturating_record(i * 1000); // 1 µs ..= 1000 µs
        }
        let text = to_hgrm(&h);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
        let rows = parse_hgrm(&text);
        let last = rows.last().unwrap();
        assert_eq!(last.2, 1000, "the last row holds every sample");
        assert!((last.1 - 1.0).abs() < 1e-12);
        assert!(
            (last.0 - 1000.0).abs() <= 1.0,
            "max ≈ 1000 µs, got {}",
            last.0
        );
        let median = rows.iter().find(|r| r.1 >= 0.5).unwrap();
        assert!(
            (median.0 - 500.0).abs() <= 1.0,
            "p50 ≈ 500 µs, got {}",
            median.0
        );
        assert!(text.contains("Total count    =         1000]"), "{text}");
    }

    #[test]
    fn empty_histogram_writes_only_the_header_and_footer() {
        let rows = parse_hgrm(&to_hgrm(&super::super::histogram()));
        assert!(rows.is_empty());
    }

    #[test]
    fn counters_text_names_every_counter() {
        let c = Counters {
            reads: 7,
            errors: 2,
            ..Counters::default()
        };
        let text = counters_text(&c, 3);
        assert!(text.contains("reads 7\n"));
        assert!(text.contains("errors 2\n"));
        assert!(text.ends_with("queue_drops 3\n"));
        assert_eq!(text.lines().count(), 17);
    }
}
