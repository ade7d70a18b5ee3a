//! The TOML configuration: listener, limits, real-time placement and the process image.
//!
//! Every field has a default, so an empty file (or none) is a working configuration. Every
//! error names the key and the problem. The sections live beside this file: `[cpu]` in
//! `cpu`, `[areas]` and `[[db]]` (and the image they make) in `image`, `[telemetry]` and
//! `[metrics]` in `telemetry`, the range checks in `validate`, what `[persist]` needs in
//! `persist`; `[rt]` is [`crate::rt::RtConfig`].

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::access::{Access, RuleConfig};
use crate::admission;
use crate::settings::{Limits, LoopConfig};

mod cpu;
mod image;
mod persist;
mod telemetry;
mod validate;

pub use crate::rt::RtConfig;
pub use crate::settings::CycleTimer;
pub use cpu::{BlockConfig, CpuConfig};
pub use image::{Areas, DbConfig};
pub use telemetry::{MetricsConfig, TelemetryConfig};

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
    /// The compiled `[[access]]` rules.
    pub fn access(&self) -> Result<Access, ConfigError> {
        Access::compile(&self.access).map_err(|(key, problem)| err(&key, problem))
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
