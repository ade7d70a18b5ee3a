//! Fixed-bound histograms and counters recorded on the RT thread, and how they leave it.
//!
//! The histograms are created with bounds at start-up (`new_with_bounds` disables
//! auto-resize) and recorded with `saturating_record`, which clamps instead of growing, so
//! recording never allocates.
//!
//! The RT thread records into `LoopStats` (fixed-size recorders with the histograms'
//! bucket layout, see `recorder`). Every report interval it swaps them with empty ones
//! taken from an `Exchange` (two bounded lock-free queues of boxed, pre-allocated
//! snapshots) and hands the full ones to housekeeping, which turns them into a
//! [`Telemetry`] of HdrHistograms, logs a one-line summary, adds it to the running total and
//! returns the emptied box. Swapping boxes moves pointers only, so the RT side
//! never allocates; if housekeeping has not returned a box yet the RT thread keeps
//! accumulating into the current one and the next interval covers both.

pub mod hgrm;
pub(crate) mod recorder;

pub(crate) use recorder::LoopStats;

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use hdrhistogram::Histogram;

use crate::events::CloseReason;
use crate::session::Answered;
use crate::wire::s7::{Function, Rosctr};
use crate::wire::HeaderError;

/// Highest value a histogram holds: 10 s in nanoseconds.
pub const MAX_NS: u64 = 10_000_000_000;

/// The request kinds counted separately, indexed like [`Counters::errors_by_function`].
pub const FUNCTIONS: [&str; 4] = ["read_var", "write_var", "setup_communication", "other"];

/// Counters bumped by the RT thread.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Complete S7 replies (and COTP confirms) written.
    pub replies: u64,
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused at accept, for any reason (the next two are part of it).
    pub refused: u64,
    /// Of `refused`: no `[[access]]` rule lets the address connect.
    pub refused_access: u64,
    /// Of `refused`: the address already held `max_connections_per_ip` slots.
    pub refused_per_ip: u64,
    /// Connections closed in their handshake to make room for a newcomer.
    pub evicted: u64,
    /// Connections closed for not finishing their handshake in time.
    pub handshake_timeouts: u64,
    /// Failed `accept` calls (out of descriptors or memory, aborted connections).
    pub accept_errors: u64,
    /// Connections closed (any reason).
    pub closed: u64,
    /// Cycle deadlines missed entirely (the loop woke more than one period late).
    pub overruns: u64,
    /// Loop turns.
    pub turns: u64,
    /// Read Var requests answered.
    pub reads: u64,
    /// Write Var requests answered.
    pub writes: u64,
    /// Setup Communication requests answered.
    pub setups: u64,
    /// Other S7 PDUs answered (userdata, unsupported functions).
    pub other_requests: u64,
    /// Replies carrying an S7 error (in the header, or in a userdata answer's parameter).
    pub errors: u64,
    /// Of those, per request kind (index as in [`FUNCTIONS`]).
    pub errors_by_function: [u64; 4],
    /// Connections closed, per reason (index: [`CloseReason::index`]).
    pub closed_by_reason: [u64; CloseReason::LABELS.len()],
}

impl Counters {
    /// Adds `other` into `self` field by field.
    pub fn add(&mut self, other: &Counters) {
        self.replies += other.replies;
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.refused_access += other.refused_access;
        self.refused_per_ip += other.refused_per_ip;
        self.evicted += other.evicted;
        self.handshake_timeouts += other.handshake_timeouts;
        self.accept_errors += other.accept_errors;
        self.closed += other.closed;
        self.overruns += other.overruns;
        self.turns += other.turns;
        self.reads += other.reads;
        self.writes += other.writes;
        self.setups += other.setups;
        self.other_requests += other.other_requests;
        self.errors += other.errors;
        for (a, b) in self
            .errors_by_function
            .iter_mut()
            .zip(other.errors_by_function)
        {
            *a += b;
        }
        for (a, b) in self.closed_by_reason.iter_mut().zip(other.closed_by_reason) {
            *a += b;
        }
    }

    /// Requests answered, per kind (index as in [`FUNCTIONS`]).
    pub fn requests_by_function(&self) -> [u64; 4] {
        [self.reads, self.writes, self.setups, self.other_requests]
    }

