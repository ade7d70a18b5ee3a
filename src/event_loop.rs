//! The epoll loop: listener, a fixed slab of connections, the cycle deadline, idle timeouts.
//! The only code that touches sockets.
//!
//! Everything is allocated in [`EventLoop::new`]; [`EventLoop::run`] then neither allocates
//! nor logs: it reports through the [`EventQueue`] and bumps counters.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::accept_guard::{self, AcceptGuard};
use crate::admission::{Admission, Refusal, Verdict};
use crate::events::{CloseReason, Event, EventQueue};
use crate::host::port::HostPort;
use crate::host::sink::LoopSink;
use crate::persist::Snapshotter;
use crate::plc::{Cpu, Memory, Mono, Now};
use crate::rt::sys;
use crate::session::{Session, MAX_TPKT_LEN};
use crate::settings::{CycleTimer, LoopConfig};
use crate::telemetry::{Exchange, LoopStats};

const LISTENER: u64 = 0;
const CYCLE_TIMER: u64 = u64::MAX;
const SLOT_BITS: u64 = 0xFFFF_FFFF;

struct Conn {
    fd: Option<OwnedFd>,
    generation: u32,
    session: Session,
    rx: Box<[u8]>,
    rx_start: usize,
    rx_end: usize,
    tx: Box<[u8]>,
    tx_start: usize,
    tx_end: usize,
    writing: bool,
    /// Complete requests are left in `rx` because TX filled up: answer them before reading.
    backlog: bool,
}

/// Shared flags the RT thread exposes to other threads.
#[derive(Debug, Default)]
pub struct Control {
    /// Set by anyone to stop the loop at its next cycle.
    pub stop: AtomicBool,
    /// Incremented every cycle (watchdogs check it moves).
    pub heartbeat: AtomicU64,
    /// S7 connections open now (the control socket's `status`).
    pub connections: AtomicU64,
}

/// The event loop and everything it owns.
pub(crate) struct EventLoop<M: Memory> {
    epfd: OwnedFd,
    /// The periodic cycle timer when `cycle_timer = timerfd`.
    timerfd: Option<OwnedFd>,
    listener: OwnedFd,
    conns: Box<[Conn]>,
    events: Box<[libc::epoll_event]>,
    mem: M,
    cpu: Cpu,
    queue: EventQueue,
    control: Arc<Control>,
    cfg: LoopConfig,
    /// Measurements of the current report interval (all of them without reporting).
    pub(crate) telemetry: Box<LoopStats>,
    /// Who holds each slot since when: per-address limits, eviction, handshake deadlines.
    admission: Admission,
    /// Where interval snapshots go, how often, and when the next one is due.
    reporting: Option<(Exchange, Duration, Mono)>,
    /// CLOCK_REALTIME (ns since the epoch) at a monotonic instant, re-read every cycle:
    /// requests derive the wall time (and the end of service on the receive timestamps'
    /// clock) from their monotonic readings instead of reading a second clock each.
    wall_base: (Mono, i64),
    /// Back-off of the listener after failed accepts.
    accept_guard: AcceptGuard,
    /// The host application's queues (served at the end of every turn).
    host: Option<HostPort>,
    /// Snapshots of the retentive regions (copied on cycle ticks).
    persist: Option<Snapshotter>,
}

impl<M: Memory> EventLoop<M> {
    /// Allocates the slab (RX buffer of two maximum TPKTs and TX buffer of two maximum
    /// replies per connection) and registers the already bound, non-blocking `listener`.
    pub(crate) fn new(
        listener: OwnedFd,
        mem: M,
        cpu: Cpu,
        queue: EventQueue,
        control: Arc<Control>,
        cfg: LoopConfig,
    ) -> std::io::Result<Self> {
        let epfd = sys::epoll_create()?;
        sys::epoll_ctl(
            &epfd,
            libc::EPOLL_CTL_ADD,
            listener.as_raw_fd(),
            libc::EPOLLIN as u32,
            LISTENER,
        )?;
        let now = Mono::now();
        let tx_len = 2 * cfg.limits.max_reply_len();
        let conns = (0..cfg.max_connections)
            .map(|i| Conn {
                fd: None,
                generation: 0,
                session: Session::new(cfg.limits, i as u16, now),
                rx: vec![0; 2 * MAX_TPKT_LEN].into(),
                rx_start: 0,
                rx_end: 0,
                tx: vec![0; tx_len].into(),
                tx_start: 0,
                tx_end: 0,
                writing: false,
                backlog: false,
            })
            .collect();
        let timer = match cfg.cycle_timer {
            CycleTimer::Auto => {
                CycleTimer::Auto
                    .choose(&crate::rt::cycle::Platform::detect())
                    .timer
            }
            explicit => explicit,
        };
        let timerfd = match timer {
            CycleTimer::Epoll | CycleTimer::Auto => None,
            CycleTimer::Timerfd => {
                let tfd = sys::timerfd_create()?;
                sys::epoll_ctl(
                    &epfd,
                    libc::EPOLL_CTL_ADD,
                    tfd.as_raw_fd(),
                    libc::EPOLLIN as u32,
                    CYCLE_TIMER,
                )?;
                Some(tfd)
            }
        };
        let events = vec![libc::epoll_event { events: 0, u64: 0 }; cfg.max_connections + 2].into();
        Ok(EventLoop {
            epfd,
            timerfd,
            listener,
            conns,
            events,
            mem,
            cpu,
            queue,
            control,
            cfg,
            telemetry: Box::default(),
            admission: Admission::new(
                cfg.max_connections,
                cfg.max_connections_per_ip,
                cfg.handshake_timeout,
            ),
            reporting: None,
            wall_base: (Mono::now(), sys::realtime_ns()),
            accept_guard: AcceptGuard::new(),
            host: None,
            persist: None,
        })
    }

