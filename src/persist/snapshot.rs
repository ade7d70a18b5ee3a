//! The RT thread's part of persistence: a consistent copy of the retentive regions, made
//! by the only writer of the image, in bounded chunks per cycle.
//!
//! When something retentive changed and the snapshot period has passed, the loop takes an
//! empty shadow buffer from the writer thread and copies at most `copy_per_cycle` bytes of
//! the regions into it per cycle tick. A write (client or host) that lands on a range
//! already copied is applied to the shadow as well, so when the last chunk is copied the
//! shadow equals the image at that instant: no restart, no starvation under constant
//! writes. The full shadow goes to the writer thread through a lock-free queue; the buffers
//! move, nothing is allocated or freed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_queue::ArrayQueue;

use super::Region;
use crate::events::WriteRef;
use crate::plc::{Memory, Mono};
use crate::wire::var::Area;

/// One copy of all retentive regions, back to back.
#[derive(Debug)]
pub(crate) struct Shadow {
    pub(crate) generation: u64,
    pub(crate) wall_ms: i64,
    pub(crate) data: Box<[u8]>,
}

/// Shadow buffers in circulation.
const SHADOWS: usize = 3;

/// Buffers travelling between the RT thread and the writer thread.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) empty: ArrayQueue<Box<Shadow>>,
    pub(crate) full: ArrayQueue<Box<Shadow>>,
    /// Set by the writer when writing failed: the RT thread takes the next snapshot as if
    /// something had changed.
    pub(crate) retry: AtomicBool,
}

impl Exchange {
    /// Three shadows of `len` bytes: while the writer writes one, the RT thread can hand
    /// over a second and fill a third, so a slow disk delays the next file by at most one
    /// write, not by a queue of stale snapshots (the writer skips to the newest).
    pub(crate) fn new(len: usize) -> Exchange {
        let x = Exchange {
            empty: ArrayQueue::new(SHADOWS),
            full: ArrayQueue::new(SHADOWS),
            retry: AtomicBool::new(false),
        };
        for _ in 0..SHADOWS {
            let mut data: Box<[u8]> = vec![0; len].into();
            for i in (0..data.len()).step_by(4096) {
                data[i] = std::hint::black_box(0); // prefault
            }
            let _ = x.empty.push(Box::new(Shadow {
                generation: 0,
                wall_ms: 0,
                data,
            }));
        }
        x
    }
}

/// DI addresses reach the DBs.
pub(crate) fn area_key(a: Area) -> Area {
    match a {
        Area::InstanceDataBlock => Area::DataBlock,
        a => a,
    }
}

/// The RT side.
#[derive(Debug)]
pub(crate) struct Snapshotter {
    regions: Box<[Region]>,
    /// Where each region starts in the shadow.
    starts: Box<[usize]>,
    total: usize,
    /// The shadow being filled (a snapshot is under way).
    shadow: Option<Box<Shadow>>,
    /// Bytes of the shadow copied so far, and the region they reached.
    cursor: usize,
    region_at: usize,
    dirty: bool,
    copy_per_cycle: usize,
    period: Duration,
    next_due: Mono,
    generation: u64,
    exchange: Arc<Exchange>,
}

impl Snapshotter {
    /// `regions` sorted and merged (see [`super::normalize`]); snapshots start at most
    /// every `period`, numbered after `generation`.
    pub(crate) fn new(
        regions: Vec<Region>,
        copy_per_cycle: usize,
        period: Duration,
        generation: u64,
        exchange: Arc<Exchange>,
    ) -> Snapshotter {
        let mut starts = Vec::with_capacity(regions.len());
        let mut total = 0;
        for r in &regions {
            starts.push(total);
            total += r.len;
        }
        Snapshotter {
            regions: regions.into(),
            starts: starts.into(),
            total,
            shadow: None,
            cursor: 0,
            region_at: 0,
            dirty: false,
            copy_per_cycle: copy_per_cycle.max(1),
            period,
            // The first snapshot, too, waits a period: a write is still on disk within one
            // interval, and a restart loop does not write a generation per start.
            next_due: Mono::now() + period,
            generation,
            exchange,
        }
    }

    /// True while a snapshot is being copied.
    #[cfg(test)]
    pub(crate) fn copying(&self) -> bool {
        self.shadow.is_some()
    }

