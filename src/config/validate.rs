//! The range checks of [`Config::validate`]: every error names the key.

use std::net::SocketAddr;

use super::{err, Config, ConfigError, PDU_SIZES};

impl Config {
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
        self.validate_persist().map_err(ConfigError)?;
        for (i, db) in self.db.iter().enumerate() {
            if let Some(f) = &db.init_file {
                crate::tags::config::read_init_file(f, db.number, db.size)
                    .map_err(|e| err(&format!("db[{i}].init_file"), e))?;
            }
        }
        self.tag_table()?;
        Ok(())
    }
}
