//! What a load sends: one operation kind (`read:4`, `write:200`, `multi:8x2`) and a
//! weighted mix of them, as parsed from the command line.

use std::str::FromStr;

/// One kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read Var of one item of `len` bytes.
    Read {
        /// Bytes.
        len: u16,
    },
    /// Write Var of one item of `len` bytes.
    Write {
        /// Bytes.
        len: u16,
    },
    /// Read Var of `items` items of `len` bytes each, in one request.
    MultiRead {
        /// Items in the request.
        items: u8,
        /// Bytes per item.
        len: u16,
    },
}

impl FromStr for Op {
    type Err = String;

    /// `read:N`, `write:N` or `multi:KxN` (K items of N bytes).
    fn from_str(s: &str) -> Result<Op, String> {
        let bad = || format!("bad operation `{s}`: expected read:N, write:N or multi:KxN");
        let (kind, arg) = s.split_once(':').ok_or_else(bad)?;
        let num = |t: &str| t.parse::<u16>().ok().filter(|&n| n > 0).ok_or_else(bad);
        match kind {
            "read" => Ok(Op::Read { len: num(arg)? }),
            "write" => Ok(Op::Write { len: num(arg)? }),
            "multi" => {
                let (k, n) = arg.split_once('x').ok_or_else(bad)?;
                let items = k.parse::<u8>().ok().filter(|&k| k > 0).ok_or_else(bad)?;
                Ok(Op::MultiRead {
                    items,
                    len: num(n)?,
                })
            }
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Read { len } => write!(f, "read:{len}"),
            Op::Write { len } => write!(f, "write:{len}"),
            Op::MultiRead { items, len } => write!(f, "multi:{items}x{len}"),
        }
    }
}

/// A weighted operation mix, walked deterministically: over every `total weight`
/// consecutive requests each operation occurs exactly `weight` times, spread out (smooth
/// weighted round robin), so short runs see the intended proportions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    ops: Vec<(Op, u32)>,
}

impl Mix {
    /// A mix of one operation.
    pub fn single(op: Op) -> Mix {
        Mix { ops: vec![(op, 1)] }
    }

    /// The operations and their weights.
    pub fn ops(&self) -> &[(Op, u32)] {
        &self.ops
    }

    /// The sequence of one full round (length = total weight).
    pub fn round(&self) -> Vec<Op> {
        let total: i64 = self.ops.iter().map(|&(_, w)| i64::from(w)).sum();
        let mut current = vec![0i64; self.ops.len()];
        let mut out = Vec::with_capacity(total as usize);
        for _ in 0..total {
            let mut best = 0;
            for (i, &(_, w)) in self.ops.iter().enumerate() {
                current[i] += i64::from(w);
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            out.push(self.ops[best].0);
        }
        out
    }
}

impl FromStr for Mix {
    type Err = String;

    /// Comma-separated operations, each optionally `=WEIGHT`: `read:4=3,write:4=1`.
    fn from_str(s: &str) -> Result<Mix, String> {
        let mut ops = Vec::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (op, w) = match part.split_once('=') {
                Some((op, w)) => (
                    op,
                    w.parse::<u32>()
                        .ok()
                        .filter(|&w| (1..=1000).contains(&w))
                        .ok_or_else(|| format!("bad weight in `{part}`: expected 1..=1000"))?,
                ),
                None => (part, 1),
            };
            ops.push((op.parse::<Op>()?, w));
        }
        if ops.is_empty() {
            return Err("empty operation mix".to_string());
        }
        Ok(Mix { ops })
    }
}
