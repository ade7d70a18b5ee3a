//! The connection slab: one [`Conn`] per slot (socket, session, buffers), accepting and
//! admitting new connections, opening and closing slots.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;

use super::{EventLoop, LISTENER};
use crate::accept_guard;
use crate::admission::{Refusal, Verdict};
use crate::events::{CloseReason, Event};
use crate::plc::{Memory, Mono};
use crate::rt::sys;
use crate::session::Session;

/// One slot of the slab: its socket (if open), the session and the RX/TX buffers.
pub(super) struct Conn {
    pub(super) fd: Option<OwnedFd>,
    pub(super) generation: u32,
    pub(super) session: Session,
    pub(super) rx: Box<[u8]>,
    pub(super) rx_start: usize,
    pub(super) rx_end: usize,
    pub(super) tx: Box<[u8]>,
    pub(super) tx_start: usize,
    pub(super) tx_end: usize,
    pub(super) writing: bool,
    /// Complete requests are left in `rx` because TX filled up: answer them before reading.
    pub(super) backlog: bool,
}

impl<M: Memory> EventLoop<M> {
    pub(super) fn accept_all(&mut self, now: Mono) {
        loop {
            let (fd, peer) = match sys::accept(&self.listener) {
                Ok(Some(x)) => x,
                Ok(None) => return,
                Err(e) => match self.accept_failed(&e, now) {
                    accept_guard::Verdict::NextConnection => continue,
                    accept_guard::Verdict::Pause => return,
                },
            };
            self.admit(fd, peer, now);
        }
    }

    /// Decides what becomes of an accepted connection (access rules, per-address limit,
    /// a free slot or the eviction of the oldest handshake) and opens or refuses it.
    pub(super) fn admit(&mut self, fd: OwnedFd, peer: SocketAddr, now: Mono) {
        let refuse = |el: &mut Self, reason: Refusal| {
            // Closed at once by dropping `fd`.
            let c = &mut el.telemetry.counters;
            c.refused += 1;
            match reason {
                Refusal::NotPermitted => c.refused_access += 1,
                Refusal::PerIpLimit => c.refused_per_ip += 1,
                Refusal::Full => {}
            }
            el.queue.push(Event::Refused { peer, reason });
        };
        let Some(grant) = self.cpu.access.decide(peer.ip()) else {
            return refuse(self, Refusal::NotPermitted);
        };
        let conns = &self.conns;
        let verdict = self.admission.decide(peer.ip(), |slot| {
            conns.get(slot).is_some_and(|c| c.session.is_established())
        });
        let slot = match verdict {
            Verdict::Open(slot) => slot,
            Verdict::Evict(slot) => {
                self.telemetry.counters.evicted += 1;
                self.close(slot, CloseReason::Evicted);
                slot
            }
            Verdict::Refuse(reason) => return refuse(self, reason),
        };
        self.open(slot, fd, peer, now);
        if self.conns[slot].fd.is_some() {
            self.conns[slot].session.set_grant(grant);
            self.admission.opened(slot, peer.ip(), now);
        }
    }

    /// A failed accept never makes the loop spin: out of descriptors or memory, the pending
    /// connection stays in the backlog and the level-triggered listener readable, so the
    /// listener is unwatched until the back-off passes (re-armed in [`Self::cycle`]). Counted;
    /// reported rate-limited through the event queue.
    pub(super) fn accept_failed(&mut self, e: &std::io::Error, now: Mono) -> accept_guard::Verdict {
        self.telemetry.counters.accept_errors += 1;
        let (verdict, event) = self.accept_guard.failed(e.raw_os_error().unwrap_or(0), now);
        if let Some(event) = event {
            self.queue.push(event);
        }
        if verdict == accept_guard::Verdict::Pause {
            self.watch_listener(false);
        }
        verdict
    }

    /// Watches the listener for connections, or stops watching it (it stays registered).
    pub(super) fn watch_listener(&mut self, on: bool) {
        let events = if on { libc::EPOLLIN as u32 } else { 0 };
        let _ = sys::epoll_ctl(
            &self.epfd,
            libc::EPOLL_CTL_MOD,
            self.listener.as_raw_fd(),
            events,
            LISTENER,
        );
    }

    pub(super) fn open(&mut self, slot: usize, fd: OwnedFd, peer: SocketAddr, now: Mono) {
        let _ = sys::setsockopt_int(&fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
        let _ = sys::setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
        if self.cfg.rx_timestamps {
            // Without kernel support there are just no timestamps (and no rx samples).
            let _ = sys::enable_rx_timestamps(&fd);
        }
        let c = &mut self.conns[slot];
        c.generation = c.generation.wrapping_add(1);
        let token = (u64::from(c.generation) << 32) | (slot as u64 + 1);
        if sys::epoll_ctl(
            &self.epfd,
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            libc::EPOLLIN as u32,
            token,
        )
        .is_err()
        {
            return;
        }
        c.fd = Some(fd);
        c.session.reset(now);
        c.rx_start = 0;
        c.rx_end = 0;
        c.tx_start = 0;
        c.tx_end = 0;
        c.writing = false;
        c.backlog = false;
        self.telemetry.counters.accepted += 1;
        self.control.connections.fetch_add(1, Ordering::Relaxed);
        self.queue.push(Event::Connected {
            slot: slot as u16,
            peer,
        });
    }

    pub(super) fn close(&mut self, slot: usize, reason: CloseReason) {
        self.admission.closed(slot);
        let c = &mut self.conns[slot];
        c.session.release(&mut self.cpu);
        if let Some(fd) = c.fd.take() {
            let _ = sys::epoll_ctl(&self.epfd, libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0);
            drop(fd);
            self.telemetry.counters.closed += 1;
            self.telemetry.counters.closed_by_reason[reason.index()] += 1;
            self.control.connections.fetch_sub(1, Ordering::Relaxed);
            self.queue.push(Event::Disconnected {
                slot: slot as u16,
                reason,
            });
        }
    }
}
