//! s7rt: a hard-real-time Siemens S7 (S7comm over ISO-on-TCP) PLC protocol server.
//!
//! What the library offers:
//! - [`server::Server`] starts the server from a [`config::Config`] (the `s7rtd` daemon is
//!   a thin command line around the two);
//! - [`session::Session`], the sans-IO protocol engine of one connection (bytes in, bytes out,
//!   no sockets and no clock), over a process image implementing [`plc::Memory`];
//! - [`client::Client`], a small blocking S7 client (for tools, tests and load generators);
//! - [`wire`], the TPKT/COTP/S7comm codec, for tools that build or inspect frames;
//! - [`log_queue`], the log writer that never blocks the thread that logs (the daemon's);
//! - [`tags`], named and typed values in the image: STEP 7 addresses, S7 types encoded as a
//!   CPU lays them out, `[[tag]]` configuration;
//! - [`ctl`], the control socket (JSON lines over a Unix socket) and `s7rtd ctl`;
//! - [`events`] and [`telemetry`], what the server reports; [`rt`], the real-time process
//!   measures (pinning, SCHED_FIFO, page-fault counters) for tools that measure it.
//!
//! Inside, from the wire up: `wire` (bytes ↔ meaning), `plc` (the emulated CPU's image),
//! `service` (the S7 job router `service::dispatch` and one module per S7 function family),
//! `session` (the COTP transport of one connection), `event_loop` (the only code that touches
//! sockets, run on one pinned SCHED_FIFO thread), `housekeeping` (logging, off the RT
//! thread), `config` and `server` (start-up in the order the real-time rules demand, with
//! `fd_limit` checking the descriptor budget), `accept_guard` (the listener's back-off).
//! `docs/architecture.md` draws the module map and one request's path.

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
