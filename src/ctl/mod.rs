//! The control socket: out-of-process access to the process image for programs that are not
//! Rust (Python, Node-RED, shell), and the `s7rtd ctl` command line on top of it.
//!
//! - [`protocol`]: the JSON-lines requests and answers (documented in
//!   `docs/control-socket.md`).
//! - [`server`]: a local Unix socket served by its own ordinary threads (never the RT
//!   thread, never the logging thread): one reader and one writer thread per client, one
//!   thread turning client-write notifications into `watch` events.
//! - [`hub`]: fan-out of events to watchers; a slow watcher loses events (and is told how
//!   many) or is dropped, it never blocks anything.
//! - [`cli`]: `s7rtd ctl read|write|watch|status|tags`.
//!
//! The server reaches the image only through a [`Backend`]: in the daemon that is the
//! [`crate::host::Host`] handle, whose bounded lock-free queues are the only way into the
//! RT thread.

pub mod cli;
pub mod daemon;
pub mod host_backend;
pub mod hub;
pub mod protocol;
pub mod server;

use std::time::Duration;

use crate::host::Notification;
use crate::wire::var::Area;
use protocol::Failure;

/// The default socket path (`[host] socket`).
pub const DEFAULT_SOCKET: &str = "/run/s7rtd/s7rtd.sock";

/// One change to the image: [`Content`] at byte `offset` of `area` (DB `db`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Area.
    pub area: Area,
    /// DB number (DB only).
    pub db: u16,
    /// First byte.
    pub offset: usize,
    /// What is written there.
    pub content: Content,
}

/// What a [`Change`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// These bytes.
    Bytes(Vec<u8>),
    /// One bit; the byte's other bits keep what the image has.
    Bit {
        /// Bit 0..=7.
        bit: u8,
        /// Set or clear.
        value: bool,
    },
}

/// A live stream of client writes; dropping it ends the subscription.
pub trait Subscription: Send {
    /// The next client write (or how many were lost), waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Option<Notification>;
}

/// How the control server reaches the image. Calls come from ordinary threads and may
/// block briefly (a read waits for the RT thread's answer); none may wait for a client.
pub trait Backend: Send + Sync + 'static {
    /// Reads several `(area, db, offset, len)` ranges in one consistent snapshot.
    fn read(&self, ranges: &[(Area, u16, usize, usize)]) -> Result<Vec<Vec<u8>>, Failure>;
    /// Applies all changes together (no S7 client sees some without the others), or none.
    fn write(&self, changes: &[Change]) -> Result<(), Failure>;
    /// Starts receiving client writes (`None`: not available, e.g. already taken).
    fn subscribe(&self) -> Result<Box<dyn Subscription>, Failure>;
    /// State and counters for `status` (a JSON object).
    fn status(&self) -> serde_json::Value;
}
