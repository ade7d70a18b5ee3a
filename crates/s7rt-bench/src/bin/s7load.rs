//! `s7load`: drives an S7 server with N connections and prints client-side round-trip
//! percentiles and throughput (see `s7rt::load`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use s7rt_bench::load::{self, LoadSpec, Mix, Pace};
use s7rt_bench::Percentiles;

/// Load generator for S7 servers (s7rtd, Snap7, real PLCs on a test bench).
#[derive(Debug, Parser)]
#[command(name = "s7load", version)]
struct Args {
    /// Server address.
    addr: SocketAddr,
    /// Connections, one thread each.
    #[arg(short, long, default_value_t = 1)]
    connections: usize,
    /// Total requests per second over all connections (default: closed loop, each
    /// connection sends its next request when the answer arrives).
    #[arg(long, value_name = "PER_SECOND")]
    rate: Option<f64>,
    /// Operation mix: read:N, write:N, multi:KxN, each optionally =WEIGHT, comma-separated.
    #[arg(long, default_value = "read:4")]
    mix: Mix,
    /// DB the operations address.
    #[arg(long, default_value_t = 1)]
    db: u16,
    /// Measured seconds.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Unmeasured requests per connection first.
    #[arg(long, default_value_t = 200)]
    warmup: u32,
    /// CPUs to pin the connection threads to, round robin (e.g. 0 or 0,2,3).
    #[arg(long, value_delimiter = ',')]
    pin: Vec<usize>,
    /// PDU size to ask for.
    #[arg(long, default_value_t = 480)]
    pdu: u16,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let spec = LoadSpec {
        addr: a.addr,
        connections: a.connections,
        pace: a.rate.map_or(Pace::Closed, Pace::Rate),
        mix: a.mix,
        db: a.db,
        duration: Duration::from_secs_f64(a.secs),
        warmup: a.warmup,
        pin: a.pin,
        pdu: a.pdu,
    };
    let r = load::run(&spec)?;
    let p = Percentiles::of(&r.rtt);
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "requests": r.requests,
                "errors": r.errors,
                "first_error": r.first_error,
                "seconds": r.elapsed.as_secs_f64(),
                "requests_per_s": r.throughput(),
                "rtt_ns": p,
            })
        );
    } else {
        println!("{}", Percentiles::MARKDOWN_HEADER);
        println!("{}", p.markdown_row("round trip"));
        println!(
            "\n{} requests in {:.2} s: {:.0}/s; {} errors{}",
            r.requests,
            r.elapsed.as_secs_f64(),
            r.throughput(),
            r.errors,
            r.first_error
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
    }
    anyhow::ensure!(r.errors == 0, "some connections failed");
    Ok(())
}
