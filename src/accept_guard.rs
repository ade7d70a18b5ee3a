//! What the event loop does when `accept` fails, kept apart from the socket code so it can be
//! tested without running out of descriptors.
//!
//! The listener is level-triggered: a connection the kernel could not hand over (`EMFILE`,
//! `ENFILE`, `ENOBUFS`, `ENOMEM`) stays in the backlog and the listener stays readable, so
//! retrying on the next wake-up spins the loop at full speed (under SCHED_FIFO 99, starving
//! the CPU's IRQ threads). Instead the loop stops watching the listener for [`PAUSE`] and
//! re-arms it on a cycle tick; the pending connections wait in the backlog meanwhile, as they
//! would behind a full listen queue. Errors that belong to one pending connection (it was
//! reset, or a network error is passed on, see accept(2)) consumed that connection: the loop
//! goes on accepting. Every failure is counted; the event reporting them is pushed at most
//! once per [`REPORT_EVERY`], carrying how many were not reported.

use std::time::Duration;

use crate::events::Event;
use crate::plc::Mono;
use crate::throttle::Throttle;

/// How long the listener is left unwatched after a resource error.
pub(crate) const PAUSE: Duration = Duration::from_millis(100);
/// At most one reported event per this interval.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(10);

/// What the loop does after a failed accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The error belonged to one pending connection, now gone: accept the next.
    NextConnection,
    /// Out of a resource: stop watching the listener until [`AcceptGuard::resume_due`].
    Pause,
}

/// The back-off and report state of the listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AcceptGuard {
    paused_until: Option<Mono>,
    reports: Throttle,
}

impl AcceptGuard {
    /// Not paused; the first failure is reported at once.
    pub(crate) const fn new() -> AcceptGuard {
        AcceptGuard {
            paused_until: None,
            reports: Throttle::new(REPORT_EVERY),
        }
    }

    /// Decides what follows the failed accept (`errno`) at `now`, and returns the event to
    /// report if one is due.
    pub(crate) fn failed(&mut self, errno: i32, now: Mono) -> (Verdict, Option<Event>) {
        let verdict = match errno {
            // The pending connection was aborted, refused by a security module, or carried a
            // network error accept(2) passes on: it is consumed, the next one may be fine.
            libc::ECONNABORTED
            | libc::EPERM
            | libc::EPROTO
            | libc::ENOPROTOOPT
            | libc::ENETDOWN
            | libc::ENETUNREACH
            | libc::EHOSTDOWN
            | libc::EHOSTUNREACH
            | libc::ENONET
            | libc::EOPNOTSUPP
            | libc::ETIMEDOUT => Verdict::NextConnection,
            // EMFILE, ENFILE, ENOBUFS, ENOMEM and anything unforeseen: the connection is
            // still pending, so retrying now would fail again at once.
            _ => Verdict::Pause,
        };
        let paused_ms = match verdict {
            Verdict::Pause => {
                self.paused_until = Some(now + PAUSE);
                PAUSE.as_millis() as u32
            }
            Verdict::NextConnection => 0,
        };
        let event = self
            .reports
            .failed(now)
            .map(|failures| Event::AcceptFailed {
                errno,
                failures,
                paused_ms,
            });
        (verdict, event)
    }

    /// True (once) when the listener is paused and the pause is over at `now`.
    pub(crate) fn resume_due(&mut self, now: Mono) -> bool {
        match self.paused_until {
            Some(until) if now >= until => {
                self.paused_until = None;
                true
            }
            _ => false,
        }
    }
}

impl Default for AcceptGuard {
    fn default() -> Self {
        AcceptGuard::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_descriptors_pauses_until_the_back_off_has_passed() {
        let t0 = Mono::now();
        let mut g = AcceptGuard::new();
        let (v, _) = g.failed(libc::EMFILE, t0);
        assert_eq!(v, Verdict::Pause);
        assert!(!g.resume_due(t0 + PAUSE / 2));
        assert!(g.resume_due(t0 + PAUSE));
        assert!(!g.resume_due(t0 + PAUSE * 2), "resumes once");
    }

    #[test]
    fn every_resource_error_pauses() {
        for errno in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EINVAL,
        ] {
            let mut g = AcceptGuard::new();
            assert_eq!(g.failed(errno, Mono::now()).0, Verdict::Pause, "{errno}");
        }
    }

    #[test]
    fn an_aborted_connection_does_not_pause() {
        let mut g = AcceptGuard::new();
        let t0 = Mono::now();
        assert_eq!(g.failed(libc::ECONNABORTED, t0).0, Verdict::NextConnection);
        assert!(!g.resume_due(t0 + PAUSE * 10));
    }

    #[test]
    fn reports_the_first_failure_then_at_most_one_per_interval_with_the_count() {
        let t0 = Mono::now();
        let mut g = AcceptGuard::new();
        let first = g.failed(libc::EMFILE, t0).1;
        assert_eq!(
            first,
            Some(Event::AcceptFailed {
                errno: libc::EMFILE,
                failures: 1,
                paused_ms: 100
            })
        );
        for i in 1..50u32 {
            let at = t0 + PAUSE * i;
            assert_eq!(g.failed(libc::EMFILE, at).1, None, "failure {i}");
        }
        let later = g.failed(libc::ENFILE, t0 + REPORT_EVERY).1;
        assert_eq!(
            later,
            Some(Event::AcceptFailed {
                errno: libc::ENFILE,
                failures: 50,
                paused_ms: 100
            })
        );
    }
}
