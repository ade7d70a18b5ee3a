//! The host API's benchmark (issue 7): what the host application's traffic costs and how
//! fast it gets through.
//!
//! `cargo bench --bench host [-- --secs S] [--pairs N] [--rt] [--smoke]` starts the server
//! in this process (without real-time measures unless `--rt`: then its loop is pinned to
//! CPU 1 at SCHED_FIFO 80, as root) and measures, in one run:
//! 1. host write → visible to an S7 read: a host thread writes a sequence number every
//!    millisecond; a client reads it back to back; each first sighting records
//!    `now − time of the write call`;
//! 2. client write → host notification: a client writes a sequence number every
//!    millisecond; the host's receiver records `now − time before the client sent it`;
//! 3. host writes per second sustained: one host thread writes 4-byte values as fast as the
//!    queue takes them (a full queue is retried), counted by what the loop applied;
//! 4. RT service time beside 8 S7 clients (closed-loop 4-byte reads), without host traffic
//!    and with 10 000 host writes/s, alternating (A B A B …, `--pairs` pairs, default 3); the
//!    ratio of the pooled p99s is the target (≤ 1.10).
//!
//! Writes `results/<UTC time>-<host>-host/report.md` and `figures.json`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use s7rt::client::Client;
use s7rt::config::Config;
use s7rt::host::{Host, HostError, Notification};
use s7rt::server::Server;
use s7rt::telemetry::histogram;
use s7rt::wire::var::Area;
use s7rt_bench::machine::{timestamp, Machine};
use s7rt_bench::Percentiles;

/// Real-time measures for the server (`--rt`), set once in `main`.
static RT: AtomicBool = AtomicBool::new(false);

fn config() -> anyhow::Result<Config> {
    let mut cfg = Config::from_toml("listen = \"127.0.0.1:0\"\n[rt]\ncpu = 1\npriority = 80\n")?;
    cfg.rt.enabled = RT.load(Ordering::Relaxed);
    Ok(cfg)
}

/// Nanoseconds since `base` (a shared clock for threads of this process).
fn ns(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

/// 1. Host write → first S7 read that returns it.
fn host_to_s7(secs: f64) -> anyhow::Result<Histogram<u64>> {
    let mut server = Server::start(&config()?)?;
    let host = server.host();
    let base = Instant::now();
    let n = (secs * 1000.0) as usize;
    let written: Arc<Vec<AtomicU64>> = Arc::new((0..n + 1).map(|_| AtomicU64::new(0)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (written, done) = (written.clone(), done.clone());
        let mut c = Client::connect(server.local_addr(), 0, 1, 480)?;
        std::thread::spawn(move || -> anyhow::Result<Histogram<u64>> {
            let mut h = histogram();
            let mut last = 0u64;
            let mut b = [0u8; 8];
            while !done.load(Ordering::Relaxed) {
                c.read(Area::DataBlock, 1, 0, &mut b)?;
                let k = u64::from_be_bytes(b);
                if k != last && k != 0 {
                    let now = ns(base);
                    if let Some(t) = written.get(k as usize) {
                        h.saturating_record(now.saturating_sub(t.load(Ordering::Acquire)));
                    }
                    last = k;
                }
            }
            Ok(h)
        })
    };
    let mut next = Instant::now();
    for k in 1..=n as u64 {
        if let Some(t) = written.get(k as usize) {
            t.store(ns(base), Ordering::Release);
        }
        host.write(Area::DataBlock, 1, 0, &k.to_be_bytes())?;
        next += Duration::from_millis(1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(20));
    done.store(true, Ordering::Relaxed);
    let h = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reader panicked"))??;
    server.shutdown()?;
    Ok(h)
}

/// 2. Client write → host notification.
fn s7_to_host(secs: f64) -> anyhow::Result<Histogram<u64>> {
    let mut server = Server::start(&config()?)?;
    let host = server.host();
    let mut notes = host.notifications()?;
    let base = Instant::now();
    let n = (secs * 1000.0) as usize;
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n + 1).map(|_| AtomicU64::new(0)).collect());
    let writer = {
        let sent = sent.clone();
        let mut c = Client::connect(server.local_addr(), 0, 1, 480)?;
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut next = Instant::now();
            for k in 1..=n as u64 {
                if let Some(t) = sent.get(k as usize) {
                    t.store(ns(base), Ordering::Release);
                }
                c.write(Area::DataBlock, 1, 100, &k.to_be_bytes())?;
                next += Duration::from_millis(1);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            Ok(())
        })
    };
    let mut h = histogram();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs_f64(secs + 10.0);
    while seen < n && Instant::now() < deadline {
        if let Some(Notification::Write(w)) = notes.recv_timeout(Duration::from_millis(100)) {
            let now = ns(base);
            let k = u64::from_be_bytes(w.data.as_slice().try_into().unwrap_or([0; 8]));
            if let Some(t) = sent.get(k as usize) {
                h.saturating_record(now.saturating_sub(t.load(Ordering::Acquire)));
            }
            seen += 1;
        }
    }
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    server.shutdown()?;
    Ok(h)
}

