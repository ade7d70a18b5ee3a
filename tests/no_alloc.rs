//! The request path allocates nothing and faults no page after warm-up.
//!
//! Two proofs, each over more than 10 000 requests (single reads, 20-item reads, writes, bit
//! writes, and requests answered with errors):
//! 1. sans-IO: `Session::handle_rx` with a real `Image` on this thread, counted by a
//!    thread-local counting allocator and `getrusage(RUSAGE_THREAD)`;
//! 2. end to end: the real server on 127.0.0.1, counting only allocations made on the RT
//!    thread (recognised by its name) and its minor faults from `/proc/self/task/<tid>/stat`.
#![allow(unsafe_code, clippy::unwrap_used, clippy::panic)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use s7rt::access::{Access, DbRange, RuleConfig};
use s7rt::client::Client;
use s7rt::config::Config;
use s7rt::server::Server;
use s7rt::wire::s7::Rosctr;
use s7rt::wire::var::Area;
use support::*;

struct Counting;

static RT_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// The server tests count allocations of every thread named `s7rt-rt`: one server at a time.
static ONE_SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());
const RT_THREAD_NAME: &[u8] = b"s7rt-rt";

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    // 0 = not yet known, 1 = the RT thread, 2 = another thread.
    static IS_RT: Cell<u8> = const { Cell::new(0) };
}

