//! The epoll loop: listener, a fixed slab of connections, the cycle deadline, idle timeouts.
//! The only code that touches sockets.
//!
//! Everything is allocated in [`EventLoop::new`]; [`EventLoop::run`] then neither allocates
//! nor logs: it reports through the [`EventQueue`] and bumps counters.
//!
//! Split by what the code holds: this module the loop itself (set-up, turns, cycle ticks),
//! [`conn`] the connection slab (accept, admission, open, close), [`serve`] the request path
//! of one ready connection (read, answer, send).

mod conn;
mod serve;

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::accept_guard::AcceptGuard;
use crate::admission::Admission;
use crate::events::{CloseReason, EventQueue};
use crate::host::port::HostPort;
use crate::persist::Snapshotter;
use crate::plc::{Cpu, Memory, Mono};
use crate::rt::sys;
use crate::session::{Session, MAX_TPKT_LEN};
use crate::settings::{CycleTimer, LoopConfig};
use crate::telemetry::{Exchange, LoopStats};

const LISTENER: u64 = 0;
const CYCLE_TIMER: u64 = u64::MAX;
const SLOT_BITS: u64 = 0xFFFF_FFFF;
use conn::Conn;

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
    /// Room TX needs for one more reply (`cfg.limits.max_reply_len()`, computed once).
    max_reply: usize,
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
            max_reply: cfg.limits.max_reply_len(),
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
        if let Some(port) = self.host.as_mut().filter(|p| !p.idle()) {
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
}

#[cfg(test)]
mod tests;
