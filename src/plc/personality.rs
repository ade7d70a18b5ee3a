//! CPU personalities: the identity a client sees (order number, versions, names, serial
//! numbers, limits, CPU position), loaded from TOML data files at start-up.
//!
//! Two personalities ship inside the binary (`personalities/s7-300.toml`,
//! `personalities/s7-1500.toml`); the configuration picks one by name or gives a path to
//! another file, and may override any key. Strings are kept as loaded; the SZL service pads
//! or cuts them to their record fields.

use std::net::Ipv4Addr;

use serde::Deserialize;

/// What happens to the outputs (Q / PA) when the CPU goes to STOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputsInStop {
    /// Outputs are cleared (a real CPU disables its outputs in STOP).
    Zero,
    /// Outputs keep their last values.
    Hold,
}

/// The identity and limits of one CPU model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personality {
    /// Short name (`s7-300`, `s7-1500`).
    pub name: String,
    /// Order number (MLFB), SZL 0x0011 (20 characters, space padded).
    pub order_number: String,
    /// Module type id (BGTyp), SZL 0x0011.
    pub module_type_id: u16,
    /// Hardware version (Ausbg of records 1 and 6), SZL 0x0011.
    pub hardware_version: u16,
    /// Firmware version major, minor, patch (record 7), SZL 0x0011.
    pub firmware_version: [u8; 3],
    /// Name of the automation system, SZL 0x001C index 1.
    pub as_name: String,
    /// Name of the module, SZL 0x001C index 2.
    pub module_name: String,
    /// Plant designation, SZL 0x001C index 3.
    pub plant_id: String,
    /// Copyright, SZL 0x001C index 4.
    pub copyright: String,
    /// Serial number of the module, SZL 0x001C index 5.
    pub serial_number: String,
    /// Module type name, SZL 0x001C index 7.
    pub module_type_name: String,
    /// Serial number of the memory card, SZL 0x001C index 8.
    pub memory_card_serial: String,
    /// Manufacturer id, SZL 0x001C index 9.
    pub manufacturer_id: u16,
    /// Profile id, SZL 0x001C index 9.
    pub profile_id: u16,
    /// Profile-specific type, SZL 0x001C index 9.
    pub profile_type: u16,
    /// OEM id, SZL 0x001C index 10.
    pub oem_id: u16,
    /// Location designation, SZL 0x001C index 11.
    pub location: String,
    /// Maximum number of connections reported in SZL 0x0131 index 1.
    pub max_connections: u16,
    /// Maximum MPI rate in bit/s, SZL 0x0131 index 1.
    pub mpi_bps: u32,
    /// Maximum communication-bus rate in bit/s, SZL 0x0131 index 1.
    pub bus_bps: u32,
    /// Rack of the CPU (TSAP low byte, bits 7..5).
    pub rack: u8,
    /// Slot of the CPU (TSAP low byte, bits 4..0).
    pub slot: u8,
    /// Mode switch position reported in SZL 0x0132/0x0232 index 4 (1 RUN, 2 RUN-P, 3 STOP).
    pub mode_switch: u16,
    /// What STOP does to the outputs.
    pub outputs_in_stop: OutputsInStop,
    /// Entries the diagnostic buffer holds.
    pub diag_entries: usize,
    /// IP address, SZL 0x0037.
    pub ip: Ipv4Addr,
    /// Subnet mask, SZL 0x0037.
    pub netmask: Ipv4Addr,
    /// Default router, SZL 0x0037.
    pub gateway: Ipv4Addr,
    /// MAC address, SZL 0x0037.
    pub mac: [u8; 6],
}

/// Built-in personalities: (name, TOML text).
pub(crate) const BUILT_IN: [(&str, &str); 2] = [
    ("s7-300", include_str!("../../personalities/s7-300.toml")),
    ("s7-1500", include_str!("../../personalities/s7-1500.toml")),
];

