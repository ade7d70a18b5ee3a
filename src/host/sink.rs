//! Where the event loop sends what sessions report: events to housekeeping, client writes
//! with their data to the host and to persistence. Runs on the RT thread: never blocks,
//! never allocates.

use super::port::HostPort;
use crate::events::{Event, EventQueue, EventSink, WriteRef};
use crate::persist::Snapshotter;

/// The event loop's sink for one batch of requests.
pub(crate) struct LoopSink<'a> {
    pub(crate) events: &'a EventQueue,
    pub(crate) host: Option<&'a mut HostPort>,
    pub(crate) persist: Option<&'a mut Snapshotter>,
}

impl EventSink for LoopSink<'_> {
    fn event(&mut self, e: Event) {
        if let (Some(p), Event::Download { db, .. } | Event::BlockDeleted { db, .. }) =
            (self.persist.as_deref_mut(), e)
        {
            p.on_replace(db);
        }
        self.events.push(e);
    }

    fn client_write(&mut self, w: &WriteRef<'_>) {
        if let Some(h) = self.host.as_deref_mut() {
            h.publish(w);
        }
        if let Some(p) = self.persist.as_deref_mut() {
            p.on_write(w);
        }
    }
}
