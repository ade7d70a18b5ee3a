//! `[rt]`: where and how the event loop runs. Defined here, beside the measures it
//! configures, so that `rt` depends on nothing above it; [`crate::config`] re-exports it.

use serde::Deserialize;

use super::cycle::CycleTimer;

/// `[rt]`: where and how the event loop runs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RtConfig {
    /// Apply SCHED_FIFO, pinning, mlockall and the PM QoS request at all.
    pub enabled: bool,
    /// CPU to pin the RT thread to.
    pub cpu: usize,
    /// SCHED_FIFO priority (1..=99).
    pub priority: u8,
    /// Cycle period in microseconds.
    pub cycle_us: u64,
    /// Hold /dev/cpu_dma_latency at 0.
    pub dma_latency: bool,
    /// Poll without sleeping (pegs the CPU; only for isolated CPUs).
    pub busy_poll: bool,
    /// What wakes the loop for its cycle: `auto` (default: `epoll` on a PREEMPT_RT kernel,
    /// `timerfd` elsewhere), `epoll` (the cycle deadline is the epoll_pwait2 timeout,
    /// expired in hard-IRQ context on PREEMPT_RT, but a timer is programmed per wait) or
    /// `timerfd` (a periodic timerfd armed once: nothing programmed per wait, but on
    /// PREEMPT_RT it expires in the FIFO-1 ktimers thread). See [`crate::rt::cycle`].
    pub cycle_timer: CycleTimer,
    /// Refuse to start when any real-time measure cannot be applied.
    pub strict: bool,
}
impl Default for RtConfig {
    fn default() -> Self {
        // CPU 1 leaves CPU 0 to housekeeping and interrupts; a single-CPU machine uses 0.
        let cpu = std::thread::available_parallelism().map_or(1, |n| n.get().min(2) - 1);
        RtConfig {
            enabled: true,
            cpu,
            priority: 99,
            cycle_us: 1000,
            dma_latency: true,
            busy_poll: false,
            cycle_timer: CycleTimer::Auto,
            strict: false,
        }
    }
}
