//! Writes the s7rtd(8) man page, generated from the daemon's command-line definition, so the
//! page and `s7rtd --help` cannot disagree. An example (clap_mangen is a dev-dependency) keeps
//! the generator out of the daemon. `cargo run --example s7rtd-man -- OUT.8`
#![allow(missing_docs)]

use clap::CommandFactory;

fn main() -> std::io::Result<()> {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: s7rtd-man OUT.8");
        std::process::exit(2);
    };
    let cmd = s7rt::cli::Args::command();
    let man = clap_mangen::Man::new(cmd)
        .section("8")
        .manual("System Administration")
        .source(format!("s7rt {}", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    man.render(&mut buf)?;
    // The sections the CLI cannot know: where the package puts things.
    buf.extend_from_slice(FILES.as_bytes());
    std::fs::write(out, buf)
}

const FILES: &str = r#".SH FILES
.TP
\fI/etc/s7rtd/s7rtd.toml\fR
The configuration the packaged unit starts the daemon with (every key documented in it).
.TP
\fI/usr/share/s7rt/personalities/\fR
CPU personalities (\fBs7-300.toml\fR, \fBs7-1500.toml\fR) to copy and adapt for [cpu] personality.
.TP
\fI/lib/systemd/system/s7rtd.service\fR
The unit: notify, watchdog, real-time limits and sandbox.
.TP
\fI/var/lib/s7rtd\fR
State directory.
.SH SEE ALSO
\fBsystemctl\fR(1), \fBjournalctl\fR(1), /usr/share/doc/s7rt/README.md
"#;
