//! What `[persist]` needs from the rest of the configuration: the retentive regions (retain
//! DBs, retentive flags, retentive tags) and the checks against `[areas]` and `[[db]]`.

use std::time::Duration;

use super::Config;
use crate::persist::{check_dir, normalize, Region, Settings};
use crate::wire::var::Area;

/// The retentive regions the configuration names (retain DBs, retentive flags) plus
/// `extra` (retentive tags), normalised.
fn regions(cfg: &Config, extra: &[Region]) -> Vec<Region> {
    let mut r: Vec<Region> = cfg
        .db
        .iter()
        .filter(|d| d.retain)
        .map(|d| Region {
            area: Area::DataBlock,
            db: d.number,
            offset: 0,
            len: d.size,
        })
        .collect();
    r.push(Region {
        area: Area::Flags,
        db: 0,
        offset: 0,
        len: cfg.persist.retain_flags,
    });
    r.extend_from_slice(extra);
    normalize(r)
}

impl Config {
    /// The persistence settings, or `None` when `[persist] dir` is not set.
    pub fn persist_settings(&self, extra: &[Region]) -> Option<Settings> {
        let p = &self.persist;
        Some(Settings {
            dir: p.dir.clone()?,
            interval: Duration::from_millis(p.interval_ms),
            copy_per_cycle: p.copy_per_cycle,
            on_corrupt: p.on_corrupt,
            regions: regions(self, extra),
        })
    }

    /// Checks `[persist]` against the rest of the configuration; the error names the key.
    pub(super) fn validate_persist(&self) -> Result<(), String> {
        let p = &self.persist;
        if !(10..=3_600_000).contains(&p.interval_ms) {
            return Err(format!(
                "config key `persist.interval_ms`: {} is outside 10..=3600000",
                p.interval_ms
            ));
        }
        if !(64..=16 * 1024 * 1024).contains(&p.copy_per_cycle) {
            return Err(format!(
                "config key `persist.copy_per_cycle`: {} is outside 64..=16777216 bytes",
                p.copy_per_cycle
            ));
        }
        if p.retain_flags > self.areas.flags {
            return Err(format!(
                "config key `persist.retain_flags`: {} exceeds the {} flag bytes of [areas] flags",
                p.retain_flags, self.areas.flags
            ));
        }
        if let Some(d) = &p.dir {
            check_dir(d).map_err(|e| format!("config key `persist.dir`: {e}"))?;
        } else {
            let retained = self.db.iter().find(|d| d.retain);
            if let Some(d) = retained {
                return Err(format!(
                    "config key `persist.dir`: DB{} has retain = true but no directory is set, so nothing would be kept",
                    d.number
                ));
            }
            if p.retain_flags > 0 {
                return Err(
                    "config key `persist.dir`: persist.retain_flags is set but no directory is set, so nothing would be kept"
                        .into(),
                );
            }
        }
        Ok(())
    }
}
