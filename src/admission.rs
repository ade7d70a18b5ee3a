//! Connection admission: who gets a slot when a connection arrives, and how long a
//! connection may take to become a session.
//!
//! Idle sockets must not lock HMIs out. So:
//! - a connection that has not finished COTP connect and Setup Communication within
//!   `handshake_timeout` is closed (the loop checks [`Admission::handshake_expired`] every
//!   cycle);
//! - when every slot is taken, a newcomer evicts the oldest connection still in its
//!   handshake; established sessions are never evicted for a newcomer;
//! - one client address holds at most `max_per_ip` slots.
//!
//! The table is sized at start-up; deciding scans it (no allocation), once per accept.

use std::net::IpAddr;
use std::time::Duration;

use crate::plc::Mono;

/// Default `handshake_timeout_ms`: generous for a client on a slow link (a real handshake
/// takes two round trips), short against slot-holding idle sockets.
pub(crate) const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 5000;
/// Default `max_connections_per_ip`: an engineering station plus a few HMI/SCADA
/// connections from one host, a quarter of the default 32 slots.
pub(crate) const DEFAULT_MAX_PER_IP: usize = 8;

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot holds an established session.
    Full,
    /// No `[[access]]` rule lets this address connect.
    NotPermitted,
    /// The address already holds `max_connections_per_ip` slots.
    PerIpLimit,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Refusal::Full => "every connection slot holds an established session",
            Refusal::NotPermitted => "no [[access]] rule lets this address connect",
            Refusal::PerIpLimit => "this address holds max_connections_per_ip connections",
        })
    }
}

/// What to do with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Open it in this free slot.
    Open(usize),
    /// Close the connection in this slot (still in its handshake, the oldest such), then
    /// open the new one there.
    Evict(usize),
    /// Close it at once.
    Refuse(Refusal),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    peer: IpAddr,
    opened: Mono,
}

/// Per-slot peer addresses and opening times, and the limits.
#[derive(Debug)]
pub(crate) struct Admission {
    slots: Box<[Option<Entry>]>,
    max_per_ip: usize,
    handshake_timeout: Duration,
}

impl Admission {
    /// A table for `slots` connection slots.
    pub(crate) fn new(slots: usize, max_per_ip: usize, handshake_timeout: Duration) -> Admission {
        Admission {
            slots: vec![None; slots].into(),
            max_per_ip: max_per_ip.max(1),
            handshake_timeout,
        }
    }

    /// Decides where a connection from `peer` goes. `established(slot)` says whether the
    /// connection in an occupied slot finished its handshake.
    pub(crate) fn decide(&self, peer: IpAddr, established: impl Fn(usize) -> bool) -> Verdict {
        let peer = peer.to_canonical();
        let same = self
            .slots
            .iter()
            .filter(|e| e.is_some_and(|e| e.peer == peer))
            .count();
        if same >= self.max_per_ip {
            return Verdict::Refuse(Refusal::PerIpLimit);
        }
        if let Some(free) = self.slots.iter().position(Option::is_none) {
            return Verdict::Open(free);
        }
        let oldest_handshake = self
            .slots
            .iter()
            .enumerate()
            .filter(|(i, _)| !established(*i))
            .filter_map(|(i, e)| e.map(|e| (e.opened, i)))
            .min();
        match oldest_handshake {
            Some((_, slot)) => Verdict::Evict(slot),
            None => Verdict::Refuse(Refusal::Full),
        }
    }

    /// Records that `slot` now holds a connection from `peer`, opened at `now`.
    pub(crate) fn opened(&mut self, slot: usize, peer: IpAddr, now: Mono) {
        if let Some(e) = self.slots.get_mut(slot) {
            *e = Some(Entry {
                peer: peer.to_canonical(),
                opened: now,
            });
        }
    }

    /// Records that `slot` is free again.
    pub(crate) fn closed(&mut self, slot: usize) {
        if let Some(e) = self.slots.get_mut(slot) {
            *e = None;
        }
    }

    /// Whether the connection in `slot`, if still in its handshake, has run out of time.
    pub(crate) fn handshake_expired(&self, slot: usize, now: Mono) -> bool {
        self.slots
            .get(slot)
            .copied()
            .flatten()
            .is_some_and(|e| now >= e.opened + self.handshake_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn free_slot_first_then_the_oldest_handshake_is_evicted_never_a_session() {
        let t0 = Mono::now();
        let mut a = Admission::new(3, 8, Duration::from_secs(5));
        assert_eq!(a.decide(ip("10.0.0.1"), |_| false), Verdict::Open(0));
        a.opened(0, ip("10.0.0.1"), t0 + Duration::from_millis(30));
        a.opened(1, ip("10.0.0.2"), t0 + Duration::from_millis(10));
        assert_eq!(a.decide(ip("10.0.0.3"), |_| false), Verdict::Open(2));
        a.opened(2, ip("10.0.0.3"), t0 + Duration::from_millis(20));
        assert_eq!(a.decide(ip("10.0.0.4"), |_| false), Verdict::Evict(1));
        // Slot 1 established: the oldest handshake left is slot 2.
        assert_eq!(a.decide(ip("10.0.0.4"), |s| s == 1), Verdict::Evict(2));
        assert_eq!(
            a.decide(ip("10.0.0.4"), |_| true),
            Verdict::Refuse(Refusal::Full)
        );
        a.closed(1);
        assert_eq!(a.decide(ip("10.0.0.4"), |_| true), Verdict::Open(1));
    }

    #[test]
    fn one_address_holds_at_most_max_per_ip_slots_ipv4_mapped_included() {
        let t0 = Mono::now();
        let mut a = Admission::new(8, 2, Duration::from_secs(5));
        a.opened(0, ip("10.0.0.1"), t0);
        a.opened(1, ip("::ffff:10.0.0.1"), t0);
        assert_eq!(
            a.decide(ip("10.0.0.1"), |_| true),
            Verdict::Refuse(Refusal::PerIpLimit)
        );
        assert_eq!(a.decide(ip("10.0.0.2"), |_| true), Verdict::Open(2));
    }

    #[test]
    fn handshake_deadline_counts_from_opening() {
        let t0 = Mono::now();
        let mut a = Admission::new(2, 8, Duration::from_millis(100));
        a.opened(0, ip("10.0.0.1"), t0);
        assert!(!a.handshake_expired(0, t0 + Duration::from_millis(99)));
        assert!(a.handshake_expired(0, t0 + Duration::from_millis(100)));
        assert!(
            !a.handshake_expired(1, t0 + Duration::from_secs(9)),
            "free slot"
        );
    }
}
