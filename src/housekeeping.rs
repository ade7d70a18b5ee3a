//! The housekeeping thread: drains the RT thread's event queue and telemetry snapshots at
//! ordinary priority, logs, keeps the running totals and writes the histogram files. It may
//! allocate and block; the RT thread never waits for it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::events::{Event, EventQueue};
use crate::telemetry::{hgrm, Exchange, Telemetry};

/// How often the queues are drained.
const POLL: Duration = Duration::from_millis(5);

/// Logs one event at the level it deserves.
pub(crate) fn log_event(e: &Event) {
    match e {
        Event::Listening(a) => log::info!("listening on {a}"),
        Event::Connected { slot, peer } => log::info!("slot {slot}: connected from {peer}"),
        Event::Refused { peer, reason } => log::warn!("refused {peer}: {reason}"),
        Event::AcceptFailed {
            errno,
            failures,
            paused_ms,
        } => log::warn!(
            "accept failed: {} ({failures} failure(s) since the last report); {}{}",
            std::io::Error::from_raw_os_error(*errno),
            match paused_ms {
                0 => "accepting the next connection".to_string(),
                ms => format!("listener paused for {ms} ms, pending connections wait"),
            },
            match *errno {
                libc::EMFILE =>
                    "; out of file descriptors: raise RLIMIT_NOFILE (systemd LimitNOFILE=)",
                libc::ENFILE => "; the system's file table is full (fs.file-max)",
                libc::ENOBUFS | libc::ENOMEM => "; the kernel is short of memory for sockets",
                _ => "",
            }
        ),
        Event::Disconnected { slot, reason } => log::info!("slot {slot}: closed: {reason}"),
        Event::Negotiated { slot, pdu_len } => log::debug!("slot {slot}: PDU {pdu_len} negotiated"),
        Event::RequestRejected {
            slot,
            function,
            error,
        } => {
            log::warn!("slot {slot}: request {function:#04x} answered with error {error}")
        }
        Event::ModeChanged { slot, mode, cold } => {
            log::warn!(
                "slot {slot}: CPU set to {mode:?}{}",
                if *cold { " (cold start)" } else { "" }
            )
        }
        Event::ClockSet { slot, plc_ms } => {
            log::info!("slot {slot}: PLC clock set to {plc_ms} ms after the Unix epoch")
        }
        Event::Password { slot, accepted } => match accepted {
            true => log::info!("slot {slot}: session password accepted"),
            false => log::warn!("slot {slot}: wrong session password"),
        },
        Event::PasswordCleared { slot } => log::info!("slot {slot}: session password cleared"),
        Event::Upload { slot, db, len } => log::info!("slot {slot}: uploaded DB{db} ({len} bytes)"),
        Event::Download { slot, db, len } => {
            log::warn!("slot {slot}: downloaded DB{db} ({len} bytes) replaced its content")
        }
        Event::BlockDeleted { slot, db } => log::warn!("slot {slot}: deleted DB{db}"),
        Event::ConnectionRefused { slot, tsap, reason } => {
            log::warn!("slot {slot}: connection to TSAP {tsap:#06x} refused: {reason:?}")
        }
    }
}

/// What housekeeping does with telemetry.
#[derive(Debug, Clone)]
pub(crate) struct Reporting {
    /// Snapshots from the RT thread.
    pub(crate) exchange: Exchange,
    /// Where to write the histogram files (none: not written).
    pub(crate) histogram_dir: Option<PathBuf>,
    /// Set (e.g. by a SIGUSR1 handler) to have the files written now; housekeeping clears it.
    pub(crate) dump: Arc<AtomicBool>,
    /// Messages of the snapshot writer, which does not log itself.
    pub(crate) persist: Option<Arc<crate::persist::Status>>,
    /// Where the Prometheus endpoint reads its totals (none: no endpoint).
    pub(crate) metrics: Option<crate::metrics::Metrics>,
}

fn write_files(dir: &Option<PathBuf>, total: &Telemetry, drops: u64) {
    if let Some(dir) = dir {
        match hgrm::write_dir(dir, total, drops) {
            Ok(()) => log::info!("histograms written to {}", dir.display()),
            Err(e) => log::warn!("cannot write histograms to {}: {e}", dir.display()),
        }
    }
}

/// Starts the thread; it drains until `done` is set and both queues are empty, writes the
/// histogram files, and returns the totals since start.
pub(crate) fn spawn(
    queue: EventQueue,
    done: Arc<AtomicBool>,
    reporting: Reporting,
) -> std::io::Result<JoinHandle<Telemetry>> {
    std::thread::Builder::new()
        .name("s7rt-housekeeping".into())
        .spawn(move || {
            let mut dropped_seen = 0;
            let mut total = Telemetry::default();
            let mut interval = Telemetry::default();
            let mut last = Instant::now();
            let mut drops_reported = 0;
            loop {
                let finished = done.load(Ordering::Acquire);
                while let Some(e) = queue.pop() {
                    log_event(&e);
                }
                if let Some(p) = &reporting.persist {
                    for (level, msg) in p.drain() {
                        log::log!(level, "{msg}");
                    }
                }
                let dropped = queue.dropped();
                if dropped != dropped_seen {
                    log::warn!("event queue full: {} events dropped so far", dropped);
                    dropped_seen = dropped;
                }
                while let Some(snapshot) = reporting.exchange.take_full() {
                    let now = Instant::now();
                    interval.reset();
                    snapshot.add_to(&mut interval);
                    if let Some(m) = &reporting.metrics {
                        m.add(&snapshot, dropped);
                    }
                    reporting.exchange.give_back(snapshot);
                    log::info!(
                        "{}",
                        interval
                            .interval_line((now - last).as_secs_f64(), dropped - drops_reported)
                    );
                    last = now;
                    drops_reported = dropped;
                    total.add(&interval);
                }
                if reporting.dump.swap(false, Ordering::AcqRel) {
                    write_files(&reporting.histogram_dir, &total, dropped);
                }
                if finished {
                    write_files(&reporting.histogram_dir, &total, dropped);
                    return total;
                }
                std::thread::sleep(POLL);
            }
        })
}
