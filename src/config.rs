//! The TOML configuration: listener, limits, real-time placement and the process image.
//!
//! Every field has a default, so an empty file (or none) is a working configuration. Every
//! error names the key and the problem.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::access::{Access, RuleConfig};
use crate::admission;
use crate::plc::{BlockType, CpuSpec, DbSpec, Image, ImageSpec, Personality};
use crate::settings::{Limits, LoopConfig};

pub use crate::settings::CycleTimer;

/// Allowed values of `max_pdu`, as real CPUs negotiate them.
pub const PDU_SIZES: [u16; 3] = [240, 480, 960];

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Connection slots; a connection beyond them is closed at once and counted.
    pub max_connections: usize,
    /// Largest PDU to negotiate: 240, 480 or 960.
    pub max_pdu: u16,
    /// Largest AmQ (parallel jobs) to grant.
    pub max_amq: u16,
    /// Close a connection silent for this many milliseconds.
    pub idle_timeout_ms: u64,
    /// Close a connection that has not finished COTP connect and Setup Communication within
    /// this many milliseconds; when all slots are taken, the oldest such connection makes
    /// room for a newcomer.
    pub handshake_timeout_ms: u64,
    /// Slots one client address may hold at once.
    pub max_connections_per_ip: usize,
    /// Access rules by client network (`[[access]]`); none: every client may do everything.
    pub access: Vec<RuleConfig>,
    /// Capacity of the RT → housekeeping event queue.
    pub event_queue: usize,
    /// Real-time settings.
    pub rt: RtConfig,
    /// Telemetry reporting.
    pub telemetry: TelemetryConfig,
    /// The Prometheus metrics endpoint.
    pub metrics: MetricsConfig,
    /// Sizes of I, Q, M, T, C.
    pub areas: Areas,
    /// Data blocks.
    pub db: Vec<DbConfig>,
    /// The CPU a client sees: personality, protection, accepted connections.
    pub cpu: CpuConfig,
    /// The host application's queues (`crate::host`).
    pub host: crate::host::HostConfig,
    /// Retentive data (`crate::persist`).
    pub persist: crate::persist::PersistConfig,
    /// Named, typed values in the image (`[[tag]]`, see [`crate::tags`]).
    pub tag: Vec<crate::tags::TagConfig>,
}

/// `[cpu]`: personality, protection and connection acceptance.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CpuConfig {
    /// Built-in personality (`s7-300`, `s7-1500`) or the path of a personality TOML file.
    pub personality: String,
    /// Overrides of any personality key (`[cpu.identity]`).
    pub identity: toml::Table,
    /// Session password (1–8 characters); without one, protection is level 1.
    pub password: Option<String>,
    /// Protection level 1–3 for connections that have not entered the password:
    /// 2 refuses writes, PLC control, clock setting and download; 3 also reads and upload.
    pub protection_level: u8,
    /// Accept connections to any rack/slot; `false` accepts only the personality's.
    pub accept_any_slot: bool,
    /// Maximum simultaneous PG connections (default: no limit beyond `max_connections`).
    pub max_pg: Option<u16>,
    /// Maximum simultaneous OP (HMI) connections.
    pub max_op: Option<u16>,
    /// Maximum simultaneous S7-basic connections.
    pub max_basic: Option<u16>,
    /// Blocks other than DBs the CPU reports (`{ type = "OB", number = 1 }`).
    pub block: Vec<BlockConfig>,
    /// Clients may download DBs (a downloaded DB replaces the configured DB of the same
    /// number and size). Off: refused like a protected CPU refuses it (0xD241).
    pub allow_download: bool,
    /// Clients may delete DBs (PI `_DELE`). Off: refused with 0xD241.
    pub allow_delete: bool,
}

/// One `[[cpu.block]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlockConfig {
    /// `OB`, `FC` or `FB`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Block number.
    pub number: u16,
}

impl Default for CpuConfig {
    fn default() -> Self {
        CpuConfig {
            personality: "s7-300".into(),
            identity: toml::Table::new(),
            password: None,
            protection_level: 1,
            accept_any_slot: true,
            max_pg: None,
            max_op: None,
            max_basic: None,
            block: Vec::new(),
            allow_download: false,
            allow_delete: false,
        }
    }
}

