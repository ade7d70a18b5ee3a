//! What the RT thread records into: [`Recorder`], a histogram with exactly the bucket layout
//! of this crate's HdrHistograms (1 ns ..= [`MAX_NS`], 3 significant digits) that records
//! with a few integer instructions, and [`LoopStats`], the three recorders plus the counters.
//!
//! `hdrhistogram`'s own `saturating_record` costs about 60 instructions per value (generic
//! counter conversions, checked arithmetic, min/max bookkeeping); the loop records two or
//! three values per request, which made telemetry the largest single cost of a 4-byte read.
//! A recorder only finds the bucket and adds one. Housekeeping turns each interval's
//! recorders into ordinary `Histogram<u64>`s ([`Recorder::add_to`]), bucket for bucket, so
//! everything downstream (percentiles, `.hgrm` files, reports) is unchanged and exact to the
//! same 3 significant digits.

use hdrhistogram::Histogram;

use super::{Counters, Telemetry, MAX_NS};

/// log2 of the sub-buckets per bucket: 3 significant digits need 2 × 10³ distinct values,
/// rounded up to a power of two (2048), as `hdrhistogram` computes it.
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 11;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_COUNT_MAGNITUDE) - 1;
/// Lowest discernible value 1 ns: unit magnitude 0.
const LEADING_ZERO_COUNT_BASE: u32 = 64 - SUB_BUCKET_COUNT_MAGNITUDE;

/// Buckets needed to hold [`MAX_NS`] (hdrhistogram's `buckets_to_cover`).
const fn buckets_to_cover(max: u64) -> usize {
    let mut smallest_untrackable = 1u64 << SUB_BUCKET_COUNT_MAGNITUDE;
    let mut buckets = 1;
    while smallest_untrackable <= max {
        smallest_untrackable <<= 1;
        buckets += 1;
    }
    buckets
}

/// Counts array length (hdrhistogram's `(buckets + 1) * sub_bucket_half_count`).
const LEN: usize = (buckets_to_cover(MAX_NS) + 1) * SUB_BUCKET_HALF_COUNT;

/// Counts per bucket of values in nanoseconds, clamped to [`MAX_NS`].
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    counts: Box<[u64]>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            counts: vec![0; LEN].into(),
        }
    }
}

/// The counts index of `v`, as hdrhistogram's `index_for` (≥ [`LEN`] for values beyond
/// the counts array).
#[inline]
const fn index(v: u64) -> usize {
    let bucket = LEADING_ZERO_COUNT_BASE - (v | SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = (v >> bucket) as usize;
    ((bucket as usize) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket
}

/// The lowest value that lands at `index` (inverse of [`index`]).
fn value_at(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    (sub_bucket as u64) << bucket
}

impl Recorder {
    /// Counts `ns`, like `Histogram::saturating_record`: a value beyond the last bucket
    /// (≈ 17 s) counts as [`MAX_NS`].
    #[inline]
    pub(crate) fn record(&mut self, ns: u64) {
        const TOP: usize = index(MAX_NS);
        let i = index(ns);
        if let Some(c) = self.counts.get_mut(if i < LEN { i } else { TOP }) {
            *c += 1;
        }
    }

    /// Values recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Nothing recorded.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// Adds every count into `h` (a histogram from [`super::histogram`]).
    pub(crate) fn add_to(&self, h: &mut Histogram<u64>) {
        self.for_each_bucket(|lowest, _, c| {
            h.saturating_record_n(lowest, c);
        });
    }

    /// Calls `f(lowest, highest, count)` for every bucket holding a count, lowest first:
    /// the values `lowest..=highest` land in it (hdrhistogram's lowest and highest
    /// equivalent values). The whole counts array is walked whatever was recorded, so the
    /// cost is fixed per interval, unlike `Histogram::iter_recorded`, whose cost grows
    /// with the largest value recorded.
    pub(crate) fn for_each_bucket(&self, mut f: impl FnMut(u64, u64, u64)) {
        for (i, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                f(value_at(i), value_at(i + 1) - 1, c);
            }
        }
    }

    /// Zeroes every count.
    pub(crate) fn reset(&mut self) {
        self.counts.fill(0);
    }

    /// Writes to every page of the counts, so recording never faults one in. Not `reset`:
    /// the counts come from a zeroed allocation, and the optimiser may drop a `fill(0)` of
    /// memory it knows is zero (then the pages stay unmapped until the first sample).
    pub(crate) fn prefault(&mut self) {
        for i in (0..self.counts.len()).step_by(4096 / std::mem::size_of::<u64>()) {
            self.counts[i] = std::hint::black_box(self.counts[i]);
        }
    }
}

/// What the loop records during one report interval.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoopStats {
    /// Cycle wake-up latency (see [`Telemetry::wakeup_ns`]).
    pub(crate) wakeup_ns: Recorder,
    /// Service time (see [`Telemetry::service_ns`]).
    pub(crate) service_ns: Recorder,
    /// Service time from the receive timestamp (see [`Telemetry::rx_service_ns`]).
    pub(crate) rx_service_ns: Recorder,
    /// Counters.
    pub(crate) counters: Counters,
    /// The CPU's mode at the hand-over (see [`Telemetry::cpu_run`]).
    pub(crate) cpu_run: Option<bool>,
}