    /// Counts one reply: `answered` is what the session decoded from the request and the
    /// error its answer carried (`None` for COTP connection handling, which is a reply but
    /// not a request).
    #[inline]
    pub fn count_reply(&mut self, answered: Option<Answered>) {
        self.replies += 1;
        let Some(a) = answered else {
            return;
        };
        let function = match (a.rosctr, a.function) {
            (Rosctr::Job, Function::ReadVar) => {
                self.reads += 1;
                0
            }
            (Rosctr::Job, Function::WriteVar) => {
                self.writes += 1;
                1
            }
            (Rosctr::Job, Function::Setup) => {
                self.setups += 1;
                2
            }
            _ => {
                self.other_requests += 1;
                3
            }
        };
        if a.error != HeaderError::NONE {
            self.errors += 1;
            self.errors_by_function[function] += 1;
        }
    }
}

/// Everything the loop measures.
#[derive(Debug, Clone)]
pub struct Telemetry {
    /// Cycle wake-up latency (ns): actual wake-up minus the cycle deadline, recorded when the
    /// loop woke by timeout, the quantity cyclictest measures.
    pub wakeup_ns: Histogram<u64>,
    /// Service time (ns): from the wake-up that found a socket readable to the moment its
    /// answers were handed to the kernel.
    pub service_ns: Histogram<u64>,
    /// Service time from the kernel's software receive timestamp (SO_TIMESTAMPING) of the
    /// first request of a batch to the moment its answers were handed to the kernel: also
    /// counts the time the request waited in the socket before the loop woke. Empty where
    /// the kernel gives no timestamps or `[telemetry] rx_timestamps = false`.
    pub rx_service_ns: Histogram<u64>,
    /// Counters.
    pub counters: Counters,
    /// The CPU's mode when the snapshot was handed over (true: RUN), none before that.
    pub cpu_run: Option<bool>,
}

/// A histogram covering 1 ns ..= 10 s at 3 significant digits, all buckets allocated now.
#[allow(clippy::expect_used)] // constant bounds that satisfy hdrhistogram's rules: cannot fail
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("constant histogram bounds are valid")
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            wakeup_ns: histogram(),
            service_ns: histogram(),
            rx_service_ns: histogram(),
            counters: Counters::default(),
            cpu_run: None,
        }
    }
}

impl Telemetry {
    /// Adds `other` into `self` (housekeeping side: may allocate if bounds differed, which
    /// they never do between snapshots of one server).
    pub fn add(&mut self, other: &Telemetry) {
        let _ = self.wakeup_ns.add(&other.wakeup_ns);
        let _ = self.service_ns.add(&other.service_ns);
        let _ = self.rx_service_ns.add(&other.rx_service_ns);
        self.counters.add(&other.counters);
        if other.cpu_run.is_some() {
            self.cpu_run = other.cpu_run;
        }
    }

    /// Empties histograms and counters, keeping the allocation.
    pub fn reset(&mut self) {
        self.wakeup_ns.reset();
        self.service_ns.reset();
        self.rx_service_ns.reset();
        self.counters = Counters::default();
        self.cpu_run = None;
    }

    /// The one-line summary housekeeping logs per interval.
    pub fn interval_line(&self, secs: f64, drops: u64) -> String {
        let c = &self.counters;
        format!(
            "{:.1}s: {} replies (read {}, write {}, setup {}, other {}), {} errors; connections +{} -{} refused {} (access {}, per-ip {}) evicted {} handshake timeouts {} accept errors {}; queue drops {}; overruns {}; service {}; wake-up {}",
            secs,
            c.replies,
            c.reads,
            c.writes,
            c.setups,
            c.other_requests,
            c.errors,
            c.accepted,
            c.closed,
            c.refused,
            c.refused_access,
            c.refused_per_ip,
            c.evicted,
            c.handshake_timeouts,
            c.accept_errors,
            drops,
            c.overruns,
            Telemetry::summary(&self.service_ns),
            Telemetry::summary(&self.wakeup_ns),
        )
    }

    /// Writes a one-line summary of a histogram in microseconds.
    pub fn summary(h: &Histogram<u64>) -> String {
        if h.is_empty() {
            return "no samples".to_string();
        }
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        format!(
            "n={} p50={:.1}µs p99={:.1}µs p99.9={:.1}µs p99.99={:.1}µs max={:.1}µs",
            h.len(),
            us(0.5),
            us(0.99),
            us(0.999),
            us(0.9999),
            h.max() as f64 / 1000.0
        )
    }
}

/// The RT ↔ housekeeping hand-over of interval snapshots (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    full: Arc<ArrayQueue<Box<LoopStats>>>,
    empty: Arc<ArrayQueue<Box<LoopStats>>>,
}

