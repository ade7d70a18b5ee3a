//! The bench's phases and the report (see `main.rs` for the order and options).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use s7rt::config::{Config, CycleTimer};
use s7rt::rt::cycle::Platform;
use s7rt::server::Server;
use s7rt_bench::load::{self, LoadResult, LoadSpec, Op};
use s7rt_bench::machine::{timestamp, Machine};
use s7rt_bench::report::{self, ratio};
use serde_json::json;

use crate::callgrind::{callgrind_s7rtd, callgrind_snap7};
use crate::cyclictest::{cyclictest, ensure_cyclictest};
use crate::servers::{self, Floor, Placement};
use crate::writer::{write_report, Report, OTHER_EPOLL, OTHER_TIMERFD};

pub(crate) const CONNECTIONS: [usize; 3] = [1, 8, 64];

/// Where the load generator runs relative to the servers: `split`, on the other CPU (the
/// servers have theirs to themselves); `same`, on the servers' CPU (a server sharing its
/// CPU with busy work, as on a small edge box or beside other VMs' vCPUs).
pub(crate) const PLACEMENTS: [&str; 2] = ["split", "same"];

pub(crate) struct Opts {
    pub(crate) smoke: bool,
    pub(crate) out: Option<PathBuf>,
    pub(crate) rt_cpu: usize,
    pub(crate) load_cpu: usize,
    pub(crate) priority: u8,
    pub(crate) cycle_us: u64,
    s7rtd_addr: Option<SocketAddr>,
    pub(crate) command: String,
}

fn opts(args: &[String]) -> anyhow::Result<Opts> {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let shown: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--bench")
        .collect();
    Ok(Opts {
        smoke: args.iter().any(|a| a == "--smoke"),
        out: value("--out").map(PathBuf::from),
        rt_cpu: value("--rt-cpu").map_or(Ok(1), |v| v.parse())?,
        load_cpu: value("--load-cpu").map_or(Ok(0), |v| v.parse())?,
        priority: value("--priority").map_or(Ok(99), |v| v.parse())?,
        cycle_us: value("--cycle-us").map_or(Ok(1000), |v| v.parse())?,
        s7rtd_addr: value("--s7rtd-addr").map(|v| v.parse()).transpose()?,
        command: if shown.is_empty() {
            "cargo bench --bench jitter".to_string()
        } else {
            format!("cargo bench --bench jitter -- {}", shown.join(" "))
        },
    })
}

pub(crate) struct Durations {
    pub(crate) cyclictest_s: u64,
    pub(crate) idle: Duration,
    pub(crate) load: [Duration; 3],
    pub(crate) callgrind: Option<(u64, u64)>,
}

/// One load phase against one server.
pub(crate) struct Phase {
    pub(crate) server: &'static str,
    /// One of [`PLACEMENTS`].
    pub(crate) placement: &'static str,
    pub(crate) connections: usize,
    pub(crate) result: LoadResult,
    /// s7rtd in-process only: service time, wake-up, allocations, minor faults.
    pub(crate) service: Option<Histogram<u64>>,
    /// s7rtd in-process only: service time from the kernel's receive timestamp.
    pub(crate) rx_service: Option<Histogram<u64>>,
    pub(crate) wakeup: Option<Histogram<u64>>,
    pub(crate) allocs: Option<u64>,
    pub(crate) minor_faults: Option<u64>,
}

fn spec(addr: SocketAddr, conns: usize, d: Duration, load_cpu: usize) -> LoadSpec {
    let mut s = LoadSpec::closed(addr, conns, Op::Read { len: 4 }, d);
    s.pin = vec![load_cpu];
    s.warmup = 200;
    s
}

fn s7rtd_config(o: &Opts) -> anyhow::Result<Config> {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse()?,
        max_connections: 128,
        // Every load connection comes from 127.0.0.1.
        max_connections_per_ip: 128,
        ..Config::default()
    };
    cfg.rt.enabled = true;
    cfg.rt.cpu = o.rt_cpu;
    cfg.rt.priority = o.priority;
    cfg.rt.cycle_us = o.cycle_us;
    cfg.telemetry.interval_ms = 1000; // the exchange is exercised during every phase
    cfg.validate()?;
    Ok(cfg)
}

