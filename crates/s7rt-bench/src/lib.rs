//! Measurement tooling for s7rt, kept out of the server's build: the load generator behind
//! `s7load` and the jitter bench ([`load`]), and what the benches need to write their reports
//! ([`percentiles`], [`report`], [`plot`], [`machine`]).
//!
//! The server crate (`s7rt`) holds only what the server runs; its latency histograms and
//! their `.hgrm` export stay there ([`s7rt::telemetry`]).

pub mod load;
pub mod machine;
pub mod percentiles;
pub mod plot;
pub mod report;

pub use percentiles::Percentiles;
