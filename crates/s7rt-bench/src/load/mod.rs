//! A load generator for S7 servers, built on [`s7rt::client`]: N connections, each on its
//! own thread, closed loop (next request when the answer arrives) or paced at a fixed total
//! rate, a weighted mix of operations, client-side round-trip histograms, optional pinning.
//!
//! Paced mode measures each round trip from the moment the request was *scheduled*, not from
//! when it was sent, so a server that stalls is charged for the requests it delayed
//! (coordinated-omission correction, as wrk2 does).
//!
//! This is benchmark tooling, not RT code: it allocates freely at start-up and between
//! phases; the request loop itself reuses its buffers.

mod mix;
#[cfg(test)]
mod tests;

pub use mix::{Mix, Op};

use std::net::SocketAddr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use s7rt::client::{Client, ClientError};
use s7rt::telemetry::histogram;
use s7rt::wire::s7::{Function, Rosctr};
use s7rt::wire::var::{self, Area, Item, TransportSize};

/// When requests are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each connection sends its next request as soon as the answer arrives.
    Closed,
    /// All connections together send `rate` requests per second, evenly spaced per
    /// connection.
    Rate(f64),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Server address.
    pub addr: SocketAddr,
    /// Connections (one thread each).
    pub connections: usize,
    /// Closed loop or paced.
    pub pace: Pace,
    /// Operations.
    pub mix: Mix,
    /// DB number the operations address (item `i` of a multi-read starts at `i × len`).
    pub db: u16,
    /// Measured time.
    pub duration: Duration,
    /// Unmeasured requests per connection before the measured time starts.
    pub warmup: u32,
    /// CPUs to pin the connection threads to, round robin (empty: not pinned).
    pub pin: Vec<usize>,
    /// PDU size to ask for.
    pub pdu: u16,
}