/// `[rt]`: where and how the event loop runs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RtConfig {
    /// Apply SCHED_FIFO, pinning, mlockall and the PM QoS request at all.
    pub enabled: bool,
    /// CPU to pin the RT thread to.
    pub cpu: usize,
    /// SCHED_FIFO priority (1..=99).
    pub priority: u8,
    /// Cycle period in microseconds.
    pub cycle_us: u64,
    /// Hold /dev/cpu_dma_latency at 0.
    pub dma_latency: bool,
    /// Poll without sleeping (pegs the CPU; only for isolated CPUs).
    pub busy_poll: bool,
    /// What wakes the loop for its cycle: `auto` (default: `epoll` on a PREEMPT_RT kernel,
    /// `timerfd` elsewhere), `epoll` (the cycle deadline is the epoll_pwait2 timeout,
    /// expired in hard-IRQ context on PREEMPT_RT, but a timer is programmed per wait) or
    /// `timerfd` (a periodic timerfd armed once: nothing programmed per wait, but on
    /// PREEMPT_RT it expires in the FIFO-1 ktimers thread). See [`crate::rt::cycle`].
    pub cycle_timer: CycleTimer,
    /// Refuse to start when any real-time measure cannot be applied.
    pub strict: bool,
}

/// `[telemetry]`: how often the RT thread hands its histograms to housekeeping, and where
/// housekeeping writes them (on exit and on SIGUSR1; format in [`crate::telemetry::hgrm`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Report interval in milliseconds: one summary line is logged per interval.
    pub interval_ms: u64,
    /// Directory for `service_ns.hgrm`, `wakeup_ns.hgrm` and `counters.txt` (none: not
    /// written).
    pub histogram_dir: Option<std::path::PathBuf>,
    /// Ask the kernel for software receive timestamps (SO_TIMESTAMPING) and also measure
    /// service time from them (the read then becomes a recvmsg with a control buffer).
    pub rx_timestamps: bool,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            interval_ms: 10_000,
            histogram_dir: None,
            rx_timestamps: true,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint, served by its own ordinary-priority thread from the
/// interval snapshots housekeeping receives (never from the RT thread).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `ADDR:PORT` serving `GET /metrics`; empty turns the endpoint off.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "127.0.0.1:9102".into(),
        }
    }
}

impl MetricsConfig {
    /// The address to serve on, none when off. Call after [`Config::validate`].
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.trim().parse().ok()
    }
}

/// `[areas]`: sizes of the non-DB areas.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Areas {
    /// Inputs (I / E, PE) in bytes.
    pub inputs: usize,
    /// Outputs (Q / A, PA) in bytes.
    pub outputs: usize,
    /// Flags (M, Merker) in bytes.
    pub flags: usize,
    /// Number of timers.
    pub timers: usize,
    /// Number of counters.
    pub counters: usize,
}

/// One `[[db]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DbConfig {
    /// DB number (1..=65535).
    pub number: u16,
    /// Size in bytes (1..=65535).
    pub size: usize,
    /// Refuse client writes with item code 0x03.
    #[serde(default)]
    pub read_only: bool,
    /// Retentive: kept across restarts under `[persist] dir`.
    #[serde(default)]
    pub retain: bool,
    /// Raw bytes the DB starts with (offset 0; at most `size` bytes). A relative path is
    /// relative to the configuration file's directory.
    #[serde(default)]
    pub init_file: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 102)),
            max_connections: 32,
            max_pdu: 960,
            max_amq: 8,
            idle_timeout_ms: 60_000,
            handshake_timeout_ms: admission::DEFAULT_HANDSHAKE_TIMEOUT_MS,
            max_connections_per_ip: admission::DEFAULT_MAX_PER_IP,
            access: Vec::new(),
            event_queue: 4096,
            rt: RtConfig::default(),
            telemetry: TelemetryConfig::default(),
            metrics: MetricsConfig::default(),
            areas: Areas::default(),
            db: vec![
                DbConfig {
                    number: 1,
                    size: 1024,
                    read_only: false,
                    retain: false,
                    init_file: None,
                },
                DbConfig {
                    number: 2,
                    size: 2048,
                    read_only: false,
                    retain: false,
                    init_file: None,
                },
                DbConfig {
                    number: 3,
                    size: 256,
                    read_only: false,
                    retain: false,
                    init_file: None,
                },
            ],
            cpu: CpuConfig::default(),
            host: Default::default(),
            persist: Default::default(),
            tag: Vec::new(),
        }
    }
}

impl Default for RtConfig {
    fn default() -> Self {
        // CPU 1 leaves CPU 0 to housekeeping and interrupts; a single-CPU machine uses 0.
        let cpu = std::thread::available_parallelism().map_or(1, |n| n.get().min(2) - 1);
        RtConfig {
            enabled: true,
            cpu,
            priority: 99,
            cycle_us: 1000,
            dma_latency: true,
            busy_poll: false,
            cycle_timer: CycleTimer::Auto,
            strict: false,
        }
    }
}

