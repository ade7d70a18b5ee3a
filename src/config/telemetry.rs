//! `[telemetry]` and `[metrics]`: what the server reports, and where.

use std::net::SocketAddr;

use serde::Deserialize;

/// `[telemetry]`: how often the RT thread hands its histograms to housekeeping, and where
/// housekeeping writes them (on exit and on SIGUSR1; format in [`crate::telemetry::hgrm`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Report interval in milliseconds: one summary line is logged per interval.
    pub interval_ms: u64,
    /// Directory for `service_ns.hgrm`, `wakeup_ns.hgrm` and `counters.txt` (none: not
    /// written).
    pub histogram_dir: Option<std::path::PathBuf>,
    /// Ask the kernel for software receive timestamps (SO_TIMESTAMPING) and also measure
    /// service time from them (the read then becomes a recvmsg with a control buffer).
    pub rx_timestamps: bool,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            interval_ms: 10_000,
            histogram_dir: None,
            rx_timestamps: true,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint, served by its own ordinary-priority thread from the
/// interval snapshots housekeeping receives (never from the RT thread).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `ADDR:PORT` serving `GET /metrics`; empty turns the endpoint off.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "127.0.0.1:9102".into(),
        }
    }
}

impl MetricsConfig {
    /// The address to serve on, none when off. Call after [`Config::validate`](super::Config::validate).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.trim().parse().ok()
    }
}