impl Personality {
    /// The TOML text of a built-in personality, or of the file at `name_or_path`.
    pub fn source(name_or_path: &str) -> Result<String, String> {
        match BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, text)) => Ok((*text).to_string()),
            None => std::fs::read_to_string(name_or_path).map_err(|e| {
                format!(
                    "`{name_or_path}` is neither a built-in personality (s7-300, s7-1500) nor a readable file: {e}"
                )
            }),
        }
    }

    /// Loads a personality by built-in name or path and applies `overrides` (any key).
    pub fn load(name_or_path: &str, overrides: &toml::Table) -> Result<Personality, String> {
        let text = Personality::source(name_or_path)?;
        let mut table: toml::Table = toml::from_str(&text)
            .map_err(|e| format!("personality `{name_or_path}`: {}", e.to_string().trim_end()))?;
        for (k, v) in overrides {
            table.insert(k.clone(), v.clone());
        }
        let p: Personality =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    format!("personality `{name_or_path}`: {}", e.to_string().trim_end())
                })?;
        if p.slot > 31 || p.rack > 7 {
            return Err(format!(
                "personality `{name_or_path}`: rack {} slot {} out of range (rack 0..=7, slot 0..=31)",
                p.rack, p.slot
            ));
        }
        Ok(p)
    }

    /// The default personality (S7-300).
    pub fn s7_300() -> Personality {
        Personality::load("s7-300", &toml::Table::new()).unwrap_or_else(|_| unreachable_default())
    }
}

/// Only reached if the built-in file shipped in the binary were broken, which the unit
/// tests rule out; kept panic-free for the clippy rules.
fn unreachable_default() -> Personality {
    Personality {
        name: "s7-300".into(),
        order_number: String::new(),
        module_type_id: 0,
        hardware_version: 0,
        firmware_version: [0; 3],
        as_name: String::new(),
        module_name: String::new(),
        plant_id: String::new(),
        copyright: String::new(),
        serial_number: String::new(),
        module_type_name: String::new(),
        memory_card_serial: String::new(),
        manufacturer_id: 0,
        profile_id: 0,
        profile_type: 0,
        oem_id: 0,
        location: String::new(),
        max_connections: 16,
        mpi_bps: 0,
        bus_bps: 0,
        rack: 0,
        slot: 2,
        mode_switch: 2,
        outputs_in_stop: OutputsInStop::Zero,
        diag_entries: 100,
        ip: Ipv4Addr::UNSPECIFIED,
        netmask: Ipv4Addr::UNSPECIFIED,
        gateway: Ipv4Addr::UNSPECIFIED,
        mac: [0; 6],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_built_in_personalities_load() {
        let p = Personality::load("s7-300", &toml::Table::new()).unwrap();
        assert_eq!(p.order_number, "6ES7 315-2EH14-0AB0");
        assert_eq!((p.rack, p.slot), (0, 2));
        let p = Personality::load("s7-1500", &toml::Table::new()).unwrap();
        assert_eq!(p.module_name, "CPU 1516-3 PN/DP");
        assert_eq!((p.rack, p.slot), (0, 1));
        assert_eq!(Personality::s7_300().name, "s7-300");
    }

    #[test]
    fn overrides_replace_single_keys() {
        let o: toml::Table = toml::from_str("as_name = \"LINE 4\"\nslot = 3\n").unwrap();
        let p = Personality::load("s7-300", &o).unwrap();
        assert_eq!((p.as_name.as_str(), p.slot), ("LINE 4", 3));
        assert_eq!(p.module_name, "CPU 315-2 PN/DP");
    }

    #[test]
    fn unknown_override_key_is_named() {
        let o: toml::Table = toml::from_str("serial = \"x\"\n").unwrap();
        let e = Personality::load("s7-300", &o).unwrap_err();
        assert!(e.contains("serial"), "{e}");
    }

    #[test]
    fn unknown_personality_says_what_exists() {
        let e = Personality::load("s7-400", &toml::Table::new()).unwrap_err();
        assert!(e.contains("s7-300, s7-1500"), "{e}");
    }
}