fn on_rt_thread() -> bool {
    IS_RT
        .try_with(|c| {
            if c.get() == 0 {
                let mut name = [0u8; 16];
                // SAFETY: the buffer is 16 bytes, the limit for thread names on Linux.
                let r = unsafe {
                    libc::pthread_getname_np(
                        libc::pthread_self(),
                        name.as_mut_ptr().cast(),
                        name.len(),
                    )
                };
                let n = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                c.set(if r == 0 && &name[..n] == RT_THREAD_NAME {
                    1
                } else {
                    2
                });
            }
            c.get() == 1
        })
        .unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        if on_rt_thread() {
            RT_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        if on_rt_thread() {
            RT_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

/// A mix of requests, each as the bytes a client sends, built before counting starts.
fn request_mix() -> Vec<Vec<u8>> {
    let twenty: Vec<Vec<u8>> = (0..20).map(|i| item(0x02, 4, 1, 0x84, i * 4, 0)).collect();
    vec![
        job(1, &read_params(&[item(0x02, 4, 1, 0x84, 0, 0)]), &[]),
        job(2, &read_params(&twenty), &[]),
        job(
            3,
            &write_params(&[item(0x02, 8, 2, 0x84, 16, 0)]),
            &write_data(&[(0x04, 64, &[7; 8])]),
        ),
        job(
            4,
            &write_params(&[item(0x01, 1, 2, 0x84, 3, 5)]),
            &write_data(&[(0x03, 1, &[1])]),
        ),
        job(5, &read_params(&[item(0x02, 4, 999, 0x84, 0, 0)]), &[]), // item error 0x0A
        job(6, &read_params(&[item(0x02, 900, 1, 0x84, 0, 0)]), &[]), // header error 0x8500
        job(7, &[0x42, 0x00], &[]),                                   // header error 0x8104
        dt(&hex(
            "32070000 0008 0008 0008 0001120411440100 ff09000404240000",
        )), // userdata
        // CPU personality paths: SZL lists (0x001C fragments at small PDUs, diag buffer),
        // clock read, list blocks, block info, PLC stop + hot start, start upload + upload.
        dt(&hex(
            "32070000 0009 0008 0008 0001120411440100 ff090004001c0000",
        )),
        dt(&hex(
            "32070000 000a 0008 0008 0001120411440100 ff09000400a00000",
        )),
        dt(&hex("32070000 000b 0008 0004 0001120411470100 0a000000")),
        dt(&hex("32070000 000c 0008 0004 0001120411430100 0a000000")),
        dt(&hex(
            "32070000 000d 0008 000c 0001120411430300 ff0900083041303030303141",
        )),
        job(14, &hex("29000000000009505f50524f4752414d"), &[]),
        job(15, &hex("28000000000000fd000009505f50524f4752414d"), &[]),
        job(16, &hex("1d0000000000000009 5f3041303030303141"), &[]),
        job(17, &hex("1e00000000000001"), &[]),
    ]
}

/// `[[access]]` rules limiting a connection to DBs 1–2, areas DB/M/Q and no control: every
/// item then passes the grant's bit tests (and the DB-set bit test) on the request path.
fn limiting_rules() -> Vec<RuleConfig> {
    vec![RuleConfig {
        control: false,
        areas: Some(vec!["DB".into(), "M".into(), "Q".into()]),
        dbs: Some(vec![DbRange::Text("1-2".into())]),
        ..RuleConfig::for_networks(&["127.0.0.0/8"])
    }]
}

#[test]
fn session_serves_ten_thousand_requests_without_allocating_or_faulting() {
    serve_mix_without_allocating(None);
}

#[test]
fn session_with_access_rules_serves_without_allocating_or_faulting() {
    serve_mix_without_allocating(Some(limiting_rules()));
}

fn serve_mix_without_allocating(rules: Option<Vec<RuleConfig>>) {
    let mix = request_mix();
    let mut h = Harness::new(LIMITS);
    if let Some(rules) = rules {
        h.cpu.access = Access::compile(&rules).unwrap();
        let grant = h.cpu.access.decide("127.0.0.1".parse().unwrap()).unwrap();
        assert!(!grant.reaches_everything() && !grant.may_control());
        h.session.set_grant(grant);
    }
    h.connect(480);
    let mut tx = vec![0u8; 2 * LIMITS.max_reply_len()];
    let serve = |h: &mut Harness, tx: &mut [u8], req: &[u8]| {
        let step = h.step(req, tx);
        assert_eq!(step.consumed, req.len());
        assert!(step.reply_len > 0 && step.close.is_none());
        std::hint::black_box(&tx[..step.reply_len]);
    };
    for req in &mix {
        serve(&mut h, &mut tx, req); // warm-up
    }
    let (a0, (f0, _)) = (allocs(), s7rt::rt::thread_faults());
    let rounds = 1500;
    for _ in 0..rounds {
        for req in &mix {
            serve(&mut h, &mut tx, req);
        }
    }
    let (a1, (f1, _)) = (allocs(), s7rt::rt::thread_faults());
    assert!(rounds * mix.len() >= 10_000);
    assert_eq!(a1 - a0, 0, "allocations on the request path");
    assert_eq!(f1 - f0, 0, "minor page faults on the request path");
}

/// One download as Snap7's client runs it (docs/protocol.md §9): request download of DB2,
/// the answers to the CPU's `1B` jobs (parts of PDU − 18 bytes) and `1C` job, `_INSE`, then
/// `_DELE` (the next round's download re-inserts the DB).
#[test]
fn session_download_insert_and_delete_allocate_nothing() {
    let mut h = Harness::new(LIMITS);
    h.cpu = s7rt::plc::Cpu::new(
        &s7rt::plc::CpuSpec {
            quotas: [8; 3],
            max_connections: 8,
            allow_download: true,
            allow_delete: true,
            staging_len: 2048,
            ..Default::default()
        },
        GOLDEN_WALL_MS,
    );
    h.connect(480);
    let load = 36 + 2048 + 20 + 36;
    let mut block = vec![0u8; load];
    block[0..6].copy_from_slice(&[0x70, 0x70, 0x01, 0x01, 0x05, 0x0A]);
    block[6..8].copy_from_slice(&2u16.to_be_bytes());
    block[8..12].copy_from_slice(&(load as u32).to_be_bytes());
    block[34..36].copy_from_slice(&2048u16.to_be_bytes());
    let mut request = hex("1a 00 0100 00000000 09");
    request.extend_from_slice(b"_0A00002P\x0d1002140002048");
    let request = job(1, &request, &[]);
    let parts: Vec<Vec<u8>> = block
        .chunks(480 - 18)
        .enumerate()
        .map(|(i, c)| {
            let more = (i + 1) * (480 - 18) < load;
            let mut p = hex("32030000 0000 0002");
            p.extend_from_slice(&(4 + c.len() as u16).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0x1B, u8::from(more)]);
            p.extend_from_slice(&(c.len() as u16).to_be_bytes());
            p.extend_from_slice(&[0x00, 0xFB]);
            p.extend_from_slice(c);
            dt(&p)
        })
        .collect();
    let ended = dt(&hex("32030000 0000 0001 0000 0000 1c"));
    let insert = job(
        2,
        &hex("28000000000000fd000a0100304130303030325005 5f494e5345"),
        &[],
    );
    let delete = job(
        3,
        &hex("28000000000000fd000a0100304130303030324205 5f44454c45"),
        &[],
    );
    let mut tx = vec![0u8; 2 * LIMITS.max_reply_len()];
    let cycle = |h: &mut Harness, tx: &mut [u8], parts: &mut [Vec<u8>], ended: &mut [u8]| {
        let serve = |h: &mut Harness, tx: &mut [u8], req: &[u8]| {
            let step = h.step(req, tx);
            assert_eq!(step.consumed, req.len());
            step.reply_len
        };
        // The CPU's job follows the 20-byte answer to 1A; its PDU reference is at 7 + 4.
        let n = serve(h, tx, &request);
        let mut job_ref = [tx[20 + 11], tx[20 + 12]];
        for p in parts.iter_mut() {
            assert_eq!(tx[20 + 17], 0x1B);
            p[11..13].copy_from_slice(&job_ref);
            let n = serve(h, tx, p);
            assert_eq!(n, 35);
            job_ref = [tx[11], tx[12]];
            tx.copy_within(0..35, 20);
        }
        assert_eq!((n, tx[20 + 17], tx[20 + 19], tx[20 + 20]), (55, 0x1C, 0, 0));
        ended[11..13].copy_from_slice(&job_ref);
        assert_eq!(serve(h, tx, ended), 0);
        assert_eq!(serve(h, tx, &insert), 20);
        assert_eq!(tx[19], 0x28);
        assert_eq!(serve(h, tx, &delete), 20);
        assert_eq!(tx[19], 0x28);
    };
    let mut parts = parts;
    let mut ended = ended;
    cycle(&mut h, &mut tx, &mut parts, &mut ended); // warm-up
    let (a0, (f0, _)) = (allocs(), s7rt::rt::thread_faults());
    for _ in 0..300 {
        cycle(&mut h, &mut tx, &mut parts, &mut ended);
    }
    let (a1, (f1, _)) = (allocs(), s7rt::rt::thread_faults());
    assert_eq!(a1 - a0, 0, "allocations on the download path");
    assert_eq!(f1 - f0, 0, "minor page faults on the download path");
}

fn rt_thread_minor_faults() -> u64 {
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = entry.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() == "s7rt-rt" {
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
            // Fields after the parenthesised name: state is field 3, minflt is field 10.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            return rest.split_whitespace().nth(7).unwrap().parse().unwrap();
        }
    }
    panic!("RT thread not found");
}

#[test]
fn server_rt_thread_serves_ten_thousand_socket_requests_without_allocating_or_faulting() {
    serve_socket_requests_without_allocating(Vec::new());
}

#[test]
fn server_with_access_rules_serves_socket_requests_without_allocating_or_faulting() {
    serve_socket_requests_without_allocating(limiting_rules());
}

fn serve_socket_requests_without_allocating(access: Vec<RuleConfig>) {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        access,
        ..Config::default()
    };
    cfg.rt.enabled = false;
    let mut server = Server::start(&cfg).unwrap();
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    let twenty: Vec<u8> = read_params(
        &(0..20)
            .map(|i| item(0x02, 4, 1, 0x84, i * 4, 0))
            .collect::<Vec<_>>(),
    );
    let write = write_params(&[item(0x02, 8, 2, 0x84, 16, 0)]);
    let write_d = write_data(&[(0x04, 64, &[7; 8])]);
    let bit = write_params(&[item(0x01, 1, 2, 0x84, 3, 5)]);
    let bit_d = write_data(&[(0x03, 1, &[1])]);
    let missing = read_params(&[item(0x02, 4, 999, 0x84, 0, 0)]);
    let mut buf = [0u8; 4];
    let mut round = |c: &mut Client| {
        c.read(Area::DataBlock, 1, 0, &mut buf).unwrap();
        c.request(Rosctr::Job, &twenty, &[]).unwrap();
        c.request(Rosctr::Job, &write, &write_d).unwrap();
        c.request(Rosctr::Job, &bit, &bit_d).unwrap();
        c.request(Rosctr::Job, &missing, &[]).unwrap();
        assert!(c.request(Rosctr::Job, &[0x42, 0x00], &[]).is_err());
    };
    for _ in 0..20 {
        round(&mut c); // warm-up
    }
    let (a0, f0) = (RT_ALLOCS.load(Ordering::Relaxed), rt_thread_minor_faults());
    for _ in 0..1700 {
        round(&mut c);
    }
    let (a1, f1) = (RT_ALLOCS.load(Ordering::Relaxed), rt_thread_minor_faults());
    drop(c);
    let stopped = server.shutdown().unwrap();
    assert!(stopped.telemetry.counters.replies >= 10_000);
    assert_eq!(a1 - a0, 0, "allocations on the RT thread while serving");
    assert_eq!(
        f1 - f0,
        0,
        "minor page faults of the RT thread while serving"
    );
}