    /// Serves the host application's queues from now on.
    pub(crate) fn attach_host(&mut self, port: HostPort) {
        self.host = Some(port);
    }

    /// Takes snapshots of the retentive regions from now on.
    pub(crate) fn attach_persist(&mut self, s: Snapshotter) {
        self.persist = Some(s);
    }

    /// Applies queued host transactions (at most the host budget), between S7 jobs.
    fn serve_host(&mut self) {
        if let Some(port) = self.host.as_mut() {
            let persist = &mut self.persist;
            port.serve(&mut self.mem, &mut |w| {
                if let Some(p) = persist.as_mut() {
                    p.on_write(w);
                }
            });
        }
    }

    /// Hands the telemetry to `exchange` every `every` (checked on cycle ticks), instead of
    /// accumulating it all in [`EventLoop::telemetry`].
    pub(crate) fn set_reporting(&mut self, exchange: Exchange, every: Duration) {
        self.reporting = Some((exchange, every, Mono::now() + every));
    }

    /// Writes to every page of every buffer so the loop never faults one in.
    pub(crate) fn prefault(&mut self) {
        for c in self.conns.iter_mut() {
            for b in [&mut c.rx, &mut c.tx] {
                for i in (0..b.len()).step_by(4096) {
                    b[i] = std::hint::black_box(0);
                }
            }
            c.session.prefault();
        }
        self.telemetry.prefault();
    }

    /// Gives the image back (after the loop stopped).
    pub(crate) fn into_memory(self) -> M {
        self.mem
    }