impl Exchange {
    /// Allocates `spares` empty snapshots (at start-up; 2 is plenty: housekeeping returns a
    /// box within milliseconds and intervals are seconds).
    pub(crate) fn new(spares: usize) -> Exchange {
        let spares = spares.max(1);
        let ex = Exchange {
            full: Arc::new(ArrayQueue::new(spares + 1)),
            empty: Arc::new(ArrayQueue::new(spares + 1)),
        };
        for _ in 0..spares {
            let mut t: Box<LoopStats> = Box::default();
            // The RT thread records into these after a swap: every page must exist.
            t.prefault();
            let _ = ex.empty.push(t);
        }
        ex
    }

    /// RT side: swaps `current` with an empty snapshot and queues the full one. Returns
    /// false (and keeps accumulating) when no empty snapshot is available. Never allocates.
    pub(crate) fn swap_out(&self, current: &mut Box<LoopStats>) -> bool {
        let Some(mut spare) = self.empty.pop() else {
            return false;
        };
        std::mem::swap(current, &mut spare);
        // `full` has room for every box that exists, so this cannot fail; if it somehow
        // did, the box would be dropped (a deallocation, never an allocation).
        let _ = self.full.push(spare);
        true
    }

    /// RT side, at the end of serving (allocation allowed): queues whatever `current` holds.
    pub(crate) fn hand_over_last(&self, current: LoopStats) {
        let _ = self.full.push(Box::new(current));
    }

    /// Housekeeping side: the oldest full snapshot.
    pub(crate) fn take_full(&self) -> Option<Box<LoopStats>> {
        self.full.pop()
    }

    /// Housekeeping side: returns an emptied snapshot for reuse.
    pub(crate) fn give_back(&self, mut t: Box<LoopStats>) {
        t.reset();
        let _ = self.empty.push(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(rosctr: Rosctr, function: Function, error: HeaderError) -> Option<Answered> {
        Some(Answered {
            rosctr,
            function,
            error,
        })
    }

    #[test]
    fn count_reply_classifies_by_function_and_counts_errors() {
        let mut c = Counters::default();
        c.count_reply(asked(Rosctr::Job, Function::ReadVar, HeaderError::NONE));
        c.count_reply(asked(
            Rosctr::Job,
            Function::WriteVar,
            HeaderError::NOT_IMPLEMENTED,
        ));
        c.count_reply(asked(Rosctr::Job, Function::Setup, HeaderError::NONE));
        c.count_reply(asked(
            Rosctr::Userdata,
            Function::CpuServices,
            HeaderError::NONE,
        ));
        // A userdata answer carries its error in its parameter, and it counts too.
        c.count_reply(asked(
            Rosctr::Userdata,
            Function::CpuServices,
            HeaderError::SZL_UNKNOWN_ID,
        ));
        // A COTP connection request answered by a confirm is a reply but not a request.
        c.count_reply(None);
        assert_eq!(
            c,
            Counters {
                replies: 6,
                reads: 1,
                writes: 1,
                setups: 1,
                other_requests: 2,
                errors: 2,
                errors_by_function: [0, 1, 0, 1],
                ..Counters::default()
            }
        );
    }

    #[test]
    fn exchange_swaps_without_losing_samples_and_refuses_when_out_of_spares() {
        let ex = Exchange::new(1);
        let mut current: Box<LoopStats> = Box::default();
        current.service_ns.record(1000);
        current.counters.reads = 1;
        assert!(ex.swap_out(&mut current));
        assert!(
            current.service_ns.is_empty(),
            "the RT side got an empty one"
        );
        current.service_ns.record(2000);
        // The only spare is out: keep accumulating.
        assert!(!ex.swap_out(&mut current));
        assert_eq!(current.service_ns.len(), 1);
        let full = ex.take_full().unwrap();
        assert_eq!(full.counters.reads, 1);
        assert_eq!(full.to_telemetry().service_ns.max(), 1000);
        let mut total = Telemetry::default();
        full.add_to(&mut total);
        ex.give_back(full);
        assert!(ex.swap_out(&mut current));
        ex.take_full().unwrap().add_to(&mut total);
        assert_eq!(total.service_ns.len(), 2);
        assert_eq!(total.counters.reads, 1);
        ex.hand_over_last(std::mem::take(&mut *current));
        assert!(ex.take_full().is_some());
        assert!(ex.take_full().is_none());
    }
}