impl Opts {
    /// The CPU the load generator runs on in `placement`.
    pub(crate) fn load_cpu_for(&self, placement: &str) -> usize {
        match placement {
            "same" => self.rt_cpu,
            _ => self.load_cpu,
        }
    }
}

fn s7rtd_phase(
    o: &Opts,
    cfg: &Config,
    placement: &'static str,
    conns: usize,
    d: Duration,
) -> anyhow::Result<(Phase, Vec<String>)> {
    let mut server = Server::start(cfg)?;
    let missing = server.missing.clone();
    let result = load::run(&spec(
        server.local_addr(),
        conns,
        d,
        o.load_cpu_for(placement),
    ))?;
    let stopped = server.shutdown()?;
    Ok((
        Phase {
            server: "s7rtd",
            placement,
            connections: conns,
            result,
            service: Some(stopped.telemetry.service_ns),
            rx_service: Some(stopped.telemetry.rx_service_ns).filter(|h| !h.is_empty()),
            wakeup: Some(stopped.telemetry.wakeup_ns),
            allocs: stopped.allocs_while_serving,
            minor_faults: Some(stopped.faults_while_serving.0),
        },
        missing,
    ))
}

fn external_phase(
    server: &'static str,
    addr: SocketAddr,
    (placement, conns): (&'static str, usize),
    d: Duration,
    o: &Opts,
) -> anyhow::Result<Phase> {
    Ok(Phase {
        server,
        placement,
        connections: conns,
        result: load::run(&spec(addr, conns, d, o.load_cpu_for(placement)))?,
        service: None,
        rx_service: None,
        wakeup: None,
        allocs: None,
        minor_faults: None,
    })
}

fn placed(cmd_line: &[String], o: &Opts, fifo: bool) -> Command {
    let mut c = if fifo {
        let mut c = Command::new("chrt");
        c.args([
            "-f",
            &o.priority.to_string(),
            "taskset",
            "-c",
            &o.rt_cpu.to_string(),
        ]);
        c
    } else {
        let mut c = Command::new("taskset");
        c.args(["-c", &o.rt_cpu.to_string()]);
        c
    };
    c.args(cmd_line);
    c
}

/// Starts the Snap7 child; returns it once it printed `ready`.
pub(crate) fn start_snap7(mut cmd: Command) -> anyhow::Result<Child> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    if line.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        anyhow::bail!("Snap7 server did not start (said {:?})", line.trim());
    }
    Ok(child)
}

pub(crate) fn stop_child(mut child: Child) -> anyhow::Result<()> {
    drop(child.stdin.take());
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill()?;
    child.wait()?;
    Ok(())
}

