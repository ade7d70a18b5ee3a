//! Soak test driver (run by `scripts/soak.sh DURATION`): one `s7rtd` under, at the same time,
//! 16 clients mixing reads and writes on regions of their own, connection churn, and a slice
//! of malformed traffic. Checks that every acknowledged write reads back, that the server's
//! RSS and descriptor count stay flat, and that the server's counters (its histogram
//! directory's `counters.txt`, written at stop) agree with what the clients counted.
//!
//! ```text
//! soak --server target/debug/s7rtd --seconds 30 [--clients 16] [--dir target/soak]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod server;
mod traffic;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use s7rt::client::Client;
use s7rt::wire::var::Area;

use server::{counter, sample, start_server};
use traffic::{churn, malformed, read_requests, worker};

/// Bytes of DB1 each client owns.
const REGION: usize = 512;
/// PDU the clients ask for (one request per read of up to 462 bytes, write of up to 452).
const PDU: u16 = 480;

struct Args {
    server: PathBuf,
    seconds: f64,
    clients: usize,
    dir: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        server: PathBuf::from("target/debug/s7rtd"),
        seconds: 30.0,
        clients: 16,
        dir: PathBuf::from("target/soak"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--server" => a.server = v.into(),
            "--seconds" => a.seconds = v.parse().expect("--seconds"),
            "--clients" => a.clients = v.parse().expect("--clients"),
            "--dir" => a.dir = v.into(),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

/// What the clients did, in the server's terms.
#[derive(Default)]
struct Counts {
    /// TCP connections established (the server must have accepted each).
    connects: AtomicU64,
    /// Setup Communications answered.
    setups: AtomicU64,
    /// Read Var requests answered (including refused items).
    reads: AtomicU64,
    /// Write Var requests answered.
    writes: AtomicU64,
    /// Requests answered with an S7 header error.
    header_errors: AtomicU64,
    /// Read-backs that differed from the acknowledged writes.
    mismatches: AtomicU64,
    /// Malformed inputs sent.
    malformed: AtomicU64,
    /// Connections of the malformed slice the server closed (broken framing).
    malformed_closed: AtomicU64,
    /// Unexpected failures (a well-formed request that failed), with the first few messages.
    failures: AtomicU64,
}

fn add(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn add_n(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

struct Shared {
    addr: SocketAddr,
    deadline: Instant,
    counts: Counts,
    errors: Mutex<Vec<String>>,
}

impl Shared {
    fn fail(&self, what: String) {
        add(&self.counts.failures);
        let mut e = self.errors.lock().unwrap();
        if e.len() < 20 {
            e.push(what);
        }
    }

    fn connect(&self) -> Option<Client> {
        match Client::connect(self.addr, 0, 1, PDU) {
            Ok(c) => {
                add(&self.counts.connects);
                add(&self.counts.setups);
                Some(c)
            }
            Err(e) => {
                self.fail(format!("connect: {e}"));
                None
            }
        }
    }
}

fn main() {
    let a = args();
    let (mut child, addr, hgrm) = start_server(&a);
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(300));
    let (_, idle_fds) = sample(pid).expect("server gone at start");
    let t0 = Instant::now();
    let sh = Arc::new(Shared {
        addr,
        deadline: t0 + Duration::from_secs_f64(a.seconds),
        counts: Counts::default(),
        errors: Mutex::new(Vec::new()),
    });

    // Samples every 250 ms while the load runs.
    let running = Arc::new(AtomicBool::new(true));
    let monitor = {
        let running = running.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while running.load(Ordering::Relaxed) {
                match sample(pid) {
                    Some(s) => samples.push((t0.elapsed().as_secs_f64(), s.0, s.1)),
                    None => break,
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            samples
        })
    };
    let workers: Vec<_> = (0..a.clients)
        .map(|id| {
            let sh = sh.clone();
            std::thread::spawn(move || worker(&sh, id))
        })
        .collect();
    let side: Vec<_> = [churn as fn(&Shared), malformed]
        .into_iter()
        .map(|f| {
            let sh = sh.clone();
            std::thread::spawn(move || f(&sh))
        })
        .collect();
    let shadows: Vec<Vec<u8>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    for s in side {
        s.join().unwrap();
    }
    let load_secs = t0.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    let samples = monitor.join().unwrap();

    // Every acknowledged write, read back whole over a fresh connection.
    if let Some(mut c) = sh.connect() {
        let mut buf = vec![0u8; REGION];
        for (id, shadow) in shadows.iter().enumerate() {
            match c.read(Area::DataBlock, 1, (id * REGION) as u32, &mut buf) {
                Ok(()) => {
                    add_n(&sh.counts.reads, read_requests(&c, REGION));
                    if buf != *shadow {
                        add(&sh.counts.mismatches);
                        sh.fail(format!("final read-back of client {id}'s region differs"));
                    }
                }
                Err(e) => sh.fail(format!("final read-back: {e}")),
            }
        }
    }

    // Idle again: every connection closed, the descriptors back to the idle count.
    let settle = Instant::now();
    let mut end_fds = u64::MAX;
    while settle.elapsed() < Duration::from_secs(10) {
        end_fds = sample(pid).map(|s| s.1).unwrap_or(u64::MAX);
        if end_fds == idle_fds {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let end_rss = sample(pid).map(|s| s.0).unwrap_or(0);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let counters = std::fs::read_to_string(hgrm.join("counters.txt")).unwrap_or_default();

    let c = &sh.counts;
    let get = |x: &AtomicU64| x.load(Ordering::Relaxed);
    let mut checks: Vec<(String, bool)> = Vec::new();
    checks.push((
        format!("server exited cleanly ({status})"),
        status.success(),
    ));
    checks.push((
        format!("no failed request ({} failures)", get(&c.failures)),
        get(&c.failures) == 0,
    ));
    checks.push((
        format!(
            "every acknowledged write read back ({} mismatches)",
            get(&c.mismatches)
        ),
        get(&c.mismatches) == 0,
    ));
    if counters.is_empty() {
        checks.push(("server wrote counters.txt at stop".into(), false));
    } else {
        for (name, ours) in [
            ("accepted", get(&c.connects)),
            ("closed", get(&c.connects)),
            ("setups", get(&c.setups)),
            ("reads", get(&c.reads)),
            ("writes", get(&c.writes)),
            ("errors", get(&c.header_errors)),
            ("refused", 0),
            ("evicted", 0),
            ("handshake_timeouts", 0),
            ("accept_errors", 0),
            ("queue_drops", 0),
        ] {
            let theirs = counter(&counters, name);
            checks.push((
                format!("server {name} {theirs} = clients' {ours}"),
                theirs == ours,
            ));
        }
    }
    // Flat: after a warm-up quarter, RSS never grows more than 1 MiB (+2 %) over its level
    // then, and the descriptors come back to the idle count.
    let warm = samples
        .iter()
        .find(|s| s.0 >= load_secs / 4.0)
        .map(|s| s.1)
        .unwrap_or(0);
    let later_max = samples
        .iter()
        .filter(|s| s.0 >= load_secs / 4.0)
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    let max_fds = samples.iter().map(|s| s.2).max().unwrap_or(0);
    let rss_limit = warm + 1024 + warm / 50;
    checks.push((
        format!(
            "RSS flat: {warm} KiB after warm-up, at most {later_max} KiB later, {end_rss} KiB at the end (limit {rss_limit})"
        ),
        warm > 0 && later_max <= rss_limit && end_rss <= rss_limit,
    ));
    checks.push((
        format!("descriptors flat: {idle_fds} idle, at most {max_fds} under load, {end_fds} after"),
        end_fds == idle_fds,
    ));

    let ops = get(&c.reads) + get(&c.writes);
    println!(
        "soak: {load_secs:.1} s, {} clients: {} reads, {} writes ({:.0} requests/s), {} connections, {} malformed inputs ({} closed by the server), {} header errors",
        a.clients,
        get(&c.reads),
        get(&c.writes),
        ops as f64 / load_secs,
        get(&c.connects),
        get(&c.malformed),
        get(&c.malformed_closed),
        get(&c.header_errors),
    );
    println!(
        "server counters: {}",
        counters.lines().collect::<Vec<_>>().join(", ")
    );
    let mut ok = true;
    for (what, pass) in &checks {
        println!("{} {what}", if *pass { "ok  " } else { "FAIL" });
        ok &= pass;
    }
    for e in sh.errors.lock().unwrap().iter() {
        println!("  error: {e}");
    }
    std::process::exit(if ok { 0 } else { 1 });
}
