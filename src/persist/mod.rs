//! Retentive data: the parts of the image that survive a restart or a power loss, the way
//! a CPU keeps its retentive DBs and markers.
//!
//! What is retentive: DBs with `retain = true`, the flag bytes MB0..MB(`retain_flags`−1)
//! (a CPU's "retentive memory from MB0"), and retentive tags. Where and how often:
//! `[persist] dir` (systemd `StateDirectory=s7rtd` gives `/var/lib/s7rtd`), a snapshot
//! every `interval_ms`/2 when something retentive changed, so a write acknowledged at `t`
//! is on disk by `t + interval_ms` (as long as copying and writing one takes less than half
//! an interval), and one at a clean stop.
//!
//! - `snapshot`: the RT thread copies the regions into a pre-allocated shadow, at most
//!   `copy_per_cycle` bytes per cycle, mirroring writes that land on copied ranges (the
//!   shadow is the image at one instant);
//! - `writer`: a thread of its own (not the logging thread) writes each shadow: temp
//!   file, fsync, rename, directory fsync, CRC-32, the previous generation kept;
//! - [`restore`]: at start, before the listener opens, the newest valid generation is
//!   loaded; a corrupt file is moved aside (`*.bad`) and named in the log, then the
//!   previous generation is tried; with none valid, `on_corrupt` decides: `"initial"`
//!   starts from the configured initial values, `"refuse"` refuses to start.

pub(crate) mod file;
pub(crate) mod snapshot;
mod writer;

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

pub(crate) use snapshot::Snapshotter;
pub(crate) use writer::Persistence;

use crate::plc::Memory;
use crate::wire::var::Area;

/// `[persist]` in the configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PersistConfig {
    /// Directory of the snapshot files (none: nothing is persisted).
    pub dir: Option<PathBuf>,
    /// A write is on disk at most this long after it was acknowledged (snapshots are taken
    /// every half of it when something retentive changed).
    pub interval_ms: u64,
    /// Retentive flag bytes from MB0 (like a CPU's "retentive memory: MB0 to MBn−1").
    pub retain_flags: usize,
    /// Bytes the RT loop copies into the snapshot per cycle (its bound per cycle).
    pub copy_per_cycle: usize,
    /// No valid snapshot at start although files exist: `initial` (start from the
    /// configured initial values, logged as an error) or `refuse` (do not start).
    pub on_corrupt: OnCorrupt,
}

impl Default for PersistConfig {
    fn default() -> Self {
        PersistConfig {
            dir: None,
            interval_ms: 1000,
            retain_flags: 0,
            copy_per_cycle: 16 * 1024,
            on_corrupt: OnCorrupt::Initial,
        }
    }
}

/// What to do when snapshot files exist but none is valid.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnCorrupt {
    /// Start from the configured initial values (the bad files are kept aside).
    #[default]
    Initial,
    /// Refuse to start.
    Refuse,
}

/// A byte range of an area that is retentive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Area (DBs as [`Area::DataBlock`]).
    pub area: Area,
    /// DB number (0 for other areas).
    pub db: u16,
    /// First byte.
    pub offset: usize,
    /// Bytes.
    pub len: usize,
}

impl Region {
    pub(crate) fn area_code(&self) -> u8 {
        u8::from(self.area)
    }
}

/// Sorts regions by (area, DB, offset) and merges overlapping or adjacent ones.
pub fn normalize(mut regions: Vec<Region>) -> Vec<Region> {
    for r in regions.iter_mut() {
        r.area = snapshot::area_key(r.area);
    }
    regions.retain(|r| r.len > 0);
    regions.sort_by_key(|r| (r.area_code(), r.db, r.offset));
    let mut out: Vec<Region> = Vec::with_capacity(regions.len());
    for r in regions {
        match out.last_mut() {
            Some(l) if (l.area, l.db) == (r.area, r.db) && r.offset <= l.offset + l.len => {
                l.len = l.len.max(r.offset + r.len - l.offset);
            }
            _ => out.push(r),
        }
    }
    out
}

