//! `s7reads ADDR N`: N sequential 4-byte reads of DB1.DBB0 on one connection (PDU 480), the
//! requests the jitter bench counts instructions of (`benches/jitter/phases.rs`), so
//! `scripts/callgrind-read.sh` measures the same thing without the whole bench.

use std::net::SocketAddr;

use anyhow::Context;
use s7rt::client::Client;
use s7rt::wire::var::Area;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().context("usage: s7reads ADDR N")?.parse()?;
    let n: u64 = args.next().context("usage: s7reads ADDR N")?.parse()?;
    let mut c = Client::connect(addr, 0, 1, 480)?;
    let mut buf = [0u8; 4];
    for _ in 0..n {
        c.read(Area::DataBlock, 1, 0, &mut buf)?;
    }
    Ok(())
}
