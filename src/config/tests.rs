//! Unit tests of configuration parsing and validation.

use super::*;

#[test]
fn empty_file_is_the_default_configuration() {
    assert_eq!(Config::from_toml("").unwrap(), Config::default());
}

#[test]
fn example_config_in_repo_parses() {
    let text = include_str!("../../s7rtd.example.toml");
    let cfg = Config::from_toml(text).unwrap();
    assert!(cfg.db.len() >= 3);
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
fn wrong_type_names_the_key() {
    let e = Config::from_toml("[rt]\npriority = \"high\"\n").unwrap_err();
    assert!(e.0.contains("priority"), "{e}");
}