impl LoopStats {
    /// Empties recorders and counters, keeping the allocation.
    pub(crate) fn reset(&mut self) {
        self.wakeup_ns.reset();
        self.service_ns.reset();
        self.rx_service_ns.reset();
        self.counters = Counters::default();
        self.cpu_run = None;
    }

    /// Writes to every page of every recorder (see [`Recorder::prefault`]).
    pub(crate) fn prefault(&mut self) {
        self.wakeup_ns.prefault();
        self.service_ns.prefault();
        self.rx_service_ns.prefault();
    }

    /// Adds everything into `t` (housekeeping side).
    pub(crate) fn add_to(&self, t: &mut Telemetry) {
        self.wakeup_ns.add_to(&mut t.wakeup_ns);
        self.service_ns.add_to(&mut t.service_ns);
        self.rx_service_ns.add_to(&mut t.rx_service_ns);
        t.counters.add(&self.counters);
        if self.cpu_run.is_some() {
            t.cpu_run = self.cpu_run;
        }
    }

    /// As a [`Telemetry`] of its own.
    #[cfg(test)]
    pub(crate) fn to_telemetry(&self) -> Telemetry {
        let mut t = Telemetry::default();
        self.add_to(&mut t);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_hdrhistogram_for_every_magnitude() {
        let reference = super::super::histogram();
        assert_eq!(reference.distinct_values(), LEN, "same counts array length");
        let mut r = Recorder::default();
        let mut h = super::super::histogram();
        let mut v = 0u64;
        let mut values = Vec::new();
        while v < 2 * MAX_NS {
            values.push(v);
            values.push(v + 1);
            values.push(v.saturating_mul(3) / 2);
            v = if v == 0 { 1 } else { v * 2 - v / 3 };
        }
        values.push(MAX_NS);
        values.push(u64::MAX);
        for &v in &values {
            r.record(v);
            h.saturating_record(v);
            // The lowest value of v's bucket is in the same bucket as v.
            if index(v) < LEN {
                assert_eq!(reference.lowest_equivalent(v), value_at(index(v)), "{v}");
            }
        }
        let mut converted = super::super::histogram();
        r.add_to(&mut converted);
        assert_eq!(r.len(), values.len() as u64);
        assert_eq!(converted.len(), h.len());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                converted.value_at_quantile(q),
                h.value_at_quantile(q),
                "quantile {q}"
            );
        }
        assert_eq!(converted.max(), h.max());
        assert_eq!(converted.min(), h.min());
        for (a, b) in converted.iter_recorded().zip(h.iter_recorded()) {
            assert_eq!(
                (a.value_iterated_to(), a.count_at_value()),
                (b.value_iterated_to(), b.count_at_value())
            );
        }
        // The buckets walked directly are hdrhistogram's recorded values and ranges.
        let mut buckets = Vec::new();
        r.for_each_bucket(|lowest, highest, n| buckets.push((lowest, highest, n)));
        let recorded: Vec<_> = h
            .iter_recorded()
            .map(|v| {
                let at = v.value_iterated_to();
                (h.lowest_equivalent(at), at, v.count_at_value())
            })
            .collect();
        assert_eq!(buckets, recorded);
        r.reset();
        assert!(r.is_empty());
    }
}
