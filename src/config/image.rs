//! `[areas]` and `[[db]]`: the process image's sizes, and the image they make with its
//! start-up content (DB init files, `[[tag]]` initial values).

use serde::Deserialize;

use super::{Config, ConfigError};
use crate::plc::{DbSpec, Image, ImageSpec};

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
impl Config {
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
}