/// 3. Host writes applied per second, one host thread writing as fast as it can.
fn sustained(secs: f64) -> anyhow::Result<(f64, u64)> {
    let mut server = Server::start(&config()?)?;
    let host = server.host();
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(secs);
    let before = host.stats().writes_applied;
    let mut full = 0u64;
    let mut k = 0u32;
    while Instant::now() < end {
        k = k.wrapping_add(1);
        match host.write(Area::DataBlock, 1, 0, &k.to_be_bytes()) {
            Ok(()) => {}
            Err(HostError::QueueFull { .. }) => {
                full += 1;
                std::thread::yield_now();
            }
            Err(e) => return Err(e.into()),
        }
    }
    host.sync()?;
    let applied = host.stats().writes_applied - before;
    let rate = applied as f64 / t0.elapsed().as_secs_f64();
    server.shutdown()?;
    Ok((rate, full))
}

/// 4. Service time of 8 closed-loop clients, with or without 10 000 host writes/s.
fn service(secs: f64, host_rate: u32) -> anyhow::Result<(Histogram<u64>, u64, u64)> {
    let mut server = Server::start(&config()?)?;
    let host = server.host();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..8u32 {
        let stop = stop.clone();
        let mut c = Client::connect(server.local_addr(), 0, 1, 480)?;
        clients.push(std::thread::spawn(move || -> anyhow::Result<u64> {
            let mut b = [0u8; 4];
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                c.read(Area::DataBlock, 1, 4 * i, &mut b)?;
                n += 1;
            }
            Ok(n)
        }));
    }
    let feeder = (host_rate > 0).then(|| {
        let (stop, host): (Arc<AtomicBool>, Host) = (stop.clone(), host.clone());
        std::thread::spawn(move || -> anyhow::Result<u64> {
            // 10 writes per millisecond tick: sleeping 100 µs per write is not precise.
            let per_tick = (host_rate / 1000).max(1);
            let mut next = Instant::now();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for j in 0..per_tick {
                    let v = (n as u32).wrapping_add(j);
                    if host
                        .write(Area::DataBlock, 2, 4 * (j as usize % 64), &v.to_be_bytes())
                        .is_ok()
                    {
                        n += 1;
                    }
                }
                next += Duration::from_millis(1);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            Ok(n)
        })
    });
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let mut reads = 0;
    for c in clients {
        reads += c.join().map_err(|_| anyhow::anyhow!("client panicked"))??;
    }
    let host_writes = match feeder {
        Some(f) => f.join().map_err(|_| anyhow::anyhow!("feeder panicked"))??,
        None => 0,
    };
    let stopped = server.shutdown()?;
    let _ = elapsed;
    Ok((stopped.telemetry.service_ns.clone(), reads, host_writes))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("host: a benchmark; run it with `cargo bench --bench host`");
        return Ok(());
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let rt = args.iter().any(|a| a == "--rt");
    RT.store(rt, Ordering::Relaxed);
    let pairs = args
        .iter()
        .position(|a| a == "--pairs")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(if smoke { 1 } else { 3 }), |s| s.parse::<usize>())?;
    let secs = args
        .iter()
        .position(|a| a == "--secs")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(if smoke { 0.3 } else { 5.0 }), |s| s.parse::<f64>())?;

    let h2s = Percentiles::of(&host_to_s7(secs)?);
    let s2h = Percentiles::of(&s7_to_host(secs)?);
    let (rate, full) = sustained(secs.min(3.0))?;
    let mut runs = Vec::new();
    let (mut pooled_without, mut pooled_with) = (histogram(), histogram());
    for _ in 0..pairs {
        for host_rate in [0u32, 10_000] {
            let (h, reads, writes) = service(secs, host_rate)?;
            match host_rate {
                0 => pooled_without.add(&h)?,
                _ => pooled_with.add(&h)?,
            }
            runs.push((host_rate, Percentiles::of(&h), reads, writes));
        }
    }
    let ratios: Vec<f64> = runs
        .chunks(2)
        .map(|p| p[1].1.p99 as f64 / p[0].1.p99.max(1) as f64)
        .collect();
    let (pooled_without, pooled_with) = (
        Percentiles::of(&pooled_without),
        Percentiles::of(&pooled_with),
    );
    let pooled_ratio = pooled_with.p99 as f64 / pooled_without.p99.max(1) as f64;
    let machine = Machine::detect();
    let command = format!(
        "cargo bench --bench host -- --secs {secs} --pairs {pairs}{}{}",
        if rt { " --rt" } else { "" },
        if smoke { " --smoke" } else { "" }
    );
    let mut rows = String::new();
    for (i, (rate, p, reads, writes)) in runs.iter().enumerate() {
        let what = match rate {
            0 => "no host traffic",
            _ => "10 000 host writes/s",
        };
        rows.push_str(&p.markdown_row(&format!(
            "run {} ({what}): {reads} reads, {writes} host writes",
            i + 1
        )));
        rows.push('\n');
    }
    rows.push_str(&pooled_without.markdown_row("**all runs without host traffic**"));
    rows.push('\n');
    rows.push_str(&pooled_with.markdown_row("**all runs with 10 000 host writes/s**"));
    rows.push('\n');
    let verdict = match pooled_ratio <= 1.10 {
        true => "met",
        false => "missed",
    };
    let placement = match rt {
        true => "with its loop pinned to CPU 1 at SCHED_FIFO 80 (mlockall, PM QoS held)",
        false => "without real-time measures (not pinned, SCHED_OTHER)",
    };
    let by_pair = ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    let report = format!(
        "# s7rt host API benchmark\n\n\
         Command: `{command}`\n\n\
         Server in-process on 127.0.0.1 {placement}; clients and host threads in the same \
         process on the same {} CPUs; the machine was shared with other work while measured. \
         Compare only within this report.\n\n\
         ## Latency\n\n{}\n{}\n{}\n\n\
         Host write → S7 read includes the reader's own round trip (it reads back to back); the \
         loop applies host writes at the end of each turn, so a write waits for the next \
         request or cycle tick (1 ms) at most. Client write → host notification includes the \
         client's send and the receiver's polling (yield, then 50 µs sleeps).\n\n\
         ## Throughput\n\n\
         Host writes applied, one thread writing 4-byte values as fast as the queue takes them \
         for {:.1} s: **{rate:.0} writes/s** ({full} attempts found the queue full and were \
         retried; default `[host] budget = 64` commands per loop turn).\n\n\
         ## Service time beside 8 S7 clients (closed-loop 4-byte reads, {secs} s per run)\n\n\
         {}\n{rows}\n\
         p99 of all runs with 10 000 host writes/s ÷ p99 of all runs without: \
         **{pooled_ratio:.2}** (target ≤ 1.10: **{verdict}**); pair by pair: {by_pair}.\n\n\
         ## Machine\n\n{}",
        machine.cpus,
        Percentiles::MARKDOWN_HEADER,
        h2s.markdown_row("host write → visible to an S7 read"),
        s2h.markdown_row("client write → host notification"),
        secs.min(3.0),
        Percentiles::MARKDOWN_HEADER,
        machine.markdown()
    );
    let figures = serde_json::json!({
        "command": command,
        "rt": rt,
        "host_write_to_s7_read_ns": h2s,
        "client_write_to_host_notification_ns": s2h,
        "sustained_host_writes_per_s": rate,
        "queue_full_retries": full,
        "service_runs": runs.iter().map(|(rate, p, reads, writes)| serde_json::json!({
            "host_writes_per_s_target": rate, "service_ns": p, "reads": reads, "host_writes": writes,
        })).collect::<Vec<_>>(),
        "service_ns_without_host_pooled": pooled_without,
        "service_ns_with_host_pooled": pooled_with,
        "p99_ratio_with_vs_without_pooled": pooled_ratio,
        "p99_ratio_with_vs_without_by_pair": ratios,
    });
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match smoke {
        true => root.join("target/bench-smoke"),
        false => root.join("results"),
    }
    .join(format!("{}-{}-host", timestamp(), machine.host));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("report.md"), &report)?;
    std::fs::write(
        dir.join("figures.json"),
        serde_json::to_string_pretty(&figures)?,
    )?;
    println!("{report}\nwritten to {}", dir.display());
    Ok(())
}
