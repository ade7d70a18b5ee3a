//! `s7rtd`: the s7rt daemon. Runs on a built-in default configuration with no arguments.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use s7rt::cli::Args;
use s7rt::config::Config;
use s7rt::log_queue;
use s7rt::server::Server;
use sd_notify::NotifyState;

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
    let mut logger = env_logger::Builder::new();
    logger
        .filter_level(args.log_level)
        .format_target(false)
        .target(env_logger::Target::Pipe(Box::new(log_out.clone())));
    if s7rt::journal::stderr_is_journal() {
        // The journal timestamps and files each line by the priority prefix.
        logger.format(|buf, record| {
            writeln!(
                buf,
                "<{}>{}",
                s7rt::journal::priority(record.level()),
                record.args()
            )
        });
    }
    logger.init();
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
    args.apply(&mut cfg);
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
    // One line naming every measure, applied or missing: what an operator greps for.
    log::info!("{}", server.rt_status.line());
    log::info!("{}", server.cycle_timer);
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