    /// Called on every cycle tick: starts a snapshot when due and copies at most
    /// `copy_per_cycle` bytes.
    pub(crate) fn tick<M: Memory>(&mut self, now: Mono, wall_ms: i64, mem: &M) {
        if self.exchange.retry.swap(false, Ordering::Relaxed) {
            self.dirty = true;
        }
        if self.shadow.is_none() {
            if !self.dirty || now < self.next_due {
                return;
            }
            let Some(s) = self.exchange.empty.pop() else {
                return; // the writer still holds both buffers: try next cycle
            };
            self.shadow = Some(s);
            self.cursor = 0;
            self.region_at = 0;
            self.dirty = false;
            self.next_due = now + self.period;
        }
        let Some(shadow) = self.shadow.as_mut() else {
            return;
        };
        let mut budget = self.copy_per_cycle;
        while budget > 0 && self.cursor < self.total {
            let (Some(r), Some(&start)) = (
                self.regions.get(self.region_at),
                self.starts.get(self.region_at),
            ) else {
                break;
            };
            let within = self.cursor - start;
            let n = budget.min(r.len - within);
            let src = mem
                .area(r.area, r.db)
                .ok()
                .and_then(|a| a.get(r.offset + within..r.offset + within + n));
            // A DB a client deleted keeps its last saved content.
            if let (Some(src), Some(dst)) = (src, shadow.data.get_mut(self.cursor..self.cursor + n))
            {
                dst.copy_from_slice(src);
            }
            self.cursor += n;
            budget -= n;
            if self.cursor == start + r.len {
                self.region_at += 1;
            }
        }
        if self.cursor >= self.total {
            if let Some(mut s) = self.shadow.take() {
                self.generation += 1;
                s.generation = self.generation;
                s.wall_ms = wall_ms;
                if let Err(s) = self.exchange.full.push(s) {
                    // Cannot happen (as many places as buffers); keep it for the next try.
                    self.exchange.empty.push(s).ok();
                    self.generation -= 1;
                    self.dirty = true;
                }
            }
        }
    }

    /// A write was applied to the image: mark the regions it touches changed, or, while a
    /// snapshot is under way, mirror its already-copied part into the shadow.
    pub(crate) fn on_write(&mut self, w: &WriteRef<'_>) {
        let key = area_key(w.area);
        // A client may send any DB number with a non-DB area; it means nothing there.
        let db = if key == Area::DataBlock { w.db } else { 0 };
        let len = w.data.len();
        let first = self
            .regions
            .partition_point(|r| (r.area_code(), r.db) < (u8::from(key), db));
        for i in first..self.regions.len() {
            let Some(r) = self.regions.get(i) else { break };
            if (r.area_code(), r.db) != (u8::from(key), db) || r.offset >= w.offset + len {
                break;
            }
            let lo = w.offset.max(r.offset);
            let hi = (w.offset + len).min(r.offset + r.len);
            if lo >= hi {
                continue;
            }
            let Some(shadow) = self.shadow.as_mut() else {
                self.dirty = true;
                continue;
            };
            let start = self.starts.get(i).copied().unwrap_or(0);
            // Shadow positions of the overlap, limited to what is already copied.
            let pos_lo = start + (lo - r.offset);
            let pos_hi = (start + (hi - r.offset)).min(self.cursor);
            if pos_lo >= pos_hi {
                continue; // not copied yet: the copy will pick it up
            }
            match w.bit {
                Some(b) => {
                    if let Some(byte) = shadow.data.get_mut(pos_lo) {
                        let mask = 1u8 << (b & 7);
                        *byte = match w.data.first().is_some_and(|v| v & 1 != 0) {
                            true => *byte | mask,
                            false => *byte & !mask,
                        };
                    }
                }
                None => {
                    let from = lo - w.offset;
                    let src = w.data.get(from..from + (pos_hi - pos_lo));
                    if let (Some(src), Some(dst)) = (src, shadow.data.get_mut(pos_lo..pos_hi)) {
                        dst.copy_from_slice(src);
                    }
                }
            }
        }
    }

