//! `s7rtd`: the s7rt daemon. Runs on a built-in default configuration with no arguments.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use s7rt::config::Config;
use s7rt::log_queue;
use s7rt::server::Server;
use sd_notify::NotifyState;

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
Examples:\n  s7rtd                                  default configuration on port 102\n  \
s7rtd --config /etc/s7rtd/s7rtd.toml\n  s7rtd --listen 127.0.0.1:1102 --no-rt  unprivileged test run\n  \
s7rtd ctl --help                       read, write and watch tags of a running daemon through its control socket"
)]
struct Args {
    /// TOML configuration file (see s7rtd.example.toml). Without it the built-in default is
    /// used: DB1 1024 B, DB2 2048 B, DB3 256 B, I/Q/M 256 B each, 64 timers, 64 counters.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address, overriding the config (default 0.0.0.0:102; port 0 = any free port).
    #[arg(short, long, value_name = "ADDR:PORT")]
    listen: Option<std::net::SocketAddr>,
    /// CPU to pin the real-time event loop to (default 1).
    #[arg(long, value_name = "N")]
    cpu: Option<usize>,
    /// SCHED_FIFO priority of the event loop, 1..=99 (default 99).
    #[arg(long, value_name = "P")]
    priority: Option<u8>,
    /// Maximum simultaneous connections (default 32).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Largest PDU to negotiate: 240, 480 or 960 (default 960).
    #[arg(long, value_name = "BYTES")]
    max_pdu: Option<u16>,
    /// Run as an ordinary thread: no pinning, no SCHED_FIFO, no mlockall, no PM QoS request.
    #[arg(long, conflicts_with = "strict_rt")]
    no_rt: bool,
    /// Refuse to start unless every real-time measure (mlockall, pinning, SCHED_FIFO,
    /// /dev/cpu_dma_latency) can be applied.
    #[arg(long)]
    strict_rt: bool,
    /// Validate the configuration, print it, and exit.
    #[arg(long)]
    check_config: bool,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info", value_name = "LEVEL")]
    log_level: log::LevelFilter,
}

/// How long the exit waits for a log stream that takes nothing (its lines are then lost).
const LOG_STALL_AT_EXIT: Duration = Duration::from_secs(1);

fn main() -> std::process::ExitCode {
    // `s7rtd ctl …` talks to a running daemon through its control socket.
    if std::env::args_os().nth(1).is_some_and(|a| a == "ctl") {
        return s7rt::ctl::cli::main(std::env::args_os().skip(1));
    }
    let args = Args::parse();
    // Every log line goes through a bounded queue to a writer thread, so a blocked stderr
    // (a pipe nobody reads, a stalled journald) holds up no other thread, the stop included.
    let (mut log_out, log_stats) =
        match log_queue::spawn(std::io::stderr(), log_queue::DEFAULT_LINES) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("s7rtd: error: cannot start the log writer: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
    env_logger::Builder::new()
        .filter_level(args.log_level)
        .format_target(false)
        .target(env_logger::Target::Pipe(Box::new(log_out.clone())))
        .init();
    let code = match run(args, &log_stats) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(log_out, "s7rtd: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    };
    log_stats.drain(LOG_STALL_AT_EXIT);
    code
}

fn run(args: Args, log_stats: &log_queue::LogStats) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(c) = args.cpu {
        cfg.rt.cpu = c;
    }
    if let Some(p) = args.priority {
        cfg.rt.priority = p;
    }
    if let Some(n) = args.max_connections {
        cfg.max_connections = n;
    }
    if let Some(p) = args.max_pdu {
        cfg.max_pdu = p;
    }
    if args.no_rt {
        cfg.rt.enabled = false;
    }
    if args.strict_rt {
        cfg.rt.strict = true;
    }
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("{e} (after command-line overrides)"))?;
    if args.check_config {
        println!("configuration OK: {cfg:#?}");
        return Ok(());
    }

    let term = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, term.clone())?;
    }
    let mut server = Server::start(&cfg)?;
    // SIGUSR1: housekeeping writes the histogram files now ([telemetry] histogram_dir).
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, server.dump_flag())?;
    for m in &server.missing {
        log::warn!("real-time measure not applied: {m}");
    }
    log::info!("{}", server.cycle_timer);
    if cfg.rt.enabled && server.missing.is_empty() {
        log::info!(
            "real-time: SCHED_FIFO {} on CPU {}, memory locked, /dev/cpu_dma_latency {}",
            cfg.rt.priority,
            cfg.rt.cpu,
            if cfg.rt.dma_latency {
                "held at 0"
            } else {
                "not requested"
            }
        );
    } else if !cfg.rt.enabled {
        log::info!("real-time measures disabled (--no-rt): ordinary thread, not pinned");
    }
    // Kernel threads below the loop that its cycle or its input would wait for.
    for w in s7rt::rt::kernel_thread_warnings(&cfg.rt, &server.cycle_timer) {
        log::warn!("{w}");
    }
    // Machine-readable line for scripts and tests (the port matters with --listen :0).
    let mut control_socket = s7rt::ctl::daemon::start(&cfg, &server)?;
    println!("s7rtd: listening on {}", server.local_addr());
    let _ = sd_notify::notify(&[NotifyState::Ready]);
    // systemd watchdog: ping only while the RT loop's heartbeat moves, so a stuck loop gets
    // the service restarted. Pinging happens here, never on the RT thread.
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let (mut last_beat, mut last_ping) = (u64::MAX, Instant::now());
    while !term.load(Ordering::Relaxed) && !server.is_finished() {
        std::thread::sleep(Duration::from_millis(20));
        if let Some(period) = watchdog {
            if last_ping.elapsed() >= period {
                let beat = server.control().heartbeat.load(Ordering::Relaxed);
                if beat != last_beat {
                    let _ = sd_notify::notify(&[NotifyState::Watchdog]);
                    last_beat = beat;
                }
                last_ping = Instant::now();
            }
        }
    }
    // Stop first, log after: nothing may stand between a stop request and the loop.
    server.control().stop.store(true, Ordering::Relaxed);
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
    log::info!("stopping");
    if let Some(s) = control_socket.as_mut() {
        s.stop();
    }
    let stopped = server.shutdown()?;
    let t = &stopped.telemetry;
    log::info!(
        "served {} replies on {} connections ({} refused, {} accept errors); service time {}; cycle wake-up {}; overruns {}; RT-thread page faults while serving: {} minor, {} major; events dropped: {}; log lines dropped: {}",
        t.counters.replies,
        t.counters.accepted,
        t.counters.refused,
        t.counters.accept_errors,
        s7rt::telemetry::Telemetry::summary(&t.service_ns),
        s7rt::telemetry::Telemetry::summary(&t.wakeup_ns),
        t.counters.overruns,
        stopped.faults_while_serving.0,
        stopped.faults_while_serving.1,
        server.dropped_events(),
        log_stats.dropped(),
    );
    Ok(())
}
