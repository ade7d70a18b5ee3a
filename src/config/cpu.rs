//! `[cpu]`: the CPU a client sees (personality, protection, accepted connections, blocks),
//! and the [`CpuSpec`] it makes.

use serde::Deserialize;

use super::{err, Config, ConfigError};
use crate::plc::{BlockType, CpuSpec, Personality};

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

impl Config {
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
}
