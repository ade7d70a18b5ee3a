//! The descriptor budget checked at start: `RLIMIT_NOFILE` must cover every connection slot
//! plus the server's own descriptors, or `accept` fails with `EMFILE` while slots are free.
//!
//! A soft limit below the need is raised up to the hard limit (any process may do that); a
//! hard limit below the need refuses the start. Refusing rather than warning: the shortfall is
//! certain and known at start, the configured `max_connections` would otherwise be a promise
//! the server cannot keep, and the fix is one line in the unit (`LimitNOFILE=`). The event loop
//! still survives running out at run time (another process's limit, `ENFILE`, a leak): see
//! `event_loop::accept_failed`.

use std::fmt;

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors the server opens after the check besides connections: epoll, the cycle
/// timerfd, `/dev/cpu_dma_latency`, histogram and persistence files, sd_notify's socket,
/// with a margin for what libraries open.
pub(crate) const OWN_FDS: u64 = 16;

/// What the check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Budget {
    /// The soft limit already covered the need.
    Enough {
        /// Descriptors needed.
        needed: u64,
        /// The soft limit.
        soft: u64,
    },
    /// The soft limit was raised (towards the hard limit) to cover the need.
    Raised {
        /// Descriptors needed.
        needed: u64,
        /// The soft limit before.
        from: u64,
        /// The soft limit now.
        to: u64,
    },
}

/// The hard limit is below the need: the server must not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shortfall {
    /// Descriptors needed.
    pub(crate) needed: u64,
    /// The soft limit.
    pub(crate) soft: u64,
    /// The hard limit.
    pub(crate) hard: u64,
    /// The configured connection slots.
    pub(crate) max_connections: usize,
    /// Descriptors already open at the check.
    pub(crate) open: u64,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RLIMIT_NOFILE (open files) allows {} descriptors (soft {}, hard {}) but {} are needed: \
             max_connections = {} plus {} already open plus {} of the server's own; \
             raise the limit (systemd: LimitNOFILE={}; shell: ulimit -n {}) or lower max_connections",
            self.soft.min(self.hard),
            self.soft,
            self.hard,
            self.needed,
            self.max_connections,
            self.open,
            OWN_FDS,
            self.needed,
            self.needed,
        )
    }
}

impl std::error::Error for Shortfall {}

/// Descriptors needed to serve `max_connections` with `open` already open.
pub(crate) fn needed(max_connections: usize, open: u64) -> u64 {
    max_connections as u64 + open + OWN_FDS
}

/// Descriptors this process has open now (3 when `/proc` cannot tell).
pub(crate) fn open_now() -> u64 {
    match std::fs::read_dir("/proc/self/fd") {
        // The directory's own descriptor is listed too.
        Ok(dir) => (dir.count() as u64).saturating_sub(1),
        Err(_) => 3,
    }
}

/// Checks `RLIMIT_NOFILE` against `max_connections` and raises the soft limit where needed
/// and allowed.
pub(crate) fn ensure(max_connections: usize) -> Result<Budget, Shortfall> {
    let open = open_now();
    let needed = needed(max_connections, open);
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(l) => l,
        // Cannot read the limit: nothing to check against; accept errors are still survived.
        Err(_) => return Ok(Budget::Enough { needed, soft: 0 }),
    };
    decide(needed, soft, hard, max_connections, open, |to| {
        setrlimit(Resource::RLIMIT_NOFILE, to, hard).is_ok()
    })
}

/// The decision, apart from the system calls: `raise(to)` sets the soft limit.
fn decide(
    needed: u64,
    soft: u64,
    hard: u64,
    max_connections: usize,
    open: u64,
    raise: impl FnOnce(u64) -> bool,
) -> Result<Budget, Shortfall> {
    if soft >= needed {
        return Ok(Budget::Enough { needed, soft });
    }
    let shortfall = Shortfall {
        needed,
        soft,
        hard,
        max_connections,
        open,
    };
    if hard < needed {
        return Err(shortfall);
    }
    // Raise to what is needed with room to spare (descriptors are cheap), within the hard limit.
    let to = needed.saturating_mul(2).max(1024).min(hard);
    if raise(to) {
        Ok(Budget::Raised {
            needed,
            from: soft,
            to,
        })
    } else {
        Err(shortfall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_soft_limit_is_left_alone() {
        let r = decide(52, 1024, 4096, 32, 4, |_| panic!("must not raise"));
        assert_eq!(
            r,
            Ok(Budget::Enough {
                needed: 52,
                soft: 1024
            })
        );
    }

    #[test]
    fn low_soft_limit_is_raised_within_the_hard_limit() {
        let mut asked = 0;
        let r = decide(52, 20, 600, 32, 4, |to| {
            asked = to;
            true
        });
        assert_eq!(
            r,
            Ok(Budget::Raised {
                needed: 52,
                from: 20,
                to: 600
            })
        );
        assert_eq!(asked, 600);
    }

    #[test]
    fn low_hard_limit_refuses_naming_the_limit_the_directive_and_the_need() {
        let e = decide(52, 14, 14, 32, 4, |_| panic!("must not raise")).unwrap_err();
        let text = e.to_string();
        for part in [
            "RLIMIT_NOFILE",
            "allows 14 descriptors",
            "52 are needed",
            "max_connections = 32",
            "LimitNOFILE=52",
            "ulimit -n 52",
        ] {
            assert!(text.contains(part), "{part:?} missing from {text}");
        }
    }

    #[test]
    fn a_failed_raise_refuses() {
        assert!(decide(52, 20, 100, 32, 4, |_| false).is_err());
    }
}
