//! `s7rtd ctl`: the command line over the control socket.
//!
//! ```text
//! s7rtd ctl read Line4.Speed            12.5
//! s7rtd ctl read DB1.DBD8 --type DINT   -7
//! s7rtd ctl write Line4.Speed 12.5      Line4.Speed = 12.5
//! s7rtd ctl watch                       one line per write, until interrupted
//! s7rtd ctl status                      the server's state as indented JSON
//! s7rtd ctl tags                        the configured tags
//! ```
//!
//! Exit codes: 0 done; 1 the server refused the request (its error on stderr); 2 bad
//! command line; 3 cannot reach the socket; 4 the connection failed or timed out midway.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{json, Value as J};

/// Exit code: the server answered with an error.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code: the socket cannot be reached.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code: the connection broke or timed out.
pub const EXIT_IO: u8 = 4;

/// Talk to a running s7rtd through its control socket.
#[derive(Debug, Parser)]
#[command(
    name = "s7rtd ctl",
    after_help = "Exit codes: 0 done, 1 refused by the server, 2 bad command line, 3 socket unreachable, 4 connection failed.\n\
Values are sent as text and read with the rules of the tag's type: 12.5, -3, true, 16#FF, T#1m30s, \"DT#2024-02-29-13:37:42.000\"."
)]
pub struct CtlArgs {
    /// The control socket (`[host] socket` of the server's configuration).
    #[arg(short, long, value_name = "PATH", default_value = super::DEFAULT_SOCKET, global = true)]
    pub socket: PathBuf,
    /// Seconds to wait for an answer.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, global = true)]
    pub timeout: f64,
    /// Print the server's JSON lines as they are.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// The `s7rtd ctl` commands.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Print a tag's value (or an address's, typed by --type or by its width).
    Read {
        /// Tag name or STEP 7 address (DB1.DBD4, MW10, E0.1, …).
        tag: String,
        // Doc comments here are the --help text, which shows `[`, `]` and `\` as written.
        #[allow(rustdoc::broken_intra_doc_links)]
        /// Type for a bare address (REAL, INT, STRING[20], …).
        #[arg(long = "type", value_name = "TYPE")]
        ty: Option<String>,
    },
    /// Write a value to a tag or address.
    Write {
        /// Tag name or STEP 7 address.
        tag: String,
        /// The value, in the type's text form.
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Type for a bare address.
        #[arg(long = "type", value_name = "TYPE")]
        ty: Option<String>,
    },
    /// Print every write S7 clients (and socket clients) make, until interrupted.
    Watch,
    /// Print the server's state and counters.
    Status,
    /// List the configured tags.
    Tags,
}

/// Runs `s7rtd ctl` with `args` (the words after `ctl`, program name first).
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let a = match CtlArgs::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("s7rtd ctl: {msg}");
            ExitCode::from(code)
        }
    }
}

type Fail = (u8, String);

struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    json: bool,
}

impl Conn {
    fn open(a: &CtlArgs) -> Result<Conn, Fail> {
        let s = UnixStream::connect(&a.socket).map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    " (is s7rtd running? its [host] socket may be elsewhere: --socket PATH)"
                }
                std::io::ErrorKind::PermissionDenied => {
                    " (the socket is mode 0660: run as its owner or a member of its group)"
                }
                std::io::ErrorKind::ConnectionRefused => " (no server behind it: a stale socket?)",
                _ => "",
            };
            (
                EXIT_UNREACHABLE,
                format!("cannot connect to {}: {e}{hint}", a.socket.display()),
            )
        })?;
        let t = Duration::from_secs_f64(a.timeout.clamp(0.001, 86_400.0));
        let io = |e: std::io::Error| (EXIT_IO, format!("{}: {e}", a.socket.display()));
        s.set_read_timeout(Some(t)).map_err(io)?;
        s.set_write_timeout(Some(t)).map_err(io)?;
        let writer = s.try_clone().map_err(io)?;
        Ok(Conn {
            reader: BufReader::new(s),
            writer,
            json: a.json,
        })
    }

    fn line(&mut self) -> Result<J, Fail> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err((EXIT_IO, "the server closed the connection".into())),
            Ok(_) => serde_json::from_str(&line)
                .map_err(|e| (EXIT_IO, format!("unreadable answer {line:?}: {e}"))),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err((EXIT_IO, "no answer within --timeout".into()))
            }
            Err(e) => Err((EXIT_IO, format!("reading the answer: {e}"))),
        }
    }

    /// Sends a request and returns its successful answer (or the server's error).
    fn call(&mut self, req: J) -> Result<J, Fail> {
        writeln!(self.writer, "{req}").map_err(|e| (EXIT_IO, format!("sending: {e}")))?;
        loop {
            let v = self.line()?;
            if v.get("event").is_some() {
                continue; // an event line of an earlier watch: not our answer
            }
            if self.json {
                println!("{v}");
            }
            if v["ok"] == J::Bool(true) {
                return Ok(v);
            }
            let code = v["error"]["code"].as_str().unwrap_or("error");
            let msg = v["error"]["message"].as_str().unwrap_or("(no message)");
            return Err((EXIT_REFUSED, format!("{code}: {msg}")));
        }
    }
}

