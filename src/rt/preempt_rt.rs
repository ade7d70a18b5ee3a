//! What a PREEMPT_RT kernel changes for the loop: the kernel threads whose priority against
//! the loop's decides whether a configuration works there.
//!
//! On PREEMPT_RT two kernel threads stand between the loop and its inputs:
//! - `ktimers/N` (SCHED_FIFO 1) expires every hrtimer not marked hard, among them a timerfd's,
//!   so a `cycle_timer = "timerfd"` loop above it waits for it to run (traced in
//!   `scripts/test-rt-kernel.sh`; the epoll timeout is a sleeper timer, marked hard for an RT
//!   task, and expires in hard-IRQ context instead);
//! - `irq/N-<dev>` (SCHED_FIFO 50) runs a device's interrupt handler and, for a NIC, the
//!   receive path; a busy-polling loop above it on the same CPU never lets it run.
//!
//! A blocking loop sleeps between packets, so it does not starve an IRQ thread below it.
//! Whether the kernel is PREEMPT_RT comes from `super::cycle::Platform`.

use std::fmt::Write as _;

/// A kernel thread that can delay the loop: its name, real-time priority and CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KernelThread {
    /// `comm`, e.g. `ktimers/1` or `irq/24-eth0` (the kernel truncates it to 15 bytes).
    pub(crate) name: String,
    /// SCHED_FIFO/SCHED_RR priority; 0 for any other policy.
    pub(crate) rt_priority: u8,
    /// CPUs it may run on.
    pub(crate) cpus: Vec<usize>,
}

/// What the checks need to know about the loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopPlacement {
    /// The CPU it is pinned to.
    pub(crate) cpu: usize,
    /// Its SCHED_FIFO priority.
    pub(crate) priority: u8,
    /// Its cycle is a timerfd (rather than the epoll timeout).
    pub(crate) timerfd_cycle: bool,
    /// It polls without sleeping.
    pub(crate) busy_poll: bool,
}

