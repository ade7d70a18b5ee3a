//! The control socket server: a Unix stream socket, JSON lines, several clients at once.
//!
//! Threads (all ordinary priority; none is the RT or the logging thread):
//! - `s7rt-ctl-accept` accepts clients up to `max_clients` (one more gets a `busy` line);
//! - per client, a reader (`s7rt-ctl-rd`) parses and executes requests, and a writer
//!   (`s7rt-ctl-wr`) owns the socket's sending side. Answers and events reach the writer
//!   through a bounded channel; events are offered without waiting ([`super::hub`]), so a
//!   slow client loses events (and gets a `lagged` line) instead of slowing anyone. A
//!   client that takes more than `write_timeout` to accept a line is disconnected;
//! - `s7rt-ctl-events` turns client-write notifications into `watch` events while anyone
//!   watches (and unsubscribes when nobody does, so the RT thread publishes nothing then).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;

use super::hub::{Hub, Line, WATCH_QUEUE};
use super::protocol::{self, Failure, MAX_LINE};
use super::{Backend, Subscription};
use crate::plc::Mono;
use crate::tags::TagTable;
use crate::throttle::Throttle;

mod events;
mod requests;

use events::event_loop;
use requests::handle_line;

/// Settings of the socket (`[host] socket`, `socket_clients`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    /// Socket path; its directory is created when missing.
    pub path: PathBuf,
    /// Clients served at once.
    pub max_clients: usize,
    /// A client that does not take a line within this long is disconnected.
    pub write_timeout: Duration,
}

/// Counters of the control server since start.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    refused_busy: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    dropped_slow: AtomicU64,
}

struct Shared {
    backend: Arc<dyn Backend>,
    tags: Arc<TagTable>,
    hub: Hub,
    /// The client-write subscription, held while anyone watches.
    sub: Mutex<Option<Box<dyn Subscription>>>,
    stop: AtomicBool,
    clients: AtomicUsize,
    next_conn: AtomicU64,
    /// Open client sockets, shut down at stop so their readers end.
    open: Mutex<HashMap<u64, UnixStream>>,
    cfg: ControlConfig,
    counters: Counters,
    started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves the data whole; a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running control socket. Stops (and removes the socket file) on [`ControlServer::stop`]
/// or drop.
pub struct ControlServer {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    pump: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("path", &self.shared.cfg.path)
            .finish_non_exhaustive()
    }
}

/// Binds `path` (mode 0660), creating its directory (mode 0755) when missing. A stale
/// socket left by a process that died is replaced; a live one (another server answers) or
/// a file that is not a socket is an error.
fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let ctx = |what: &str, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| ctx("cannot create the directory of", e))?;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket; not replacing it",
                    path.display()
                ),
            ));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                ErrorKind::AddrInUse,
                format!(
                    "{} is in use by a running server (another s7rtd?)",
                    path.display()
                ),
            ));
        }
        std::fs::remove_file(path).map_err(|e| ctx("cannot remove the stale socket", e))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| ctx("cannot bind", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| ctx("cannot set mode 0660 on", e))?;
    Ok(listener)
}

