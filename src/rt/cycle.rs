//! Which mechanism wakes the event loop at its cycle deadline, and how `auto` picks one.
//!
//! Two mechanisms exist, each best somewhere:
//! - `epoll`: the deadline is the timeout of every `epoll_pwait2`. The kernel arms an
//!   hrtimer sleeper for each wait and cancels it when a request wakes the loop first. On
//!   PREEMPT_RT a SCHED_FIFO task's sleeper expires in hard-IRQ context, so the cycle wakes
//!   the loop straight from the timer interrupt. On a VM, programming that timer is a
//!   hypervisor exit on every wait, which doubled the 1-connection round trip on the
//!   development VM.
//! - `timerfd`: one periodic timerfd armed at start-up; the loop waits without a timeout.
//!   Nothing is programmed per wait, but on PREEMPT_RT a timerfd's hrtimer is a soft timer,
//!   expired by the FIFO-1 `ktimers` thread, which any busier RT task delays.
//!
//! `auto` (the default) therefore takes `epoll` on a PREEMPT_RT kernel and `timerfd`
//! everywhere else (a non-RT kernel expires both in hard-IRQ context, so only the cost per
//! wait differs, and the timerfd's is lower). Virtualization is detected and named in the
//! reason so the log says what a wait costs there.

use std::fmt;

/// What wakes the loop at its cycle deadline (`[rt] cycle_timer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CycleTimer {
    /// `epoll` on PREEMPT_RT, `timerfd` elsewhere (see the module docs).
    #[default]
    Auto,
    /// The deadline is the timeout of every `epoll_pwait2` (an hrtimer sleeper: on PREEMPT_RT
    /// expired in hard-IRQ context). The kernel programs a timer for each wait.
    Epoll,
    /// A periodic timerfd on the absolute deadlines, armed once; the loop waits without a
    /// timeout. No timer is programmed per wait, but on PREEMPT_RT a timerfd expires in the
    /// FIFO-1 `ktimers` thread.
    Timerfd,
}

impl CycleTimer {
    /// The configured name.
    pub fn name(self) -> &'static str {
        match self {
            CycleTimer::Auto => "auto",
            CycleTimer::Epoll => "epoll",
            CycleTimer::Timerfd => "timerfd",
        }
    }

    /// The mechanism to use on `platform`, and why.
    pub fn choose(self, platform: &Platform) -> CycleChoice {
        let timer = match self {
            CycleTimer::Auto if platform.preempt_rt => CycleTimer::Epoll,
            CycleTimer::Auto => CycleTimer::Timerfd,
            explicit => explicit,
        };
        CycleChoice {
            timer,
            configured: self,
            platform: platform.clone(),
        }
    }
}

/// What the kernel and machine are, as far as the cycle timer cares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Platform {
    /// A PREEMPT_RT kernel (`/sys/kernel/realtime` reads 1, or the kernel version names
    /// `PREEMPT_RT`).
    pub preempt_rt: bool,
    /// How a hypervisor was recognised, if one was (`None`: bare metal as far as we can tell).
    pub virtualized: Option<String>,
}

impl Platform {
    /// Reads `/sys/kernel/realtime`, `/proc/sys/kernel/version`, the CPU's `hypervisor`
    /// flag, `/sys/hypervisor/type` and the DMI vendor strings. Unreadable files count as
    /// "no".
    pub fn detect() -> Platform {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        Platform::from_files(
            &read("/sys/kernel/realtime"),
            &read("/proc/sys/kernel/version"),
            &read("/proc/cpuinfo"),
            &read("/sys/hypervisor/type"),
            &[
                read("/sys/class/dmi/id/sys_vendor"),
                read("/sys/class/dmi/id/product_name"),
            ],
        )
    }

    /// [`Platform::detect`] over the files' contents (testable without the files).
    pub fn from_files(
        realtime: &str,
        kernel_version: &str,
        cpuinfo: &str,
        hypervisor_type: &str,
        dmi: &[String],
    ) -> Platform {
        let preempt_rt = realtime.trim() == "1" || kernel_version.contains("PREEMPT_RT");
        let cpu_flag = cpuinfo
            .lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|f| f == "hypervisor"));
        const VMS: [&str; 8] = [
            "KVM",
            "QEMU",
            "VMware",
            "VirtualBox",
            "Xen",
            "Microsoft Corporation",
            "Amazon EC2",
            "Google Compute Engine",
        ];
        let dmi_vm = dmi
            .iter()
            .map(|s| s.trim())
            .find(|s| VMS.iter().any(|v| s.contains(v)));
        let virtualized = if cpu_flag {
            Some("CPU flag `hypervisor`".to_string())
        } else if !hypervisor_type.trim().is_empty() {
            Some(format!("/sys/hypervisor/type {}", hypervisor_type.trim()))
        } else {
            dmi_vm.map(|s| format!("DMI {s}"))
        };
        Platform {
            preempt_rt,
            virtualized,
        }
    }
}

