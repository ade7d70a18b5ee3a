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

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use s7rt::client::{Client, ClientError};
use s7rt::wire::s7::Rosctr;
use s7rt::wire::var::Area;

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

/// Requests `Client::read` makes for `len` bytes (a PDU carries `pdu - 18` of them).
fn read_requests(c: &Client, len: usize) -> u64 {
    len.div_ceil(c.pdu_len() as usize - 18) as u64
}

/// Requests `Client::write` makes for `len` bytes (a PDU carries `pdu - 28` of them).
fn write_requests(c: &Client, len: usize) -> u64 {
    len.div_ceil(c.pdu_len() as usize - 28) as u64
}

/// xorshift64*: reproducible per client, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
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

/// One of the 16 clients: its own 512 bytes of DB1, random reads and writes, a shadow copy
/// of what the server acknowledged, a reconnect every 20..300 requests.
fn worker(sh: &Shared, id: usize) -> Vec<u8> {
    let base = id * REGION;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1));
    let mut shadow = vec![0u8; REGION];
    let mut buf = vec![0u8; REGION];
    // The region starts as the server's (zeros); written before being trusted anyway.
    let mut first = true;
    while Instant::now() < sh.deadline {
        let Some(mut c) = sh.connect() else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if first {
            match c.write(Area::DataBlock, 1, base as u32, &shadow) {
                Ok(()) => add_n(&sh.counts.writes, write_requests(&c, REGION)),
                Err(e) => sh.fail(format!("client {id}: first write: {e}")),
            }
            first = false;
        }
        let ops = rng.range(20, 300);
        for _ in 0..ops {
            if Instant::now() >= sh.deadline {
                break;
            }
            let off = rng.range(0, REGION - 1);
            if rng.next() % 2 == 0 {
                let len = rng.range(1, (REGION - off).min(200));
                let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                match c.write(Area::DataBlock, 1, (base + off) as u32, &data) {
                    Ok(()) => {
                        add(&sh.counts.writes);
                        shadow[off..off + len].copy_from_slice(&data);
                    }
                    Err(e) => {
                        // Unacknowledged: the write may or may not have happened; the
                        // region cannot be trusted any more, so the soak fails.
                        sh.fail(format!("client {id}: write: {e}"));
                        return shadow;
                    }
                }
            } else {
                let len = rng.range(1, (REGION - off).min(400));
                match c.read(Area::DataBlock, 1, (base + off) as u32, &mut buf[..len]) {
                    Ok(()) => {
                        add(&sh.counts.reads);
                        if buf[..len] != shadow[off..off + len] {
                            add(&sh.counts.mismatches);
                            sh.fail(format!(
                                "client {id}: read-back differs at DB1.{}",
                                base + off
                            ));
                        }
                    }
                    Err(e) => {
                        sh.fail(format!("client {id}: read: {e}"));
                        break;
                    }
                }
            }
        }
    }
    shadow
}