/// The same with the host application busy beside the clients: host writes, bit writes,
/// batches and reads, client-write notifications being received, and retentive snapshots
/// copied in small chunks (with writes mirrored into the shadow) every 20 ms.
#[test]
fn server_rt_thread_serves_host_traffic_and_snapshots_without_allocating_or_faulting() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let dir = std::env::temp_dir().join(format!("s7rt-noalloc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = Config::from_toml(&format!(
        "listen = \"127.0.0.1:0\"\n[persist]\ndir = {:?}\ninterval_ms = 20\ncopy_per_cycle = 256\nretain_flags = 64\n\
         [[db]]\nnumber = 1\nsize = 1024\nretain = true\n[[db]]\nnumber = 2\nsize = 2048\nretain = true\n",
        dir.display().to_string()
    ))
    .unwrap();
    cfg.rt.enabled = false;
    let mut server = Server::start(&cfg).unwrap();
    let host = server.host();
    let stop = Arc::new(AtomicBool::new(false));
    let host_thread = {
        let (host, stop) = (host.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut k = 0u8;
            while !stop.load(Ordering::Relaxed) {
                k = k.wrapping_add(1);
                let _ = host.write(Area::DataBlock, 1, 64, &[k; 100]);
                let _ = host.write_bit(Area::Flags, 0, 5, 3, k & 1 == 1);
                let mut b = host.batch();
                b.write(Area::DataBlock, 2, 0, &[k; 300])
                    .unwrap()
                    .read(Area::DataBlock, 2, 0, 300)
                    .unwrap();
                let r = b.commit().unwrap();
                assert_eq!(r[0], vec![k; 300]);
                assert_eq!(host.read(Area::Flags, 0, 0, 8).unwrap().len(), 8);
            }
        })
    };
    let notes_thread = {
        let (host, stop) = (host.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut notes = host.notifications().unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if notes
                    .recv_timeout(std::time::Duration::from_millis(10))
                    .is_some()
                {
                    n += 1;
                }
            }
            n
        })
    };
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    let write = write_params(&[item(0x02, 8, 2, 0x84, 16, 0)]);
    let write_d = write_data(&[(0x04, 64, &[7; 8])]);
    let big = write_params(&[item(0x02, 200, 1, 0x84, 500, 0)]);
    let big_d = write_data(&[(0x04, 1600, &[3; 200])]);
    let bit = write_params(&[item(0x01, 1, 0, 0x83, 3, 5)]);
    let bit_d = write_data(&[(0x03, 1, &[1])]);
    let mut buf = [0u8; 4];
    let mut round = |c: &mut Client| {
        c.read(Area::DataBlock, 1, 0, &mut buf).unwrap();
        c.request(Rosctr::Job, &write, &write_d).unwrap();
        c.request(Rosctr::Job, &big, &big_d).unwrap();
        c.request(Rosctr::Job, &bit, &bit_d).unwrap();
    };
    for _ in 0..200 {
        round(&mut c); // warm-up
    }
    let st0 = host.stats();
    let (a0, f0) = (RT_ALLOCS.load(Ordering::Relaxed), rt_thread_minor_faults());
    for _ in 0..2500 {
        round(&mut c);
    }
    // On a loaded machine the host thread may get little CPU during those rounds: keep serving
    // until it has done its share too (bounded), so the window always holds both kinds of
    // traffic instead of depending on the scheduler.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while host.stats().transactions - st0.transactions <= 200
        && std::time::Instant::now() < deadline
    {
        round(&mut c);
    }
    let (a1, f1) = (RT_ALLOCS.load(Ordering::Relaxed), rt_thread_minor_faults());
    let st1 = host.stats();
    stop.store(true, Ordering::Relaxed);
    host_thread.join().unwrap();
    let notified = notes_thread.join().unwrap();
    drop(c);
    let stopped = server.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(stopped.telemetry.counters.replies >= 10_000);
    // The host really was busy while the clients were served.
    assert!(
        st1.transactions - st0.transactions > 200,
        "{st0:?} -> {st1:?}"
    );
    assert!(notified > 1000, "{notified} notifications");
    assert_eq!(a1 - a0, 0, "allocations on the RT thread while serving");
    assert_eq!(
        f1 - f0,
        0,
        "minor page faults of the RT thread while serving"
    );
}
