//! Start-up in the order the real-time rules demand, and shutdown.
//!
//! parse config (caller) → allocate everything (image, slab, buffers, histograms, queue) →
//! prefault → `mlockall` → start housekeeping → start the RT thread, which pins itself,
//! switches to SCHED_FIFO, holds `/dev/cpu_dma_latency` at 0, prefaults its stack and serves.
//! A measure that cannot be applied is reported (what is missing and how to grant it) and
//! skipped, or refuses the start under `strict`.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Config;
pub use crate::event_loop::Control;
use crate::event_loop::EventLoop;
use crate::events::{Event, EventQueue};
use crate::host::{self, Host};
use crate::housekeeping;
use crate::persist::{self, Persistence};
use crate::plc::{Cpu, Image, Now};
use crate::rt::{self, Missing};
use crate::telemetry::{Exchange, Telemetry};

/// Stack of the RT thread; all of it that the loop can use is prefaulted.
const RT_STACK: usize = 1024 * 1024;
const RT_STACK_PREFAULT: usize = 512 * 1024;

/// What the server hands back when it stops.
#[derive(Debug)]
pub struct Stopped {
    /// Everything the loop measured since start (the sum of every report interval).
    pub telemetry: Telemetry,
    /// The image as the clients left it.
    pub image: Image,
    /// Page faults (minor, major) of the RT thread while serving.
    pub faults_while_serving: (u64, u64),
    /// Heap allocations made by the RT thread while serving, when a counter was installed
    /// with [`set_thread_alloc_counter`].
    pub allocs_while_serving: Option<u64>,
}

/// What the RT thread itself returns.
struct RtStopped {
    image: Image,
    faults_while_serving: (u64, u64),
    allocs_while_serving: Option<u64>,
}

static ALLOC_COUNTER: OnceLock<fn() -> u64> = OnceLock::new();

/// Installs a function returning the number of heap allocations the *calling thread* has
/// made so far (a counting `#[global_allocator]` with a thread-local counter provides one).
/// The RT thread calls it before and after serving and reports the difference in
/// [`Stopped::allocs_while_serving`]. Process-wide; the first call wins.
pub fn set_thread_alloc_counter(counter: fn() -> u64) {
    let _ = ALLOC_COUNTER.set(counter);
}

/// A running server.
pub struct Server {
    local_addr: SocketAddr,
    control: Arc<Control>,
    rt_thread: Option<JoinHandle<Result<RtStopped, String>>>,
    housekeeping: Option<JoinHandle<Telemetry>>,
    dump: Arc<AtomicBool>,
    hk_done: Arc<AtomicBool>,
    queue: EventQueue,
    host: Host,
    persistence: Option<Persistence>,
    /// Real-time measures that could not be applied (empty when all were).
    pub missing: Vec<String>,
    /// Every real-time measure with what became of it.
    pub rt_status: rt::Status,
    metrics: Option<crate::metrics::Exporter>,
    /// The cycle timer in use and why (its `Display` is the log line).
    pub cycle_timer: rt::cycle::CycleChoice,
}