/// Everything persistence needs, resolved from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Snapshot directory.
    pub dir: PathBuf,
    /// Loss bound (snapshots every half of it when something changed).
    pub interval: Duration,
    /// Bytes copied per cycle.
    pub copy_per_cycle: usize,
    /// No valid snapshot although files exist.
    pub on_corrupt: OnCorrupt,
    /// The retentive regions, normalised.
    pub regions: Vec<Region>,
}

/// Messages for the log, produced by threads that must not log themselves (the writer:
/// a stalled stderr must not stall snapshots). Housekeeping drains and logs them.
#[derive(Debug, Default)]
pub struct Status {
    messages: Mutex<VecDeque<(log::Level, String)>>,
    /// Snapshots written.
    pub written: AtomicU64,
    /// Snapshot writes that failed.
    pub failed: AtomicU64,
    /// Generation of the newest snapshot on disk.
    pub generation: AtomicU64,
}

/// Messages kept for housekeeping at most (the oldest go first).
const MAX_MESSAGES: usize = 64;

impl Status {
    pub(crate) fn say(&self, level: log::Level, msg: String) {
        let mut m = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_MESSAGES {
            m.pop_front();
        }
        m.push_back((level, msg));
    }

    /// Takes the messages so far, oldest first.
    pub fn drain(&self) -> Vec<(log::Level, String)> {
        let mut m = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        m.drain(..).collect()
    }
}

/// What [`restore`] found.
#[derive(Debug, Default)]
pub struct Restored {
    /// The generation loaded, if any.
    pub generation: Option<u64>,
    /// The highest generation named by any file (new snapshots are numbered after it).
    pub newest_seen: u64,
    /// What happened, for the log, in order.
    pub messages: Vec<(log::Level, String)>,
}

/// Loads the newest valid snapshot in `s.dir` into `mem` (before the listener opens).
/// Corrupt files are renamed to `<name>.bad` and reported; see the module docs for what
/// happens when none is valid. Errors only for `on_corrupt = "refuse"` and for a directory
/// that cannot be created or read.
pub fn restore<M: Memory>(s: &Settings, mem: &mut M) -> Result<Restored, String> {
    let dir = &s.dir;
    fs::create_dir_all(dir)
        .map_err(|e| format!("persist dir {}: cannot create it: {e}", dir.display()))?;
    let mut out = Restored::default();
    let mut messages: Vec<(log::Level, String)> = Vec::new();
    let mut gens: Vec<(u64, PathBuf)> = Vec::new();
    let entries = fs::read_dir(dir)
        .map_err(|e| format!("persist dir {}: cannot read it: {e}", dir.display()))?;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == file::TMP_NAME {
            // An interrupted write; the rename never happened, so it was never "the" snapshot.
            let _ = fs::remove_file(e.path());
            messages.push((
                log::Level::Info,
                format!(
                    "removed {}: a snapshot write interrupted before completion",
                    e.path().display()
                ),
            ));
        } else if let Some(g) = file::generation_of(name) {
            gens.push((g, e.path()));
        }
    }
    gens.sort_by_key(|g| std::cmp::Reverse(g.0));
    out.newest_seen = gens.first().map_or(0, |g| g.0);
    let mut bad = 0;
    for (g, path) in &gens {
        let decoded = fs::read(path)
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(|b| file::decode(&b))
            .and_then(|d| match d.generation == *g {
                true => Ok(d),
                false => Err(format!("it says generation {} inside", d.generation)),
            });
        match decoded {
            Ok(d) => {
                let (restored, missing) = apply(&d, &s.regions, mem);
                let mut msg = format!(
                    "restored retentive data from {} (generation {g}, taken at {} ms after the Unix epoch): {restored}",
                    path.display(),
                    d.wall_ms
                );
                if !missing.is_empty() {
                    msg.push_str(&format!(
                        "; not in the snapshot, so starting from initial values: {missing}"
                    ));
                }
                messages.push((log::Level::Info, msg));
                out.generation = Some(*g);
                out.messages = messages;
                return Ok(out);
            }
            Err(why) => {
                bad += 1;
                let aside = path.with_extension("snap.bad");
                let moved = match fs::rename(path, &aside) {
                    Ok(()) => format!("moved to {}", aside.display()),
                    Err(e) => format!("could not be moved aside: {e}"),
                };
                messages.push((
                    log::Level::Error,
                    format!("snapshot {} is invalid: {why}; {moved}", path.display()),
                ));
            }
        }
    }
    out.messages = messages;
    if bad == 0 {
        out.messages.push((
            log::Level::Info,
            format!(
                "no snapshot in {} yet: retentive data starts from initial values",
                dir.display()
            ),
        ));
        return Ok(out);
    }
    match s.on_corrupt {
        OnCorrupt::Initial => {
            out.messages.push((
                log::Level::Error,
                format!(
                    "no valid snapshot in {}: retentive data starts from initial values ([persist] on_corrupt = \"initial\")",
                    dir.display()
                ),
            ));
            Ok(out)
        }
        OnCorrupt::Refuse => {
            let what: Vec<String> = out.messages.iter().map(|m| m.1.clone()).collect();
            Err(format!(
                "no valid snapshot in {} and [persist] on_corrupt = \"refuse\": {}",
                dir.display(),
                what.join("; ")
            ))
        }
    }
}