impl Default for Areas {
    fn default() -> Self {
        Areas {
            inputs: 256,
            outputs: 256,
            flags: 256,
            timers: 64,
            counters: 64,
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err(key: &str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("config key `{key}`: {problem}"))
}

impl Config {
    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text)
            .map_err(|e| ConfigError(format!("config: {}", e.to_string().trim_end())))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| {
            ConfigError(format!(
                "{}: config: {}",
                path.display(),
                e.to_string().trim_end()
            ))
        })?;
        // Relative DB init files are relative to the file that names them.
        let dir = path.parent().unwrap_or(Path::new("."));
        for db in &mut cfg.db {
            if let Some(f) = db.init_file.as_mut().filter(|f| f.is_relative()) {
                *f = dir.join(&*f);
            }
        }
        cfg.validate()
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))?;
        Ok(cfg)
    }

    /// Checks every value against its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=4096).contains(&self.max_connections) {
            return Err(err(
                "max_connections",
                format!("{} is outside 1..=4096", self.max_connections),
            ));
        }
        if !PDU_SIZES.contains(&self.max_pdu) {
            return Err(err(
                "max_pdu",
                format!("{} is not one of 240, 480, 960", self.max_pdu),
            ));
        }
        if self.telemetry.interval_ms < 100 {
            return Err(err(
                "telemetry.interval_ms",
                format!("{} is below 100", self.telemetry.interval_ms),
            ));
        }
        let metrics = self.metrics.listen.trim();
        if !metrics.is_empty() && metrics.parse::<SocketAddr>().is_err() {
            return Err(err(
                "metrics.listen",
                format!("{metrics:?} is not ADDR:PORT (or \"\" for off)"),
            ));
        }
        if self.max_amq == 0 {
            return Err(err("max_amq", "must be at least 1"));
        }
        if self.idle_timeout_ms == 0 {
            return Err(err("idle_timeout_ms", "must be at least 1"));
        }
        if self.handshake_timeout_ms == 0 {
            return Err(err("handshake_timeout_ms", "must be at least 1"));
        }
        if self.max_connections_per_ip == 0 {
            return Err(err("max_connections_per_ip", "must be at least 1"));
        }
        self.access()?;
        if self.event_queue == 0 {
            return Err(err("event_queue", "must be at least 1"));
        }
        if !(1..=99).contains(&self.rt.priority) {
            return Err(err(
                "rt.priority",
                format!(
                    "{} is outside 1..=99 (SCHED_FIFO priorities)",
                    self.rt.priority
                ),
            ));
        }
        if !(50..=1_000_000).contains(&self.rt.cycle_us) {
            return Err(err(
                "rt.cycle_us",
                format!("{} is outside 50..=1000000", self.rt.cycle_us),
            ));
        }
        let ncpu = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        if self.rt.enabled && self.rt.cpu >= ncpu {
            return Err(err(
                "rt.cpu",
                format!(
                    "CPU {} does not exist (this machine has {ncpu})",
                    self.rt.cpu
                ),
            ));
        }
        for (key, v) in [
            ("areas.inputs", self.areas.inputs),
            ("areas.outputs", self.areas.outputs),
            ("areas.flags", self.areas.flags),
        ] {
            if v > 65536 {
                return Err(err(key, format!("{v} bytes exceeds 65536")));
            }
        }
        for (key, v) in [
            ("areas.timers", self.areas.timers),
            ("areas.counters", self.areas.counters),
        ] {
            if v > 32768 {
                return Err(err(key, format!("{v} exceeds 32768 elements")));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, db) in self.db.iter().enumerate() {
            if db.number == 0 {
                return Err(err(
                    &format!("db[{i}].number"),
                    "DB 0 does not exist; use 1..=65535",
                ));
            }
            if !(1..=65535).contains(&db.size) {
                return Err(err(
                    &format!("db[{i}].size"),
                    format!("{} is outside 1..=65535 bytes", db.size),
                ));
            }
            if !seen.insert(db.number) {
                return Err(err(
                    &format!("db[{i}].number"),
                    format!("DB{} is declared twice", db.number),
                ));
            }
        }
        self.cpu_spec()?;
        self.host.validate().map_err(ConfigError)?;
        crate::persist::validate(self).map_err(ConfigError)?;
        for (i, db) in self.db.iter().enumerate() {
            if let Some(f) = &db.init_file {
                crate::tags::config::read_init_file(f, db.number, db.size)
                    .map_err(|e| err(&format!("db[{i}].init_file"), e))?;
            }
        }
        self.tag_table()?;
        Ok(())
    }

    /// The `[[tag]]` entries checked against the image and each other.
    pub fn tag_table(&self) -> Result<crate::tags::TagTable, ConfigError> {
        crate::tags::config::build(&self.tag, &self.image_spec())
            .map_err(|e| ConfigError(e.to_string()))
    }

    /// The image with its start-up content (DB init files, tag initial values).
    pub fn initial_image(&self) -> Result<Image, ConfigError> {
        let mut image = Image::new(&self.image_spec());
        let files: Vec<_> = self
            .db
            .iter()
            .filter_map(|d| d.init_file.clone().map(|f| (d.number, f)))
            .collect();
        crate::tags::config::initialize(&mut image, &files, &self.tag_table()?)
            .map_err(ConfigError)?;
        Ok(image)
    }

    /// The CPU settings, with the personality loaded and overridden.
    pub fn cpu_spec(&self) -> Result<CpuSpec, ConfigError> {
        let c = &self.cpu;
        let personality = Personality::load(&c.personality, &c.identity)
            .map_err(|e| err("cpu.personality", e))?;
        if let Some(pw) = &c.password {
            if pw.is_empty() || pw.len() > 8 || !pw.is_ascii() {
                return Err(err("cpu.password", "must be 1 to 8 ASCII characters"));
            }
        }
        if !(1..=3).contains(&c.protection_level) {
            return Err(err(
                "cpu.protection_level",
                format!("{} is not 1, 2 or 3", c.protection_level),
            ));
        }
        if c.protection_level > 1 && c.password.is_none() {
            return Err(err(
                "cpu.protection_level",
                "levels 2 and 3 need cpu.password (clients legitimate with it)",
            ));
        }
        let mut blocks = Vec::new();
        for (i, b) in c.block.iter().enumerate() {
            let t = match b.kind.to_ascii_uppercase().as_str() {
                "OB" => BlockType::Ob,
                "FC" => BlockType::Fc,
                "FB" => BlockType::Fb,
                other => {
                    return Err(err(
                        &format!("cpu.block[{i}].type"),
                        format!("`{other}` is not OB, FC or FB (DBs are declared with [[db]])"),
                    ))
                }
            };
            blocks.push((t, b.number));
        }
        let all = self.max_connections.min(u16::MAX as usize) as u16;
        Ok(CpuSpec {
            personality,
            password: c.password.clone(),
            protection_level: c.protection_level,
            accept_any_slot: c.accept_any_slot,
            quotas: [
                c.max_pg.unwrap_or(all),
                c.max_op.unwrap_or(all),
                c.max_basic.unwrap_or(all),
            ],
            max_connections: all,
            blocks,
            allow_download: c.allow_download,
            allow_delete: c.allow_delete,
            staging_len: match c.allow_download {
                // Read-only DBs refuse downloads: only writable ones need room.
                true => self
                    .db
                    .iter()
                    .filter(|d| !d.read_only)
                    .map(|d| d.size)
                    .max()
                    .unwrap_or(0),
                false => 0,
            },
        })
    }

    /// The compiled `[[access]]` rules.
    pub fn access(&self) -> Result<Access, ConfigError> {
        Access::compile(&self.access).map_err(|(key, problem)| err(&key, problem))
    }

    /// The image sizes.
    pub fn image_spec(&self) -> ImageSpec {
        ImageSpec {
            dbs: self
                .db
                .iter()
                .map(|d| DbSpec {
                    number: d.number,
                    size: d.size,
                    read_only: d.read_only,
                })
                .collect(),
            inputs: self.areas.inputs,
            outputs: self.areas.outputs,
            flags: self.areas.flags,
            timers: self.areas.timers,
            counters: self.areas.counters,
        }
    }

    /// The event loop settings.
    pub(crate) fn loop_config(&self) -> LoopConfig {
        LoopConfig {
            max_connections: self.max_connections,
            limits: Limits {
                max_pdu: self.max_pdu,
                max_amq: self.max_amq,
                idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            },
            cycle: Duration::from_micros(self.rt.cycle_us),
            busy_poll: self.rt.busy_poll,
            cycle_timer: self.rt.cycle_timer,
            rx_timestamps: self.telemetry.rx_timestamps,
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms),
            max_connections_per_ip: self.max_connections_per_ip,
        }
    }
}

#[cfg(test)]
mod tests;
