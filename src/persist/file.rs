//! The snapshot file: what it holds, how it is checked, and how it is written so that a
//! crash at any moment leaves the previous good file intact.
//!
//! ```text
//! 0   "S7RTSNAP"                      magic
//! 8   u32 version (1)                 all integers big-endian
//! 12  u32 region count R
//! 16  u64 generation                  grows by one per snapshot
//! 24  i64 wall-clock ms when taken
//! 32  R × { u8 area, u8 0, u16 db, u32 offset, u32 len }
//! ..  the regions' bytes, in that order
//! end u32 CRC-32 (IEEE) of everything before it
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Region;
use crate::wire::var::Area;

const MAGIC: &[u8; 8] = b"S7RTSNAP";
const VERSION: u32 = 1;
const HEAD_LEN: usize = 32;
const REGION_LEN: usize = 12;
/// Name of the file being written; it becomes `retain-<generation>.snap` by rename.
pub(crate) const TMP_NAME: &str = "retain.tmp";

/// The file name of generation `g` (zero-padded so names sort like generations).
pub(crate) fn name(g: u64) -> String {
    format!("retain-{g:020}.snap")
}

/// The generation in a snapshot file name.
pub(crate) fn generation_of(name: &str) -> Option<u64> {
    name.strip_prefix("retain-")?
        .strip_suffix(".snap")?
        .parse()
        .ok()
}

/// A decoded, checked snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) generation: u64,
    pub(crate) wall_ms: i64,
    pub(crate) regions: Vec<(Region, Vec<u8>)>,
}

/// Serialises a snapshot of `regions` whose bytes are `data` back to back.
pub(crate) fn encode(generation: u64, wall_ms: i64, regions: &[Region], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD_LEN + regions.len() * REGION_LEN + data.len() + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&(regions.len() as u32).to_be_bytes());
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&wall_ms.to_be_bytes());
    for r in regions {
        out.push(u8::from(r.area));
        out.push(0);
        out.extend_from_slice(&r.db.to_be_bytes());
        out.extend_from_slice(&(r.offset as u32).to_be_bytes());
        out.extend_from_slice(&(r.len as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Checks and decodes a file's bytes; the error says what is wrong.
pub(crate) fn decode(b: &[u8]) -> Result<Decoded, String> {
    if b.len() < HEAD_LEN + 4 {
        return Err(format!("{} bytes is shorter than any snapshot", b.len()));
    }
    if b.get(..8) != Some(&MAGIC[..]) {
        return Err("not a snapshot file (wrong magic)".into());
    }
    let (body, tail) = b.split_at(b.len() - 4);
    let stored = be32(tail, 0).unwrap_or(0);
    let actual = crc32(body);
    if stored != actual {
        return Err(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x}): torn or damaged"
        ));
    }
    let version = be32(b, 8).unwrap_or(0);
    if version != VERSION {
        return Err(format!("version {version} is not {VERSION}"));
    }
    let count = be32(b, 12).unwrap_or(0) as usize;
    let generation = be64(b, 16).unwrap_or(0);
    let wall_ms = be64(b, 24).unwrap_or(0) as i64;
    let mut at = HEAD_LEN + count * REGION_LEN;
    let mut regions = Vec::with_capacity(count.min(4096));
    for i in 0..count {
        let h = HEAD_LEN + i * REGION_LEN;
        let (Some(&area), Some(db), Some(offset), Some(len)) = (
            body.get(h),
            body.get(h + 2..h + 4),
            be32(body, h + 4),
            be32(body, h + 8),
        ) else {
            return Err(format!("region table cut short at region {i}"));
        };
        let len = len as usize;
        let Some(data) = body.get(at..at + len) else {
            return Err(format!("data of region {i} cut short"));
        };
        at += len;
        regions.push((
            Region {
                area: Area::from(area),
                db: u16::from_be_bytes([db[0], db[1]]),
                offset: offset as usize,
                len,
            },
            data.to_vec(),
        ));
    }
    if at != body.len() {
        return Err(format!(
            "{} bytes follow the last region",
            body.len().saturating_sub(at)
        ));
    }
    Ok(Decoded {
        generation,
        wall_ms,
        regions,
    })
}

/// Writes `bytes` as generation `g` in `dir`: temp file, fsync, rename, directory fsync.
/// Then removes generations older than `keep_from` (the previous good one is kept by the
/// caller passing its generation). Returns the final path.
pub(crate) fn write_generation(
    dir: &Path,
    g: u64,
    bytes: &[u8],
    keep_from: u64,
) -> std::io::Result<PathBuf> {
    let tmp = dir.join(TMP_NAME);
    let path = dir.join(name(g));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &path)?;
    File::open(dir)?.sync_all()?;
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name();
            if let Some(old) = n.to_str().and_then(generation_of) {
                if old < keep_from {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
    Ok(path)
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> Vec<Region> {
        vec![
            Region {
                area: Area::DataBlock,
                db: 1,
                offset: 0,
                len: 4,
            },
            Region {
                area: Area::Flags,
                db: 0,
                offset: 0,
                len: 2,
            },
        ]
    }

    #[test]
    fn crc32_matches_the_zlib_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn encoded_snapshot_decodes_to_its_regions() {
        let b = encode(7, 1234, &regions(), &[1, 2, 3, 4, 5, 6]);
        let d = decode(&b).unwrap();
        assert_eq!(d.generation, 7);
        assert_eq!(d.wall_ms, 1234);
        assert_eq!(d.regions[0], (regions()[0], vec![1, 2, 3, 4]));
        assert_eq!(d.regions[1], (regions()[1], vec![5, 6]));
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let b = encode(7, 1234, &regions(), &[1, 2, 3, 4, 5, 6]);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x40;
            assert!(decode(&c).is_err(), "flip at {i} accepted");
            assert!(decode(&b[..i]).is_err(), "truncation to {i} accepted");
        }
        assert_eq!(
            decode(b"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX").unwrap_err(),
            "not a snapshot file (wrong magic)"
        );
    }

    #[test]
    fn names_sort_like_generations() {
        assert_eq!(generation_of(&name(42)), Some(42));
        assert!(name(9) < name(10));
        assert_eq!(generation_of("retain.tmp"), None);
    }
}