/// Copies the snapshot's regions that match configured ones into `mem`. Returns what was
/// restored and what configured regions the snapshot lacks (e.g. a DB whose size changed).
fn apply<M: Memory>(d: &file::Decoded, regions: &[Region], mem: &mut M) -> (String, String) {
    let (mut restored, mut missing) = (Vec::new(), Vec::new());
    for r in regions {
        let found = d.regions.iter().find(|(f, _)| f == r);
        let target = mem
            .owner_area_mut(r.area, r.db)
            .ok()
            .and_then(|a| a.get_mut(r.offset..r.offset + r.len));
        match (found, target) {
            (Some((_, data)), Some(t)) if data.len() == t.len() => {
                t.copy_from_slice(data);
                restored.push(describe(r));
            }
            _ => missing.push(describe(r)),
        }
    }
    let list = |v: Vec<String>| match v.is_empty() {
        true => "nothing".to_string(),
        false => v.join(", "),
    };
    (
        list(restored),
        if missing.is_empty() {
            String::new()
        } else {
            missing.join(", ")
        },
    )
}

/// `DB1.DBB0..1024`, `MB0..16`.
pub(crate) fn describe(r: &Region) -> String {
    let end = r.offset + r.len;
    match r.area {
        Area::DataBlock | Area::InstanceDataBlock => {
            format!("DB{} bytes {}..{end}", r.db, r.offset)
        }
        Area::Flags => format!("MB{}..{end}", r.offset),
        Area::Inputs => format!("IB{}..{end}", r.offset),
        Area::Outputs => format!("QB{}..{end}", r.offset),
        a => format!("{a:?} bytes {}..{end}", r.offset),
    }
}

/// Builds the snapshot bytes of `regions` straight from `mem` (the final snapshot at a
/// clean stop, off the RT thread after it ended).
pub(crate) fn copy_all<M: Memory>(regions: &[Region], mem: &M) -> Vec<u8> {
    let mut data = Vec::with_capacity(regions.iter().map(|r| r.len).sum());
    for r in regions {
        match mem
            .area(r.area, r.db)
            .ok()
            .and_then(|a| a.get(r.offset..r.offset + r.len))
        {
            Some(b) => data.extend_from_slice(b),
            // A DB a client deleted: saved as zeros.
            None => data.resize(data.len() + r.len, 0),
        }
    }
    data
}

/// True when `p` can hold snapshots (exists or can be created, and is a directory).
pub fn check_dir(p: &Path) -> Result<(), String> {
    match fs::metadata(p) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("{} is not a directory", p.display())),
        Err(_) => Ok(()), // created at start
    }
}
