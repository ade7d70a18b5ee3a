//! s7rt: a hard-real-time Siemens S7 PLC protocol server (S7comm over ISO-on-TCP, TCP port
//! 102), as the `s7rtd` daemon and as a library an edge application embeds.
//!
//! One pinned SCHED_FIFO thread serves every client from a process image in locked memory:
//! no allocation, lock, log or page fault per request after start-up. Everything else
//! (logging, persistence, metrics, the host application) talks to it through bounded
//! lock-free queues.
//!
//! # Start a server, share its image, talk to it
//!
//! ```
//! use s7rt::{client::Client, config::Config, server::Server, tags::Value, wire::var::Area};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = Config::from_toml(
//!     r#"
//!     listen = "127.0.0.1:0"      # any free port (s7rtd's default is 0.0.0.0:102)
//!     [rt]
//!     enabled = false             # no SCHED_FIFO or pinning: a test, a desktop
//!     [metrics]
//!     listen = ""                 # no Prometheus endpoint
//!     [[db]]
//!     number = 1
//!     size = 64
//!     [[tag]]
//!     name = "Line4.Speed"
//!     address = "DB1.DBD4"
//!     type = "REAL"
//!     "#,
//! )?;
//! let mut server = Server::start(&cfg)?;
//!
//! // The host application: typed writes by tag name, applied between two S7 jobs.
//! let host = server.host();
//! host.write_value("Line4.Speed", &Value::Real(12.5))?;
//!
//! // An S7 client (python-snap7, an HMI, or s7rt's own) sees it in DB1.
//! let mut client = Client::connect(server.local_addr(), 0, 1, 480)?;
//! let mut speed = [0u8; 4];
//! client.read(Area::DataBlock, 1, 4, &mut speed)?;
//! assert_eq!(f32::from_be_bytes(speed), 12.5);
//!
//! drop(client);
//! server.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! # What the library offers
//!
//! - [`config::Config`]: the TOML configuration (listener, limits, `[rt]` placement, the
//!   image's areas and DBs, `[[tag]]`, `[[access]]`, `[persist]`, `[host]`); every key has
//!   a default and every error names its key.
//! - [`server::Server`]: start-up in the order the real-time rules demand, the running
//!   server's counters, and shutdown (what was measured, the final image).
//! - [`host::Host`]: the in-process application API: byte, bit and typed reads and writes,
//!   transactions ([`host::Batch`]), notifications of client writes
//!   ([`host::Notifications`]).
//! - [`tags`]: named, typed values in the image: STEP 7 addresses (`DB1.DBD4`, `MW10`), S7
//!   types encoded as a CPU lays them out.
//! - [`persist`]: retentive DBs, flags and tags kept across restarts.
//! - [`access`]: which client network may do what (`[[access]]` rules).
//! - [`client::Client`]: a small blocking S7 client, for tools, tests and load generators.
//! - [`wire`]: the TPKT/COTP/S7comm codec (checked views over borrowed bytes, `Repr`s to
//!   emit), for tools that build or inspect frames; [`session::Session`], the sans-IO
//!   protocol engine of one connection (bytes in, bytes out, no socket, no clock) over an
//!   image implementing [`plc::Memory`].
//! - For the daemon and its operators: [`cli`] (the `s7rtd` command line), [`ctl`] (the
//!   control socket and `s7rtd ctl`), [`log_queue`] and [`journal`] (logging that never
//!   blocks the thread that logs), [`events`] and [`telemetry`] (what the server reports),
//!   [`rt`] (the real-time measures: pinning, SCHED_FIFO, page-fault counters).
//!
//! Inside, from the wire up: `wire` (bytes ↔ meaning), `plc` (the emulated CPU and its
//! image), `service` (the S7 job router `service::dispatch` and one module per S7 function
//! family), `session` (the COTP transport of one connection), `event_loop` (the only code
//! that touches sockets, run on one pinned SCHED_FIFO thread), `housekeeping` (logging and
//! telemetry files, off the RT thread), `config` and `server` (start-up). No module imports
//! one that imports it back (`tests/module_graph.rs`); `docs/architecture.md` draws the
//! module map and one request's path.

mod accept_guard;
pub mod access;
mod admission;
pub mod cli;
pub mod client;
pub mod config;
pub mod ctl;
mod event_loop;
pub mod events;
mod fd_limit;
pub mod host;
mod housekeeping;
pub mod journal;
pub mod log_queue;
mod metrics;
pub mod persist;
pub mod plc;
pub mod rt;
pub mod server;
mod service;
pub mod session;
mod settings;
pub mod tags;
pub mod telemetry;
mod throttle;
pub mod wire;