impl LoadSpec {
    /// One closed-loop connection reading `len` bytes of DB1 for `duration`.
    pub fn closed(addr: SocketAddr, connections: usize, op: Op, duration: Duration) -> LoadSpec {
        LoadSpec {
            addr,
            connections,
            pace: Pace::Closed,
            mix: Mix::single(op),
            db: 1,
            duration,
            warmup: 200,
            pin: Vec::new(),
            pdu: 480,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Round trips (ns) of every measured request, all connections merged.
    pub rtt: Histogram<u64>,
    /// Requests answered in the measured time.
    pub requests: u64,
    /// Requests that failed (the connection stops at its first error).
    pub errors: u64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Measured wall time.
    pub elapsed: Duration,
}

impl LoadResult {
    /// Answered requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The parameter block of a Read Var of `items` items of `len` bytes from DB `db`, item `i`
/// at byte `i × len`, into `out`; returns its length (`None` if `out` is too small).
pub fn multi_read_params(db: u16, items: u8, len: u16, out: &mut [u8]) -> Option<usize> {
    let total = 2 + 12 * usize::from(items);
    let p = out.get_mut(..total)?;
    p[0] = Function::ReadVar.into();
    p[1] = items;
    for i in 0..usize::from(items) {
        Item {
            syntax_id: var::SYNTAX_S7ANY,
            transport: TransportSize::Byte,
            count: len,
            db,
            area: Area::DataBlock,
            bit_addr: ((i as u32) * u32::from(len)) << 3,
        }
        .emit(&mut p[2 + 12 * i..])?;
    }
    Some(total)
}

/// Checks the data part of a multi-item read answer: `items` items, each with return code
/// 0xFF and `len` bytes, padded to even length between items.
pub fn check_multi_read_answer(data: &[u8], items: u8, len: u16) -> Result<(), ClientError> {
    let mut at = 0;
    for i in 0..items {
        let head = data
            .get(at..at + 4)
            .ok_or(ClientError::Protocol("multi-read answer too short"))?;
        if head[0] != 0xFF {
            return Err(ClientError::Item(var::ReturnCode::from(head[0])));
        }
        let n = usize::from(len);
        at += 4 + n;
        if i + 1 < items && n % 2 == 1 {
            at += 1;
        }
        if at > data.len() {
            return Err(ClientError::Protocol("multi-read item shorter than asked"));
        }
    }
    Ok(())
}

struct Conn {
    client: Client,
    round: Vec<Op>,
    next: usize,
    db: u16,
    buf: Vec<u8>,
    params: Vec<u8>,
}

impl Conn {
    fn request(&mut self) -> Result<(), ClientError> {
        let op = self.round[self.next];
        self.next = (self.next + 1) % self.round.len();
        match op {
            Op::Read { len } => self.client.read(
                Area::DataBlock,
                self.db,
                0,
                &mut self.buf[..usize::from(len)],
            ),
            Op::Write { len } => {
                self.client
                    .write(Area::DataBlock, self.db, 0, &self.buf[..usize::from(len)])
            }
            Op::MultiRead { items, len } => {
                let n = multi_read_params(self.db, items, len, &mut self.params)
                    .ok_or(ClientError::Protocol("too many items"))?;
                let (_, data) = self.client.request(Rosctr::Job, &self.params[..n], &[])?;
                check_multi_read_answer(data, items, len)
            }
        }
    }
}

struct Partial {
    rtt: Histogram<u64>,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

fn worker(
    spec: &LoadSpec,
    index: usize,
    barrier: &Barrier,
    start: &std::sync::OnceLock<Instant>,
) -> Partial {
    let mut out = Partial {
        rtt: histogram(),
        requests: 0,
        errors: 0,
        first_error: None,
    };
    if let Some(&cpu) = spec.pin.get(index % spec.pin.len().max(1)) {
        // Best effort, as before: an unpinned load still measures, only more noisily.
        let _ = s7rt::rt::pin_to_cpu(cpu);
    }
    let max_len = spec
        .mix
        .ops()
        .iter()
        .map(|(op, _)| match *op {
            Op::Read { len } | Op::Write { len } => usize::from(len),
            Op::MultiRead { len, .. } => usize::from(len),
        })
        .max()
        .unwrap_or(1);
    let connected = Client::connect(spec.addr, 0, 1, spec.pdu).map(|client| Conn {
        client,
        round: spec.mix.round(),
        next: index, // stagger the connections' positions in the mix
        db: spec.db,
        buf: vec![0x5A; max_len],
        params: vec![0; 2 + 12 * 255],
    });
    let mut conn = match connected {
        Ok(mut c) => {
            c.next %= c.round.len();
            let mut warm = Ok(());
            for _ in 0..spec.warmup {
                warm = c.request();
                if warm.is_err() {
                    break;
                }
            }
            warm.map(|()| c)
        }
        Err(e) => Err(e),
    };
    barrier.wait();
    let t0 = *start.get_or_init(Instant::now);
    let end = t0 + spec.duration;
    let c = match conn.as_mut() {
        Ok(c) => c,
        Err(e) => {
            out.errors = 1;
            out.first_error = Some(e.to_string());
            return out;
        }
    };
    let period = match spec.pace {
        Pace::Closed => None,
        Pace::Rate(r) => Some(Duration::from_secs_f64(
            spec.connections as f64 / r.max(1e-3),
        )),
    };
    // Paced connections start spread over one period so they do not send in lockstep.
    let mut scheduled = match period {
        Some(p) => t0 + p.mul_f64(index as f64 / spec.connections.max(1) as f64),
        None => t0,
    };
    loop {
        let now = Instant::now();
        let sent = match period {
            Some(p) => {
                if scheduled >= end {
                    break;
                }
                if scheduled > now {
                    std::thread::sleep(scheduled - now);
                }
                let s = scheduled;
                scheduled += p;
                s
            }
            None => {
                if now >= end {
                    break;
                }
                now
            }
        };
        match c.request() {
            Ok(()) => {
                out.rtt.saturating_record(sent.elapsed().as_nanos() as u64);
                out.requests += 1;
            }
            Err(e) => {
                out.errors += 1;
                out.first_error = Some(e.to_string());
                break;
            }
        }
    }
    out
}

/// Runs `spec`: connects every connection, warms up, then measures all of them together for
/// `spec.duration`.
pub fn run(spec: &LoadSpec) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(spec.connections > 0, "at least one connection is needed");
    let barrier = Barrier::new(spec.connections);
    let start = std::sync::OnceLock::new();
    let parts: Vec<Partial> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..spec.connections)
            .map(|i| {
                let (barrier, start) = (&barrier, &start);
                std::thread::Builder::new()
                    .name(format!("s7load-{i}"))
                    .spawn_scoped(s, move || worker(spec, i, barrier, start))
            })
            .collect::<Result<_, _>>()?;
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("load thread panicked"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let elapsed = start
        .get()
        .map_or(Duration::ZERO, |t: &Instant| t.elapsed());
    let mut result = LoadResult {
        rtt: histogram(),
        requests: 0,
        errors: 0,
        first_error: None,
        elapsed,
    };
    for p in parts {
        result
            .rtt
            .add(&p.rtt)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        result.requests += p.requests;
        result.errors += p.errors;
        if result.first_error.is_none() {
            result.first_error = p.first_error;
        }
    }
    Ok(result)
}
