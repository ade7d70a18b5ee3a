//! At most one report per interval of a failure that can repeat as fast as a loop turns (a
//! failing `accept` on the S7 listener or on the control socket): the first is reported at
//! once, later ones at most once per interval, each report carrying how many failures it
//! stands for. Takes `now` rather than reading a clock, so the event loop can use it and a
//! test can drive it.

use std::time::Duration;

use crate::plc::Mono;

/// When the next report of one kind of failure is due, and how many wait for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Throttle {
    every: Duration,
    due: Option<Mono>,
    unreported: u64,
}

impl Throttle {
    /// A report at most once per `every`; the first failure is reported at once.
    pub(crate) const fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            due: None,
            unreported: 0,
        }
    }

    /// Counts one failure at `now`. When a report is due, returns how many failures it
    /// stands for (this one and those not reported since the last report).
    pub(crate) fn failed(&mut self, now: Mono) -> Option<u64> {
        self.unreported += 1;
        match self.due {
            Some(due) if now < due => None,
            _ => {
                self.due = Some(now + self.every);
                Some(std::mem::take(&mut self.unreported))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_first_failure_then_one_per_interval_with_the_count() {
        let every = Duration::from_secs(10);
        let t0 = Mono(1_000_000_000);
        let mut t = Throttle::new(every);
        assert_eq!(t.failed(t0), Some(1));
        for i in 1..50u32 {
            assert_eq!(t.failed(t0 + every * i / 50), None, "failure {i}");
        }
        assert_eq!(t.failed(t0 + every), Some(50));
        assert_eq!(t.failed(t0 + every + every / 2), None);
        // A quiet spell longer than the interval: the next failure is reported at once.
        assert_eq!(t.failed(t0 + every * 5), Some(2));
    }
}