    /// Serves until [`Control::stop`] is set, then closes every connection.
    pub(crate) fn run(&mut self) -> std::io::Result<()> {
        // Read before the timerfd is armed, so its expiries are never earlier than the
        // deadlines latency is measured against (at worst the arming call is counted).
        let mut deadline = Mono::now() + self.cfg.cycle;
        let cycle_ns = u64::try_from(self.cfg.cycle.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        if let Some(tfd) = &self.timerfd {
            sys::timerfd_arm_periodic(tfd, self.cfg.cycle)?;
        }
        loop {
            let timeout = if self.cfg.busy_poll {
                Some(Duration::ZERO)
            } else if self.timerfd.is_some() {
                None
            } else {
                Some(Duration::from_nanos(deadline.ns_since(Mono::now())))
            };
            let n = sys::epoll_wait(&self.epfd, &mut self.events, timeout)?;
            let woke = Mono::now();
            self.telemetry.counters.turns += 1;
            let mut expirations = 0;
            for i in 0..n {
                let ev = self.events[i];
                match ev.u64 {
                    LISTENER => self.accept_all(woke),
                    CYCLE_TIMER => {
                        if let Some(tfd) = &self.timerfd {
                            expirations = sys::timerfd_expirations(tfd);
                        }
                    }
                    token => self.service(token, ev.events, woke),
                }
            }
            // Host transactions after the requests of this turn: their work never lengthens
            // a request's service time, and they still land between two S7 jobs.
            self.serve_host();
            // With a timerfd only the timer ticks the cycle (it counts missed periods itself);
            // otherwise the deadline passing does.
            let tick = match self.timerfd {
                Some(_) => expirations > 0,
                None => woke >= deadline,
            };
            if tick {
                // A wake-up for the cycle alone is the quantity cyclictest measures.
                let timer_only = n == 0 || (n == 1 && expirations > 0);
                let late = woke.ns_since(deadline);
                if timer_only {
                    self.telemetry.wakeup_ns.record(late);
                }
                let missed = match self.timerfd {
                    Some(_) => expirations.saturating_sub(1),
                    None => late / cycle_ns,
                };
                self.telemetry.counters.overruns += missed;
                deadline = Mono(
                    deadline
                        .0
                        .saturating_add(cycle_ns.saturating_mul(missed + 1)),
                );
                if let Some((exchange, every, due)) = &mut self.reporting {
                    self.telemetry.cpu_run = Some(self.cpu.mode() == crate::plc::Mode::Run);
                    if woke >= *due && exchange.swap_out(&mut self.telemetry) {
                        *due = woke + *every;
                    }
                }
                if self.cycle(woke) {
                    break;
                }
            }
        }
        for slot in 0..self.conns.len() {
            if self.conns[slot].fd.is_some() {
                self.close(slot, CloseReason::Shutdown);
            }
        }
        if let Some(port) = &self.host {
            port.stopped();
        }
        Ok(())
    }

    /// Periodic work; returns true when the loop must stop.
    fn cycle(&mut self, now: Mono) -> bool {
        self.control.heartbeat.fetch_add(1, Ordering::Relaxed);
        self.wall_base = (Mono::now(), sys::realtime_ns());
        if let Some(p) = self.persist.as_mut() {
            p.tick(now, self.wall_base.1 / 1_000_000, &self.mem);
        }
        if self.accept_guard.resume_due(now) {
            self.watch_listener(true);
        }
        for slot in 0..self.conns.len() {
            if self.conns[slot].fd.is_some() {
                if let Some(reason) = self.conns[slot].session.handle_timeout(now) {
                    self.close(slot, reason);
                } else if !self.conns[slot].session.is_established()
                    && self.admission.handshake_expired(slot, now)
                {
                    self.telemetry.counters.handshake_timeouts += 1;
                    self.close(slot, CloseReason::HandshakeTimeout);
                }
            }
        }
        self.control.stop.load(Ordering::Relaxed)
    }

    fn accept_all(&mut self, now: Mono) {
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
    fn admit(&mut self, fd: OwnedFd, peer: SocketAddr, now: Mono) {
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
    fn accept_failed(&mut self, e: &std::io::Error, now: Mono) -> accept_guard::Verdict {
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
    fn watch_listener(&mut self, on: bool) {
        let events = if on { libc::EPOLLIN as u32 } else { 0 };
        let _ = sys::epoll_ctl(
            &self.epfd,
            libc::EPOLL_CTL_MOD,
            self.listener.as_raw_fd(),
            events,
            LISTENER,
        );
    }

    fn open(&mut self, slot: usize, fd: OwnedFd, peer: SocketAddr, now: Mono) {
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

    fn close(&mut self, slot: usize, reason: CloseReason) {
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

    fn service(&mut self, token: u64, ready: u32, woke: Mono) {
        let slot = (token & SLOT_BITS) as usize - 1;
        let Some(c) = self.conns.get(slot) else {
            return;
        };
        if c.fd.is_none() || u64::from(c.generation) != token >> 32 {
            return; // stale event for a closed or reused slot
        }
        let result = if ready & libc::EPOLLOUT as u32 != 0 && self.conns[slot].writing {
            self.flush(slot)
        } else {
            Ok(())
        };
        let result = result.and_then(|()| self.read_and_answer(slot, woke));
        if let Err(reason) = result {
            // Send what was already answered (e.g. a DC) before closing.
            let _ = self.flush(slot);
            self.close(slot, reason);
        }
    }

    /// Reads once, answers what is buffered and sends it; answers the rest of RX once TX has
    /// room again, unless the client stops taking our answers (TX full: wait for EPOLLOUT,
    /// read nothing more).
    fn read_and_answer(&mut self, slot: usize, woke: Mono) -> Result<(), CloseReason> {
        // When the bytes being answered became known to the loop: the wake-up (one read per
        // turn, so every batch of this turn was known then; service time is recorded for the
        // first batch).
        let mut learned = Some(woke);
        // The kernel's receive timestamp of the first bytes of the batch being answered.
        let mut stamp: Option<i64> = None;
        // The per-turn budget: one read (at most 2 maximum TPKTs of requests) per connection
        // per turn. Descriptors are level-triggered, so bytes left in the socket bring the
        // connection back in the next turn, after every other ready connection had its
        // turn: a client that floods cannot starve the others. It also means no read ends
        // in EAGAIN (an extra system call per request) to find out that the socket is empty.
        let mut read_this_turn = false;
        loop {
            let c = &mut self.conns[slot];
            if !c.backlog {
                if read_this_turn {
                    return Ok(());
                }
                read_this_turn = true;
                if c.rx_start == c.rx_end {
                    // Everything answered (the common case): nothing to move.
                    c.rx_start = 0;
                    c.rx_end = 0;
                } else if c.rx_start > 0 {
                    c.rx.copy_within(c.rx_start..c.rx_end, 0);
                    c.rx_end -= c.rx_start;
                    c.rx_start = 0;
                }
                let Some(fd) = c.fd.as_ref() else {
                    return Ok(());
                };
                let got = if self.cfg.rx_timestamps {
                    sys::read_timestamped(fd, &mut c.rx[c.rx_end..])
                } else {
                    sys::read(fd, &mut c.rx[c.rx_end..]).map(|r| r.map(|n| (n, None)))
                };
                match got {
                    Ok(Some((0, _))) => return Err(CloseReason::PeerClosed),
                    Ok(Some((n, at))) => {
                        c.rx_end += n;
                        stamp = stamp.or(at);
                    }
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(CloseReason::Io(e.raw_os_error().unwrap_or(0))),
                }
            }
            let (replies, rx_drained) = self.answer(slot, woke)?;
            self.conns[slot].backlog = !rx_drained;
            self.flush(slot)?;
            if replies > 0 {
                // One clock reading ends both measurements: the receive timestamps' clock
                // (CLOCK_REALTIME) is derived from it through the per-cycle wall base.
                let end = Mono::now();
                if let Some(t) = learned.take() {
                    self.telemetry.service_ns.record(end.ns_since(t));
                }
                if let Some(at) = stamp.take() {
                    let (base, base_real) = self.wall_base;
                    let end_real = base_real.saturating_add(end.ns_since(base) as i64);
                    let ns = end_real.saturating_sub(at).max(0) as u64;
                    self.telemetry.rx_service_ns.record(ns);
                }
            }
            // Requests left in RX because TX filled are answered once TX drained (in this
            // turn if the kernel took everything, else after EPOLLOUT).
            let c = &self.conns[slot];
            if c.writing || !c.backlog {
                return Ok(());
            }
        }
    }

    /// Runs the session over the buffered bytes while there is room for a reply. Returns the
    /// number of replies and whether every complete TPKT in RX was answered (false: TX ran
    /// out of room first).
    fn answer(&mut self, slot: usize, woke: Mono) -> Result<(u64, bool), CloseReason> {
        let max_reply = self.cfg.limits.max_reply_len();
        let mut sink = LoopSink {
            events: &self.queue,
            host: self.host.as_mut(),
            persist: self.persist.as_mut(),
        };
        // One wall-clock read per batch: the session reads no clock.
        let (mono_base, wall_base_ns) = self.wall_base;
        let now = Now {
            mono: woke,
            wall_ms: wall_base_ns.saturating_add(woke.ns_since(mono_base) as i64) / 1_000_000,
        };
        let c = &mut self.conns[slot];
        let mut replies = 0;
        loop {
            if c.rx_start == c.rx_end {
                return Ok((replies, true)); // all answered: no need to ask the session
            }
            if c.tx.len() - c.tx_end < max_reply {
                if c.tx_start == c.tx_end {
                    c.tx_start = 0;
                    c.tx_end = 0;
                } else {
                    return Ok((replies, false)); // flush first; the rest stays in rx
                }
            }
            let step = c.session.handle_rx(
                now,
                &c.rx[c.rx_start..c.rx_end],
                &mut self.mem,
                &mut self.cpu,
                &mut c.tx[c.tx_end..],
                &mut sink,
            );
            if step.reply_len > 0 {
                replies += 1;
                self.telemetry.counters.count_reply(step.answered);
            }
            c.rx_start += step.consumed;
            c.tx_end += step.reply_len;
            if let Some(reason) = step.close {
                return Err(reason);
            }
            if step.consumed == 0 {
                return Ok((replies, true));
            }
        }
    }

    /// Sends pending TX bytes; on a partial write keeps the rest, waits for EPOLLOUT and
    /// stops reading this connection until it drains.
    fn flush(&mut self, slot: usize) -> Result<(), CloseReason> {
        let c = &mut self.conns[slot];
        let Some(fd) = c.fd.as_ref() else {
            return Ok(());
        };
        while c.tx_start < c.tx_end {
            match sys::send(fd, &c.tx[c.tx_start..c.tx_end]) {
                Ok(Some(n)) => c.tx_start += n,
                Ok(None) => break,
                Err(e) => return Err(CloseReason::Io(e.raw_os_error().unwrap_or(0))),
            }
        }
        let pending = c.tx_start < c.tx_end;
        if !pending {
            c.tx_start = 0;
            c.tx_end = 0;
        }
        if pending != c.writing {
            c.writing = pending;
            let interest = if pending {
                libc::EPOLLOUT
            } else {
                libc::EPOLLIN
            } as u32;
            let token = (u64::from(c.generation) << 32) | (slot as u64 + 1);
            let _ = sys::epoll_ctl(
                &self.epfd,
                libc::EPOLL_CTL_MOD,
                fd.as_raw_fd(),
                interest,
                token,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
