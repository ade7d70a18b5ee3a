//! cyclictest (Debian's rt-tests) on the RT CPU: the kernel's own wake-up latency, the floor
//! the loop's wake-up latency is compared with. Installed when missing and allowed.

use std::process::{Command, Stdio};

use s7rt_bench::report::{self, Series};

use crate::phases::Opts;

/// Installs Debian's rt-tests (cyclictest) when it is missing and this runs as root with
/// apt-get, so one command on a fresh machine produces the whole report.
pub(crate) fn ensure_cyclictest(notes: &mut Vec<String>) {
    if Command::new("cyclictest").arg("--help").output().is_ok() {
        return;
    }
    if !nix::unistd::geteuid().is_root()
        || Command::new("apt-get").arg("--version").output().is_err()
    {
        return; // the cyclictest phases note the skip and how to install it
    }
    eprintln!("[jitter] installing rt-tests (cyclictest) with apt-get");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "rt-tests"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = install()
        || (Command::new("apt-get")
            .args(["update", "-q"])
            .stdout(Stdio::null())
            .status()
            .is_ok()
            && install());
    notes.push(if ok {
        "cyclictest: installed Debian's rt-tests for this run".into()
    } else {
        "cyclictest: `apt-get install rt-tests` failed".into()
    });
}

/// Runs cyclictest on the RT CPU with the loop's priority and interval.
pub(crate) fn cyclictest(
    o: &Opts,
    secs: u64,
    notes: &mut Vec<String>,
    label: &str,
) -> Option<Series> {
    let args = [
        "-m".to_string(),
        "-q".to_string(),
        format!("-p{}", o.priority),
        format!("-a{}", o.rt_cpu),
        "-t1".to_string(),
        format!("-i{}", o.cycle_us),
        format!("-D{secs}"),
        "-h20000".to_string(),
    ];
    match Command::new("cyclictest").args(&args).output() {
        Ok(out) if out.status.success() => {
            match report::parse_cyclictest(&String::from_utf8_lossy(&out.stdout)) {
                Ok(h) => {
                    notes.push(format!("{label}: `cyclictest {}`", args.join(" ")));
                    Some(Series::new(label, h))
                }
                Err(e) => {
                    notes.push(format!("{label}: cyclictest output unreadable: {e}"));
                    None
                }
            }
        }
        Ok(out) => {
            notes.push(format!(
                "{label}: cyclictest failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            None
        }
        Err(e) => {
            notes.push(format!(
                "{label}: SKIPPED, cyclictest not runnable ({e}); install Debian's rt-tests: apt-get install -y rt-tests"
            ));
            None
        }
    }
}