/// The `ktimers/*` and `irq/*` threads, read from `/proc` (threads that vanish or cannot be
/// read while scanning are left out).
pub(crate) fn kernel_threads() -> Vec<KernelThread> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let path = entry.path();
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let name = name.trim_end();
        if !(name.starts_with("ktimers/") || name.starts_with("irq/")) {
            continue;
        }
        let (Ok(stat), Ok(status)) = (
            std::fs::read_to_string(path.join("stat")),
            std::fs::read_to_string(path.join("status")),
        ) else {
            continue;
        };
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .and_then(|l| parse_cpu_list(l.trim()));
        if let (Some(rt_priority), Some(cpus)) = (rt_priority_of(&stat), cpus) {
            out.push(KernelThread {
                name: name.to_string(),
                rt_priority,
                cpus,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Warnings for a configuration in which the loop's cycle or its input waits for a kernel
/// thread that runs below the loop on its CPU; each says what follows and what to do.
pub(crate) fn priority_warnings(
    placement: LoopPlacement,
    preempt_rt: bool,
    threads: &[KernelThread],
) -> Vec<String> {
    let LoopPlacement { cpu, priority, .. } = placement;
    let mut warnings = Vec::new();
    if preempt_rt && placement.timerfd_cycle && !placement.busy_poll {
        let ktimers = format!("ktimers/{cpu}");
        if let Some(t) = threads
            .iter()
            .find(|t| t.name == ktimers && t.rt_priority < priority)
        {
            warnings.push(format!(
                "cycle_timer = \"timerfd\" on PREEMPT_RT: the cycle timer expires in {ktimers} \
                 ({}), below the loop (SCHED_FIFO {priority}), so every real-time task above it \
                 that runs on CPU {cpu} delays the cycle; use cycle_timer = \"epoll\" (its timeout \
                 expires in hard-IRQ context), or keep CPU {cpu} free of other real-time tasks",
                policy_name(t.rt_priority)
            ));
        }
    }
    if placement.busy_poll {
        let below: Vec<&KernelThread> = threads
            .iter()
            .filter(|t| t.name.starts_with("irq/") && t.cpus.contains(&cpu))
            .filter(|t| t.rt_priority < priority)
            .collect();
        if let Some(first) = below.first() {
            let mut names = String::new();
            for t in below.iter().take(4) {
                let sep = if names.is_empty() { "" } else { ", " };
                let _ = write!(names, "{sep}{} ({})", t.name, policy_name(t.rt_priority));
            }
            if below.len() > 4 {
                let _ = write!(names, " and {} more", below.len() - 4);
            }
            warnings.push(format!(
                "busy_poll = true at SCHED_FIFO {priority} on CPU {cpu}: the loop never sleeps, \
                 so the interrupt threads below it that may run there never do: {names}; a NIC's \
                 receive path runs in its IRQ thread, so requests stop arriving; set \
                 [rt] priority below {} or move those IRQs off CPU {cpu} \
                 (/proc/irq/N/smp_affinity_list), or set busy_poll = false",
                first.rt_priority.max(1)
            ));
        }
    }
    warnings
}

fn policy_name(rt_priority: u8) -> String {
    match rt_priority {
        0 => "not real-time".to_string(),
        p => format!("SCHED_FIFO {p}"),
    }
}

/// The real-time priority from a `/proc/PID/stat` line: field 40, counted after the command
/// name (which may hold spaces and parentheses, so the count starts at the last `)`).
fn rt_priority_of(stat: &str) -> Option<u8> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start at 3 (state); rt_priority is field 40.
    rest.split_whitespace().nth(40 - 3)?.parse().ok()
}

/// Parses a kernel CPU list such as `0-3,6` (as in `Cpus_allowed_list`).
fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 4096 {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(name: &str, rt_priority: u8, cpus: &[usize]) -> KernelThread {
        KernelThread {
            name: name.to_string(),
            rt_priority,
            cpus: cpus.to_vec(),
        }
    }

    fn threads() -> Vec<KernelThread> {
        vec![
            thread("ktimers/0", 1, &[0]),
            thread("ktimers/1", 1, &[1]),
            thread("irq/24-eth0", 50, &[1]),
            thread("irq/4-ttyS0", 50, &[0]),
        ]
    }

    fn placement(timerfd_cycle: bool, busy_poll: bool, priority: u8) -> LoopPlacement {
        LoopPlacement {
            cpu: 1,
            priority,
            timerfd_cycle,
            busy_poll,
        }
    }

    #[test]
    fn timerfd_cycle_above_ktimers_on_preempt_rt_is_warned_about() {
        let w = priority_warnings(placement(true, false, 99), true, &threads());
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("ktimers/1 (SCHED_FIFO 1)"), "{}", w[0]);
        assert!(w[0].contains("below the loop (SCHED_FIFO 99)"), "{}", w[0]);
    }

    #[test]
    fn timerfd_cycle_needs_no_warning_off_preempt_rt_or_with_ktimers_raised() {
        assert!(priority_warnings(placement(true, false, 99), false, &threads()).is_empty());
        let mut raised = threads();
        raised[1].rt_priority = 99;
        assert!(priority_warnings(placement(true, false, 99), true, &raised).is_empty());
    }

    #[test]
    fn epoll_cycle_needs_no_warning() {
        assert!(priority_warnings(placement(false, false, 99), true, &threads()).is_empty());
    }

    #[test]
    fn busy_poll_above_an_irq_thread_on_its_cpu_is_warned_about() {
        let w = priority_warnings(placement(false, true, 80), true, &threads());
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("irq/24-eth0 (SCHED_FIFO 50)"), "{}", w[0]);
        assert!(
            !w[0].contains("ttyS0"),
            "IRQ thread of another CPU named: {}",
            w[0]
        );
        assert!(w[0].contains("priority below 50"), "{}", w[0]);
        // Below the IRQ threads, busy polling starves none of them.
        assert!(priority_warnings(placement(false, true, 40), true, &threads()).is_empty());
    }

    #[test]
    fn rt_priority_is_read_after_the_command_name() {
        // Fields 3..=39 as zeros, then rt_priority 50 and policy 1 (SCHED_FIFO).
        let stat = format!("123 (irq/24-e (x) 0) {} 50 1 0", ["0"; 37].join(" "));
        assert_eq!(rt_priority_of(&stat), Some(50));
        assert_eq!(rt_priority_of("123 (truncated"), None);
    }

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpu_list("1"), Some(vec![1]));
        assert_eq!(parse_cpu_list("2-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }
}
