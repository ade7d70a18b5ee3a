//! A fuzzing loop that runs on the stable toolchain (cargo-fuzz needs nightly): mutates the
//! committed corpus (`fuzz/corpus/<target>/`) for a bounded time and runs each mutant through
//! the target, catching panics. No coverage feedback: the mutations are structure-aware
//! instead (TPKT lengths repaired after a mutation, S7 length fields and item counts aimed at,
//! inputs spliced together), so mutants get past the framing checks into the S7 services.
//!
//! ```text
//! s7fuzz [--seconds N] [--seed S] [--corpus DIR] [--crashes DIR] [TARGET...]
//! ```
//! Prints executions and crashes per target; exits 1 when anything crashed. Each crashing
//! input is saved as `<crashes>/<target>/crash-<hash>`; rerun one with `s7fuzz --replay FILE
//! TARGET`, fix, and add it to the corpus as a regression input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use s7rt_fuzz::TARGETS;

struct Args {
    seconds: f64,
    seed: u64,
    corpus: PathBuf,
    crashes: PathBuf,
    replay: Option<PathBuf>,
    targets: Vec<String>,
}

fn args() -> Args {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        seconds: 60.0,
        seed: 0,
        corpus: root.join("corpus"),
        crashes: root.join("../target/fuzz-crashes"),
        replay: None,
        targets: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--seconds" => a.seconds = value().parse().unwrap_or_else(|_| usage("bad --seconds")),
            "--seed" => a.seed = value().parse().unwrap_or_else(|_| usage("bad --seed")),
            "--corpus" => a.corpus = value().into(),
            "--crashes" => a.crashes = value().into(),
            "--replay" => a.replay = Some(value().into()),
            t if TARGETS.iter().any(|(n, _)| *n == t) => a.targets.push(t.to_string()),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if a.targets.is_empty() {
        a.targets = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    }
    if a.seed == 0 {
        a.seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
    }
    a
}

fn usage(why: &str) -> ! {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    eprintln!(
        "s7fuzz: {why}\nusage: s7fuzz [--seconds N] [--seed S] [--corpus DIR] [--crashes DIR] [--replay FILE] [TARGET...]\ntargets: {}",
        names.join(" ")
    );
    std::process::exit(2)
}

/// splitmix64: small, fast, reproducible from `--seed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Byte values that mean something somewhere in TPKT/COTP/S7 (versions, PDU types, ROSCTRs,
/// functions, syntax IDs, transport sizes, areas, return codes) and the usual edges.
const INTERESTING_U8: [u8; 26] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07, 0x09, 0x0A, 0x10, 0x12, 0x1C, 0x1D, 0x1E, 0x32, 0x7F,
    0x80, 0x81, 0x82, 0x83, 0x84, 0xC0, 0xE0, 0xF0, 0xFE, 0xFF,
];
const INTERESTING_U16: [u16; 14] = [
    0, 1, 2, 7, 8, 0x10, 0xF0, 0xF1, 240, 480, 960, 0x7FFF, 0x8000, 0xFFFF,
];

/// Sets each TPKT's length field to the length of its segment, so a mutated frame still
/// frames (and reaches the parsers behind TPKT); segments are cut where the old lengths said.
fn repair_tpkt_lengths(b: &mut [u8], skip: usize) {
    let mut at = skip;
    while at + 4 <= b.len() {
        let old = u16::from_be_bytes([b[at + 2], b[at + 3]]) as usize;
        let len = old.clamp(4, b.len() - at);
        b[at + 2..at + 4].copy_from_slice(&(len as u16).to_be_bytes());
        at += len;
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>], skip: usize) {
    for _ in 0..1 + rng.below(6) {
        let len = input.len();
        match rng.below(11) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING_U8[rng.below(INTERESTING_U8.len())];
            }
            3 if len > 1 => {
                let i = rng.below(len - 1);
                let v = INTERESTING_U16[rng.below(INTERESTING_U16.len())];
                let v = if rng.below(4) == 0 {
                    v.wrapping_add(1)
                } else {
                    v
                };
                input[i..i + 2].copy_from_slice(&v.to_be_bytes());
            }
            4 if len > 1 => {
                // Nudge a 16-bit big-endian field (lengths, counts, addresses) by a little.
                let i = rng.below(len - 1);
                let v = u16::from_be_bytes([input[i], input[i + 1]]);
                let d = rng.below(17) as u16;
                let v = if rng.below(2) == 0 {
                    v.wrapping_add(d)
                } else {
                    v.wrapping_sub(d)
                };
                input[i..i + 2].copy_from_slice(&v.to_be_bytes());
            }
            5 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(at..at, bytes);
            }
            6 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                input.drain(at..at + n);
            }
            7 if len > 0 => {
                // Repeat a range (a frame sent twice, an item list grown).
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(256));
                let copy = input[at..at + n].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, copy);
            }
            8 if !corpus.is_empty() => {
                // Splice: our head, another input's tail.
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            9 if len > skip => {
                let at = skip + rng.below(len - skip);
                input.truncate(at);
            }
            _ => {
                let i = rng.below(len.max(1));
                if i < len {
                    input[i] = input[i].wrapping_add(1);
                }
            }
        }
    }
    // Mostly keep the framing intact; sometimes leave it broken on purpose.
    if rng.below(4) != 0 {
        repair_tpkt_lengths(input, skip);
    }
    if input.len() > 8192 {
        input.truncate(8192);
    }
}

fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .filter_map(|e| std::fs::read(e.path()).ok().map(|b| (e.path(), b)))
            .collect(),
        Err(_) => Vec::new(),
    };
    // Sorted, so a run is reproducible from its seed.
    out.sort();
    out.into_iter().map(|(_, b)| b).collect()
}

fn hash(b: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

/// Runs `input` through `target`, true when it panicked.
fn crashes(target: s7rt_fuzz::Target, input: &[u8]) -> bool {
    std::panic::catch_unwind(|| target(input)).is_err()
}

fn main() {
    let a = args();
    // The panic message of a crash is printed once per distinct input by `report`.
    let last_panic = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let lp = last_panic.clone();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut s) = lp.lock() {
            *s = info.to_string();
        }
    }));

    if let Some(file) = &a.replay {
        let input =
            std::fs::read(file).unwrap_or_else(|e| usage(&format!("{}: {e}", file.display())));
        let mut failed = false;
        for name in &a.targets {
            let (_, target) = TARGETS.iter().find(|(n, _)| n == name).unwrap();
            if crashes(*target, &input) {
                println!("{name}: CRASH: {}", last_panic.lock().unwrap());
                failed = true;
            } else {
                println!("{name}: ok");
            }
        }
        std::process::exit(i32::from(failed));
    }

    let budget = Duration::from_secs_f64(a.seconds);
    let mut total_crashes = 0;
    println!("s7fuzz: seed {} ({} s per target)", a.seed, a.seconds);
    for name in &a.targets {
        let (_, target) = TARGETS.iter().find(|(n, _)| n == name).unwrap();
        let corpus = load_corpus(&a.corpus.join(name));
        // session_* inputs start with a control byte the framing repair must skip.
        let skip = usize::from(name.starts_with("session"));
        let mut rng = Rng(a.seed ^ hash(name.as_bytes()));
        let mut execs: u64 = 0;
        let mut seen_crashes = std::collections::HashSet::new();
        let t0 = Instant::now();
        // The corpus itself first: it is the regression suite.
        for input in &corpus {
            execs += 1;
            if crashes(*target, input) && seen_crashes.insert(hash(input)) {
                report(&a.crashes, name, input, &last_panic.lock().unwrap());
            }
        }
        let mut input = Vec::new();
        while t0.elapsed() < budget {
            // Check the clock every 256 executions.
            for _ in 0..256 {
                input.clear();
                match corpus.len() {
                    0 => input.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
                    n => input.extend_from_slice(&corpus[rng.below(n)]),
                }
                mutate(&mut rng, &mut input, &corpus, skip);
                execs += 1;
                if crashes(*target, &input) && seen_crashes.insert(hash(&input)) {
                    report(&a.crashes, name, &input, &last_panic.lock().unwrap());
                }
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{name}: {execs} executions in {secs:.1} s ({:.0}/s) from {} corpus inputs; {} crashes",
            execs as f64 / secs,
            corpus.len(),
            seen_crashes.len()
        );
        total_crashes += seen_crashes.len();
    }
    println!("s7fuzz: {total_crashes} crashes in total");
    if total_crashes > 0 {
        std::process::exit(1);
    }
}

fn report(dir: &Path, target: &str, input: &[u8], panic: &str) {
    let dir = dir.join(target);
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!("crash-{:016x}", hash(input)));
    let _ = std::fs::write(&file, input);
    let hex: String = input.iter().take(96).map(|b| format!("{b:02x}")).collect();
    println!(
        "{target}: CRASH saved to {} ({} bytes: {hex}{})\n  {panic}",
        file.display(),
        input.len(),
        if input.len() > 96 { "…" } else { "" }
    );
}
