use super::*;
use s7rt::config::Config;
use s7rt::server::Server;

#[test]
fn parses_operations_and_rejects_zero_sizes() {
    assert_eq!("read:4".parse(), Ok(Op::Read { len: 4 }));
    assert_eq!("write:200".parse(), Ok(Op::Write { len: 200 }));
    assert_eq!("multi:8x2".parse(), Ok(Op::MultiRead { items: 8, len: 2 }));
    assert_eq!(
        "read:0".parse::<Op>(),
        Err("bad operation `read:0`: expected read:N, write:N or multi:KxN".to_string())
    );
    assert_eq!(
        "peek:4".parse::<Op>(),
        Err("bad operation `peek:4`: expected read:N, write:N or multi:KxN".to_string())
    );
    assert_eq!(Op::MultiRead { items: 8, len: 2 }.to_string(), "multi:8x2");
}

#[test]
fn mix_round_holds_each_operation_weight_times_and_spreads_them() {
    let mix: Mix = "read:4=3,write:4=1".parse().unwrap();
    let round = mix.round();
    assert_eq!(round.len(), 4);
    let reads = round.iter().filter(|o| **o == Op::Read { len: 4 }).count();
    assert_eq!(reads, 3);
    let mix: Mix = "read:4=1,write:4=1".parse().unwrap();
    assert_eq!(
        mix.round(),
        vec![Op::Read { len: 4 }, Op::Write { len: 4 }],
        "equal weights alternate"
    );
    assert_eq!(
        "read:4=0".parse::<Mix>(),
        Err("bad weight in `read:4=0`: expected 1..=1000".to_string())
    );
    assert_eq!("".parse::<Mix>(), Err("empty operation mix".to_string()));
}

#[test]
fn multi_read_params_address_consecutive_items() {
    let mut p = [0u8; 64];
    let n = multi_read_params(7, 2, 4, &mut p).unwrap();
    assert_eq!(n, 26);
    assert_eq!(&p[..2], &[0x04, 2]);
    // item 1: 12 02 10 | ts 02 | count 0004 | DB 0007 | area 84 | address 4*8 = 0x000020
    assert_eq!(
        &p[14..26],
        &[0x12, 0x0A, 0x10, 0x02, 0x00, 0x04, 0x00, 0x07, 0x84, 0x00, 0x00, 0x20]
    );
    assert!(multi_read_params(7, 2, 4, &mut p[..25]).is_none());
}

#[test]
fn multi_read_answer_check_handles_padding_and_item_errors() {
    // two items of 1 byte: FF 04 0008 AA | pad | FF 04 0008 BB
    let ok = [
        0xFF, 0x04, 0x00, 0x08, 0xAA, 0x00, 0xFF, 0x04, 0x00, 0x08, 0xBB,
    ];
    assert!(check_multi_read_answer(&ok, 2, 1).is_ok());
    let bad = [0xFF, 0x04, 0x00, 0x08, 0xAA, 0x00, 0x0A, 0x00, 0x00, 0x00];
    assert!(matches!(
        check_multi_read_answer(&bad, 2, 1),
        Err(ClientError::Item(var::ReturnCode::ObjectDoesNotExist))
    ));
    assert!(matches!(
        check_multi_read_answer(&ok[..8], 2, 1),
        Err(ClientError::Protocol("multi-read answer too short"))
    ));
}

fn server() -> Server {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    cfg.rt.enabled = false;
    Server::start(&cfg).unwrap()
}

#[test]
fn closed_loop_run_against_the_server_records_every_answered_request() {
    let mut srv = server();
    let mut spec = LoadSpec::closed(
        srv.local_addr(),
        3,
        Op::Read { len: 4 },
        Duration::from_millis(300),
    );
    spec.mix = "read:4=2,write:2=1,multi:3x2=1".parse().unwrap();
    spec.warmup = 5;
    let r = run(&spec).unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.first_error);
    assert!(r.requests > 10, "{} requests", r.requests);
    assert_eq!(r.rtt.len(), r.requests);
    let stopped = srv.shutdown().unwrap();
    // Every measured and warm-up request was answered by the server (plus the setups).
    assert_eq!(
        stopped.telemetry.counters.replies,
        r.requests + 3 * 5 + 3 * 2,
        "COTP confirm + setup + warm-up + measured per connection"
    );
}

#[test]
fn paced_run_sends_about_the_asked_rate() {
    let mut srv = server();
    let mut spec = LoadSpec::closed(
        srv.local_addr(),
        2,
        Op::Read { len: 4 },
        Duration::from_millis(500),
    );
    spec.pace = Pace::Rate(200.0);
    spec.warmup = 1;
    let r = run(&spec).unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.first_error);
    // 200/s for 0.5 s = 100 scheduled requests, all of which fit easily.
    assert_eq!(r.requests, 100);
    srv.shutdown().unwrap();
}

#[test]
fn a_refused_connection_is_counted_as_an_error() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let spec = LoadSpec::closed(addr, 1, Op::Read { len: 4 }, Duration::from_millis(50));
    let r = run(&spec).unwrap();
    assert_eq!(r.errors, 1);
    assert_eq!(r.requests, 0);
    assert!(r.first_error.unwrap().starts_with("I/O: "));
}
