//! `cargo bench --bench jitter`: the real-time proof of s7rtd, measured in one run beside
//! cyclictest, a floor server and Snap7's server, with a report under `results/`.
//!
//! Phases, in order (full run ≈ 3 minutes; `-- --smoke` ≈ 15 s, for CI):
//! 1. cyclictest (Debian `rt-tests`) on the RT CPU at the loop's priority and interval;
//! 2. s7rtd in this process, idle: the loop's own cycle wake-up latency;
//! 3. s7rtd, the floor and Snap7, each pinned to the RT CPU (SCHED_FIFO when permitted),
//!    driven by [`s7rt_bench::load`] from the other CPU: 1, 8 and 64 connections, 4-byte DB reads,
//!    closed loop;
//! 4. cyclictest again;
//! 5. instructions per request of s7rtd and Snap7 under `valgrind --tool=callgrind`;
//! 6. `results/<UTC time>-<host>/`: `report.md`, `figures.json`, SVG plots, `.hgrm` files.
//!
//! Options (after `--`): `--smoke`, `--out DIR`, `--rt-cpu N` (default 1), `--load-cpu N`
//! (default 0), `--priority P` (default 99), `--cycle-us N` (default 1000), `--s7rtd-addr
//! ADDR` (drive an already running daemon instead of starting one; in-loop figures then come
//! from the daemon's own log and histogram files). Internal: `--serve-snap7 SO PORT`.
//!
//! The RT thread's heap allocations are counted by this binary's counting allocator
//! (thread-local counter, reported through `s7rt::server::set_thread_alloc_counter`).

#![allow(unsafe_code)] // the counting allocator and dlopen of libsnap7

mod callgrind;
mod cyclictest;
mod phases;
mod servers;
mod writer;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local!(static ALLOCS: Cell<u64> = const { Cell::new(0) });

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn thread_allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-snap7") {
        let so = args.get(i + 1).cloned().unwrap_or_default();
        let port = args.get(i + 2).and_then(|p| p.parse().ok()).unwrap_or(0);
        return match servers::serve_snap7(&so, port) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("snap7 server: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench targets without it,
    // and a measurement has no place there (the CI smoke run is explicit in scripts/test.sh).
    if !args.iter().any(|a| a == "--bench") {
        println!("jitter: a benchmark; run it with `cargo bench --bench jitter [-- --smoke]`");
        return std::process::ExitCode::SUCCESS;
    }
    s7rt::server::set_thread_alloc_counter(thread_allocs);
    // Hold the PM QoS request for the whole run, as cyclictest does for itself: without it
    // the floor and Snap7 phases would pay deep C-state exits that s7rtd (which holds it
    // while serving) does not, and the ratios would flatter s7rtd.
    let _dma = match s7rt::rt::hold_dma_latency() {
        Ok(f) => Some(f),
        Err(m) => {
            eprintln!("jitter bench: {m}; all phases run without it");
            None
        }
    };
    match phases::run(&args) {
        Ok(dir) => {
            println!("report written to {}", dir.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("jitter bench failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
