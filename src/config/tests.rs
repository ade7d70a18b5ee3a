//! Unit tests of configuration parsing and validation.
use super::*;
use crate::plc::BlockType;
use crate::wire::var::Area;

#[test]
fn empty_file_is_the_default_configuration() {
    assert_eq!(Config::from_toml("").unwrap(), Config::default());
}

#[test]
fn example_config_in_repo_parses() {
    let text = include_str!("../../s7rtd.example.toml");
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
    let e =
        Config::from_toml("[[tag]]\nname = \"Line4.Speed\"\naddress = \"MW10\"\ntype = \"REAL\"\n")
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

#[test]
fn metrics_listen_defaults_to_loopback_9102_and_empty_turns_it_off() {
    let d = Config::default();
    assert_eq!(
        d.metrics.listen_addr(),
        Some("127.0.0.1:9102".parse().unwrap())
    );
    let off = Config::from_toml("[metrics]\nlisten = \"\"\n").unwrap();
    assert_eq!(off.metrics.listen_addr(), None);
    let e = Config::from_toml("[metrics]\nlisten = \"localhost\"\n").unwrap_err();
    assert!(e.0.contains("config key `metrics.listen`"), "{e}");
}

/// The packaged /etc/s7rtd/s7rtd.toml is the defaults, documented: it parses to exactly the
/// default configuration and names every key the example names.
#[test]
fn packaged_config_is_the_documented_default() {
    let packaged = include_str!("../../packaging/s7rtd.toml");
    let mut cfg = Config::from_toml(packaged).unwrap();
    // The one default that depends on the machine (CPU count).
    cfg.rt.cpu = Config::default().rt.cpu;
    assert_eq!(cfg, Config::default());
    let keys = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| {
                let l = l.trim_start().trim_start_matches('#').trim_start();
                let (k, _) = l.split_once('=')?;
                let k = k.trim();
                (!k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                    .then(|| k.to_string())
            })
            .collect()
    };
    let have = keys(packaged);
    for k in keys(include_str!("../../s7rtd.example.toml")) {
        assert!(
            have.contains(&k),
            "packaging/s7rtd.toml does not document `{k}`: run packaging/make-config.py"
        );
    }
}
