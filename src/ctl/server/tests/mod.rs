//! The socket server over real Unix sockets, against an image behind a mutex (the fake
//! backend; the daemon's backend, the host API, is tested in tests/interop/ctl).

use super::*;

mod fake;
use crate::host::Notification;
use crate::plc::Memory;
use crate::wire::var::Area;
use fake::{tags, Fake};
use serde_json::Value as J;
use std::io::{BufRead, BufReader};

fn sock_path(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("s7rt-ctl-{}-{name}", std::process::id()))
        .join("ctl.sock")
}

fn start(name: &str, max_clients: usize, fake: &Arc<Fake>) -> ControlServer {
    start_with(name, max_clients, fake, Duration::from_secs(10))
}

fn start_with(
    name: &str,
    max_clients: usize,
    fake: &Arc<Fake>,
    write_timeout: Duration,
) -> ControlServer {
    let path = sock_path(name);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    ControlServer::start(
        ControlConfig {
            path,
            max_clients,
            write_timeout,
        },
        fake.clone(),
        tags(),
    )
    .unwrap()
}

struct Client {
    r: BufReader<UnixStream>,
    w: UnixStream,
}

impl Client {
    fn new(path: &Path) -> Client {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Client {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    fn send(&mut self, raw: &[u8]) {
        self.w.write_all(raw).unwrap();
    }

    fn line(&mut self) -> J {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{l:?}: {e}"))
    }

    fn call(&mut self, req: &str) -> J {
        self.send(format!("{req}\n").as_bytes());
        self.line()
    }
}

fn code(v: &J) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn reads_and_writes_typed_values_by_tag_and_address() {
    let fake = Fake::new();
    let srv = start("rw", 4, &fake);
    let mut c = Client::new(srv.path());
    let v = c.call(r#"{"op":"write","tag":"Speed","value":12.5,"id":1}"#);
    assert_eq!(
        v,
        json!({"ok":true,"id":1,"name":"Speed","address":"DB1.DBD4","type":"REAL","value":12.5})
    );
    assert_eq!(
        lock(&fake.image).area(Area::DataBlock, 1).unwrap()[4..8],
        [0x41, 0x48, 0, 0]
    );
    assert_eq!(
        c.call(r#"{"op":"read","tag":"Speed"}"#)["value"],
        json!(12.5)
    );
    assert_eq!(
        c.call(r#"{"op":"write","tag":"Run","value":"true"}"#)["ok"],
        json!(true)
    );
    assert_eq!(lock(&fake.image).area(Area::DataBlock, 1).unwrap()[0], 0x08);
    assert_eq!(
        c.call(r#"{"op":"read","address":"DB1.DBX0.3"}"#)["value"],
        json!(true)
    );
    c.call(r#"{"op":"write","tag":"Name","value":"Mix A"}"#);
    assert_eq!(
        c.call(r#"{"op":"read","tag":"Name"}"#)["value"],
        json!("Mix A")
    );
    let v = c.call(
        r#"{"op":"write","items":[{"tag":"Count","value":-3},{"address":"MD4","type":"DINT","value":"L#70000"}]}"#,
    );
    assert_eq!(v["items"][1]["value"], json!(70000));
    let v = c.call(
        r#"{"op":"read","items":[{"tag":"Count"},{"tag":"MD4","type":"DINT"},{"tag":"Speed"}]}"#,
    );
    assert_eq!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["value"].clone())
            .collect::<Vec<_>>(),
        [json!(-3), json!(70000), json!(12.5)]
    );
    let v = c.call(r#"{"op":"tags"}"#);
    assert_eq!(
        v["tags"][0],
        json!({"name":"Count","address":"MW2","type":"INT","retain":false})
    );
    let v = c.call(r#"{"op":"status"}"#);
    assert_eq!(v["status"]["rt"]["running"], json!(true));
    assert_eq!(v["status"]["control"]["clients"], json!(1));
}

#[test]
fn bad_input_gets_an_error_line_and_the_connection_stays_usable() {
    let fake = Fake::new();
    let srv = start("bad", 4, &fake);
    let mut c = Client::new(srv.path());
    for (req, want) in [
        ("{\"op\":\"read\",", "malformed_json"),
        ("\u{1}\u{2}", "malformed_json"),
        ("[]", "bad_request"),
        (r#"{"op":"read","tag":"Nope"}"#, "unknown_tag"),
        (
            r#"{"op":"write","tag":"Speed","value":true}"#,
            "type_mismatch",
        ),
        (
            r#"{"op":"write","tag":"Count","value":40000}"#,
            "out_of_range",
        ),
        (
            r#"{"op":"write","tag":"Speed","value":"fast"}"#,
            "bad_value",
        ),
        (
            r#"{"op":"read","address":"DB1.DBX0","id":"a"}"#,
            "bad_address",
        ),
    ] {
        let v = c.call(req);
        assert_eq!((v["ok"].clone(), code(&v)), (json!(false), want), "{req}");
        assert_eq!(c.call(r#"{"op":"read","tag":"Count"}"#)["ok"], json!(true));
    }
    // Invalid UTF-8 is malformed JSON too.
    c.send(b"{\"op\":\"read\",\"tag\":\"\xff\"}\n");
    assert_eq!(code(&c.line()), "malformed_json");
    // An oversized line: one error, the rest of it skipped, then normal service. Sent in
    // pieces, as a big line arrives.
    let big = vec![b'x'; MAX_LINE * 2 + 17];
    for piece in big.chunks(10_000) {
        c.send(piece);
    }
    c.send(b"\n");
    let v = c.line();
    assert_eq!(code(&v), "line_too_long");
    assert_eq!(
        c.call(r#"{"op":"read","tag":"Count","id":2}"#)["id"],
        json!(2)
    );
    // Blank lines and CRLF are fine.
    c.send(b"\n\r\n");
    assert_eq!(
        c.call("{\"op\":\"read\",\"tag\":\"Count\"}\r")["ok"],
        json!(true)
    );
}

#[test]
fn several_clients_at_once_and_a_busy_answer_beyond_the_limit() {
    let fake = Fake::new();
    let srv = start("many", 3, &fake);
    let path = srv.path().to_path_buf();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut c = Client::new(&path);
                for n in 0..200 {
                    let v = c.call(&format!(
                        r#"{{"op":"write","address":"MB{i}","value":{}}}"#,
                        n % 256
                    ));
                    assert_eq!(v["ok"], json!(true), "{v}");
                    let v = c.call(&format!(r#"{{"op":"read","address":"MB{i}"}}"#));
                    assert_eq!(v["value"], json!(n % 256));
                }
                c
            })
        })
        .collect();
    let clients: Vec<Client> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut extra = Client::new(&path);
    assert_eq!(code(&extra.line()), "busy");
    drop(clients);
    // Slots free up when clients leave.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut refused = 1;
    loop {
        let mut c = Client::new(&path);
        // A refused client may find the socket closed before its request is out.
        let _ = c.w.write_all(b"{\"op\":\"status\"}\n");
        let v = c.line();
        if v["ok"] == json!(true) {
            assert_eq!(v["status"]["control"]["refused_busy"], json!(refused));
            break;
        }
        assert_eq!(code(&v), "busy");
        refused += 1;
        assert!(Instant::now() < deadline, "slots never freed: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn watch_streams_client_and_host_writes_with_tag_values() {
    let fake = Fake::new();
    let srv = start("watch", 4, &fake);
    let mut w = Client::new(srv.path());
    assert_eq!(
        w.call(r#"{"op":"watch"}"#),
        json!({"ok":true,"watching":true})
    );
    fake.client_write(7, Area::DataBlock, 1, 2, &[0, 0, 0x41, 0x50, 0, 0]);
    let ev = w.line();
    assert_eq!(
        ev,
        json!({"event":"write","source":"client","conn":5,"seq":7,"area":"DB","db":1,
               "offset":2,"len":6,"bit":null,"data":"000041500000",
               "tags":[{"name":"Speed","address":"DB1.DBD4","type":"REAL","value":13.0}]})
    );
    // Part of a tag: its whole current value is read back.
    fake.client_write(8, Area::DataBlock, 1, 7, &[1]);
    let ev = w.line();
    // 0x41500001 is 13.000001 in its shortest decimal form.
    assert_eq!(ev["tags"][0]["value"], json!(13.000001));
    let mut h = Client::new(srv.path());
    h.call(r#"{"op":"write","tag":"Run","value":true}"#);
    let ev = w.line();
    assert_eq!(
        ev,
        json!({"event":"write","source":"host","conn":2,"area":"DB","db":1,"offset":0,
               "len":1,"bit":3,"data":"01",
               "tags":[{"name":"Run","address":"DB1.DBX0.3","type":"BOOL","value":true}]})
    );
    assert_eq!(w.call(r#"{"op":"unwatch"}"#)["watching"], json!(false));
    // Nobody watches: the subscription is dropped.
    let deadline = Instant::now() + Duration::from_secs(2);
    while lock(&fake.notes)
        .as_ref()
        .is_some_and(|tx| tx.try_send(Notification::Lagged(0)).is_ok())
    {
        assert!(Instant::now() < deadline, "subscription kept");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_slow_watcher_is_told_it_lagged_and_nobody_waits_for_it() {
    let fake = Fake::new();
    let srv = start("slow", 4, &fake);
    let mut slow = Client::new(srv.path());
    slow.call(r#"{"op":"watch"}"#);
    let mut fast = Client::new(srv.path());
    fast.call(r#"{"op":"watch"}"#);
    // The slow client reads nothing while 6000 writes happen (its queue holds 1024 lines,
    // its socket a few hundred); the fast one keeps up, and a third client's requests are
    // answered meanwhile.
    let mut other = Client::new(srv.path());
    let n = 6_000u64;
    let fast_reader = std::thread::spawn(move || {
        let mut seen = 0u64;
        let mut lagged = 0u64;
        while seen + lagged < n {
            let ev = fast.line();
            match ev["event"].as_str() {
                Some("write") => seen += 1,
                Some("lagged") => lagged += ev["missed"].as_u64().unwrap(),
                _ => panic!("{ev}"),
            }
        }
        (seen, lagged)
    });
    for i in 0..n {
        fake.client_write(i, Area::Flags, 0, 2, &[(i >> 8) as u8, i as u8]);
        if i % 1000 == 0 {
            let t = Instant::now();
            assert_eq!(
                other.call(r#"{"op":"read","tag":"Count"}"#)["ok"],
                json!(true)
            );
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "a request waited {:?}",
                t.elapsed()
            );
        }
    }
    let (seen, _) = fast_reader.join().unwrap();
    assert!(seen > 0);
    // Now the slow one reads: some events, then how many it missed, adding up to n.
    let mut events = 0u64;
    let mut missed = 0u64;
    slow.r
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    while events + missed < n {
        let mut l = String::new();
        if slow.r.read_line(&mut l).unwrap_or(0) == 0 {
            break;
        }
        let ev: J = serde_json::from_str(&l).unwrap();
        match ev["event"].as_str() {
            Some("write") => events += 1,
            Some("lagged") => {
                assert_eq!(ev["scope"], json!("connection"));
                missed += ev["missed"].as_u64().unwrap();
            }
            _ => panic!("{ev}"),
        }
    }
    assert!(missed > 0, "the slow watcher was told it lagged");
    let st = other.call(r#"{"op":"status"}"#);
    let lagged_total = st["status"]["control"]["events_lagged"].as_u64().unwrap();
    let dropped = st["status"]["control"]["dropped_slow"].as_u64().unwrap();
    assert!(lagged_total >= missed);
    assert_eq!(dropped, 0);
    assert_eq!(events + missed, n, "every event delivered or counted");
}

#[test]
fn a_watcher_that_stops_reading_is_disconnected_after_the_write_timeout() {
    let fake = Fake::new();
    let srv = start_with("stuck", 4, &fake, Duration::from_millis(300));
    let mut stuck = Client::new(srv.path());
    stuck.call(r#"{"op":"watch"}"#);
    let mut other = Client::new(srv.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seq = 0;
    loop {
        for _ in 0..500 {
            fake.client_write(seq, Area::Flags, 0, 2, &[1, 2]);
            seq += 1;
        }
        let st = other.call(r#"{"op":"status"}"#);
        if st["status"]["control"]["dropped_slow"] == json!(1) {
            assert_eq!(st["status"]["control"]["watchers"], json!(0));
            break;
        }
        assert!(Instant::now() < deadline, "never dropped: {st}");
    }
    // Its connection ends after what was already buffered.
    let mut l = String::new();
    let mut lines = 0;
    while stuck.r.read_line(&mut l).map(|n| n > 0).unwrap_or(false) {
        lines += 1;
        l.clear();
    }
    assert!(lines > 0);
    assert_eq!(other.call(r#"{"op":"status"}"#)["ok"], json!(true));
}

#[test]
fn a_stale_socket_is_replaced_a_live_one_or_a_file_is_not() {
    let fake = Fake::new();
    let mut srv = start("stale", 2, &fake);
    let path = srv.path().to_path_buf();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let cfg = ControlConfig {
        path: path.clone(),
        max_clients: 2,
        write_timeout: Duration::from_secs(1),
    };
    let e = ControlServer::start(cfg.clone(), fake.clone(), tags()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    assert!(e.to_string().contains("in use by a running server"), "{e}");
    srv.stop();
    assert!(!path.exists(), "stop removes the socket");
    // A socket file nobody serves (a crashed daemon's) is replaced.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let mut srv = ControlServer::start(cfg.clone(), fake.clone(), tags()).unwrap();
    assert_eq!(
        Client::new(&path).call(r#"{"op":"status"}"#)["ok"],
        json!(true)
    );
    srv.stop();
    std::fs::write(&path, b"not a socket").unwrap();
    let e = ControlServer::start(cfg, fake.clone(), tags()).unwrap_err();
    assert!(e.to_string().contains("is not a socket"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn failing_accepts_are_warned_about_once_per_interval_with_the_count() {
    let mut errors = Throttle::new(ACCEPT_WARN_EVERY);
    let emfile = std::io::Error::from_raw_os_error(24);
    let t0 = Mono(1_000_000_000);
    assert_eq!(
        accept_warning(&mut errors, &emfile, t0).as_deref(),
        Some("control socket: accept failed: Too many open files (os error 24)")
    );
    // The accept loop retries every 50 ms: 199 more failures within the interval, no warning.
    for i in 1..200u32 {
        let at = t0 + Duration::from_millis(50) * i;
        assert_eq!(
            accept_warning(&mut errors, &emfile, at),
            None,
            "failure {i}"
        );
    }
    assert_eq!(
        accept_warning(&mut errors, &emfile, t0 + ACCEPT_WARN_EVERY).as_deref(),
        Some(
            "control socket: accept failed: Too many open files (os error 24) \
             (200 failures since the last warning)"
        )
    );
}
