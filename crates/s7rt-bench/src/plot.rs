//! Latency plots as SVG (plotters): histograms on log–log axes, one line per series, with
//! p50 / p99 / p99.9 markers.

use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::report::Series;

/// Bins `h` (ns) into `per_decade` logarithmic bins per decade of microseconds; returns
/// `(bin lower edge µs, fraction of samples)` for every non-empty bin, ascending.
pub fn log_bins(h: &Histogram<u64>, per_decade: u32) -> Vec<(f64, f64)> {
    let total = h.len() as f64;
    let mut bins: std::collections::BTreeMap<i64, u64> = Default::default();
    for v in h.iter_recorded() {
        let us = (v.value_iterated_to() as f64 / 1000.0).max(1e-3);
        let bin = (us.log10() * f64::from(per_decade)).floor() as i64;
        *bins.entry(bin).or_default() += v.count_at_value();
    }
    bins.into_iter()
        .map(|(b, n)| {
            (
                10f64.powf(b as f64 / f64::from(per_decade)),
                n as f64 / total,
            )
        })
        .collect()
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Draws `series` into an SVG file at `path`.
pub fn histogram_svg(path: &Path, title: &str, series: &[&Series]) -> anyhow::Result<()> {
    let binned: Vec<Vec<(f64, f64)>> = series.iter().map(|s| log_bins(&s.hist, 20)).collect();
    let points = binned.iter().flatten();
    let (mut x_min, mut x_max, mut y_min) = (f64::MAX, 0f64, 1f64);
    for &(x, y) in points {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(y);
    }
    if x_max <= 0.0 {
        anyhow::bail!("nothing to plot for {title}");
    }
    let x_range = (x_min / 1.5)..(x_max * 1.5);
    let y_range = (y_min / 2.0)..1.0;
    let root = SVGBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range.log_scale(), y_range.clone().log_scale())?;
    chart
        .configure_mesh()
        .x_desc("latency (µs, log)")
        .y_desc("fraction of samples (log)")
        .draw()?;
    for (i, (s, bins)) in series.iter().zip(&binned).enumerate() {
        let color = COLORS[i % COLORS.len()];
        let p = &s.percentiles;
        let label = format!(
            "{}: p50 {:.1} / p99 {:.1} / p99.9 {:.1} µs (n={})",
            s.name,
            p.p50 as f64 / 1000.0,
            p.p99 as f64 / 1000.0,
            p.p999 as f64 / 1000.0,
            p.n
        );
        chart
            .draw_series(LineSeries::new(bins.iter().copied(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        // Percentile markers: dashed-looking short verticals at p50 (tall), p99, p99.9.
        for (q, top) in [(p.p50, 0.5), (p.p99, 0.1), (p.p999, 0.02)] {
            let x = q as f64 / 1000.0;
            if x > 0.0 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, y_range.start), (x, top)],
                    color.stroke_width(1),
                )))?;
            }
        }
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_bins_split_decades_and_sum_to_one() {
        let mut h = s7rt::telemetry::histogram();
        h.saturating_record_n(1_000, 3); // 1 µs
        h.saturating_record_n(10_000, 1); // 10 µs
        let bins = log_bins(&h, 1);
        assert_eq!(bins.len(), 2);
        assert!((bins[0].0 - 1.0).abs() < 1e-9 && (bins[0].1 - 0.75).abs() < 1e-9);
        assert!((bins[1].0 - 10.0).abs() < 1e-9 && (bins[1].1 - 0.25).abs() < 1e-9);
    }

    #[test]
    fn histogram_svg_writes_a_plot_with_a_legend_per_series() {
        let mut h = s7rt::telemetry::histogram();
        for v in [10_000u64, 12_000, 15_000, 90_000] {
            h.saturating_record(v);
        }
        let s = Series::new("s7rtd", h.clone());
        let f = Series::new("floor", h);
        let path = std::env::temp_dir().join(format!("s7rt-plot-{}.svg", std::process::id()));
        histogram_svg(&path, "round trip", &[&s, &f]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        // p50 of 10, 12, 15, 90 µs is the second sample.
        assert!(svg.contains("s7rtd: p50 12.0 / p99 90.0"), "{svg}");
        assert!(svg.contains("floor: p50"));
        let _ = std::fs::remove_file(&path);
        let empty = Series::new("none", s7rt::telemetry::histogram());
        assert_eq!(
            histogram_svg(&path, "t", &[&empty])
                .unwrap_err()
                .to_string(),
            "nothing to plot for t"
        );
    }
}
