//! Prometheus metrics of a running server.
//!
//! The RT thread is never asked for anything: housekeeping adds every interval snapshot it
//! takes from the telemetry [`Exchange`](crate::telemetry::Exchange) into [`Metrics`] (a
//! mutex shared only by ordinary-priority threads), and the endpoint thread in [`http`]
//! encodes that state on each scrape. Values therefore move once per `[telemetry]
//! interval_ms`.
//!
//! The text is Prometheus's 0.0.4 format (what `promtool check metrics` reads). The
//! histograms are re-bucketed from the loop's recorders (the HDR histograms' bucket layout)
//! into fixed Prometheus buckets ([`BOUNDS_NS`]); a sample lands in the bucket of its HDR
//! bucket's upper value (3 significant digits, so within 0.1 %), and `_sum` adds those
//! values.

pub(crate) mod http;

use std::sync::{Arc, Mutex, MutexGuard};

use prometheus::proto::{self, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::Encoder;

use crate::events::CloseReason;
use crate::rt::{State, Status};
use crate::telemetry::recorder::Recorder;
use crate::telemetry::{Counters, LoopStats, FUNCTIONS};

pub(crate) use http::Exporter;

/// Upper bounds of the histogram buckets in nanoseconds (the `+Inf` bucket follows): 1 µs to
/// 1 s in 1-2-5 steps, fine where an RT loop lives and coarse beyond.
pub(crate) const BOUNDS_NS: [u64; 19] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
];

/// A histogram with the fixed [`BOUNDS_NS`] buckets.
#[derive(Debug, Clone, Default, PartialEq)]
struct Buckets {
    /// Samples per bucket (not cumulative); the last one is `+Inf`.
    counts: [u64; BOUNDS_NS.len() + 1],
    sum_ns: u128,
    count: u64,
}

impl Buckets {
    fn add(&mut self, r: &Recorder) {
        r.for_each_bucket(|_, value, n| {
            let i = BOUNDS_NS.partition_point(|&b| b < value);
            self.counts[i] += n;
            self.sum_ns += u128::from(value) * u128::from(n);
            self.count += n;
        });
    }

    fn family(&self, name: &str, help: &str) -> MetricFamily {
        let mut cumulative = 0;
        let buckets = BOUNDS_NS
            .iter()
            .zip(self.counts)
            .map(|(&bound, n)| {
                cumulative += n;
                let mut b = proto::Bucket::default();
                b.set_upper_bound(bound as f64 / 1e9);
                b.set_cumulative_count(cumulative);
                b
            })
            .collect();
        let mut h = proto::Histogram::default();
        h.set_bucket(buckets);
        h.set_sample_count(self.count);
        h.set_sample_sum(self.sum_ns as f64 / 1e9);
        let mut m = Metric::default();
        m.set_histogram(h);
        family(name, help, MetricType::HISTOGRAM, vec![m])
    }
}

/// Everything the endpoint reports.
#[derive(Debug, Clone, PartialEq)]
struct Totals {
    counters: Counters,
    queue_drops: u64,
    cpu_run: bool,
    rt: Vec<(&'static str, State)>,
    service: Buckets,
    rx_service: Buckets,
    wakeup: Buckets,
}

/// The metrics state shared by housekeeping (writer) and the endpoint (reader).
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    totals: Arc<Mutex<Totals>>,
}

impl Metrics {
    /// Empty totals; `cpu_run` is the CPU's mode at start-up.
    pub(crate) fn new(cpu_run: bool) -> Metrics {
        Metrics {
            totals: Arc::new(Mutex::new(Totals {
                counters: Counters::default(),
                queue_drops: 0,
                cpu_run,
                rt: Vec::new(),
                service: Buckets::default(),
                rx_service: Buckets::default(),
                wakeup: Buckets::default(),
            })),
        }
    }

    // Poisoning cannot leave the totals inconsistent in a way worth losing metrics over.
    fn lock(&self) -> MutexGuard<'_, Totals> {
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one interval snapshot as the RT thread recorded it (housekeeping side);
    /// `queue_drops` is the running total.
    pub(crate) fn add(&self, snapshot: &LoopStats, queue_drops: u64) {
        let mut t = self.lock();
        t.counters.add(&snapshot.counters);
        t.queue_drops = queue_drops;
        if let Some(run) = snapshot.cpu_run {
            t.cpu_run = run;
        }
        t.service.add(&snapshot.service_ns);
        t.rx_service.add(&snapshot.rx_service_ns);
        t.wakeup.add(&snapshot.wakeup_ns);
    }

