//! Tags in the real server over 127.0.0.1: initial values and DB init files are in the image
//! before the first client reads, client-write notifications name the tags a write touches,
//! and `retain` tags survive a clean restart while their neighbours start from their initial
//! values again.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use s7rt::client::Client;
use s7rt::config::Config;
use s7rt::host::{HostError, Notification};
use s7rt::server::Server;
use s7rt::tags::Value;
use s7rt::wire::var::Area;

/// Four tags of Line 4, shared with the tag table's unit tests (src/tags/config/tests.rs).
const TAGS: &str = include_str!("line4-tags.toml");

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("s7rt-tags-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(dir: &TempDir, persist: bool) -> Config {
    std::fs::write(dir.0.join("db2.bin"), [0xDE, 0xAD, 0xBE, 0xEF]).unwrap();
    let persist = match persist {
        true => format!(
            "[persist]\ndir = {:?}\ninterval_ms = 50\n",
            dir.0.join("state")
        ),
        false => String::new(),
    };
    let text = format!(
        "listen = \"127.0.0.1:0\"\n[rt]\nenabled = false\n{persist}\n[[db]]\nnumber = 1\nsize = 64\n[[db]]\nnumber = 2\nsize = 8\nread_only = true\ninit_file = \"db2.bin\"\n{TAGS}"
    );
    let path = dir.0.join("s7rtd.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

fn read(c: &mut Client, area: Area, db: u16, offset: usize, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    c.read(area, db, offset as u32, &mut b).unwrap();
    b
}

#[test]
fn clients_see_initial_values_and_init_files_from_the_first_read() {
    let dir = TempDir::new("initial");
    let mut server = Server::start(&config(&dir, false)).unwrap();
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    let db1 = read(&mut c, Area::DataBlock, 1, 0, 17);
    assert_eq!(db1[0], 0x08, "Line4.Run");
    assert_eq!(db1[4..8], [0x41, 0x48, 0, 0], "Line4.Speed 12.5");
    assert_eq!(
        db1[10..17],
        [8, 5, b'M', b'i', b'x', b' ', b'A'],
        "Line4.Recipe"
    );
    assert_eq!(read(&mut c, Area::Flags, 0, 2, 2), [0xFF, 0xFD], "Count -3");
    assert_eq!(
        read(&mut c, Area::DataBlock, 2, 0, 8),
        [0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0],
        "read-only DB2 from its file, the rest zero"
    );
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn client_write_notifications_name_the_tags_they_touch() {
    let dir = TempDir::new("names");
    let mut server = Server::start(&config(&dir, false)).unwrap();
    let mut notes = server.host().notifications().unwrap();
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    c.write(Area::DataBlock, 1, 0, &[0u8; 12]).unwrap();
    c.write(Area::Flags, 0, 3, &[1]).unwrap();
    c.write(Area::DataBlock, 1, 20, &[1]).unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        match notes.recv_timeout(Duration::from_secs(5)) {
            Some(Notification::Write(w)) => got.push(w.tags),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        got,
        [
            vec!["Line4.Run", "Line4.Speed", "Line4.Recipe"],
            vec!["Count"],
            vec![],
        ]
    );
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn retain_tags_survive_a_restart_and_the_others_start_from_their_initial_values() {
    let dir = TempDir::new("retain");
    let cfg = config(&dir, true);
    let mut server = Server::start(&cfg).unwrap();
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    c.write(Area::DataBlock, 1, 4, &99.5f32.to_be_bytes())
        .unwrap();
    c.write(Area::Flags, 0, 2, &[0, 7]).unwrap();
    drop(c);
    server.shutdown().unwrap();

    let mut server = Server::start(&cfg).unwrap();
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    assert_eq!(
        read(&mut c, Area::DataBlock, 1, 4, 4),
        99.5f32.to_be_bytes(),
        "retained Line4.Speed"
    );
    assert_eq!(
        read(&mut c, Area::Flags, 0, 2, 2),
        [0xFF, 0xFD],
        "Count back to -3"
    );
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn the_host_reads_and_writes_typed_values_by_tag() {
    let dir = TempDir::new("typed");
    let cfg = config(&dir, false);
    let tags = cfg.tag_table().unwrap();
    let mut server = Server::start(&cfg).unwrap();
    let host = server.host();
    let speed = tags.get("Line4.Speed").unwrap();
    let run = tags.get("Line4.Run").unwrap();
    let recipe = tags.get("Line4.Recipe").unwrap();
    assert_eq!(host.read_tag(speed), Ok(Value::Real(12.5)));
    host.write_tag(speed, &Value::Real(-0.5)).unwrap();
    host.write_tag(recipe, &Value::String("Brot".into()))
        .unwrap();
    // A bit write keeps the byte's other bits: set bit 5 by S7 first.
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    c.write(Area::DataBlock, 1, 0, &[0x28]).unwrap();
    host.write_tag(run, &Value::Bool(false)).unwrap();
    host.sync().unwrap();
    let db1 = read(&mut c, Area::DataBlock, 1, 0, 16);
    assert_eq!(db1[0], 0x20, "bit 3 cleared, bit 5 kept");
    assert_eq!(db1[4..8], (-0.5f32).to_be_bytes());
    assert_eq!(db1[10..16], [8, 4, b'B', b'r', b'o', b't']);
    c.write(Area::Flags, 0, 2, &[0x80, 0x00]).unwrap();
    let count = tags.get("Count").unwrap();
    assert_eq!(host.read_tag(count), Ok(Value::Int(i16::MIN)));
    assert_eq!(
        host.write_tag(speed, &Value::Int(1)),
        Err(HostError::Value(s7rt::tags::ValueError::TypeMismatch(
            "REAL cannot hold an INT".into()
        )))
    );
    drop(c);
    server.shutdown().unwrap();
    assert!(matches!(host.read_tag(speed), Err(HostError::Stopped)));
}
