//! Retentive data across restarts of the real server: clean stop, interval snapshots, a
//! corrupt newest generation, no valid generation (start from initial values or refuse).
//! The SIGKILL crash test runs the daemon from outside: tests/interop/persist.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use s7rt::client::Client;
use s7rt::config::Config;
use s7rt::server::Server;
use s7rt::wire::s7::Rosctr;
use s7rt::wire::var::Area;
use support::{item, write_data, write_params};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("s7rt-persist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(dir: &Path, extra: &str) -> Config {
    Config::from_toml(&format!(
        "listen = \"127.0.0.1:0\"\n[rt]\nenabled = false\n[persist]\ndir = {:?}\nretain_flags = 16\n{extra}\n\
         [[db]]\nnumber = 1\nsize = 1024\nretain = true\n[[db]]\nnumber = 2\nsize = 64\n[[db]]\nnumber = 3\nsize = 32\nretain = true\nread_only = true\n",
        dir.display().to_string()
    ))
    .unwrap()
}

fn snapshots(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".snap") || n.ends_with(".bad"))
        .collect();
    v.sort();
    v
}

fn read(server: &Server, area: Area, db: u16, start: u32, n: usize) -> Vec<u8> {
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    let mut b = vec![0u8; n];
    c.read(area, db, start, &mut b).unwrap();
    b
}

#[test]
fn retentive_dbs_and_flags_survive_a_clean_restart_and_the_rest_does_not() {
    let dir = TempDir::new("clean");
    // A long interval: only the stop writes a snapshot.
    let cfg = config(&dir.0, "interval_ms = 3600000");
    let mut s = Server::start(&cfg).unwrap();
    let mut c = Client::connect(s.local_addr(), 0, 1, 480).unwrap();
    let pattern: Vec<u8> = (0..1024).map(|i| (i * 13 % 251) as u8).collect();
    c.write(Area::DataBlock, 1, 0, &pattern).unwrap();
    c.write(Area::DataBlock, 2, 0, &[5; 64]).unwrap();
    c.write(Area::Flags, 0, 10, &[0xAA; 10]).unwrap(); // MB10..15 retentive, MB16..19 not
    s.host().write(Area::DataBlock, 3, 4, &[7, 7]).unwrap(); // read-only DB, host-written
                                                             // MB2..3 by an item that also names a DB number (meaningless for flags, but sent).
    c.request(
        Rosctr::Job,
        &write_params(&[item(0x02, 2, 7, 0x83, 2, 0)]),
        &write_data(&[(0x04, 16, &[0x12, 0x34])]),
    )
    .unwrap();
    s.host().sync().unwrap();
    drop(c);
    s.shutdown().unwrap();
    assert_eq!(snapshots(&dir.0), vec!["retain-00000000000000000001.snap"]);

    let mut s = Server::start(&cfg).unwrap();
    assert_eq!(read(&s, Area::DataBlock, 1, 0, 1024), pattern);
    assert_eq!(read(&s, Area::DataBlock, 2, 0, 4), vec![0; 4]);
    assert_eq!(
        read(&s, Area::Flags, 0, 10, 10),
        [vec![0xAA; 6], vec![0; 4]].concat()
    );
    assert_eq!(read(&s, Area::DataBlock, 3, 4, 2), vec![7, 7]);
    assert_eq!(read(&s, Area::Flags, 0, 2, 2), vec![0x12, 0x34]);
    s.shutdown().unwrap();
    // The previous generation is kept beside the newest.
    assert_eq!(
        snapshots(&dir.0),
        vec![
            "retain-00000000000000000001.snap",
            "retain-00000000000000000002.snap"
        ]
    );
}