    /// Records which real-time measures applied.
    pub(crate) fn set_rt_status(&self, status: &Status) {
        self.lock().rt = status
            .states()
            .iter()
            .map(|(m, s)| (m.label(), *s))
            .collect();
    }

    /// The exposition text (Prometheus text format 0.0.4), as served on `/metrics`.
    pub(crate) fn encode(&self) -> Result<String, prometheus::Error> {
        // The encoder refuses a family without samples (the RT measures before start-up ends).
        let mut families = self.families();
        families.retain(|f| !f.get_metric().is_empty());
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&families, &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name(k.to_string());
            l.set_value(v.to_string());
            l
        })
        .collect()
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

/// One metric per `(labels, value)` of `series`, its value set by `set`.
fn metrics<V: Copy>(series: &[(&[(&str, &str)], V)], set: impl Fn(&mut Metric, V)) -> Vec<Metric> {
    series
        .iter()
        .map(|(l, v)| {
            let mut m = Metric::default();
            m.set_label(labels(l));
            set(&mut m, *v);
            m
        })
        .collect()
}

fn counter(name: &str, help: &str, series: &[(&[(&str, &str)], u64)]) -> MetricFamily {
    let metrics = metrics(series, |m, v| {
        let mut c = proto::Counter::default();
        c.set_value(v as f64);
        m.set_counter(c);
    });
    family(name, help, MetricType::COUNTER, metrics)
}

fn gauge(name: &str, help: &str, series: &[(&[(&str, &str)], i64)]) -> MetricFamily {
    let metrics = metrics(series, |m, v| {
        let mut g = proto::Gauge::default();
        g.set_value(v as f64);
        m.set_gauge(g);
    });
    family(name, help, MetricType::GAUGE, metrics)
}

