//! A small edge application around an in-process s7rt server: it publishes a simulated
//! sensor into DB1 every 10 ms and prints every setpoint an HMI writes.
//!
//! ```sh
//! cargo run --example edge -- 127.0.0.1:1102          # then point an HMI at it
//! ```
//!
//! The image an HMI sees:
//! - `DB1.DBD0`  REAL  temperature (°C, simulated), `DB1.DBD4` DINT samples published and
//!   `DB1.DBD8` DINT the same count again (a check word an HMI can compare), all written in
//!   one batch: no client ever reads a sample count without its temperature and check word;
//! - `DB1.DBD100` REAL setpoint, `DB1.DBX104.0` BOOL enable: written by the HMI, printed here.
//!
//! Stops on SIGINT/SIGTERM. Prints `edge: listening on ADDR` first (for scripts and tests).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use s7rt::config::Config;
use s7rt::host::Notification;
use s7rt::server::Server;
use s7rt::wire::var::Area;

const SENSOR_PERIOD: Duration = Duration::from_millis(10);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1102".into());
    let mut cfg = Config::from_toml(&format!(
        "listen = \"{listen}\"\n[rt]\nenabled = false\n\n[[db]]\nnumber = 1\nsize = 256\n"
    ))?;
    // Real time is for the edge box (s7rtd's systemd unit); this example runs anywhere.
    cfg.rt.enabled = std::env::var_os("EDGE_RT").is_some();

    let mut server = Server::start(&cfg)?;
    println!("edge: listening on {}", server.local_addr());
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }

    // The sensor: its own thread with its own handle.
    let sensor = {
        let (host, stop) = (server.host(), stop.clone());
        std::thread::spawn(move || -> Result<(), s7rt::host::HostError> {
            let start = Instant::now();
            let mut next = start;
            let mut samples: i32 = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = start.elapsed().as_secs_f32();
                let temperature = 20.0 + 5.0 * (t * 0.5).sin();
                samples = samples.wrapping_add(1);
                let mut b = host.batch();
                b.write(Area::DataBlock, 1, 0, &temperature.to_be_bytes())?
                    .write(Area::DataBlock, 1, 4, &samples.to_be_bytes())?
                    .write(Area::DataBlock, 1, 8, &samples.to_be_bytes())?;
                match b.commit() {
                    Ok(_) => {}
                    // The loop is busy: skip this sample rather than wait.
                    Err(s7rt::host::HostError::QueueFull { .. }) => {}
                    Err(e) => return Err(e),
                }
                next += SENSOR_PERIOD;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            Ok(())
        })
    };

    // The HMI's writes, with their data.
    let mut notes = server.host().notifications()?;
    while !stop.load(Ordering::Relaxed) {
        match notes.recv_timeout(Duration::from_millis(100)) {
            Some(Notification::Write(w)) if w.area == Area::DataBlock && w.db == 1 => {
                print_setpoints(w.offset, w.bit, &w.data);
            }
            Some(Notification::Write(w)) => {
                println!(
                    "edge: write {:?} DB{} offset {}: {:02x?}",
                    w.area, w.db, w.offset, w.data
                )
            }
            Some(Notification::Lagged(n)) => println!("edge: missed {n} writes (too slow)"),
            None => {}
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Ok(Err(e)) = sensor.join() {
        eprintln!("edge: sensor stopped: {e}");
    }
    server.shutdown()?;
    Ok(())
}

/// Prints the setpoint fields a DB1 write covers (`DB1.DBD100` REAL, `DB1.DBX104.0` BOOL).
fn print_setpoints(offset: usize, bit: Option<u8>, data: &[u8]) {
    let end = offset + data.len();
    if offset <= 100 && end >= 104 {
        let at = 100 - offset;
        if let Some(b) = data.get(at..at + 4) {
            let v = f32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            println!("edge: setpoint DB1.DBD100 = {v}");
        }
    }
    match bit {
        Some(0) if offset == 104 => {
            let on = data.first().is_some_and(|v| v & 1 != 0);
            println!("edge: setpoint DB1.DBX104.0 = {on}");
        }
        None if offset <= 104 && end > 104 => {
            let on = data.get(104 - offset).is_some_and(|v| v & 1 != 0);
            println!("edge: setpoint DB1.DBX104.0 = {on}");
        }
        _ => {}
    }
    if end <= 100 || offset >= 105 {
        println!("edge: write DB1 offset {offset}: {data:02x?}");
    }
}
