//! A description of the machine a measurement ran on, for reports: host, kernel, PREEMPT_RT,
//! CPU model, governor, isolated CPUs, and the commit. Read from `/proc` and `/sys` (Linux);
//! a value that cannot be read is reported as `"unknown"`, never guessed.

use serde::Serialize;

/// The machine and software a report was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// Host name.
    pub host: String,
    /// Kernel release and version string (`uname -rv`).
    pub kernel: String,
    /// True when the kernel is PREEMPT_RT (`/sys/kernel/realtime` is 1, or the version
    /// string names PREEMPT_RT).
    pub preempt_rt: bool,
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Online CPUs.
    pub cpus: usize,
    /// cpufreq governor of CPU 0 (VMs often have none).
    pub governor: String,
    /// Isolated CPUs (`/sys/devices/system/cpu/isolated`), empty when none.
    pub isolcpus: String,
    /// `nohz_full` CPUs, empty when none.
    pub nohz_full: String,
    /// Kernel command line.
    pub cmdline: String,
    /// `git describe --always --dirty` of the working tree, or "unknown".
    pub commit: String,
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The value of the first `key : value` line of `/proc/cpuinfo` text whose key is `key`.
pub fn cpuinfo_field(cpuinfo: &str, key: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

impl Machine {
    /// Describes the machine this process runs on.
    pub fn detect() -> Machine {
        let unknown = || "unknown".to_string();
        let release = read_trim("/proc/sys/kernel/osrelease").unwrap_or_else(unknown);
        let version = read_trim("/proc/sys/kernel/version").unwrap_or_default();
        let realtime = read_trim("/sys/kernel/realtime").as_deref() == Some("1");
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            host: read_trim("/proc/sys/kernel/hostname").unwrap_or_else(unknown),
            preempt_rt: realtime || version.contains("PREEMPT_RT"),
            kernel: format!("{release} {version}").trim().to_string(),
            cpu_model: cpuinfo_field(&cpuinfo, "model name").unwrap_or_else(unknown),
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            governor: read_trim("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
                .unwrap_or_else(|| "none (no cpufreq)".to_string()),
            isolcpus: read_trim("/sys/devices/system/cpu/isolated").unwrap_or_default(),
            nohz_full: read_trim("/sys/devices/system/cpu/nohz_full").unwrap_or_default(),
            cmdline: read_trim("/proc/cmdline").unwrap_or_default(),
            commit: command("git", &["describe", "--always", "--dirty"]).unwrap_or_else(unknown),
        }
    }

    /// A markdown bullet list of the fields.
    pub fn markdown(&self) -> String {
        let or_none = |s: &str| {
            if s.is_empty() {
                "none".to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "- host: `{}`\n- kernel: `{}`\n- PREEMPT_RT: {}\n- CPU: {} ({} online)\n- governor: {}\n- isolcpus: {}\n- nohz_full: {}\n- kernel command line: `{}`\n- commit: `{}`\n",
            self.host,
            self.kernel,
            if self.preempt_rt { "yes" } else { "no" },
            self.cpu_model,
            self.cpus,
            self.governor,
            or_none(&self.isolcpus),
            or_none(&self.nohz_full),
            self.cmdline,
            self.commit,
        )
    }
}

/// Now as `YYYY-MM-DDTHHMMSSZ` (UTC; no colons, so it is usable in a file name).
pub fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H%M%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_a_file_name_friendly_utc_instant() {
        let t = timestamp();
        assert_eq!(t.len(), "2026-12-02T053519Z".len(), "{t}");
        assert!(t.ends_with('Z') && !t.contains(':'), "{t}");
        assert_eq!(t.as_bytes()[10], b'T', "{t}");
    }

    #[test]
    fn cpuinfo_field_takes_the_first_matching_key() {
        let text = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum\nflags\t: fpu\nmodel name\t: other\n";
        assert_eq!(
            cpuinfo_field(text, "model name").as_deref(),
            Some("Intel(R) Xeon(R) Platinum")
        );
        assert_eq!(cpuinfo_field(text, "model"), None);
    }

    #[test]
    fn markdown_names_missing_isolation_as_none() {
        let m = Machine {
            host: "h".into(),
            kernel: "6.1 #1 SMP".into(),
            preempt_rt: false,
            cpu_model: "cpu".into(),
            cpus: 2,
            governor: "performance".into(),
            isolcpus: String::new(),
            nohz_full: "1".into(),
            cmdline: "quiet".into(),
            commit: "abc".into(),
        };
        let md = m.markdown();
        assert!(md.contains("- isolcpus: none\n"), "{md}");
        assert!(md.contains("- nohz_full: 1\n"), "{md}");
        assert!(md.contains("- PREEMPT_RT: no\n"), "{md}");
    }
}
