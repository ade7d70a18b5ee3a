//! The control socket as the daemon starts it (`s7rt::ctl::daemon`): off with `socket = ""`,
//! served on a configured path, and refused when that path is taken. (The protocol itself is
//! tested from Python in tests/interop/ctl.)
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use s7rt::config::Config;
use s7rt::server::Server;

fn config(socket: &str) -> Config {
    Config::from_toml(&format!(
        "listen = \"127.0.0.1:0\"\n[rt]\nenabled = false\n[host]\nsocket = {socket:?}\n[[db]]\nnumber = 1\nsize = 16\n[[tag]]\nname = \"T\"\naddress = \"DB1.DBW0\"\ntype = \"INT\"\ninitial = 7\n"
    ))
    .unwrap()
}

#[test]
fn an_empty_socket_path_turns_the_socket_off() {
    let cfg = config("");
    let mut server = Server::start(&cfg).unwrap();
    assert!(s7rt::ctl::daemon::start(&cfg, &server).unwrap().is_none());
    server.shutdown().unwrap();
}

#[test]
fn a_configured_path_is_served_and_a_second_daemon_on_it_is_refused() {
    let dir = std::env::temp_dir().join(format!("s7rt-ctl-daemon-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("sub").join("s7rtd.sock");
    let cfg = config(path.to_str().unwrap());
    let mut a = Server::start(&cfg).unwrap();
    let mut ctl = s7rt::ctl::daemon::start(&cfg, &a).unwrap().unwrap();
    let s = UnixStream::connect(&path).unwrap();
    (&s).write_all(b"{\"op\":\"read\",\"tag\":\"T\"}\n")
        .unwrap();
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "{\"ok\":true,\"name\":\"T\",\"address\":\"DB1.DBW0\",\"type\":\"INT\",\"value\":7}\n"
    );

    let mut b = Server::start(&cfg).unwrap();
    let e = s7rt::ctl::daemon::start(&cfg, &b).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "control socket ([host] socket): {} is in use by a running server (another s7rtd?)",
            path.display()
        )
    );
    b.shutdown().unwrap();
    ctl.stop();
    a.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