impl Metrics {
    fn families(&self) -> Vec<MetricFamily> {
        let t = self.lock().clone();
        let c = &t.counters;
        let requests = c.requests_by_function();
        let request_labels: Vec<[(&str, &str); 2]> = FUNCTIONS
            .iter()
            .flat_map(|f| {
                [
                    [("function", *f), ("outcome", "ok")],
                    [("function", *f), ("outcome", "error")],
                ]
            })
            .collect();
        let mut request_series = Vec::new();
        for (i, n) in requests.iter().enumerate() {
            let errors = c.errors_by_function[i];
            request_series.push((&request_labels[2 * i][..], n.saturating_sub(errors)));
            request_series.push((&request_labels[2 * i + 1][..], errors));
        }
        let reasons: Vec<[(&str, &str); 1]> = CloseReason::LABELS
            .iter()
            .map(|r| [("reason", *r)])
            .collect();
        let closed: Vec<(&[(&str, &str)], u64)> = reasons
            .iter()
            .zip(c.closed_by_reason)
            .map(|(l, v)| (&l[..], v))
            .collect();
        let measures: Vec<[(&str, &str); 1]> =
            t.rt.iter().map(|(m, _)| [("measure", *m)]).collect();
        let applied: Vec<(&[(&str, &str)], i64)> = measures
            .iter()
            .zip(&t.rt)
            .map(|(l, (_, s))| (&l[..], i64::from(*s == State::Applied)))
            .collect();
        let requested: Vec<(&[(&str, &str)], i64)> = measures
            .iter()
            .zip(&t.rt)
            .map(|(l, (_, s))| (&l[..], i64::from(*s != State::NotRequested)))
            .collect();
        vec![
            counter(
                "s7rtd_requests_total",
                "S7 requests answered, by function and outcome (error: the reply carried an S7 header error)",
                &request_series,
            ),
            counter(
                "s7rtd_connections_accepted_total",
                "TCP connections accepted into a slot",
                &[(&[], c.accepted)],
            ),
            counter(
                "s7rtd_connections_refused_total",
                "TCP connections closed at once, by reason (slots_full, not_permitted: no [[access]] rule, per_ip_limit)",
                &[
                    (
                        &[("reason", "slots_full")],
                        c.refused
                            .saturating_sub(c.refused_access)
                            .saturating_sub(c.refused_per_ip),
                    ),
                    (&[("reason", "not_permitted")], c.refused_access),
                    (&[("reason", "per_ip_limit")], c.refused_per_ip),
                ],
            ),
            counter(
                "s7rtd_connections_closed_total",
                "Connections closed, by reason",
                &closed,
            ),
            counter(
                "s7rtd_event_queue_dropped_total",
                "Events the RT thread dropped because the queue to housekeeping was full",
                &[(&[], t.queue_drops)],
            ),
            counter(
                "s7rtd_cycle_overruns_total",
                "Cycle deadlines the loop missed entirely",
                &[(&[], c.overruns)],
            ),
            gauge(
                "s7rtd_connections_open",
                "Connections open at the last report interval",
                &[(&[], c.accepted.saturating_sub(c.closed) as i64)],
            ),
            gauge(
                "s7rtd_cpu_mode",
                "The emulated CPU's operating mode (1 for the current one)",
                &[
                    (&[("mode", "run")], i64::from(t.cpu_run)),
                    (&[("mode", "stop")], i64::from(!t.cpu_run)),
                ],
            ),
            gauge(
                "s7rtd_rt_measure_applied",
                "1 if the real-time measure is in force, 0 if it is missing or not requested",
                &applied,
            ),
            gauge(
                "s7rtd_rt_measure_requested",
                "1 if the configuration asks for the real-time measure",
                &requested,
            ),
            t.service.family(
                "s7rtd_service_time_seconds",
                "From the wake-up that found a request to its answer handed to the kernel",
            ),
            t.rx_service.family(
                "s7rtd_rx_service_time_seconds",
                "From the kernel's receive timestamp of a request to its answer handed to the kernel",
            ),
            t.wakeup.family(
                "s7rtd_cycle_wakeup_latency_seconds",
                "How late the loop woke for its cycle deadline",
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RtConfig;
    use crate::rt::Measure;

    #[test]
    fn snapshots_add_into_fixed_buckets_and_labelled_counters() {
        let m = Metrics::new(true);
        let mut s = LoopStats::default();
        s.service_ns.record(1_000); // on the 1 µs bound: that bucket
        s.service_ns.record(1_500); // 2 µs bucket
        s.service_ns.record(2_000_000_000); // beyond 1 s: +Inf
        s.wakeup_ns.record(30_000);
        s.counters.reads = 5;
        s.counters.errors_by_function[0] = 2;
        s.counters.accepted = 3;
        s.counters.closed = 1;
        s.counters.closed_by_reason[CloseReason::IdleTimeout.index()] = 1;
        s.cpu_run = Some(false);
        m.add(&s, 7);
        m.add(&s, 9);
        m.set_rt_status(&Status::new(&RtConfig::default(), &[Measure::DmaLatency]));
        let text = m.encode().unwrap();
        for line in [
            "s7rtd_requests_total{function=\"read_var\",outcome=\"ok\"} 6",
            "s7rtd_requests_total{function=\"read_var\",outcome=\"error\"} 4",
            "s7rtd_requests_total{function=\"write_var\",outcome=\"ok\"} 0",
            "s7rtd_connections_closed_total{reason=\"idle_timeout\"} 2",
            "s7rtd_connections_open 4",
            "s7rtd_event_queue_dropped_total 9",
            "s7rtd_cpu_mode{mode=\"run\"} 0",
            "s7rtd_cpu_mode{mode=\"stop\"} 1",
            "s7rtd_rt_measure_applied{measure=\"sched_fifo\"} 1",
            "s7rtd_rt_measure_applied{measure=\"cpu_dma_latency\"} 0",
            "s7rtd_rt_measure_requested{measure=\"cpu_dma_latency\"} 1",
            "s7rtd_service_time_seconds_count 6",
            "s7rtd_service_time_seconds_bucket{le=\"0.000001\"} 2",
            "s7rtd_service_time_seconds_bucket{le=\"0.000002\"} 4",
            "s7rtd_service_time_seconds_bucket{le=\"1\"} 4",
            "s7rtd_service_time_seconds_bucket{le=\"+Inf\"} 6",
            "s7rtd_cycle_wakeup_latency_seconds_bucket{le=\"0.00002\"} 0",
            "s7rtd_cycle_wakeup_latency_seconds_bucket{le=\"0.00005\"} 2",
            "# TYPE s7rtd_rx_service_time_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