#[test]
fn interval_snapshots_are_written_while_serving_only_when_something_changed() {
    let dir = TempDir::new("interval");
    let cfg = config(&dir.0, "interval_ms = 100");
    let mut s = Server::start(&cfg).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(snapshots(&dir.0).is_empty(), "nothing changed yet");
    let mut c = Client::connect(s.local_addr(), 0, 1, 480).unwrap();
    c.write(Area::DataBlock, 2, 0, &[1]).unwrap(); // not retentive
    std::thread::sleep(Duration::from_millis(300));
    assert!(snapshots(&dir.0).is_empty(), "DB2 is not retentive");
    c.write(Area::DataBlock, 1, 100, &[42, 43]).unwrap();
    let t = Instant::now();
    while snapshots(&dir.0).is_empty() {
        assert!(t.elapsed() < Duration::from_secs(5), "no snapshot written");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Within one interval (plus this machine's scheduling slack).
    assert!(
        t.elapsed() < Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    // A copy of the directory as it is now is what a crash would leave behind.
    let crashed = TempDir::new("interval-copy");
    std::fs::create_dir_all(&crashed.0).unwrap();
    for f in snapshots(&dir.0) {
        std::fs::copy(dir.0.join(&f), crashed.0.join(&f)).unwrap();
    }
    drop(c);
    s.shutdown().unwrap();
    let mut s = Server::start(&config(&crashed.0, "interval_ms = 100")).unwrap();
    assert_eq!(read(&s, Area::DataBlock, 1, 100, 2), vec![42, 43]);
    s.shutdown().unwrap();
}

#[test]
fn a_corrupt_newest_generation_is_moved_aside_and_the_previous_one_restored() {
    let dir = TempDir::new("corrupt");
    let cfg = config(&dir.0, "interval_ms = 3600000");
    for v in [1u8, 2] {
        let mut s = Server::start(&cfg).unwrap();
        let mut c = Client::connect(s.local_addr(), 0, 1, 480).unwrap();
        c.write(Area::DataBlock, 1, 0, &[v; 8]).unwrap();
        drop(c);
        s.shutdown().unwrap();
    }
    let newest = dir.0.join("retain-00000000000000000002.snap");
    let mut b = std::fs::read(&newest).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0xFF;
    std::fs::write(&newest, &b).unwrap();
    let mut s = Server::start(&cfg).unwrap();
    assert_eq!(read(&s, Area::DataBlock, 1, 0, 8), vec![1; 8]);
    assert!(dir.0.join("retain-00000000000000000002.snap.bad").exists());
    s.shutdown().unwrap();
    // The next generation is numbered after the bad one: it is the newest.
    assert!(dir.0.join("retain-00000000000000000003.snap").exists());
}

#[test]
fn no_valid_snapshot_starts_from_initial_values_or_refuses_as_configured() {
    let dir = TempDir::new("none-valid");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join("retain-00000000000000000005.snap"), b"garbage").unwrap();
    std::fs::write(dir.0.join("retain.tmp"), b"half a snapshot").unwrap();
    let refuse = config(&dir.0, "on_corrupt = \"refuse\"");
    let e = Server::start(&refuse).err().unwrap().to_string();
    assert!(e.contains("on_corrupt = \"refuse\""), "{e}");
    assert!(
        e.contains(
            "retain-00000000000000000005.snap is invalid: 7 bytes is shorter than any snapshot"
        ),
        "{e}"
    );
    // The bad file was kept aside, the interrupted temp file removed.
    assert_eq!(
        snapshots(&dir.0),
        vec!["retain-00000000000000000005.snap.bad"]
    );
    std::fs::rename(
        dir.0.join("retain-00000000000000000005.snap.bad"),
        dir.0.join("retain-00000000000000000005.snap"),
    )
    .unwrap();
    let mut s = Server::start(&config(&dir.0, "")).unwrap();
    assert_eq!(read(&s, Area::DataBlock, 1, 0, 4), vec![0; 4]);
    s.shutdown().unwrap();
    assert!(dir.0.join("retain-00000000000000000006.snap").exists());
}

#[test]
fn a_changed_db_size_starts_that_db_from_initial_values_and_keeps_the_others() {
    let dir = TempDir::new("resized");
    let cfg = config(&dir.0, "interval_ms = 3600000");
    let mut s = Server::start(&cfg).unwrap();
    let mut c = Client::connect(s.local_addr(), 0, 1, 480).unwrap();
    c.write(Area::DataBlock, 1, 0, &[9; 4]).unwrap();
    c.write(Area::Flags, 0, 0, &[8; 4]).unwrap();
    drop(c);
    s.shutdown().unwrap();
    let mut cfg = cfg;
    cfg.db[0].size = 2048;
    let mut s = Server::start(&cfg).unwrap();
    assert_eq!(read(&s, Area::DataBlock, 1, 0, 4), vec![0; 4]);
    assert_eq!(read(&s, Area::Flags, 0, 0, 4), vec![8; 4]);
    s.shutdown().unwrap();
}

#[test]
fn configuration_errors_name_the_key() {
    let e = Config::from_toml("[[db]]\nnumber = 1\nsize = 4\nretain = true\n").unwrap_err();
    assert_eq!(
        e.0,
        "config key `persist.dir`: DB1 has retain = true but no directory is set, so nothing would be kept"
    );
    let e = Config::from_toml("[persist]\ndir = \"/tmp\"\nretain_flags = 300\n").unwrap_err();
    assert_eq!(
        e.0,
        "config key `persist.retain_flags`: 300 exceeds the 256 flag bytes of [areas] flags"
    );
    let e = Config::from_toml("[persist]\ninterval_ms = 5\n").unwrap_err();
    assert_eq!(
        e.0,
        "config key `persist.interval_ms`: 5 is outside 10..=3600000"
    );
    let e = Config::from_toml("[host]\nmax_batch = 0\n").unwrap_err();
    assert_eq!(e.0, "config key `host.max_batch`: 0 is outside 1..=4096");
}

#[test]
fn a_flag_write_naming_a_db_number_still_counts_as_a_retentive_change() {
    let dir = TempDir::new("flag-db");
    let mut s = Server::start(&config(&dir.0, "interval_ms = 100")).unwrap();
    let mut c = Client::connect(s.local_addr(), 0, 1, 480).unwrap();
    // MB4 written by an item with DB number 7 (Snap7-style clients send what they are given).
    c.request(
        Rosctr::Job,
        &write_params(&[item(0x02, 1, 7, 0x83, 4, 0)]),
        &write_data(&[(0x04, 8, &[0x5A])]),
    )
    .unwrap();
    let t = Instant::now();
    while snapshots(&dir.0).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the change was not noticed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(c);
    s.shutdown().unwrap();
}
