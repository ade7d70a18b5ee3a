//! The `s7rtd` command line: one definition for the daemon and for its man page
//! (`cargo run --example s7rtd-man`), which is generated from it.

use std::path::PathBuf;

use clap::Parser;

use crate::config::Config;

/// Hard-real-time Siemens S7 PLC protocol server (S7comm over ISO-on-TCP, port 102).
///
/// Serves a process image (DBs, inputs, outputs, flags, timers, counters) to S7 clients
/// (HMIs, SCADA, Snap7/python-snap7, nodes7, PLC4X) from one pinned SCHED_FIFO event loop that
/// neither allocates nor page-faults after start-up. Real-time measures that lack a privilege
/// are reported with how to grant them and skipped (or refused with --strict-rt).
#[derive(Debug, Parser)]
#[command(
    name = "s7rtd",
    version,
    after_long_help = "The CPU clients see (order number, module names, SZL answers, rack/slot, protection) \
comes from the personality in [cpu] (default s7-300: CPU 315-2 PN/DP; also s7-1500).\n\n\
Signals: SIGINT/SIGTERM stop cleanly and log a summary (replies, service time and wake-up \
percentiles, RT-thread page faults); SIGUSR1 writes the histograms to [telemetry] \
histogram_dir.\n\n\
Under systemd (JOURNAL_STREAM set) log lines carry syslog priorities and no timestamp.\n\n\
Examples:\n  s7rtd                                  default configuration on port 102\n  \
s7rtd --config /etc/s7rtd/s7rtd.toml\n  s7rtd --listen 127.0.0.1:1102 --no-rt  unprivileged test run\n  \
s7rtd ctl --help                       read, write and watch tags of a running daemon through its control socket"
)]
pub struct Args {
    /// TOML configuration file (see s7rtd.example.toml). Without it the built-in default is
    /// used: DB1 1024 B, DB2 2048 B, DB3 256 B, I/Q/M 256 B each, 64 timers, 64 counters.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address, overriding the config (default 0.0.0.0:102; port 0 = any free port).
    #[arg(short, long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// CPU to pin the real-time event loop to (default 1).
    #[arg(long, value_name = "N")]
    pub cpu: Option<usize>,
    /// SCHED_FIFO priority of the event loop, 1..=99 (default 99).
    #[arg(long, value_name = "P")]
    pub priority: Option<u8>,
    /// Maximum simultaneous connections (default 32).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Largest PDU to negotiate: 240, 480 or 960 (default 960).
    #[arg(long, value_name = "BYTES")]
    pub max_pdu: Option<u16>,
    /// Run as an ordinary thread: no pinning, no SCHED_FIFO, no mlockall, no PM QoS request.
    #[arg(long, conflicts_with = "strict_rt")]
    pub no_rt: bool,
    /// Refuse to start unless every real-time measure (mlockall, pinning, SCHED_FIFO,
    /// /dev/cpu_dma_latency) can be applied.
    #[arg(long)]
    pub strict_rt: bool,
    /// Validate the configuration, print it, and exit.
    #[arg(long)]
    pub check_config: bool,
    // Doc comments here are the --help text, which shows `[`, `]` and `\` as written.
    #[allow(rustdoc::broken_intra_doc_links)]
    /// Prometheus endpoint ADDR:PORT, overriding [metrics] listen (default 127.0.0.1:9102;
    /// "" turns it off).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<String>,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info", value_name = "LEVEL")]
    pub log_level: log::LevelFilter,
}

impl Args {
    /// Applies the flags that override the configuration file.
    pub fn apply(&self, cfg: &mut Config) {
        if let Some(l) = self.listen {
            cfg.listen = l;
        }
        if let Some(c) = self.cpu {
            cfg.rt.cpu = c;
        }
        if let Some(p) = self.priority {
            cfg.rt.priority = p;
        }
        if let Some(n) = self.max_connections {
            cfg.max_connections = n;
        }
        if let Some(p) = self.max_pdu {
            cfg.max_pdu = p;
        }
        if let Some(m) = &self.metrics_listen {
            cfg.metrics.listen = m.clone();
        }
        if self.no_rt {
            cfg.rt.enabled = false;
        }
        if self.strict_rt {
            cfg.rt.strict = true;
        }
    }
}