/// A value as a person reads it: strings without quotes, the rest as JSON.
fn plain(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn item(tag: &str, ty: &Option<String>) -> J {
    let mut o = json!({ "tag": tag });
    if let Some(t) = ty {
        o["type"] = J::String(t.clone());
    }
    o
}

/// One `watch` event as a line of text.
fn describe(ev: &J) -> String {
    match ev["event"].as_str() {
        Some("lagged") => format!(
            "lagged: {} events missed ({})",
            ev["missed"],
            ev["scope"].as_str().unwrap_or("?")
        ),
        Some("write") => {
            let place = match (ev["area"].as_str(), ev["bit"].as_u64()) {
                (Some("DB"), Some(b)) => format!("DB{}.DBX{}.{b}", ev["db"], ev["offset"]),
                (Some("DB"), None) => {
                    format!("DB{}.DBB{} len {}", ev["db"], ev["offset"], ev["len"])
                }
                (Some(a), Some(b)) => format!("{a}{}.{b}", ev["offset"]),
                (Some(a), None) => format!("{a}B{} len {}", ev["offset"], ev["len"]),
                (None, _) => "?".into(),
            };
            let tags: Vec<String> = ev["tags"]
                .as_array()
                .map(|ts| {
                    ts.iter()
                        .map(|t| format!("{} = {}", plain(&t["name"]), plain(&t["value"])))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{} {}: {place} [{}]{}{}",
                ev["source"].as_str().unwrap_or("?"),
                ev["conn"],
                ev["data"].as_str().unwrap_or(""),
                if tags.is_empty() { "" } else { " " },
                tags.join(", ")
            )
        }
        _ => ev.to_string(),
    }
}

fn run(a: &CtlArgs) -> Result<(), Fail> {
    let mut c = Conn::open(a)?;
    match &a.command {
        CtlCommand::Read { tag, ty } => {
            let mut req = item(tag, ty);
            req["op"] = "read".into();
            let v = c.call(req)?;
            if !a.json {
                println!("{}", plain(&v["value"]));
            }
        }
        CtlCommand::Write { tag, value, ty } => {
            let mut req = item(tag, ty);
            req["op"] = "write".into();
            req["value"] = J::String(value.clone());
            let v = c.call(req)?;
            if !a.json {
                println!("{} = {}", plain(&v["name"]), plain(&v["value"]));
            }
        }
        CtlCommand::Status => {
            let v = c.call(json!({"op": "status"}))?;
            if !a.json {
                let text = serde_json::to_string_pretty(&v["status"]).unwrap_or_default();
                println!("{text}");
            }
        }
        CtlCommand::Tags => {
            let v = c.call(json!({"op": "tags"}))?;
            if !a.json {
                for t in v["tags"].as_array().into_iter().flatten() {
                    println!(
                        "{:<32} {:<14} {:<16}{}",
                        plain(&t["name"]),
                        plain(&t["address"]),
                        plain(&t["type"]),
                        if t["retain"] == J::Bool(true) {
                            " retain"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        CtlCommand::Watch => {
            c.call(json!({"op": "watch"}))?;
            // Events come at any pace: wait without a deadline.
            let _ = c.reader.get_ref().set_read_timeout(None);
            let out = std::io::stdout();
            loop {
                let ev = c.line()?;
                let text = if a.json {
                    ev.to_string()
                } else {
                    describe(&ev)
                };
                let mut o = out.lock();
                // A closed stdout (`| head`) ends the watch quietly.
                if writeln!(o, "{text}").and_then(|()| o.flush()).is_err() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_events_for_people() {
        let ev = json!({"event":"write","source":"client","conn":3,"area":"DB","db":1,"offset":4,"len":4,"bit":null,"data":"41500000","tags":[{"name":"Line4.Speed","value":13.0}]});
        assert_eq!(
            describe(&ev),
            "client 3: DB1.DBB4 len 4 [41500000] Line4.Speed = 13.0"
        );
        let ev = json!({"event":"write","source":"host","conn":9,"area":"M","db":0,"offset":10,"len":1,"bit":2,"data":"01","tags":[]});
        assert_eq!(describe(&ev), "host 9: M10.2 [01]");
        let ev = json!({"event":"lagged","missed":17,"scope":"connection"});
        assert_eq!(describe(&ev), "lagged: 17 events missed (connection)");
    }

    #[test]
    fn parses_the_command_line() {
        let a = CtlArgs::try_parse_from(["ctl", "write", "Line4.Speed", "-12.5"]).unwrap();
        assert!(matches!(a.command, CtlCommand::Write { ref value, .. } if value == "-12.5"));
        assert_eq!(a.socket, PathBuf::from(super::super::DEFAULT_SOCKET));
        let a =
            CtlArgs::try_parse_from(["ctl", "read", "MW2", "--type", "INT", "--socket", "/tmp/x"])
                .unwrap();
        assert!(
            matches!(a.command, CtlCommand::Read { ref ty, .. } if ty.as_deref() == Some("INT"))
        );
        assert_eq!(a.socket, PathBuf::from("/tmp/x"));
        assert!(CtlArgs::try_parse_from(["ctl", "write", "X"]).is_err());
        assert!(CtlArgs::try_parse_from(["ctl", "frobnicate"]).is_err());
    }
}
