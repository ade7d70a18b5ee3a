//! Events the RT thread reports to housekeeping, and the bounded lock-free queue that
//! carries them. The RT side only ever calls [`EventQueue::push`], which never blocks and never
//! allocates: a full queue drops the event and counts the drop.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

pub use crate::admission::Refusal as AcceptRefusal;
use crate::plc::cpu::{Mode, Refusal};
use crate::wire::var::Area;
use crate::wire::{Error as WireError, HeaderError};

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the TCP connection.
    PeerClosed,
    /// The client sent a COTP disconnect request.
    PeerDisconnect,
    /// Broken TPKT/COTP framing (the stream cannot be resynchronised).
    Framing(WireError),
    /// A COTP data TPDU arrived before the connection request.
    DataBeforeConnect,
    /// A second connection request on an established connection.
    UnexpectedConnectRequest,
    /// The COTP connection request was refused (bad parameters).
    ConnectRefused,
    /// Nothing arrived within the idle timeout.
    IdleTimeout,
    /// COTP connect and Setup Communication did not finish within the handshake timeout.
    HandshakeTimeout,
    /// Still in its handshake when every slot was taken: closed to make room for a newcomer.
    Evicted,
    /// A socket error (errno).
    Io(i32),
    /// The server is shutting down.
    Shutdown,
}

impl CloseReason {
    /// Metric labels, indexed by [`CloseReason::index`].
    pub const LABELS: [&'static str; 11] = [
        "peer_closed",
        "peer_disconnect",
        "framing",
        "data_before_connect",
        "unexpected_connect_request",
        "connect_refused",
        "idle_timeout",
        "handshake_timeout",
        "evicted",
        "socket_error",
        "shutdown",
    ];

    /// A dense index (for per-reason counters without allocation).
    pub fn index(&self) -> usize {
        match self {
            CloseReason::PeerClosed => 0,
            CloseReason::PeerDisconnect => 1,
            CloseReason::Framing(_) => 2,
            CloseReason::DataBeforeConnect => 3,
            CloseReason::UnexpectedConnectRequest => 4,
            CloseReason::ConnectRefused => 5,
            CloseReason::IdleTimeout => 6,
            CloseReason::HandshakeTimeout => 7,
            CloseReason::Evicted => 8,
            CloseReason::Io(_) => 9,
            CloseReason::Shutdown => 10,
        }
    }
}

impl core::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CloseReason::PeerClosed => write!(f, "peer closed the connection"),
            CloseReason::PeerDisconnect => write!(f, "peer sent COTP disconnect request"),
            CloseReason::Framing(e) => write!(f, "broken framing: {e}"),
            CloseReason::DataBeforeConnect => write!(f, "COTP data before connection request"),
            CloseReason::UnexpectedConnectRequest => {
                write!(f, "second COTP connection request on an open connection")
            }
            CloseReason::ConnectRefused => write!(f, "COTP connection request refused"),
            CloseReason::IdleTimeout => write!(f, "idle timeout"),
            CloseReason::HandshakeTimeout => write!(
                f,
                "handshake timeout (no COTP connect and Setup Communication in time)"
            ),
            CloseReason::Evicted => write!(
                f,
                "evicted while still in its handshake: all slots taken and a new client came"
            ),
            CloseReason::Io(e) => {
                write!(f, "socket error: {}", std::io::Error::from_raw_os_error(*e))
            }
            CloseReason::Shutdown => write!(f, "server shutting down"),
        }
    }
}