/// Connection churn: full handshakes dropped at once, and bare TCP connections.
fn churn(sh: &Shared) {
    let mut n = 0u64;
    while Instant::now() < sh.deadline {
        if n % 2 == 0 {
            drop(sh.connect());
        } else if TcpStream::connect(sh.addr).is_ok() {
            add(&sh.counts.connects);
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads until the server closes (true) or `limit` passes (false).
fn closed_by_server(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut b = [0u8; 512];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

const CR: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xC0, 0x01, 0x0A, 0xC1, 0x02,
    0x01, 0x00, 0xC2, 0x02, 0x01, 0x01,
];

/// The malformed slice: broken framing (must close only that connection), requests the
/// server must refuse with an S7 error and keep serving.
fn malformed(sh: &Shared) {
    let mut rng = Rng(0xDEAD_BEEF);
    let mut case = 0u64;
    while Instant::now() < sh.deadline {
        case += 1;
        match case % 5 {
            // Garbage that is not TPKT (first byte not 3): framing error, closed.
            0 | 1 => {
                let Ok(mut s) = TcpStream::connect(sh.addr) else {
                    continue;
                };
                add(&sh.counts.connects);
                let mut junk: Vec<u8> = (0..rng.range(4, 64)).map(|_| rng.next() as u8).collect();
                junk[0] = 0x04 + (junk[0] % 0xF0);
                let _ = s.write_all(&junk);
                add(&sh.counts.malformed);
                if closed_by_server(&mut s, Duration::from_secs(5)) {
                    add(&sh.counts.malformed_closed);
                } else {
                    sh.fail("garbage: connection not closed".into());
                }
            }
            // COTP data before the connection request: closed.
            2 => {
                let Ok(mut s) = TcpStream::connect(sh.addr) else {
                    continue;
                };
                add(&sh.counts.connects);
                let dt = [0x03, 0x00, 0x00, 0x07, 0x02, 0xF0, 0x80];
                let _ = s.write_all(&dt);
                add(&sh.counts.malformed);
                if closed_by_server(&mut s, Duration::from_secs(5)) {
                    add(&sh.counts.malformed_closed);
                } else {
                    sh.fail("DT before CR: connection not closed".into());
                }
            }
            // A COTP request then silence: we give up first (half-open handshake).
            3 => {
                let Ok(mut s) = TcpStream::connect(sh.addr) else {
                    continue;
                };
                add(&sh.counts.connects);
                let _ = s.write_all(&CR[..rng.range(1, CR.len() - 1)]);
                add(&sh.counts.malformed);
                std::thread::sleep(Duration::from_millis(20));
            }
            // Well-framed but wrong S7: unknown function (header error) and a read past the
            // end of DB1 (item error); the connection stays usable.
            _ => {
                let Some(mut c) = sh.connect() else {
                    continue;
                };
                add(&sh.counts.malformed);
                match c.request(Rosctr::Job, &[0x99, 0x00], &[]) {
                    Err(ClientError::Header(_)) => add(&sh.counts.header_errors),
                    other => sh.fail(format!("unknown function: {:?}", other.map(|_| ()))),
                }
                add(&sh.counts.malformed);
                let mut b = [0u8; 4];
                match c.read(Area::DataBlock, 1, 65_000, &mut b) {
                    Err(ClientError::Item(_)) => add(&sh.counts.reads),
                    other => sh.fail(format!("read past the end: {other:?}")),
                }
                let mut b = [0u8; 1];
                match c.read(Area::DataBlock, 1, 0, &mut b) {
                    Ok(()) => add(&sh.counts.reads),
                    Err(e) => sh.fail(format!("read after refused requests: {e}")),
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// RSS (KiB) and open descriptors of `pid`.
fn sample(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some((rss, fds))
}

fn start_server(a: &Args) -> (Child, SocketAddr, PathBuf) {
    std::fs::create_dir_all(&a.dir).unwrap();
    let hgrm = a.dir.join("histograms");
    let _ = std::fs::remove_dir_all(&hgrm);
    let cfg = a.dir.join("s7rtd.toml");
    let body = format!(
        "event_queue = 65536\n\
         [telemetry]\ninterval_ms = 10000\nhistogram_dir = \"{}\"\n\
         [[db]]\nnumber = 1\nsize = {}\n[host]\nsocket = \"\"\n",
        std::fs::canonicalize(&a.dir)
            .unwrap()
            .join("histograms")
            .display(),
        a.clients.max(1) * REGION
    );
    // Every client comes from 127.0.0.1: the per-address limit must not refuse them.
    let head = "listen = \"127.0.0.1:0\"\nmax_connections = 64\nmax_connections_per_ip = 64\n";
    std::fs::write(&cfg, format!("{head}{body}")).unwrap();
    let log = std::fs::File::create(a.dir.join("s7rtd.log")).unwrap();
    let mut child = Command::new(&a.server)
        .args(["--no-rt", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", a.server.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("s7rtd: listening on ")
        .unwrap_or_else(|| panic!("s7rtd said {line:?}"))
        .parse()
        .unwrap();
    (child, addr, hgrm)
}

fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no counter {name} in counters.txt"))
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