impl Server {
    /// Starts the server described by `cfg`.
    pub fn start(cfg: &Config) -> anyhow::Result<Server> {
        match crate::fd_limit::ensure(cfg.max_connections) {
            Ok(crate::fd_limit::Budget::Raised { needed, from, to }) => log::info!(
                "RLIMIT_NOFILE soft limit raised from {from} to {to} ({needed} descriptors needed)"
            ),
            Ok(crate::fd_limit::Budget::Enough { .. }) => {}
            Err(shortfall) => anyhow::bail!("{shortfall}"),
        }
        // Start-up content (DB init files, tag initial values), then retentive data over it,
        // all before the listener exists.
        let mut image = cfg.initial_image().map_err(|e| anyhow::anyhow!("{e}"))?;
        let tags = Arc::new(cfg.tag_table().map_err(|e| anyhow::anyhow!("{e}"))?);
        let persist_settings = cfg.persist_settings(&crate::tags::config::retained(&tags));
        let restored = match &persist_settings {
            Some(s) => {
                let r = persist::restore(s, &mut image).map_err(anyhow::Error::msg)?;
                for (level, msg) in &r.messages {
                    log::log!(*level, "{msg}");
                }
                Some(r.newest_seen)
            }
            None => None,
        };
        let listener = TcpListener::bind(cfg.listen).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE; or listen on another port with --listen)"
            } else {
                ""
            };
            anyhow::anyhow!("cannot listen on {}: {e}{hint}", cfg.listen)
        })?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let listener: OwnedFd = listener.into();

        image.prefault();
        let queue = EventQueue::new(cfg.event_queue);
        let control = Arc::new(Control::default());
        let cpu_spec = cfg.cpu_spec().map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut cpu = Cpu::new(&cpu_spec, Now::read().wall_ms());
        let cpu_run = cpu.mode() == crate::plc::cpu::Mode::Run;
        cpu.staging.prefault();
        cpu.access = cfg.access().map_err(|e| anyhow::anyhow!("{e}"))?;
        cpu.access.prefault();
        let cycle_timer = cfg.rt.cycle_timer.choose(&rt::cycle::Platform::detect());
        let mut loop_config = cfg.loop_config();
        loop_config.cycle_timer = cycle_timer.timer;
        let mut event_loop = EventLoop::new(
            listener,
            image,
            cpu,
            queue.clone(),
            control.clone(),
            loop_config,
        )?;
        event_loop.prefault();
        let (host, port) = host::pair(
            &cfg.image_spec(),
            &cfg.host,
            crate::host::tag_names(&tags),
            tags.clone(),
        );
        event_loop.attach_host(port);
        let mut persistence = None;
        if let (Some(s), Some(newest)) = (persist_settings, restored) {
            let (p, snapshotter) = Persistence::start(s, newest)?;
            event_loop.attach_persist(snapshotter);
            persistence = Some(p);
        }
        let exchange = Exchange::new(2);
        event_loop.set_reporting(
            exchange.clone(),
            Duration::from_millis(cfg.telemetry.interval_ms),
        );

        let metrics = crate::metrics::Metrics::new(cpu_run);
        let hk_done = Arc::new(AtomicBool::new(false));
        let dump = Arc::new(AtomicBool::new(false));
        let housekeeping = housekeeping::spawn(
            queue.clone(),
            hk_done.clone(),
            housekeeping::Reporting {
                exchange: exchange.clone(),
                histogram_dir: cfg.telemetry.histogram_dir.clone(),
                dump: dump.clone(),
                persist: persistence.as_ref().map(|p| p.status()),
                metrics: Some(metrics.clone()),
            },
        )?;

        // The metrics endpoint's threads exist before mlockall too. A port in use only costs
        // the metrics (logged), never the S7 service.
        let exporter = crate::metrics::Exporter::start(&cfg.metrics, metrics.clone());

        // Both threads exist (their stacks mapped) before mlockall, so locking covers them
        // and no thread creation has to fit under RLIMIT_MEMLOCK afterwards.
        let (go_tx, go_rx) = mpsc::channel::<bool>();
        let (report_tx, report_rx) = mpsc::channel::<Result<Vec<Missing>, Missing>>();
        let rt_cfg = cfg.rt.clone();
        let rt_queue = queue.clone();
        let rt_thread = std::thread::Builder::new()
            .name("s7rt-rt".into())
            .stack_size(RT_STACK)
            .spawn(move || {
                rt::sys::block_signals();
                if go_rx.recv() != Ok(true) {
                    return Err("start-up abandoned".to_string());
                }
                let mut missing = Vec::new();
                let mut _dma = None;
                if rt_cfg.enabled {
                    let steps: [&dyn Fn() -> Result<(), Missing>; 2] =
                        [&|| rt::pin_to_cpu(rt_cfg.cpu), &|| {
                            rt::set_fifo(rt_cfg.priority)
                        }];
                    for step in steps {
                        if let Err(m) = step() {
                            if rt_cfg.strict {
                                let _ = report_tx.send(Err(m));
                                return Err("refused to start".to_string());
                            }
                            missing.push(m);
                        }
                    }
                    if rt_cfg.dma_latency {
                        match rt::hold_dma_latency() {
                            Ok(f) => _dma = Some(f),
                            Err(m) if rt_cfg.strict => {
                                let _ = report_tx.send(Err(m));
                                return Err("refused to start".to_string());
                            }
                            Err(m) => missing.push(m),
                        }
                    }
                }
                rt::prefault_stack(RT_STACK_PREFAULT);
                let _ = report_tx.send(Ok(missing));
                drop(report_tx);
                rt_queue.push(Event::Listening(local_addr));
                let alloc_counter = ALLOC_COUNTER.get().copied();
                let allocs_before = alloc_counter.map(|f| f());
                let before = rt::sys::thread_faults();
                let result = event_loop.run();
                let after = rt::sys::thread_faults();
                let allocs = alloc_counter
                    .zip(allocs_before)
                    .map(|(f, b)| f().saturating_sub(b));
                exchange.hand_over_last(std::mem::take(&mut *event_loop.telemetry));
                result.map_err(|e| format!("event loop failed: {e}"))?;
                Ok(RtStopped {
                    image: event_loop.into_memory(),
                    faults_while_serving: (after.0 - before.0, after.1 - before.1),
                    allocs_while_serving: allocs,
                })
            })?;

        let mut missing: Vec<Missing> = Vec::new();
        if cfg.rt.enabled {
            if let Err(m) = rt::lock_memory() {
                missing.push(m);
            }
        }
        let refuse = cfg.rt.strict && !missing.is_empty();
        let _ = go_tx.send(!refuse);

        let mut missing_measures: Vec<rt::Measure> = missing.iter().map(|m| m.measure).collect();
        let mut server = Server {
            local_addr,
            control,
            rt_thread: Some(rt_thread),
            housekeeping: Some(housekeeping),
            hk_done,
            dump,
            queue,
            host,
            persistence,
            missing: missing.iter().map(|m| m.to_string()).collect(),
            rt_status: rt::Status::new(&cfg.rt, &[]),
            metrics: exporter,
            cycle_timer,
        };
        if refuse {
            let _ = server.shutdown();
            let m = server.missing.first().cloned().unwrap_or_default();
            anyhow::bail!("--strict-rt: {m}");
        }
        match report_rx.recv() {
            Ok(Ok(more)) => {
                server.missing.extend(more.iter().map(|m| m.to_string()));
                missing_measures.extend(more.iter().map(|m| m.measure));
            }
            Ok(Err(m)) => {
                let _ = server.shutdown();
                anyhow::bail!("--strict-rt: {m}");
            }
            Err(_) => {
                let e = server
                    .shutdown()
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                anyhow::bail!("the RT thread ended during start-up: {e}");
            }
        }
        server.rt_status = rt::Status::new(&cfg.rt, &missing_measures);
        metrics.set_rt_status(&server.rt_status);
        Ok(server)
    }

    /// A handle for the host application: write and read the image, receive client
    /// writes (see [`crate::host`]). Clone it freely.
    pub fn host(&self) -> Host {
        self.host.clone()
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Flags shared with the RT thread (stop, heartbeat).
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Set this flag (e.g. from a SIGUSR1 handler) to have housekeeping write the histogram
    /// files now (when `[telemetry] histogram_dir` is configured).
    pub fn dump_flag(&self) -> Arc<AtomicBool> {
        self.dump.clone()
    }

    /// Events dropped because the queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.queue.dropped()
    }

    /// Where the metrics endpoint listens (none when off or when it could not bind).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.local_addr())
    }

    /// True once the RT thread has ended (stopped or failed).
    pub fn is_finished(&self) -> bool {
        self.rt_thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the loop, closes every connection, drains the event queue and returns what the
    /// RT thread measured.
    pub fn shutdown(&mut self) -> anyhow::Result<Stopped> {
        if let Some(m) = self.metrics.take() {
            m.stop();
        }
        self.control.stop.store(true, Ordering::Relaxed);
        let result = match self.rt_thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("RT thread panicked"))?
                .map_err(anyhow::Error::msg),
            None => Err(anyhow::anyhow!("already stopped")),
        };
        self.host.mark_stopped();
        // The final snapshot, on this thread (neither the RT thread nor the logging one),
        // before housekeeping stops so its messages are still logged.
        if let (Ok(rt), Some(p)) = (&result, self.persistence.as_mut()) {
            match p.finish(&rt.image) {
                Ok(path) => log::info!("retentive data saved to {}", path.display()),
                Err(e) => log::error!("{e}"),
            }
        }
        self.persistence = None;
        self.hk_done.store(true, Ordering::Release);
        let telemetry = match self.housekeeping.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow::anyhow!("housekeeping thread panicked"))?,
            None => Telemetry::default(),
        };
        let rt = result?;
        Ok(Stopped {
            telemetry,
            image: rt.image,
            faults_while_serving: rt.faults_while_serving,
            allocs_while_serving: rt.allocs_while_serving,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.rt_thread.is_some() {
            let _ = self.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Client;
    use crate::wire::var::Area;

    #[test]
    fn interval_snapshots_add_up_and_are_written_as_histogram_files() {
        let dir = std::env::temp_dir().join(format!("s7rt-hgrm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cfg = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        cfg.rt.enabled = false;
        cfg.telemetry.interval_ms = 100;
        cfg.telemetry.histogram_dir = Some(dir.clone());
        let mut server = Server::start(&cfg).unwrap();
        let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
        let mut buf = [0u8; 4];
        let end = std::time::Instant::now() + Duration::from_millis(350);
        let mut reads = 0;
        while std::time::Instant::now() < end {
            c.read(Area::DataBlock, 1, 0, &mut buf).unwrap();
            reads += 1;
        }
        drop(c);
        let stopped = server.shutdown().unwrap();
        let t = &stopped.telemetry;
        assert_eq!(t.counters.reads, reads, "no interval was lost");
        assert_eq!(t.counters.setups, 1);
        // COTP confirm and setup answer are timed too.
        assert_eq!(t.service_ns.len(), reads + 2);
        let counters = std::fs::read_to_string(dir.join("counters.txt")).unwrap();
        assert!(counters.contains(&format!("reads {reads}\n")), "{counters}");
        let rows = crate::telemetry::hgrm::parse_hgrm(
            &std::fs::read_to_string(dir.join("service_ns.hgrm")).unwrap(),
        );
        assert_eq!(rows.last().unwrap().2, reads + 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