/// Runs every phase and writes the report; returns the report directory.
pub(crate) fn run(args: &[String]) -> anyhow::Result<PathBuf> {
    let o = opts(args)?;
    let d = if o.smoke {
        Durations {
            cyclictest_s: 1,
            idle: Duration::from_secs(1),
            load: [Duration::from_millis(500); 3],
            callgrind: None,
        }
    } else {
        Durations {
            cyclictest_s: 10,
            idle: Duration::from_secs(10),
            load: [
                Duration::from_secs(8),
                Duration::from_secs(5),
                Duration::from_secs(5),
            ],
            callgrind: Some((1_000, 20_000)),
        }
    };
    let machine = Machine::detect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = match &o.out {
        Some(p) => p.clone(),
        None if o.smoke => root.join("target/bench-smoke").join(timestamp()),
        None => root
            .join("results")
            .join(format!("{}-{}", timestamp(), machine.host)),
    };
    std::fs::create_dir_all(&dir)?;
    let mut notes: Vec<String> = Vec::new();
    let progress = |s: &str| {
        eprintln!("[jitter] {s}");
    };

    // Validated before this thread is pinned: validation checks the CPU exists.
    let cfg = s7rtd_config(&o)?;
    // Everything but the servers' threads runs on the load CPU (threads inherit this).
    let _ = s7rt::rt::pin_to_cpu(o.load_cpu);
    let fifo = {
        let p = o.priority;
        std::thread::spawn(move || s7rt::rt::set_fifo(p).is_ok())
            .join()
            .unwrap_or(false)
    };
    if !fifo {
        notes.push(format!(
            "SCHED_FIFO {} is not permitted here: every server ran SCHED_OTHER (grant CAP_SYS_NICE or run as root for the real-time figures)",
            o.priority
        ));
    }
    let placement = Placement {
        cpu: o.rt_cpu,
        fifo: fifo.then_some(o.priority),
    };

    ensure_cyclictest(&mut notes);
    progress("cyclictest (before)");
    let ct_before = cyclictest(&o, d.cyclictest_s, &mut notes, "cyclictest before");

    let mut rt_missing = Vec::new();
    let mut idle_wakeup = None;
    let mut phases: Vec<Phase> = Vec::new();
    match o.s7rtd_addr {
        None => {
            progress("s7rtd idle (cycle wake-up latency)");
            let mut server = Server::start(&cfg)?;
            rt_missing = server.missing.clone();
            std::thread::sleep(d.idle);
            let stopped = server.shutdown()?;
            idle_wakeup = Some((
                stopped.telemetry.wakeup_ns,
                stopped.allocs_while_serving,
                stopped.faults_while_serving.0,
                stopped.telemetry.counters.overruns,
            ));
            for placement in PLACEMENTS {
                for (i, &c) in CONNECTIONS.iter().enumerate() {
                    progress(&format!("s7rtd, {placement}, {c} connection(s)"));
                    let (p, _) = s7rtd_phase(&o, &cfg, placement, c, d.load[i])?;
                    anyhow::ensure!(
                        p.result.errors == 0,
                        "s7rtd load failed: {:?}",
                        p.result.first_error
                    );
                    phases.push(p);
                }
            }
            // The same server with the other cycle timer than the one "auto" chose here
            // (diagnostic): shows what the choice is worth on this machine.
            let chosen = cfg.rt.cycle_timer.choose(&Platform::detect());
            notes.push(format!("s7rtd: {chosen}"));
            let other = match chosen.timer {
                CycleTimer::Epoll => CycleTimer::Timerfd,
                _ => CycleTimer::Epoll,
            };
            progress(&format!(
                "s7rtd with cycle_timer = {}, split, 1 connection(s)",
                other.name()
            ));
            let mut tcfg = cfg.clone();
            tcfg.rt.cycle_timer = other;
            let (mut p, _) = s7rtd_phase(&o, &tcfg, "split", 1, d.load[0])?;
            p.server = match other {
                CycleTimer::Epoll => OTHER_EPOLL,
                _ => OTHER_TIMERFD,
            };
            anyhow::ensure!(
                p.result.errors == 0,
                "s7rtd ({}) load failed: {:?}",
                other.name(),
                p.result.first_error
            );
            phases.push(p);
        }
        Some(addr) => {
            notes.push(format!(
                "s7rtd: an already running daemon at {addr} was measured (its in-loop histograms are in its own log and histogram files, not here)"
            ));
            for placement in PLACEMENTS {
                for (i, &c) in CONNECTIONS.iter().enumerate() {
                    progress(&format!("s7rtd at {addr}, {placement}, {c} connection(s)"));
                    phases.push(external_phase(
                        "s7rtd",
                        addr,
                        (placement, c),
                        d.load[i],
                        &o,
                    )?);
                }
            }
        }
    }

    let floor = Floor::start(placement)?;
    for placement in PLACEMENTS {
        for (i, &c) in CONNECTIONS.iter().enumerate() {
            progress(&format!("floor, {placement}, {c} connection(s)"));
            let p = external_phase("floor", floor.addr, (placement, c), d.load[i], &o)?;
            anyhow::ensure!(
                p.result.errors == 0,
                "floor load failed: {:?}",
                p.result.first_error
            );
            phases.push(p);
        }
    }
    drop(floor);

    let venv = root.join("target/venv/snap7-1");
    let mut so = servers::find_libsnap7(&venv);
    if so.is_none() && !o.smoke {
        progress("installing python-snap7 1.3 (for libsnap7.so)");
        if let Err(e) = servers::install_snap7(&venv) {
            notes.push(format!(
                "Snap7: python-snap7 1.3 could not be installed: {e}"
            ));
        }
        so = servers::find_libsnap7(&venv);
    }
    let so = so.map(|p| p.display().to_string());
    match &so {
        None => notes.push(format!(
            "Snap7: SKIPPED, libsnap7.so not found in {} (create it with `python3 -m venv {0} && {0}/bin/pip install python-snap7==1.3`)",
            venv.display()
        )),
        Some(so) => {
            let port = servers::free_port()?;
            let exe = std::env::current_exe()?.display().to_string();
            let line = vec![exe, "--serve-snap7".into(), so.clone(), port.to_string()];
            match start_snap7(placed(&line, &o, fifo)) {
                Err(e) => notes.push(format!("Snap7: SKIPPED, server did not start: {e:#}")),
                Ok(child) => {
                    let addr = SocketAddr::from(([127, 0, 0, 1], port));
                    for placement in PLACEMENTS {
                        for (i, &c) in CONNECTIONS.iter().enumerate() {
                            progress(&format!("Snap7, {placement}, {c} connection(s)"));
                            match external_phase("Snap7", addr, (placement, c), d.load[i], &o) {
                                Ok(p) if p.result.errors == 0 => phases.push(p),
                                Ok(p) => notes.push(format!(
                                    "Snap7, {placement}, {c} connection(s): {} errors, first: {:?}",
                                    p.result.errors, p.result.first_error
                                )),
                                Err(e) => notes.push(format!(
                                    "Snap7, {placement}, {c} connection(s): {e:#}"
                                )),
                            }
                        }
                    }
                    stop_child(child)?;
                }
            }
        }
    }

    progress("cyclictest (after)");
    let ct_after = cyclictest(&o, d.cyclictest_s, &mut notes, "cyclictest after");

    let mut instructions = json!(null);
    let mut ir_ratio = None;
    match (d.callgrind, o.s7rtd_addr) {
        (None, _) => notes.push("callgrind: skipped in the smoke run".into()),
        (Some(_), Some(_)) => {
            notes.push("callgrind: skipped when measuring an external daemon".into())
        }
        (Some((small, large)), None) => {
            if Command::new("valgrind").arg("--version").output().is_err() {
                notes.push(
                    "callgrind: SKIPPED, valgrind not installed (apt-get install -y valgrind)"
                        .into(),
                );
            } else {
                progress("callgrind: s7rtd");
                let ours = (|| -> anyhow::Result<Option<f64>> {
                    let a = callgrind_s7rtd(&dir, small)?;
                    let b = callgrind_s7rtd(&dir, large)?;
                    Ok(report::per_request(a, small, b, large))
                })();
                let theirs = match &so {
                    Some(so) => {
                        progress("callgrind: Snap7");
                        (|| -> anyhow::Result<Option<f64>> {
                            let a = callgrind_snap7(&dir, so, small)?;
                            let b = callgrind_snap7(&dir, so, large)?;
                            Ok(report::per_request(a, small, b, large))
                        })()
                    }
                    None => Ok(None),
                };
                let _ = std::fs::remove_file(dir.join("callgrind-s7rtd.toml"));
                let fmt = |r: &anyhow::Result<Option<f64>>| match r {
                    Ok(v) => json!(v),
                    Err(e) => json!(format!("failed: {e:#}")),
                };
                instructions = json!({
                    "s7rtd": fmt(&ours),
                    "snap7": fmt(&theirs),
                    "requests": [small, large],
                    "method": "(Ir(large) - Ir(small)) / (large - small) of the whole process (every thread: valgrind --tool=callgrind), one connection, 4-byte DB reads; s7rtd with the default configuration except a 100 ms cycle, telemetry (receive timestamps, histograms) on",
                });
                ir_ratio = ratio(ours.ok().flatten(), theirs.ok().flatten());
            }
        }
    }

    crate::phases::write_report(
        &dir,
        &o,
        &machine,
        &d,
        Report {
            fifo,
            rt_missing,
            ct_before,
            ct_after,
            idle_wakeup,
            phases,
            instructions,
            ir_ratio,
            notes,
        },
    )?;
    Ok(dir)
}