impl ControlServer {
    /// Binds the socket and starts the accept and event threads.
    pub fn start(
        cfg: ControlConfig,
        backend: Arc<dyn Backend>,
        tags: Arc<TagTable>,
    ) -> std::io::Result<ControlServer> {
        let listener = bind(&cfg.path)?;
        // Polled, so stopping never depends on connecting to the path (it may be gone).
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            backend,
            tags,
            hub: Hub::default(),
            sub: Mutex::new(None),
            stop: AtomicBool::new(false),
            clients: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            open: Mutex::new(HashMap::new()),
            cfg,
            counters: Counters::default(),
            started: Instant::now(),
        });
        let s = shared.clone();
        let accept = std::thread::Builder::new()
            .name("s7rt-ctl-accept".into())
            .spawn(move || accept_loop(listener, s))?;
        let s = shared.clone();
        let pump = std::thread::Builder::new()
            .name("s7rt-ctl-events".into())
            .spawn(move || event_loop(s))?;
        Ok(ControlServer {
            shared,
            accept: Some(accept),
            pump: Some(pump),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.shared.cfg.path
    }

    /// Stops accepting, disconnects every client, removes the socket file.
    pub fn stop(&mut self) {
        if self.shared.stop.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for (_, s) in lock(&self.shared.open).drain() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        if let Some(t) = self.pump.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.shared.cfg.path);
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How often the accept thread looks for new clients and for the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(10);

/// At most one warning of failing accepts per this interval (each saying how many failed).
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(10);

/// The warning for a failed accept at `now`, when one is due: the first at once, then at
/// most one per [`ACCEPT_WARN_EVERY`], saying how many failed since the last.
fn accept_warning(errors: &mut Throttle, e: &std::io::Error, now: Mono) -> Option<String> {
    Some(match errors.failed(now)? {
        1 => format!("control socket: accept failed: {e}"),
        n => format!("control socket: accept failed: {e} ({n} failures since the last warning)"),
    })
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    let mut accept_errors = Throttle::new(ACCEPT_WARN_EVERY);
    while !shared.stop.load(Ordering::Acquire) {
        let mut stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) => {
                // Out of descriptors, this fails every turn until one is freed.
                if let Some(w) = accept_warning(&mut accept_errors, &e, Mono::now()) {
                    log::warn!("{w}");
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        // Client sockets block (their threads wait on them); only the listener polls.
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        if shared.clients.load(Ordering::Acquire) >= shared.cfg.max_clients {
            shared.counters.refused_busy.fetch_add(1, Ordering::Relaxed);
            let f = Failure::new(
                "busy",
                format!(
                    "{} clients are connected, the most [host] socket_clients allows",
                    shared.cfg.max_clients
                ),
            );
            let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
            let _ = writeln!(stream, "{}", protocol::error_line(&None, &f));
            continue;
        }
        if let Err(e) = spawn_client(stream, &shared) {
            log::warn!("control socket: cannot serve a client: {e}");
        }
    }
}

fn spawn_client(stream: UnixStream, shared: &Arc<Shared>) -> std::io::Result<()> {
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    stream.set_write_timeout(Some(shared.cfg.write_timeout))?;
    let writer = stream.try_clone()?;
    lock(&shared.open).insert(conn, stream.try_clone()?);
    let (tx, rx) = sync_channel::<Line>(WATCH_QUEUE);
    let lagged = Arc::new(AtomicU64::new(0));
    shared.clients.fetch_add(1, Ordering::AcqRel);
    shared.counters.connections.fetch_add(1, Ordering::Relaxed);
    let (s, l) = (shared.clone(), lagged.clone());
    let w = std::thread::Builder::new()
        .name("s7rt-ctl-wr".into())
        .spawn(move || write_loop(conn, writer, rx, l, s));
    if let Err(e) = w {
        shared.clients.fetch_sub(1, Ordering::AcqRel);
        lock(&shared.open).remove(&conn);
        return Err(e);
    }
    let s = shared.clone();
    let r = std::thread::Builder::new()
        .name("s7rt-ctl-rd".into())
        .spawn(move || {
            read_loop(conn, stream, &tx, &lagged, &s);
            s.hub.unwatch(conn);
            lock(&s.open).remove(&conn);
            s.clients.fetch_sub(1, Ordering::AcqRel);
        });
    if let Err(e) = r {
        shared.clients.fetch_sub(1, Ordering::AcqRel);
        if let Some(s) = lock(&shared.open).remove(&conn) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        return Err(e);
    }
    Ok(())
}

/// Sends lines to the client; tells it how many events it missed; disconnects it when a
/// line cannot be sent within the write timeout.
fn write_loop(
    conn: u64,
    mut stream: UnixStream,
    rx: Receiver<Line>,
    lagged: Arc<AtomicU64>,
    shared: Arc<Shared>,
) {
    let mut send = |line: &str| -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        stream.write_all(&buf)
    };
    loop {
        let result = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => send(&line),
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let result = result.and_then(|()| match lagged.swap(0, Ordering::AcqRel) {
            0 => Ok(()),
            n => send(&lagged_line(n, "connection")),
        });
        if let Err(e) = result {
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                shared.counters.dropped_slow.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "control socket: client {conn} did not read for {:?}: disconnected",
                    shared.cfg.write_timeout
                );
            }
            shared.hub.unwatch(conn);
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

fn lagged_line(missed: u64, scope: &str) -> String {
    json!({"event": "lagged", "missed": missed, "scope": scope}).to_string()
}

/// Reads request lines (at most [`MAX_LINE`] bytes each) until the client closes.
fn read_loop(
    conn: u64,
    mut stream: UnixStream,
    tx: &SyncSender<Line>,
    lagged: &Arc<AtomicU64>,
    shared: &Shared,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    // Inside an oversized line: drop bytes until its newline.
    let mut skipping = false;
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            if skipping {
                skipping = false;
            } else {
                let line = &buf[..pos];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !line.iter().all(|b| b.is_ascii_whitespace()) {
                    let answer = handle_line(conn, line, tx, lagged, shared);
                    if tx.send(answer).is_err() {
                        return;
                    }
                }
            }
            buf.drain(..=pos);
        }
        if skipping {
            buf.clear();
        } else if buf.len() >= MAX_LINE {
            skipping = true;
            buf.clear();
            shared.counters.errors.fetch_add(1, Ordering::Relaxed);
            let f = Failure::new(
                "line_too_long",
                format!("request line longer than {MAX_LINE} bytes: skipped up to its newline"),
            );
            if tx.send(protocol::error_line(&None, &f)).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