    /// A client replaced or deleted DB `db` as a whole (download, delete): copy its regions
    /// again if a snapshot already copied them, else mark them changed.
    pub(crate) fn on_replace(&mut self, db: u16) {
        let key = u8::from(Area::DataBlock);
        for (i, r) in self.regions.iter().enumerate() {
            if (r.area_code(), r.db) != (key, db) {
                continue;
            }
            let start = self.starts.get(i).copied().unwrap_or(0);
            if self.shadow.is_some() && start < self.cursor {
                self.cursor = start;
                self.region_at = i;
                return;
            }
            if self.shadow.is_none() {
                self.dirty = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plc::{DbSpec, Image, ImageSpec};

    fn image() -> Image {
        Image::new(&ImageSpec {
            dbs: vec![DbSpec {
                number: 1,
                size: 100,
                read_only: false,
            }],
            inputs: 0,
            outputs: 0,
            flags: 16,
            timers: 0,
            counters: 0,
        })
    }

    fn regions() -> Vec<Region> {
        vec![
            Region {
                area: Area::Flags,
                db: 0,
                offset: 0,
                len: 8,
            },
            Region {
                area: Area::DataBlock,
                db: 1,
                offset: 0,
                len: 100,
            },
        ]
    }

    fn write(img: &mut Image, s: &mut Snapshotter, area: Area, db: u16, off: usize, data: &[u8]) {
        img.area_mut(area, db).unwrap()[off..off + data.len()].copy_from_slice(data);
        s.on_write(&WriteRef {
            slot: 0,
            area,
            db,
            offset: off,
            bit: None,
            data,
        });
    }

    /// Whatever writes land while the copy proceeds in 7-byte chunks, the finished shadow
    /// equals the image at the moment the last chunk was copied.
    #[test]
    fn shadow_equals_the_image_when_the_last_chunk_is_copied_despite_writes_during_the_copy() {
        let mut img = image();
        let x = Arc::new(Exchange::new(108));
        let mut s = Snapshotter::new(regions(), 7, Duration::ZERO, 0, x.clone());
        let t = Mono::now();
        write(&mut img, &mut s, Area::DataBlock, 1, 0, &[1; 100]);
        let mut k = 2u8;
        loop {
            s.tick(t, 0, &img);
            if !x.full.is_empty() {
                break;
            }
            // Everywhere: behind the cursor, across it and ahead of it; a bit write too.
            for off in [0usize, 10, 33, 60, 95] {
                write(&mut img, &mut s, Area::DataBlock, 1, off, &[k; 5]);
            }
            write(&mut img, &mut s, Area::Flags, 0, 3, &[k, k]);
            img.area_mut(Area::Flags, 0).unwrap()[7] ^= 4;
            let now = img.area(Area::Flags, 0).unwrap()[7];
            s.on_write(&WriteRef {
                slot: 0,
                area: Area::Flags,
                db: 0,
                offset: 7,
                bit: Some(2),
                data: &[(now >> 2) & 1],
            });
            k = k.wrapping_add(1);
            assert!(k < 100, "the copy never finished");
        }
        let shadow = x.full.pop().unwrap();
        assert_eq!(shadow.generation, 1);
        assert_eq!(&shadow.data[..8], &img.area(Area::Flags, 0).unwrap()[..8]);
        assert_eq!(&shadow.data[8..], img.area(Area::DataBlock, 1).unwrap());
    }

    #[test]
    fn nothing_changed_means_no_snapshot_and_a_change_outside_the_regions_too() {
        let mut img = image();
        let x = Arc::new(Exchange::new(108));
        let mut s = Snapshotter::new(regions(), 1000, Duration::ZERO, 0, x.clone());
        s.tick(Mono::now(), 0, &img);
        assert!(!s.copying() && x.full.is_empty());
        write(&mut img, &mut s, Area::Flags, 0, 8, &[1, 2]); // MB8.. is not retentive
        s.tick(Mono::now(), 0, &img);
        assert!(x.full.is_empty());
        write(&mut img, &mut s, Area::Flags, 0, 7, &[1, 2]); // MB7 is
        s.tick(Mono::now(), 0, &img);
        assert_eq!(x.full.pop().unwrap().data[7], 1);
    }

    #[test]
    fn snapshots_wait_for_the_period_and_for_a_free_buffer() {
        let mut img = image();
        let x = Arc::new(Exchange::new(108));
        let period = Duration::from_secs(3600);
        let mut s = Snapshotter::new(regions(), 1000, period, 5, x.clone());
        let t = Mono::now();
        write(&mut img, &mut s, Area::DataBlock, 1, 0, &[1]);
        s.tick(t, 0, &img);
        assert_eq!(x.full.len(), 0, "the first snapshot waits a period too");
        s.tick(t + period, 0, &img);
        assert_eq!(x.full.len(), 1);
        write(&mut img, &mut s, Area::DataBlock, 1, 0, &[2]);
        s.tick(t + period + Duration::from_secs(1), 0, &img);
        assert_eq!(x.full.len(), 1, "period not yet over");
        s.tick(t + 2 * period, 0, &img);
        assert_eq!(x.full.len(), 2);
        write(&mut img, &mut s, Area::DataBlock, 1, 0, &[3]);
        s.tick(t + 3 * period, 0, &img);
        assert_eq!(x.full.len(), 3);
        write(&mut img, &mut s, Area::DataBlock, 1, 0, &[4]);
        s.tick(t + 4 * period, 0, &img);
        assert_eq!(
            x.full.len(),
            3,
            "no free buffer: the writer holds all three"
        );
        let first = x.full.pop().unwrap();
        assert_eq!(first.generation, 6);
        x.empty.push(first).unwrap();
        s.tick(t + 4 * period, 0, &img);
        assert_eq!(x.full.len(), 3);
    }
}
