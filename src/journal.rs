//! Log lines fit for journald: when systemd connected stderr to the journal (it says so in
//! `JOURNAL_STREAM`), each line starts with its syslog priority (`<3>` … `<7>`) so the journal
//! files it at the right level, and carries no timestamp of its own (the journal has one).

use std::os::unix::fs::MetadataExt;

/// True when stderr is the stream systemd named in `JOURNAL_STREAM` (`DEV:INODE`): checked
/// against stderr itself, so a child that inherited the variable but writes elsewhere does
/// not take its output for the journal.
pub fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    names_stream(&stream.to_string_lossy(), meta.dev(), meta.ino())
}

/// Whether `journal_stream` (`DEV:INODE`, decimal) names the file with `dev` and `ino`.
pub fn names_stream(journal_stream: &str, dev: u64, ino: u64) -> bool {
    let mut parts = journal_stream.trim().splitn(2, ':');
    let d = parts.next().and_then(|s| s.parse::<u64>().ok());
    let i = parts.next().and_then(|s| s.parse::<u64>().ok());
    d == Some(dev) && i == Some(ino)
}

/// The syslog priority of a log level (sd-daemon(3): `<3>` error … `<7>` debug).
pub fn priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_must_name_this_very_file() {
        assert!(names_stream("2049:123456", 2049, 123456));
        assert!(!names_stream("2049:123456", 2049, 123457));
        assert!(!names_stream("2049", 2049, 123456));
        assert!(!names_stream("x:1", 0, 1));
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(log::Level::Error), 3);
        assert_eq!(priority(log::Level::Warn), 4);
        assert_eq!(priority(log::Level::Info), 6);
        assert_eq!(priority(log::Level::Trace), 7);
    }
}
