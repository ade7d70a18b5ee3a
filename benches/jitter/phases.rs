//! The bench's phases and the report (see `main.rs` for the order and options).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use s7rt::client::Client;
use s7rt::config::Config;
use s7rt::load::{self, LoadResult, LoadSpec, Op};
use s7rt::server::Server;
use s7rt::telemetry::machine::{timestamp, Machine};
use s7rt::telemetry::report::{self, ratio, Bound, Series, Target};
use s7rt::telemetry::{hgrm, plot};
use s7rt::wire::var::Area;
use serde_json::json;

use crate::servers::{self, Floor, Placement};

const CONNECTIONS: [usize; 3] = [1, 8, 64];

struct Opts {
    smoke: bool,
    out: Option<PathBuf>,
    rt_cpu: usize,
    load_cpu: usize,
    priority: u8,
    cycle_us: u64,
    s7rtd_addr: Option<SocketAddr>,
    command: String,
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

struct Durations {
    cyclictest_s: u64,
    idle: Duration,
    load: [Duration; 3],
    callgrind: Option<(u64, u64)>,
}

/// One load phase against one server.
struct Phase {
    server: &'static str,
    connections: usize,
    result: LoadResult,
    /// s7rtd in-process only: service time, wake-up, allocations, minor faults.
    service: Option<Histogram<u64>>,
    wakeup: Option<Histogram<u64>>,
    allocs: Option<u64>,
    minor_faults: Option<u64>,
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

/// Runs cyclictest on the RT CPU with the loop's priority and interval.
fn cyclictest(o: &Opts, secs: u64, notes: &mut Vec<String>, label: &str) -> Option<Series> {
    let args = [
        "-m".to_string(),
        "-q".to_string(),
        format!("-p{}", o.priority),
        format!("-a{}", o.rt_cpu),
        "-t1".to_string(),
        format!("-i{}", o.cycle_us),
        format!("-D{secs}"),
        "-h20000".to_string(),
    ];
    match Command::new("cyclictest").args(&args).output() {
        Ok(out) if out.status.success() => {
            match report::parse_cyclictest(&String::from_utf8_lossy(&out.stdout)) {
                Ok(h) => {
                    notes.push(format!("{label}: `cyclictest {}`", args.join(" ")));
                    Some(Series::new(label, h))
                }
                Err(e) => {
                    notes.push(format!("{label}: cyclictest output unreadable: {e}"));
                    None
                }
            }
        }
        Ok(out) => {
            notes.push(format!(
                "{label}: cyclictest failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            None
        }
        Err(e) => {
            notes.push(format!(
                "{label}: SKIPPED, cyclictest not runnable ({e}); install Debian's rt-tests: apt-get install -y rt-tests"
            ));
            None
        }
    }
}

fn s7rtd_phase(
    o: &Opts,
    cfg: &Config,
    conns: usize,
    d: Duration,
) -> anyhow::Result<(Phase, Vec<String>)> {
    let mut server = Server::start(cfg)?;
    let missing = server.missing.clone();
    let result = load::run(&spec(server.local_addr(), conns, d, o.load_cpu))?;
    let stopped = server.shutdown()?;
    Ok((
        Phase {
            server: "s7rtd",
            connections: conns,
            result,
            service: Some(stopped.telemetry.service_ns),
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
    conns: usize,
    d: Duration,
    o: &Opts,
) -> anyhow::Result<Phase> {
    Ok(Phase {
        server,
        connections: conns,
        result: load::run(&spec(addr, conns, d, o.load_cpu))?,
        service: None,
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
fn start_snap7(mut cmd: Command) -> anyhow::Result<Child> {
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

fn stop_child(mut child: Child) -> anyhow::Result<()> {
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

fn requests(addr: SocketAddr, n: u64) -> anyhow::Result<()> {
    let mut c = Client::connect(addr, 0, 1, 480)?;
    let mut buf = [0u8; 4];
    for _ in 0..n {
        c.read(Area::DataBlock, 1, 0, &mut buf)?;
    }
    Ok(())
}

/// Instructions of one callgrind run of s7rtd serving `n` requests.
fn callgrind_s7rtd(dir: &Path, n: u64) -> anyhow::Result<u64> {
    let out = dir.join(format!("callgrind.s7rtd.{n}.out"));
    let cfg = dir.join("callgrind-s7rtd.toml");
    // A 100 ms cycle: idle cycle ticks would otherwise add instructions that depend on how
    // long valgrind takes, not on the number of requests.
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\n[rt]\nenabled = false\ncycle_us = 100000\n",
    )?;
    let mut child = Command::new("valgrind")
        .args(["--tool=callgrind", "-q", "--separate-threads=yes"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(env!("CARGO_BIN_EXE_s7rtd"))
        .arg("--config")
        .arg(&cfg)
        .args(["--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null()) // valgrind warns on every epoll_pwait2 (unknown to it)
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("s7rtd: listening on ")
        .with_context(|| format!("unexpected s7rtd output {line:?}"))?
        .parse()?;
    let r = requests(addr, n);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait()?;
    r?;
    serving_thread_total(&out)
}

/// Instructions of the busiest thread of a `--separate-threads=yes` callgrind run (files
/// `OUT-01`, `OUT-02`, …): the thread that served the requests. Counting it alone keeps
/// threads that wake on wall-clock timers (housekeeping, a main thread polling for signals)
/// out of a per-request figure, for s7rtd and Snap7 alike.
fn serving_thread_total(out: &Path) -> anyhow::Result<u64> {
    let dir = out.parent().context("callgrind output has no folder")?;
    let prefix = format!(
        "{}-",
        out.file_name().and_then(|n| n.to_str()).unwrap_or_default()
    );
    let mut best = None;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with(&prefix) {
            let total = report::callgrind_total(&std::fs::read_to_string(&path)?);
            best = best.max(total);
            let _ = std::fs::remove_file(&path);
        }
    }
    let _ = std::fs::remove_file(out);
    best.context("no per-thread totals in callgrind output")
}

fn callgrind_snap7(dir: &Path, so: &str, n: u64) -> anyhow::Result<u64> {
    let out = dir.join(format!("callgrind.snap7.{n}.out"));
    let port = servers::free_port()?;
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "-q", "--separate-threads=yes"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe()?)
        .args(["--serve-snap7", so, &port.to_string()])
        .stderr(Stdio::null());
    let child = start_snap7(cmd)?;
    let r = requests(SocketAddr::from(([127, 0, 0, 1], port)), n);
    stop_child(child)?;
    r?;
    serving_thread_total(&out)
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
            callgrind: Some((2_000, 10_000)),
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
    core_affinity::set_for_current(core_affinity::CoreId { id: o.load_cpu });
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
            for (i, &c) in CONNECTIONS.iter().enumerate() {
                progress(&format!("s7rtd, {c} connection(s)"));
                let (p, _) = s7rtd_phase(&o, &cfg, c, d.load[i])?;
                anyhow::ensure!(
                    p.result.errors == 0,
                    "s7rtd load failed: {:?}",
                    p.result.first_error
                );
                phases.push(p);
            }
            // The same server with its cycle on a timerfd armed once: separates the cost of
            // programming a timer for every wait (epoll_pwait2 timeout) from the request path.
            progress("s7rtd with cycle_timer = timerfd, 1 connection(s)");
            let mut tcfg = cfg.clone();
            tcfg.rt.cycle_timer = s7rt::event_loop::CycleTimer::Timerfd;
            let (mut p, _) = s7rtd_phase(&o, &tcfg, 1, d.load[0])?;
            p.server = TIMERFD;
            anyhow::ensure!(
                p.result.errors == 0,
                "s7rtd (timerfd) load failed: {:?}",
                p.result.first_error
            );
            phases.push(p);
        }
        Some(addr) => {
            notes.push(format!(
                "s7rtd: an already running daemon at {addr} was measured (its in-loop histograms are in its own log and histogram files, not here)"
            ));
            for (i, &c) in CONNECTIONS.iter().enumerate() {
                progress(&format!("s7rtd at {addr}, {c} connection(s)"));
                phases.push(external_phase("s7rtd", addr, c, d.load[i], &o)?);
            }
        }
    }

    let floor = Floor::start(placement)?;
    for (i, &c) in CONNECTIONS.iter().enumerate() {
        progress(&format!("floor, {c} connection(s)"));
        let p = external_phase("floor", floor.addr, c, d.load[i], &o)?;
        anyhow::ensure!(
            p.result.errors == 0,
            "floor load failed: {:?}",
            p.result.first_error
        );
        phases.push(p);
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
                    for (i, &c) in CONNECTIONS.iter().enumerate() {
                        progress(&format!("Snap7, {c} connection(s)"));
                        match external_phase("Snap7", addr, c, d.load[i], &o) {
                            Ok(p) if p.result.errors == 0 => phases.push(p),
                            Ok(p) => notes.push(format!(
                                "Snap7, {c} connection(s): {} errors, first: {:?}",
                                p.result.errors, p.result.first_error
                            )),
                            Err(e) => notes.push(format!("Snap7, {c} connection(s): {e:#}")),
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
                    "method": "(Ir(large) - Ir(small)) / (large - small) of the serving thread (the busiest thread, valgrind --tool=callgrind --separate-threads=yes), one connection, 4-byte DB reads",
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

struct Report {
    fifo: bool,
    rt_missing: Vec<String>,
    ct_before: Option<Series>,
    ct_after: Option<Series>,
    idle_wakeup: Option<(Histogram<u64>, Option<u64>, u64, u64)>,
    phases: Vec<Phase>,
    instructions: serde_json::Value,
    ir_ratio: Option<f64>,
    notes: Vec<String>,
}

/// Name of the diagnostic phase: s7rtd with `cycle_timer = timerfd`.
const TIMERFD: &str = "s7rtd timerfd";

fn find<'a>(phases: &'a [Phase], server: &str, conns: usize) -> Option<&'a Phase> {
    phases
        .iter()
        .find(|p| p.server == server && p.connections == conns)
}

fn write_report(
    dir: &Path,
    o: &Opts,
    machine: &Machine,
    d: &Durations,
    r: Report,
) -> anyhow::Result<()> {
    let mut series: Vec<Series> = Vec::new();
    let ct = match (&r.ct_before, &r.ct_after) {
        (Some(a), Some(b)) => {
            let mut h = a.hist.clone();
            h.add(&b.hist).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            Some(Series::new("cyclictest (before+after)", h))
        }
        (Some(a), None) | (None, Some(a)) => Some(a.clone()),
        (None, None) => None,
    };
    let wake = r
        .idle_wakeup
        .as_ref()
        .map(|(h, ..)| Series::new("s7rtd cycle wake-up (idle)", h.clone()));
    let mut wake_plot: Vec<Series> = Vec::new();
    wake_plot.extend(wake.clone());
    wake_plot.extend(r.ct_before.clone());
    wake_plot.extend(r.ct_after.clone());
    let mut rtt: Vec<Vec<Series>> = vec![Vec::new(); CONNECTIONS.len()];
    let mut service: Vec<Series> = Vec::new();
    let mut throughput = serde_json::Map::new();
    let mut allocs_total: Option<u64> = r.idle_wakeup.as_ref().and_then(|w| w.1);
    let mut faults_total: Option<u64> = r.idle_wakeup.as_ref().map(|w| w.2);
    for p in &r.phases {
        let i = CONNECTIONS
            .iter()
            .position(|&c| c == p.connections)
            .unwrap_or(0);
        let name = format!("{} round trip, {} conn", p.server, p.connections);
        rtt[i].push(Series::new(&name, p.result.rtt.clone()));
        throughput.insert(
            format!("{} {} conn", p.server, p.connections),
            json!({"requests_per_s": p.result.throughput(), "requests": p.result.requests, "seconds": p.result.elapsed.as_secs_f64()}),
        );
        if let Some(s) = &p.service {
            service.push(Series::new(
                &format!("{} service time, {} conn", p.server, p.connections),
                s.clone(),
            ));
        }
        if let Some(w) = &p.wakeup {
            series.push(Series::new(
                &format!("{} cycle wake-up, {} conn load", p.server, p.connections),
                w.clone(),
            ));
        }
        // Only s7rtd phases run in this process and carry these; a missing counter
        // anywhere makes the total unknown rather than understated.
        if p.server.starts_with("s7rtd") && r.idle_wakeup.is_some() {
            allocs_total = allocs_total.zip(p.allocs).map(|(a, b)| a + b);
            faults_total = faults_total.zip(p.minor_faults).map(|(a, b)| a + b);
        }
    }

    // Plots.
    let mut plots = Vec::new();
    let mut plot = |file: &str, title: &str, s: &[Series]| {
        if s.is_empty() {
            return;
        }
        let refs: Vec<&Series> = s.iter().collect();
        match plot::histogram_svg(&dir.join(file), title, &refs) {
            Ok(()) => plots.push((file.to_string(), title.to_string())),
            Err(e) => eprintln!("[jitter] plot {file}: {e:#}"),
        }
    };
    plot(
        "wakeup.svg",
        "Cycle wake-up latency: s7rtd loop vs cyclictest (idle)",
        &wake_plot,
    );
    for (i, c) in CONNECTIONS.iter().enumerate() {
        plot(
            &format!("rtt-{c}conn.svg"),
            &format!("Round trip, {c} connection(s), 4-byte DB read"),
            &rtt[i],
        );
    }
    plot("service.svg", "s7rtd service time (in the loop)", &service);

    // Every series in one list, with .hgrm files.
    let mut all: Vec<&Series> = Vec::new();
    all.extend(wake_plot.iter());
    all.extend(ct.iter());
    all.extend(series.iter());
    all.extend(service.iter());
    all.extend(rtt.iter().flatten());
    let hdir = dir.join("hgrm");
    std::fs::create_dir_all(&hdir)?;
    for s in &all {
        let slug: String = s
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        std::fs::write(hdir.join(format!("{slug}.hgrm")), hgrm::to_hgrm(&s.hist))?;
    }

    // Targets.
    let p = |server: &str, c: usize| find(&r.phases, server, c).map(|p| p.result.rtt.clone());
    let q = |h: Option<Histogram<u64>>, q: f64| h.map(|h| h.value_at_quantile(q) as f64);
    let tp = |server: &str, c: usize| find(&r.phases, server, c).map(|p| p.result.throughput());
    let wake_h = wake.as_ref().map(|s| s.hist.clone());
    let ct_h = ct.as_ref().map(|s| s.hist.clone());
    let svc1 = find(&r.phases, "s7rtd", 1).and_then(|p| p.service.clone());
    let target = |what: &str, measured: Option<f64>, limit: f64, bound: Bound, unit: &str| Target {
        what: what.to_string(),
        measured,
        limit,
        bound,
        unit: unit.to_string(),
        note: String::new(),
    };
    let mut targets = vec![
        target(
            "cycle wake-up p50, s7rtd idle / cyclictest",
            ratio(q(wake_h.clone(), 0.5), q(ct_h.clone(), 0.5)),
            1.10,
            Bound::AtMost,
            "×",
        ),
        target(
            "cycle wake-up p99, s7rtd idle / cyclictest",
            ratio(q(wake_h.clone(), 0.99), q(ct_h.clone(), 0.99)),
            1.10,
            Bound::AtMost,
            "×",
        ),
        target(
            "service time p99.9, 1 conn",
            q(svc1.clone(), 0.999).map(|v| v / 1000.0),
            10.0,
            Bound::AtMost,
            "µs",
        ),
        target(
            "service time p99.99, 1 conn",
            q(svc1.clone(), 0.9999).map(|v| v / 1000.0),
            20.0,
            Bound::AtMost,
            "µs",
        ),
        target(
            "round trip p50, 1 conn, s7rtd / floor",
            ratio(q(p("s7rtd", 1), 0.5), q(p("floor", 1), 0.5)),
            1.10,
            Bound::AtMost,
            "×",
        ),
        target(
            "round trip p50, 1 conn, s7rtd / Snap7",
            ratio(q(p("s7rtd", 1), 0.5), q(p("Snap7", 1), 0.5)),
            0.75,
            Bound::AtMost,
            "×",
        ),
        target(
            "round trip p50, 1 conn, s7rtd timerfd / floor (diagnostic)",
            ratio(q(p(TIMERFD, 1), 0.5), q(p("floor", 1), 0.5)),
            1.10,
            Bound::AtMost,
            "×",
        ),
        target(
            "round trip p50, 1 conn, s7rtd timerfd / Snap7 (diagnostic)",
            ratio(q(p(TIMERFD, 1), 0.5), q(p("Snap7", 1), 0.5)),
            0.75,
            Bound::AtMost,
            "×",
        ),
        target(
            "throughput, 8 conn, s7rtd / Snap7",
            ratio(tp("s7rtd", 8), tp("Snap7", 8)),
            1.3,
            Bound::AtLeast,
            "×",
        ),
        target(
            "round trip p99, 64 conn, s7rtd / Snap7",
            ratio(q(p("s7rtd", 64), 0.99), q(p("Snap7", 64), 0.99)),
            0.25,
            Bound::AtMost,
            "×",
        ),
        target(
            "RT-thread heap allocations while serving",
            allocs_total.map(|v| v as f64),
            0.0,
            Bound::AtMost,
            "",
        ),
        target(
            "RT-thread minor page faults while serving",
            faults_total.map(|v| v as f64),
            0.0,
            Bound::AtMost,
            "",
        ),
        target(
            "user-space instructions per request, s7rtd / Snap7",
            r.ir_ratio,
            1.0 / 3.0,
            Bound::AtMost,
            "×",
        ),
    ];
    let fmt_us = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.1} µs", v / 1000.0));
    let ctx = NoteContext {
        ct_p90: format!(
            "{} before, {} after",
            fmt_us(q(r.ct_before.as_ref().map(|s| s.hist.clone()), 0.9)),
            fmt_us(q(r.ct_after.as_ref().map(|s| s.hist.clone()), 0.9))
        ),
        p99_64: format!(
            "s7rtd {}, floor {}, Snap7 {}; s7rtd service time p99 {}",
            fmt_us(q(p("s7rtd", 64), 0.99)),
            fmt_us(q(p("floor", 64), 0.99)),
            fmt_us(q(p("Snap7", 64), 0.99)),
            fmt_us(q(
                find(&r.phases, "s7rtd", 64).and_then(|p| p.service.clone()),
                0.99
            )),
        ),
        instructions: format!(
            "s7rtd {}, Snap7 {}",
            r.instructions
                .get("s7rtd")
                .map_or("–".into(), |v| v.to_string()),
            r.instructions
                .get("snap7")
                .map_or("–".into(), |v| v.to_string())
        ),
    };
    for t in &mut targets {
        t.note = note_for(&t.what, t.verdict(), &ctx);
    }

    let placement = format!(
        "servers (s7rtd's RT thread, floor threads, Snap7 process) on CPU {} {}; load generator, housekeeping and the bench on CPU {}; cycle {} µs; cyclictest `-p{} -a{} -i{}`",
        o.rt_cpu,
        if r.fifo { format!("SCHED_FIFO {}", o.priority) } else { "SCHED_OTHER".to_string() },
        o.load_cpu,
        o.cycle_us,
        o.priority,
        o.rt_cpu,
        o.cycle_us
    );
    let figures = json!({
        "command": o.command,
        "machine": machine,
        "placement": placement,
        "sched_fifo": r.fifo,
        "rt_measures_missing": r.rt_missing,
        "durations_s": {
            "cyclictest_each": d.cyclictest_s,
            "s7rtd_idle": d.idle.as_secs_f64(),
            "load": CONNECTIONS.iter().zip(d.load).map(|(c, d)| json!({"connections": c, "seconds": d.as_secs_f64()})).collect::<Vec<_>>(),
        },
        "series_ns": all.iter().map(|s| json!({"name": s.name, "percentiles": s.percentiles})).collect::<Vec<_>>(),
        "throughput": throughput,
        "rt_thread": {
            "allocations_while_serving": allocs_total,
            "minor_faults_while_serving": faults_total,
            "overruns_idle": r.idle_wakeup.as_ref().map(|w| w.3),
        },
        "instructions_per_request": r.instructions,
        "targets": targets,
        "notes": r.notes,
    });
    std::fs::write(
        dir.join("figures.json"),
        serde_json::to_string_pretty(&figures)?,
    )?;

    let mut md = String::new();
    md.push_str("# s7rt jitter report\n\n");
    md.push_str(&format!(
        "Command: `{}`\n\nPlacement: {placement}.\n\n",
        o.command
    ));
    md.push_str("All figures below were measured in this one run on this machine and placement; compare only within it. Every number comes from `figures.json`, written by the bench.\n\n");
    md.push_str("## Targets\n\n");
    md.push_str(&report::targets_table(&targets));
    md.push_str("\n## Cycle wake-up latency (idle)\n\n");
    let mut wl: Vec<&Series> = wake_plot.iter().collect();
    wl.extend(ct.iter());
    md.push_str(&report::series_table(&wl));
    md.push_str(
        "\n![wake-up](wakeup.svg)\n\n## Round trip (client side, 4-byte DB read, closed loop)\n\n",
    );
    let rl: Vec<&Series> = rtt.iter().flatten().collect();
    md.push_str(&report::series_table(&rl));
    md.push_str("\n| server, connections | requests/s |\n|---|---:|\n");
    for p in &r.phases {
        md.push_str(&format!(
            "| {} {} | {:.0} |\n",
            p.server,
            p.connections,
            p.result.throughput()
        ));
    }
    for c in CONNECTIONS {
        md.push_str(&format!("\n![round trip {c}](rtt-{c}conn.svg)\n"));
    }
    md.push_str("\n## s7rtd in the loop\n\nService time: from the wake-up that found the socket readable (or the read that returned a later request of the same turn) to the moment the answer was handed to the kernel.\n\n");
    let mut sl: Vec<&Series> = service.iter().collect();
    sl.extend(series.iter());
    md.push_str(&report::series_table(&sl));
    md.push_str(&format!(
        "\n![service](service.svg)\n\nRT thread while serving (idle phase and every load phase): {} heap allocations, {} minor page faults; overruns while idle: {}.\n",
        allocs_total.map_or("not measured".to_string(), |v| v.to_string()),
        faults_total.map_or("not measured".to_string(), |v| v.to_string()),
        r.idle_wakeup.as_ref().map_or("not measured".to_string(), |w| w.3.to_string()),
    ));
    md.push_str(&format!(
        "\n## Instructions per request (callgrind)\n\n```json\n{}\n```\n",
        serde_json::to_string_pretty(&r.instructions)?
    ));
    md.push_str("\n## Machine\n\n");
    md.push_str(&machine.markdown());
    if !r.rt_missing.is_empty() {
        md.push_str("\nReal-time measures s7rtd could not apply:\n\n");
        for m in &r.rt_missing {
            md.push_str(&format!("- {m}\n"));
        }
    }
    md.push_str("\n## Notes\n\n");
    for n in &r.notes {
        md.push_str(&format!("- {n}\n"));
    }
    md.push_str(&format!(
        "\nFiles: `figures.json` (every figure), `hgrm/*.hgrm` (full distributions, HdrHistogram percentile format), plots: {}.\n",
        plots.iter().map(|(f, _)| format!("`{f}`")).collect::<Vec<_>>().join(", ")
    ));
    let mut f = std::fs::File::create(dir.join("report.md"))?;
    f.write_all(md.as_bytes())?;
    println!("{md}");
    Ok(())
}

/// Figures of this run that the notes quote.
struct NoteContext {
    ct_p90: String,
    p99_64: String,
    instructions: String,
}

/// What a missed target means and what would fix it (empty when met). Written once, in
/// code, so every run's report carries the same explanation for the same miss; the figures
/// it quotes come from this run.
fn note_for(what: &str, verdict: &str, c: &NoteContext) -> String {
    if verdict == "met" {
        return String::new();
    }
    if verdict == "not measured" {
        return "a phase it needs was skipped: see Notes".into();
    }
    if what.starts_with("cycle wake-up") {
        format!("the loop sleeps in epoll_pwait2 with an hrtimer timeout, the same kernel path as cyclictest's clock_nanosleep, plus the epoll bookkeeping and a clock read; on this VM the vCPU's wake-up cost moves between phases by more than the 10 % margin (cyclictest alone, p90: {}), so one idle phase per run is not enough to separate them; fix: longer and repeated phases, and an isolated CPU on a PREEMPT_RT box (docs/realtime.md)", c.ct_p90)
    } else if what.starts_with("service time") {
        "on loopback the send system call runs the receiving TCP stack and wakes the client inside the server's service time, and hypervisor preemptions of the vCPU land in it; the tail is kernel and VM, not the request path (no allocation, no lock and a bounded number of system calls per request, docs/realtime.md); fix: a real NIC, an isolated CPU, PREEMPT_RT, and SO_TIMESTAMPING receive timestamps (not implemented yet)".into()
    } else if what.contains("timerfd") {
        "with no timer programmed per wait, what is left is one more system call per request than a blocking server (epoll_pwait before the read) and the loop's bookkeeping (clock reads, histograms, counters); the timerfd cycle is not the default because on PREEMPT_RT it expires in the FIFO-1 ktimers thread".into()
    } else if what.starts_with("round trip p50") {
        "every blocking wait of s7rtd's loop carries the cycle deadline as an epoll_pwait2 timeout, so the kernel arms an hrtimer when the loop goes to sleep and cancels it when a request wakes it first; on this VM programming the timer is a hypervisor exit, which the floor's and Snap7's blocking reads (no timeout) never pay; the request path itself is shorter (service time p50 above); fix: compare on bare metal, where timer programming is cheap, or run the cycle from a timerfd armed once (not the default: on PREEMPT_RT a timerfd expires in the FIFO-1 ktimers thread, DESIGN.md)".into()
    } else if what.starts_with("round trip p99, 64") {
        format!("p99 at 64 connections in this run: {}. s7rtd answers all connections from one thread, one after another, so a request that arrives while a turn serves the others waits for them, and the 64 client threads share one load vCPU, so client-side queuing also dominates; fix: load from more CPUs or another machine, and for many busy connections a second loop on another CPU (connections sharded between loops)", c.p99_64)
    } else if what.starts_with("throughput") {
        "with 8 closed-loop clients on one load vCPU the client side saturates first (compare the floor's throughput); fix: load from more CPUs or another machine".into()
    } else if what.contains("allocations") || what.contains("page faults") {
        "a bug: the RT thread must neither allocate nor fault after start-up; find the call with a breakpoint on malloc in the RT thread".into()
    } else if what.contains("instructions") {
        format!("instructions per request in this run: {}. s7rtd's serving thread pays per request the wake-up bookkeeping of the loop (clock reads for the cycle deadline, the service-time histogram and telemetry counters) besides parsing and answering, work Snap7 does not do; fix: read `callgrind_annotate` of an s7rtd run for the largest self cost (candidates: std's checked Instant arithmetic, replaceable by raw nanosecond counters)", c.instructions)
    } else {
        "see Notes".into()
    }
}