/// The mechanism in use, what was configured, and the platform it was chosen for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleChoice {
    /// `Epoll` or `Timerfd`, never `Auto`.
    pub timer: CycleTimer,
    /// What the configuration said.
    pub configured: CycleTimer,
    /// What was detected.
    pub platform: Platform,
}

/// One log line: `cycle timer: <mechanism> (<configured>: <why>)`. Scripts grep for
/// `cycle timer: `.
impl fmt::Display for CycleChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kernel = if self.platform.preempt_rt {
            "PREEMPT_RT kernel"
        } else {
            "kernel not PREEMPT_RT"
        };
        let machine = match &self.platform.virtualized {
            Some(how) => format!("virtualized ({how})"),
            None => "no hypervisor detected".to_string(),
        };
        let why = match (self.timer, self.platform.preempt_rt) {
            (CycleTimer::Epoll, true) => {
                "the epoll_pwait2 timeout expires in hard-IRQ context; a timerfd would expire in the FIFO-1 ktimers thread"
            }
            (CycleTimer::Epoll, false) => {
                "the kernel programs a timer for every wait (a hypervisor exit on a VM); \"timerfd\" avoids that here"
            }
            (_, false) => {
                "a timerfd armed once costs no timer programming per wait and expires in hard-IRQ context on this kernel"
            }
            (_, true) => {
                // The warning, when there is one, is preempt_rt's: it knows whether ktimers
                // runs below the loop.
                "on PREEMPT_RT a timerfd expires in the ktimers thread; \"epoll\" wakes from hard-IRQ context"
            }
        };
        write!(
            f,
            "cycle timer: {} ({}: {kernel}, {machine}; {why})",
            self.timer.name(),
            match self.configured {
                CycleTimer::Auto => "auto",
                _ => "configured",
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(rt: bool, vm: bool) -> Platform {
        Platform {
            preempt_rt: rt,
            virtualized: vm.then(|| "test".to_string()),
        }
    }

    #[test]
    fn auto_takes_epoll_on_preempt_rt_and_timerfd_elsewhere() {
        for vm in [false, true] {
            let rt = CycleTimer::Auto.choose(&platform(true, vm));
            assert_eq!(rt.timer, CycleTimer::Epoll);
            assert!(rt
                .to_string()
                .starts_with("cycle timer: epoll (auto: PREEMPT_RT kernel"));
            let other = CycleTimer::Auto.choose(&platform(false, vm));
            assert_eq!(other.timer, CycleTimer::Timerfd);
            assert!(other
                .to_string()
                .starts_with("cycle timer: timerfd (auto: kernel not PREEMPT_RT"));
        }
        // An explicit choice is kept, and the line says it was configured.
        let forced = CycleTimer::Timerfd.choose(&platform(true, false));
        assert_eq!(forced.timer, CycleTimer::Timerfd);
        assert!(forced
            .to_string()
            .contains("(configured: PREEMPT_RT kernel"));
        assert!(forced.to_string().contains("expires in the ktimers thread"));
        assert_eq!(
            CycleTimer::Epoll.choose(&platform(false, true)).timer,
            CycleTimer::Epoll
        );
    }

    #[test]
    fn detection_reads_realtime_flag_version_cpu_flag_and_dmi() {
        let p = Platform::from_files("1\n", "", "", "", &[]);
        assert_eq!(p, platform(true, false));
        let p = Platform::from_files("", "#1 SMP PREEMPT_RT Debian 6.1", "", "", &[]);
        assert!(p.preempt_rt);
        let p = Platform::from_files(
            "0",
            "#1 SMP PREEMPT_DYNAMIC",
            "processor : 0\nflags\t\t: fpu vme hypervisor lahf_lm\n",
            "",
            &[],
        );
        assert_eq!(p.virtualized.as_deref(), Some("CPU flag `hypervisor`"));
        assert!(!p.preempt_rt);
        let p = Platform::from_files("", "", "flags : fpu\n", "xen\n", &[]);
        assert_eq!(p.virtualized.as_deref(), Some("/sys/hypervisor/type xen"));
        let p = Platform::from_files("", "", "", "", &["QEMU\n".into(), "Standard PC\n".into()]);
        assert_eq!(p.virtualized.as_deref(), Some("DMI QEMU"));
        // "hypervisor" must be a whole flag, not part of another word or line.
        let p = Platform::from_files("", "", "model name : hypervisor-ready\n", "", &[]);
        assert_eq!(p, platform(false, false));
    }
}
