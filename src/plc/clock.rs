//! Time as the PLC sees it: the wall-clock instant the event loop passes in ([`Now`]), the
//! PLC clock (wall time plus an offset a client may set), and the S7 8-byte BCD
//! DATE_AND_TIME layout used by the clock service, SZL 0x0424 and the diagnostic buffer.
//!
//! Nothing here reads a clock on its own: the event loop reads the monotonic clock once per
//! turn ([`Mono::now`]) and derives the wall time from it, and hands both down.

use std::ops::{Add, AddAssign};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A CLOCK_MONOTONIC reading in nanoseconds: the clock `Instant` reads, kept as a plain
/// integer so the loop subtracts and compares without `Instant`'s checked timespec
/// arithmetic (which cost more than the reading itself on every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mono(pub u64);

impl Mono {
    /// Reads CLOCK_MONOTONIC (vDSO: no system call).
    pub fn now() -> Mono {
        Mono(crate::rt::sys::monotonic_ns())
    }

    /// Nanoseconds from `earlier` to `self`, 0 if `earlier` is later.
    pub fn ns_since(self, earlier: Mono) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Mono {
    type Output = Mono;
    fn add(self, d: Duration) -> Mono {
        Mono(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl AddAssign<Duration> for Mono {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

/// The time of one event-loop turn, read by the loop (the session never reads a clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time (deadlines, latency).
    pub mono: Mono,
    /// Wall-clock time in nanoseconds since the Unix epoch (the PLC clock's base). Kept in
    /// nanoseconds because the loop derives it per batch from its monotonic reading with an
    /// addition, and most batches (reads on the fast path) never look at it: the division
    /// to milliseconds happens in [`Now::wall_ms`], only where it is used.
    pub wall_ns: i64,
}

impl Now {
    /// Pairs a monotonic instant with a wall-clock time.
    pub fn new(mono: Mono, wall: SystemTime) -> Now {
        let wall_ns = match wall.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i64,
            Err(e) => -(e.duration().as_nanos() as i64),
        };
        Now { mono, wall_ns }
    }

    /// Wall-clock time in milliseconds since the Unix epoch (truncated towards zero).
    pub fn wall_ms(&self) -> i64 {
        self.wall_ns / 1_000_000
    }

    /// Reads both clocks (event loop and tests only: never call this from the session).
    pub fn read() -> Now {
        Now::new(Mono::now(), SystemTime::now())
    }
}

/// Milliseconds in a day.
/// Milliseconds of a day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The instants (ms since 1970) an S7 DATE_AND_TIME can hold: 1990-01-01 up to, not
/// including, 2090-01-01 (its two-digit year means 1990–2089).
pub(crate) fn date_and_time_range() -> std::ops::Range<i64> {
    days_from_civil(1990, 1, 1) * DAY_MS..days_from_civil(2090, 1, 1) * DAY_MS
}

/// Milliseconds since 1970 of a civil date and time (UTC), for tests that name instants.
#[cfg(test)]
pub(crate) fn civil_ms(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, ms: i64) -> i64 {
    days_from_civil(y, mo, d) * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000 + ms
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month 1–12, day 1–31).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn bcd(v: u32) -> u8 {
    (((v / 10) % 10) << 4 | (v % 10)) as u8
}

fn from_bcd(b: u8) -> Option<u32> {
    let (hi, lo) = (u32::from(b >> 4), u32::from(b & 0x0F));
    (hi < 10 && lo < 10).then_some(hi * 10 + lo)
}

/// Writes the 8-byte S7 DATE_AND_TIME of `unix_ms`: year (00–99, 90–99 = 19xx), month, day,
/// hour, minute, second, ms hundreds+tens, ms units << 4 | weekday (1 = Sunday … 7 =
/// Saturday), all BCD. Years outside 1990–2089 are clamped to that range's ends.
pub(crate) fn encode_date_and_time(unix_ms: i64) -> [u8; 8] {
    let range = date_and_time_range();
    let t = unix_ms.clamp(range.start, range.end - 1);
    let days = t.div_euclid(DAY_MS);
    let ms_of_day = t.rem_euclid(DAY_MS) as u32;
    let (y, m, d) = civil_from_days(days);
    let weekday = (days + 4).rem_euclid(7) as u32 + 1; // 1970-01-01 was a Thursday (5)
    let ms = ms_of_day % 1000;
    let s = ms_of_day / 1000;
    [
        bcd((y % 100) as u32),
        bcd(m),
        bcd(d),
        bcd(s / 3600),
        bcd(s / 60 % 60),
        bcd(s % 60),
        bcd(ms / 10),
        ((ms % 10) << 4 | weekday) as u8,
    ]
}

/// Century byte sent in front of a clock answer: `0x19` for 1990–1999, else `0x20`.
pub(crate) fn century_byte(dt: &[u8; 8]) -> u8 {
    if dt[0] >= 0x90 {
        0x19
    } else {
        0x20
    }
}

/// Reads an 8-byte S7 DATE_AND_TIME into Unix milliseconds. The weekday is not checked
/// (clients send wrong ones); `None` for a non-BCD digit or an impossible date.
pub(crate) fn decode_date_and_time(b: &[u8]) -> Option<i64> {
    let b: &[u8; 8] = b.get(..8)?.try_into().ok()?;
    let yy = from_bcd(b[0])?;
    let year = i64::from(if yy >= 90 { 1900 + yy } else { 2000 + yy });
    let (mo, d, h, mi, s) = (
        from_bcd(b[1])?,
        from_bcd(b[2])?,
        from_bcd(b[3])?,
        from_bcd(b[4])?,
        from_bcd(b[5])?,
    );
    let ms_hi = from_bcd(b[6])?;
    let ms_lo = u32::from(b[7] >> 4);
    if !(1..=12).contains(&mo) || d == 0 || h > 23 || mi > 59 || s > 59 || ms_lo > 9 {
        return None;
    }
    let days = days_from_civil(year, mo, d);
    if civil_from_days(days) != (year, mo, d) {
        return None; // 31 April, 29 February of a common year, …
    }
    let ms = i64::from(((h * 60 + mi) * 60 + s) * 1000 + ms_hi * 10 + ms_lo);
    Some(days * DAY_MS + ms)
}

/// S7 block timestamp (6 bytes: ms since midnight, days since 1984-01-01) of `unix_ms`.
pub(crate) fn block_timestamp(unix_ms: i64) -> [u8; 6] {
    let t = unix_ms - days_from_civil(1984, 1, 1) * DAY_MS;
    let days = t.div_euclid(DAY_MS).clamp(0, 0xFFFF) as u16;
    let ms = t.rem_euclid(DAY_MS) as u32;
    let mut out = [0u8; 6];
    out[..4].copy_from_slice(&ms.to_be_bytes());
    out[4..].copy_from_slice(&days.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::civil_ms as ms;

    #[test]
    fn encodes_golden_frame_61_time_with_the_correct_weekday() {
        // 2026-11-23 is a Monday: weekday 2 (Snap7 sends 1, one off).
        let t = ms(2026, 11, 23, 10, 58, 7, 0);
        assert_eq!(
            encode_date_and_time(t),
            [0x26, 0x11, 0x23, 0x10, 0x58, 0x07, 0x00, 0x02]
        );
    }

    #[test]
    fn encodes_the_real_cpu_template_timestamp_as_saturday() {
        // 1994-02-05 02:01:55.906 from Snap7's copy of a real CPU's SZL 0x0424 record.
        let t = ms(1994, 2, 5, 2, 1, 55, 906);
        assert_eq!(
            encode_date_and_time(t),
            [0x94, 0x02, 0x05, 0x02, 0x01, 0x55, 0x90, 0x67]
        );
    }

    #[test]
    fn decodes_golden_frame_62_set_clock_ignoring_the_weekday() {
        let b = [0x24, 0x02, 0x29, 0x13, 0x37, 0x42, 0x00, 0x01];
        assert_eq!(
            decode_date_and_time(&b),
            Some(ms(2024, 2, 29, 13, 37, 42, 0))
        );
    }

    #[test]
    fn refuses_impossible_dates_and_non_bcd_digits() {
        assert_eq!(
            decode_date_and_time(&[0x23, 0x02, 0x29, 0, 0, 0, 0, 1]),
            None
        );
        assert_eq!(
            decode_date_and_time(&[0x24, 0x13, 0x01, 0, 0, 0, 0, 1]),
            None
        );
        assert_eq!(
            decode_date_and_time(&[0x24, 0x01, 0x01, 0x24, 0, 0, 0, 1]),
            None
        );
        assert_eq!(
            decode_date_and_time(&[0x2A, 0x01, 0x01, 0, 0, 0, 0, 1]),
            None
        );
        assert_eq!(decode_date_and_time(&[0x24, 0x01]), None);
    }

    #[test]
    fn round_trips_every_millisecond_digit() {
        for milli in [0, 1, 9, 10, 99, 100, 999] {
            let t = ms(2031, 12, 31, 23, 59, 59, milli);
            assert_eq!(decode_date_and_time(&encode_date_and_time(t)), Some(t));
        }
    }

    #[test]
    fn block_timestamp_counts_days_from_1984() {
        // Golden frame 69: days 0x16A8 = 5800 → 1999-11-18.
        let t = ms(1999, 11, 18, 0, 0, 0, 0);
        assert_eq!(block_timestamp(t), [0, 0, 0, 0, 0x16, 0xA8]);
    }
}
