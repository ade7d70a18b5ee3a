//! The real-time toolkit: memory locking and prefaulting, CPU pinning, SCHED_FIFO, and the
//! PM QoS request, each reported as what was missing and how to grant it.

mod config;
pub mod cycle;
pub mod measures;
mod preempt_rt;
pub(crate) mod sys;

pub use config::RtConfig;
pub use sys::thread_faults;

/// Warnings for a configuration in which the loop's cycle or its input waits for a kernel
/// thread (`ktimers/N`, `irq/N-*`) that runs below the loop on its CPU; empty when real-time
/// measures are off. `cycle` is the mechanism in use, as chosen at start. Each warning says
/// what follows and what to do (see `preempt_rt`).
pub fn kernel_thread_warnings(rt: &RtConfig, cycle: &cycle::CycleChoice) -> Vec<String> {
    if !rt.enabled {
        return Vec::new();
    }
    let placement = preempt_rt::LoopPlacement {
        cpu: rt.cpu,
        priority: rt.priority,
        timerfd_cycle: cycle.timer == cycle::CycleTimer::Timerfd,
        busy_poll: rt.busy_poll,
    };
    preempt_rt::priority_warnings(
        placement,
        cycle.platform.preempt_rt,
        &preempt_rt::kernel_threads(),
    )
}

use std::fmt;
use std::fs::File;
use std::io::Write;

pub use measures::{Measure, State, Status};

/// One real-time measure that could not be applied.
#[derive(Debug)]
pub struct Missing {
    /// Which measure.
    pub measure: Measure,
    /// What could not be done.
    pub what: &'static str,
    /// The OS error.
    pub error: std::io::Error,
    /// How to grant it.
    pub how: &'static str,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed ({}); to grant it: {}",
            self.what, self.error, self.how
        )
    }
}

/// Locks all current and future pages (`mlockall(MCL_CURRENT | MCL_FUTURE)`).
pub fn lock_memory() -> Result<(), Missing> {
    sys::tune_malloc();
    nix::sys::mman::mlockall(nix::sys::mman::MlockAllFlags::MCL_CURRENT | nix::sys::mman::MlockAllFlags::MCL_FUTURE)
        .map_err(|e| Missing {
            measure: Measure::LockMemory,
            what: "mlockall(MCL_CURRENT|MCL_FUTURE)",
            error: std::io::Error::from(e),
            how: "run as root, or grant CAP_IPC_LOCK, or raise RLIMIT_MEMLOCK (systemd: LimitMEMLOCK=infinity; shell: ulimit -l unlimited)",
        })
}

/// Pins the calling thread to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> Result<(), Missing> {
    let mut set = nix::sched::CpuSet::new();
    let r = set
        .set(cpu)
        .and_then(|_| nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set));
    r.map_err(|e| Missing {
        measure: Measure::PinCpu,
        what: "sched_setaffinity (pin the RT thread)",
        error: std::io::Error::from(e),
        how: "choose a CPU that exists and is in the process's allowed set (systemd: CPUAffinity= must include it; check `taskset -p $$`)",
    })
}

/// Switches the calling thread to SCHED_FIFO at `priority` (1..=99).
pub fn set_fifo(priority: u8) -> Result<(), Missing> {
    sys::set_fifo(i32::from(priority)).map_err(|error| Missing {
        measure: Measure::SchedFifo,
        what: "SCHED_FIFO for the RT thread",
        error,
        how: "run as root, or grant CAP_SYS_NICE, or set RLIMIT_RTPRIO ≥ the priority (systemd: LimitRTPRIO=; shell: ulimit -r 99); on kernels with CONFIG_RT_GROUP_SCHED the service's cgroup also needs RT runtime (cpu.rt_runtime_us)",
    })
}

/// Holds `/dev/cpu_dma_latency` at 0 µs for as long as the returned file stays open, which
/// keeps CPUs out of deep C-states (what cyclictest does by default).
pub fn hold_dma_latency() -> Result<File, Missing> {
    let how = "run as root, or give the daemon's group rw access to /dev/cpu_dma_latency with a udev rule; or limit C-states on the kernel command line";
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/cpu_dma_latency")
        .map_err(|error| Missing {
            measure: Measure::DmaLatency,
            what: "open /dev/cpu_dma_latency",
            error,
            how,
        })?;
    f.write_all(&0i32.to_ne_bytes()).map_err(|error| Missing {
        measure: Measure::DmaLatency,
        what: "write 0 to /dev/cpu_dma_latency",
        error,
        how,
    })?;
    Ok(f)
}

/// Touches `bytes` of stack so those pages exist (and, after `mlockall`, stay) before the
/// loop runs.
#[inline(never)]
pub fn prefault_stack(bytes: usize) {
    const CHUNK: usize = 16 * 1024;
    fn touch(depth: usize) {
        let mut buf = [0u8; CHUNK];
        buf[0] = 1;
        std::hint::black_box(&mut buf);
        if depth > 1 {
            touch(depth - 1);
        }
    }
    touch(bytes.div_ceil(CHUNK).max(1));
}