/// Something the RT thread wants logged or acted on outside real time. `Copy`, fixed size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The server is listening.
    Listening(SocketAddr),
    /// A client connected into slot `slot`.
    Connected {
        /// Connection slot.
        slot: u16,
        /// Client address.
        peer: SocketAddr,
    },
    /// A connection was refused at accept (closed at once).
    Refused {
        /// Client address.
        peer: SocketAddr,
        /// Why.
        reason: AcceptRefusal,
    },
    /// `accept` failed (reported at most once per `accept_guard::REPORT_EVERY`).
    AcceptFailed {
        /// The errno.
        errno: i32,
        /// Failures since the previous report, this one included.
        failures: u64,
        /// How long the listener is left unwatched (0: the next connection is accepted).
        paused_ms: u32,
    },
    /// A connection ended.
    Disconnected {
        /// Connection slot.
        slot: u16,
        /// Why.
        reason: CloseReason,
    },
    /// Setup Communication negotiated a PDU size.
    Negotiated {
        /// Connection slot.
        slot: u16,
        /// Negotiated PDU length.
        pdu_len: u16,
    },
    /// A well-framed request was answered with an S7 header error.
    RequestRejected {
        /// Connection slot.
        slot: u16,
        /// PDU type / function byte that was rejected.
        function: u8,
        /// The error sent.
        error: HeaderError,
    },
    /// A client stopped or started the CPU.
    ModeChanged {
        /// Connection slot.
        slot: u16,
        /// The new mode.
        mode: Mode,
        /// A cold start (RUN only).
        cold: bool,
    },
    /// A client set the PLC clock.
    ClockSet {
        /// Connection slot.
        slot: u16,
        /// The PLC time set (Unix ms).
        plc_ms: i64,
    },
    /// A client entered a session password.
    Password {
        /// Connection slot.
        slot: u16,
        /// Right password.
        accepted: bool,
    },
    /// A client cleared its session password.
    PasswordCleared {
        /// Connection slot.
        slot: u16,
    },
    /// A client finished uploading a block.
    Upload {
        /// Connection slot.
        slot: u16,
        /// DB number.
        db: u16,
        /// Bytes of the block.
        len: u32,
    },
    /// A client's downloaded DB replaced the DB's content (PI `_INSE`).
    Download {
        /// Connection slot.
        slot: u16,
        /// DB number.
        db: u16,
        /// Bytes of the DB.
        len: u32,
    },
    /// A client deleted a DB (PI `_DELE`).
    BlockDeleted {
        /// Connection slot.
        slot: u16,
        /// DB number.
        db: u16,
    },
    /// A COTP connection request was refused (rack/slot, type or quota).
    ConnectionRefused {
        /// Connection slot.
        slot: u16,
        /// The called TSAP (first two bytes).
        tsap: u16,
        /// Why.
        reason: Refusal,
    },
}

/// One client write as it was applied to the image, borrowing the written bytes (for a bit
/// write one byte whose bit 0 is the value). Handed to [`EventSink::client_write`] on the RT
/// thread, where the host queues and persistence pick it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRef<'a> {
    /// Connection slot of the writing client.
    pub slot: u16,
    /// Area written (DI is reported as written; it addresses the DBs).
    pub area: Area,
    /// DB number (DB/DI only).
    pub db: u16,
    /// First byte written.
    pub offset: usize,
    /// Bit number for a bit write.
    pub bit: Option<u8>,
    /// The bytes written.
    pub data: &'a [u8],
}

/// Where the session reports events. Implementations must not block or allocate.
pub trait EventSink {
    /// Reports one event.
    fn event(&mut self, e: Event);
    /// Reports one applied client write with its data. The default ignores it.
    fn client_write(&mut self, w: &WriteRef<'_>) {
        let _ = w;
    }
}

/// Discards everything (tests, benches).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn event(&mut self, _: Event) {}
}

/// The bounded RT → housekeeping queue with its drop counter.
#[derive(Debug, Clone)]
pub struct EventQueue {
    queue: Arc<ArrayQueue<Event>>,
    dropped: Arc<AtomicU64>,
}

impl EventQueue {
    /// Allocates a queue of `capacity` events (at start-up).
    pub fn new(capacity: usize) -> EventQueue {
        EventQueue {
            queue: Arc::new(ArrayQueue::new(capacity.max(1))),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Pushes without blocking; a full queue drops the event and counts it.
    pub fn push(&self, e: Event) {
        if self.queue.push(e).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the oldest event (housekeeping side).
    pub fn pop(&self) -> Option<Event> {
        self.queue.pop()
    }

    /// Events dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl EventSink for &EventQueue {
    fn event(&mut self, e: Event) {
        self.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_drops_and_counts_instead_of_blocking() {
        let q = EventQueue::new(2);
        let e = Event::Refused {
            peer: "127.0.0.1:1".parse().unwrap(),
            reason: AcceptRefusal::Full,
        };
        q.push(e);
        q.push(e);
        q.push(e);
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.pop(), Some(e));
        assert_eq!(q.pop(), Some(e));
        assert_eq!(q.pop(), None);
    }
}
