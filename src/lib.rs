//! s7rt: a hard-real-time Siemens S7 (S7comm over ISO-on-TCP) PLC protocol server.
//!
//! Layers, from the wire up: [`wire`] (bytes ↔ meaning), [`plc`] (the emulated CPU's image),
//! [`service`] (one module per S7 function family), [`session`] (one connection's sans-IO
//! state machine), [`event_loop`] (the only code that touches sockets, run on one pinned
//! SCHED_FIFO thread), [`housekeeping`] (logging, off the RT thread), [`config`] and
//! [`server`] (start-up in the order the real-time rules demand).

pub mod cli;
pub mod client;
pub mod config;
pub mod event_loop;
pub mod events;
pub mod housekeeping;
pub mod journal;
pub mod load;
pub mod metrics;
pub mod plc;
pub mod rt;
pub mod server;
pub mod service;
pub mod session;
pub mod telemetry;
pub mod wire;
