//! The daemon's [`Backend`]: the host API's [`Host`] handle (bounded lock-free queues into
//! the RT thread; nothing here touches the image directly).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};

use super::protocol::Failure;
use super::{Backend, Change, Content, Subscription};
use crate::host::{Host, HostError, Notification, Notifications};
use crate::wire::var::Area;

/// Extra `status` fields the embedding program supplies (the RT thread's state).
pub type StatusFn = Arc<dyn Fn() -> J + Send + Sync>;

/// [`Backend`] over a [`Host`].
pub struct HostBackend {
    host: Host,
    status: StatusFn,
}

impl HostBackend {
    /// Wraps `host`; `status` adds fields to every `status` answer.
    pub fn new(host: Host, status: StatusFn) -> HostBackend {
        HostBackend { host, status }
    }
}

fn failure(e: HostError) -> Failure {
    let code = match &e {
        HostError::NoSuchObject { .. } => "no_such_area",
        HostError::OutOfRange { .. } => "image_range",
        HostError::BadBit(_) | HostError::BatchTooLarge { .. } => "bad_request",
        HostError::QueueFull { .. } => "queue_full",
        HostError::Timeout => "timeout",
        HostError::Stopped => "stopped",
        HostError::AlreadySubscribed => "unavailable",
        _ => "host_error",
    };
    Failure::new(code, e.to_string())
}

/// Client-write notifications, polled gently: the watch thread wakes at most every
/// millisecond instead of spinning.
struct HostSub(Notifications);

impl Subscription for HostSub {
    fn next(&mut self, timeout: Duration) -> Option<Notification> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.0.try_recv() {
                Some(n) => return Some(n),
                None if Instant::now() >= deadline => return None,
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

impl Backend for HostBackend {
    fn read(&self, ranges: &[(Area, u16, usize, usize)]) -> Result<Vec<Vec<u8>>, Failure> {
        let mut b = self.host.batch();
        for &(area, db, offset, len) in ranges {
            b.read(area, db, offset, len).map_err(failure)?;
        }
        b.commit().map_err(failure)
    }

    fn write(&self, changes: &[Change]) -> Result<(), Failure> {
        let mut b = self.host.batch();
        for c in changes {
            match &c.content {
                Content::Bytes(data) => b.write(c.area, c.db, c.offset, data),
                Content::Bit { bit, value } => b.write_bit(c.area, c.db, c.offset, *bit, *value),
            }
            .map_err(failure)?;
        }
        b.commit().map_err(failure)?;
        // Answer once the loop has applied it: an S7 read that follows the answer sees it.
        self.host.sync().map_err(|e| {
            Failure::new(
                "timeout",
                format!("queued, but not confirmed applied by the loop: {e}"),
            )
        })
    }

    fn subscribe(&self) -> Result<Box<dyn Subscription>, Failure> {
        Ok(Box::new(HostSub(
            self.host.notifications().map_err(failure)?,
        )))
    }

    fn status(&self) -> J {
        let s = self.host.stats();
        let mut out = (self.status)();
        if !out.is_object() {
            out = json!({});
        }
        out["host"] = json!({
            "running": self.host.is_running(),
            "transactions": s.transactions,
            "writes_applied": s.writes_applied,
            "reads_answered": s.reads_answered,
            "rejected": s.rejected,
            "queue_full": s.queue_full,
            "notified": s.notified,
            "lagged": s.lagged,
        });
        out
    }
}
