//! Fan-out of event lines to the connections that `watch`, without ever waiting for one.
//!
//! Each watcher has a bounded channel to its connection's writer thread. Publishing is a
//! `try_send` per watcher: a full channel (the client reads too slowly) drops the line for
//! that watcher only and counts it; the writer tells the client how many it missed with a
//! `lagged` line as soon as it catches up. A client that stops reading altogether is
//! dropped by its writer's timeout (see `server`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};

/// Lines a connection's writer holds before events for it are dropped.
pub const WATCH_QUEUE: usize = 1024;

/// A line for a connection's writer: a response (never dropped) or an event.
pub type Line = String;

/// One watching connection.
#[derive(Debug)]
struct Watcher {
    conn: u64,
    tx: SyncSender<Line>,
    lagged: Arc<AtomicU64>,
}

/// Counters over all watchers since start.
#[derive(Debug, Default)]
pub struct HubStats {
    /// Event lines delivered to writers.
    pub delivered: AtomicU64,
    /// Event lines dropped because a watcher's queue was full.
    pub lagged: AtomicU64,
}

/// The set of watching connections.
#[derive(Debug, Default)]
pub struct Hub {
    watchers: Mutex<Vec<Watcher>>,
    /// Totals since start.
    pub stats: HubStats,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Vec<Watcher>> {
        // Nothing a panicking holder could leave half-done: a Vec push/retain.
        self.watchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or keeps) `conn` as a watcher whose lines go to `tx`; `lagged` is where its
    /// dropped lines are counted for its writer.
    pub fn watch(&self, conn: u64, tx: SyncSender<Line>, lagged: Arc<AtomicU64>) {
        let mut w = self.lock();
        if !w.iter().any(|w| w.conn == conn) {
            w.push(Watcher { conn, tx, lagged });
        }
    }

    /// Removes `conn`.
    pub fn unwatch(&self, conn: u64) {
        self.lock().retain(|w| w.conn != conn);
    }

    /// Number of watchers.
    pub fn watchers(&self) -> usize {
        self.lock().len()
    }

    /// Offers `line` to every watcher without blocking. Watchers whose connection is gone
    /// are removed.
    pub fn publish(&self, line: &str) {
        let mut w = self.lock();
        w.retain(|w| match w.tx.try_send(line.to_string()) {
            Ok(()) => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) => {
                w.lagged.fetch_add(1, Ordering::Relaxed);
                self.stats.lagged.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    #[test]
    fn a_full_watcher_loses_lines_and_counts_them_while_others_get_all() {
        let hub = Hub::default();
        let (slow_tx, slow_rx) = sync_channel(2);
        let (fast_tx, fast_rx) = sync_channel(100);
        let slow_lag = Arc::new(AtomicU64::new(0));
        let fast_lag = Arc::new(AtomicU64::new(0));
        hub.watch(1, slow_tx, slow_lag.clone());
        hub.watch(2, fast_tx.clone(), fast_lag.clone());
        hub.watch(2, fast_tx, fast_lag.clone());
        assert_eq!(hub.watchers(), 2);
        for i in 0..10 {
            hub.publish(&format!("e{i}"));
        }
        assert_eq!(slow_rx.try_iter().collect::<Vec<_>>(), ["e0", "e1"]);
        assert_eq!(slow_lag.load(Ordering::Relaxed), 8);
        assert_eq!(fast_rx.try_iter().count(), 10);
        assert_eq!(fast_lag.load(Ordering::Relaxed), 0);
        assert_eq!(hub.stats.lagged.load(Ordering::Relaxed), 8);
        assert_eq!(hub.stats.delivered.load(Ordering::Relaxed), 12);
        drop(slow_rx);
        hub.publish("x");
        assert_eq!(hub.watchers(), 1, "a closed connection is removed");
        hub.unwatch(2);
        assert_eq!(hub.watchers(), 0);
    }
}
