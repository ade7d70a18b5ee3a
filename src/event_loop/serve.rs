//! The request path of one ready connection: read what arrived (with its receive
//! timestamp), answer every complete request through the session, send the answers, and
//! record the service time.

use std::os::fd::{AsRawFd, OwnedFd};

use super::conn::Conn;
use super::{EventLoop, SLOT_BITS};
use crate::events::CloseReason;
use crate::host::sink::LoopSink;
use crate::plc::{Cpu, Memory, Mono, Now};
use crate::rt::sys;
use crate::session::READ_VAR_OK;
use crate::telemetry::Counters;

impl<M: Memory> EventLoop<M> {
    pub(super) fn service(&mut self, token: u64, ready: u32, woke: Mono) {
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
    pub(super) fn read_and_answer(&mut self, slot: usize, woke: Mono) -> Result<(), CloseReason> {
        // Borrowed apart once: the connection and what answering touches, so the request
        // path indexes the slab once instead of at every step.
        let EventLoop {
            conns,
            mem,
            cpu,
            queue,
            host,
            persist,
            telemetry,
            epfd,
            cfg,
            wall_base,
            max_reply,
            ..
        } = self;
        let Some(c) = conns.get_mut(slot) else {
            return Ok(());
        };
        let mut sink = LoopSink {
            events: queue,
            host: host.as_mut(),
            persist: persist.as_mut(),
        };
        // One wall-clock read per batch: the session reads no clock.
        let (mono_base, wall_base_ns) = *wall_base;
        let now = Now {
            mono: woke,
            // Plain arithmetic: ns since the epoch, far from i64's limits.
            wall_ns: wall_base_ns + woke.ns_since(mono_base) as i64,
        };
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
                let got = if cfg.rx_timestamps {
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
            let (replies, rx_drained) = c.answer(
                now,
                *max_reply,
                mem,
                cpu,
                &mut telemetry.counters,
                &mut sink,
            )?;
            c.backlog = !rx_drained;
            c.flush(epfd, slot)?;
            if replies > 0 {
                // One clock reading ends both measurements: the receive timestamps' clock
                // (CLOCK_REALTIME) is derived from it through the per-cycle wall base.
                let end = Mono::now();
                if let Some(t) = learned.take() {
                    telemetry.service_ns.record(end.ns_since(t));
                }
                if let Some(at) = stamp.take() {
                    // Plain arithmetic: both are nanoseconds since the epoch, far from i64's
                    // limits; a stamp after the end (clock stepped) counts as 0.
                    let end_real = wall_base_ns + end.ns_since(mono_base) as i64;
                    telemetry
                        .rx_service_ns
                        .record((end_real - at).max(0) as u64);
                }
            }
            // Requests left in RX because TX filled are answered once TX drained (in this
            // turn if the kernel took everything, else after EPOLLOUT).
            if c.writing || !c.backlog {
                return Ok(());
            }
        }
    }

    /// Sends what the connection in `slot` has pending ([`Conn::flush`]).
    pub(super) fn flush(&mut self, slot: usize) -> Result<(), CloseReason> {
        match self.conns.get_mut(slot) {
            Some(c) => c.flush(&self.epfd, slot),
            None => Ok(()),
        }
    }
}

impl Conn {
    /// Runs the session over the buffered bytes while there is room for a reply. Returns the
    /// number of replies and whether every complete TPKT in RX was answered (false: TX ran
    /// out of room first).
    #[inline(always)]
    fn answer<M: Memory>(
        &mut self,
        now: Now,
        max_reply: usize,
        mem: &mut M,
        cpu: &mut Cpu,
        counters: &mut Counters,
        sink: &mut LoopSink<'_>,
    ) -> Result<(u64, bool), CloseReason> {
        let mut replies = 0;
        loop {
            if self.rx_start == self.rx_end {
                return Ok((replies, true)); // all answered: no need to ask the session
            }
            if self.tx.len() - self.tx_end < max_reply {
                if self.tx_start == self.tx_end {
                    self.tx_start = 0;
                    self.tx_end = 0;
                } else {
                    return Ok((replies, false)); // flush first; the rest stays in rx
                }
            }
            let rx = &self.rx[self.rx_start..self.rx_end];
            let tx = &mut self.tx[self.tx_end..];
            // The session's two halves called apart (what `handle_rx` does), so a fast
            // answer is counted as the read it is, without classifying a `Step`.
            if let Some((consumed, reply_len)) = self.session.fast_read(now, rx, mem, cpu, tx) {
                replies += 1;
                counters.count_reply(Some(READ_VAR_OK));
                self.rx_start += consumed;
                self.tx_end += reply_len;
                continue;
            }
            let step = self.session.general(now, rx, mem, cpu, tx, sink);
            if step.reply_len > 0 {
                replies += 1;
                counters.count_reply(step.answered);
            }
            self.rx_start += step.consumed;
            self.tx_end += step.reply_len;
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
    #[inline(always)]
    pub(super) fn flush(&mut self, epfd: &OwnedFd, slot: usize) -> Result<(), CloseReason> {
        let Some(fd) = self.fd.as_ref() else {
            return Ok(());
        };
        while self.tx_start < self.tx_end {
            match sys::send(fd, &self.tx[self.tx_start..self.tx_end]) {
                Ok(Some(n)) => self.tx_start += n,
                Ok(None) => break,
                Err(e) => return Err(CloseReason::Io(e.raw_os_error().unwrap_or(0))),
            }
        }
        let pending = self.tx_start < self.tx_end;
        if !pending {
            self.tx_start = 0;
            self.tx_end = 0;
        }
        if pending != self.writing {
            self.writing = pending;
            let interest = if pending {
                libc::EPOLLOUT
            } else {
                libc::EPOLLIN
            } as u32;
            let token = (u64::from(self.generation) << 32) | (slot as u64 + 1);
            let _ = sys::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd.as_raw_fd(), interest, token);
        }
        Ok(())
    }
}
