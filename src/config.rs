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
mod tests {
    use super::*;
    use crate::wire::var::Area;

    #[test]
    fn empty_file_is_the_default_configuration() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn example_config_in_repo_parses() {
        let text = include_str!("../s7rtd.example.toml");
        let cfg = Config::from_toml(text).unwrap();
        assert!(cfg.db.len() >= 3);
        let tags = cfg.tag_table().unwrap();
        assert_eq!(tags.len(), 4);
        let img = cfg.initial_image().unwrap();
        let speed = tags.get("Line4.Speed").unwrap();
        assert_eq!(speed.read(&img), Ok(crate::tags::Value::Real(12.5)));
        // Its locked-down plant: who may do what.
        let a = cfg.access().unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(a.decide(ip("::1")), Some(crate::access::Grant::OPEN));
        let hmi = a.decide(ip("10.10.2.7")).unwrap();
        assert!(hmi.may_write() && !hmi.may_control() && !hmi.reaches_everything());
        let historian = a.decide(ip("fd10:10:3::9")).unwrap();
        assert!(!historian.may_write() && historian.may_put_get());
        assert!(!a.decide(ip("10.10.9.5")).unwrap().may_put_get());
        assert_eq!(a.decide(ip("10.20.1.1")), None);
        assert_eq!(a.decide(ip("192.0.2.1")), None);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_toml("max_pdux = 480").unwrap_err();
        assert!(e.0.contains("max_pdux"), "{e}");
    }

    #[test]
    fn too_short_telemetry_interval_is_named() {
        let e = Config::from_toml("[telemetry]\ninterval_ms = 10").unwrap_err();
        assert_eq!(e.0, "config key `telemetry.interval_ms`: 10 is below 100");
        let c = Config::from_toml("[telemetry]\nhistogram_dir = \"/tmp/h\"").unwrap();
        assert_eq!(
            c.telemetry.histogram_dir.as_deref(),
            Some(std::path::Path::new("/tmp/h"))
        );
    }

    #[test]
    fn bad_pdu_size_is_named() {
        let e = Config::from_toml("max_pdu = 500").unwrap_err();
        assert_eq!(e.0, "config key `max_pdu`: 500 is not one of 240, 480, 960");
    }

    #[test]
    fn oversized_db_is_named_with_its_index() {
        let e = Config::from_toml("[[db]]\nnumber = 1\nsize = 70000\n").unwrap_err();
        assert_eq!(
            e.0,
            "config key `db[0].size`: 70000 is outside 1..=65535 bytes"
        );
    }

    #[test]
    fn duplicate_db_is_refused() {
        let e = Config::from_toml("[[db]]\nnumber = 4\nsize = 1\n[[db]]\nnumber = 4\nsize = 2\n")
            .unwrap_err();
        assert_eq!(e.0, "config key `db[1].number`: DB4 is declared twice");
    }

    #[test]
    fn cpu_section_picks_a_personality_and_overrides_keys() {
        let cfg = Config::from_toml(
            "[cpu]\npersonality = \"s7-1500\"\npassword = \"secret\"\nprotection_level = 3\nmax_pg = 1\n[cpu.identity]\nas_name = \"PRESS 7\"\n[[cpu.block]]\ntype = \"OB\"\nnumber = 1\n",
        )
        .unwrap();
        let spec = cfg.cpu_spec().unwrap();
        assert_eq!(spec.personality.module_name, "CPU 1516-3 PN/DP");
        assert_eq!(spec.personality.as_name, "PRESS 7");
        assert_eq!(spec.quotas, [1, 32, 32]);
        assert_eq!(spec.blocks, vec![(BlockType::Ob, 1)]);
    }

    #[test]
    fn protection_without_password_is_refused() {
        let e = Config::from_toml("[cpu]\nprotection_level = 2\n").unwrap_err();
        assert_eq!(
            e.0,
            "config key `cpu.protection_level`: levels 2 and 3 need cpu.password (clients legitimate with it)"
        );
    }

    #[test]
    fn tag_errors_come_through_with_the_tag_named() {
        let e = Config::from_toml(
            "[[tag]]\nname = \"Line4.Speed\"\naddress = \"MW10\"\ntype = \"REAL\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            "config key `tag[0]` (Line4.Speed): REAL at MW10: a 4-byte type needs a double-word address (DBD, MD, ID, QD)"
        );
        let e = Config::from_toml("[[tag]]\nname = \"A\"\naddress = \"MW10\"\n").unwrap_err();
        assert!(e.0.contains("missing field `type`"), "{e}");
    }

    #[test]
    fn db_init_file_is_relative_to_the_config_file_and_must_fit() {
        let dir = std::env::temp_dir().join(format!("s7rt-cfg-init-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("db4.bin"), [1u8, 2, 3]).unwrap();
        let cfg_path = dir.join("s7rtd.toml");
        std::fs::write(
            &cfg_path,
            "[[db]]\nnumber = 4\nsize = 4\ninit_file = \"db4.bin\"\n[[tag]]\nname = \"W\"\naddress = \"DB4.DBW2\"\ntype = \"WORD\"\ninitial = 16\n",
        )
        .unwrap();
        let cfg = Config::load(&cfg_path).unwrap();
        let img = cfg.initial_image().unwrap();
        use crate::plc::Memory;
        assert_eq!(img.area(Area::DataBlock, 4).unwrap(), &[1, 2, 0, 16]);

        std::fs::write(dir.join("db4.bin"), [0u8; 5]).unwrap();
        let e = Config::load(&cfg_path).unwrap_err();
        assert_eq!(
            e.0,
            format!(
                "{}: config key `db[0].init_file`: {} holds 5 bytes, more than DB4's 4",
                cfg_path.display(),
                dir.join("db4.bin").display()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn access_rules_parse_and_their_errors_name_the_rule() {
        let cfg = Config::from_toml(
            "[[access]]\nnetworks = [\"10.1.0.0/16\", \"fd00::/8\"]\nread_only = true\ndbs = [1, \"10-19\"]\n[[access]]\nnetworks = [\"0.0.0.0/0\"]\nconnect = false\n",
        )
        .unwrap();
        let a = cfg.access().unwrap();
        let g = a.decide("10.1.2.3".parse().unwrap()).unwrap();
        assert!(!g.may_write() && g.may_control());
        assert_eq!(a.decide("10.2.0.1".parse().unwrap()), None);
        let e = Config::from_toml("[[access]]\nnetworks = [\"10.0.0.0/40\"]\n").unwrap_err();
        assert_eq!(
            e.0,
            "config key `access[0].networks`: \"10.0.0.0/40\": prefix length must be 0..=32"
        );
        let e = Config::from_toml("max_connections_per_ip = 0").unwrap_err();
        assert_eq!(
            e.0,
            "config key `max_connections_per_ip`: must be at least 1"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = Config::from_toml("[rt]\npriority = \"high\"\n").unwrap_err();
        assert!(e.0.contains("priority"), "{e}");
    }
}
