//! Single-connection round trip and in-server service time (issue 2's benchmark).
//!
//! `cargo bench --bench roundtrip [-- --secs S]` starts the server in this process (no
//! real-time measures: this is the portable measurement; `--bench jitter` is the real-time
//! one), drives one connection doing 4-byte DB reads back to back for `S` seconds (default 5),
//! and writes `results/<UTC time>-<host>-roundtrip.md` with client round-trip and in-server
//! service-time percentiles, the machine, and the command.

use std::time::{Duration, Instant};

use s7rt::client::Client;
use s7rt::config::Config;
use s7rt::server::Server;
use s7rt::telemetry::histogram;
use s7rt::wire::var::Area;
use s7rt_bench::machine::{timestamp, Machine};
use s7rt_bench::Percentiles;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench targets without it,
    // and a measurement has no place there.
    if !args.iter().any(|a| a == "--bench") {
        println!("roundtrip: a benchmark; run it with `cargo bench --bench roundtrip`");
        return Ok(());
    }
    let secs = args
        .iter()
        .position(|a| a == "--secs")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(5.0), |s| s.parse::<f64>())?;
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse()?,
        ..Config::default()
    };
    cfg.rt.enabled = false;
    let mut server = Server::start(&cfg)?;
    let mut client = Client::connect(server.local_addr(), 0, 1, 960)?;
    let mut buf = [0u8; 4];
    for _ in 0..1000 {
        client.read(Area::DataBlock, 1, 0, &mut buf)?;
    }
    let mut rtt = histogram();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        let t0 = Instant::now();
        client.read(Area::DataBlock, 1, 0, &mut buf)?;
        rtt.saturating_record(t0.elapsed().as_nanos() as u64);
    }
    drop(client);
    let stopped = server.shutdown()?;
    let rtt = Percentiles::of(&rtt);
    let service = Percentiles::of(&stopped.telemetry.service_ns);
    let machine = Machine::detect();
    let report = format!(
        "# s7rt round trip, one connection, 4-byte DB read\n\n\
         Command: `cargo bench --bench roundtrip -- --secs {secs}`\n\n\
         Server in-process on 127.0.0.1 without real-time measures (not pinned, SCHED_OTHER); \
         client on another thread of the same process, closed loop (next request after the answer). \
         Service time is measured by the server from the wake-up that found the socket readable \
         to the moment the answer was handed to the kernel (warm-up of 1000 requests excluded \
         from round trip only).\n\n\
         {}\n{}\n{}\n\nThroughput: {:.0} requests/s.\n\n## Machine\n\n{}",
        Percentiles::MARKDOWN_HEADER,
        rtt.markdown_row("round trip (client)"),
        service.markdown_row("service time (server)"),
        rtt.n as f64 / secs,
        machine.markdown()
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}-{}-roundtrip.md", timestamp(), machine.host));
    std::fs::write(&path, &report)?;
    println!("{report}\nwritten to {}", path.display());
    Ok(())
}
