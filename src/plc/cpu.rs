//! The emulated CPU's state beside the process image: operating mode (RUN/STOP) and the
//! time of its last change, the PLC clock offset, protection (password and level), the
//! diagnostic buffer, the block catalogue and the per-type connection counts.
//!
//! Everything is sized at start-up ([`Cpu::new`]); afterwards no method allocates. The RT
//! thread owns the `Cpu` and hands `&mut Cpu` to each session call, so no lock is needed.

use super::diag::{event_id, DiagBuffer, DiagEntry};
use super::personality::Personality;
use super::staging::Staging;

/// Operating mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Executing (SZL 0x0424 record byte 3 = `08`).
    Run,
    /// Stopped (SZL 0x0424 record byte 3 = `04`).
    Stop,
}

/// Connection type, from the high byte of the called TSAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnType {
    /// Programming device (TSAP `01xx`).
    Pg,
    /// Operator panel / HMI (TSAP `02xx`).
    Op,
    /// S7 basic and other (TSAP `03xx`–`10xx`).
    Basic,
}

impl ConnType {
    /// The type a called TSAP's high byte asks for (`None` for an unknown type).
    pub fn from_tsap(high: u8) -> Option<ConnType> {
        match high {
            0x01 => Some(ConnType::Pg),
            0x02 => Some(ConnType::Op),
            0x03..=0x10 => Some(ConnType::Basic),
            _ => None,
        }
    }

    fn index(self) -> usize {
        match self {
            ConnType::Pg => 0,
            ConnType::Op => 1,
            ConnType::Basic => 2,
        }
    }
}

/// Why a connection request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The called TSAP names another rack/slot than the CPU's.
    WrongRackSlot,
    /// The called TSAP's type byte is not PG, OP or basic.
    UnknownType,
    /// All connections of this type are in use.
    QuotaExhausted,
}

/// Block types a configuration may declare besides the DBs of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BlockType {
    /// Organisation block (sub-block type 0x08).
    Ob,
    /// Function (0x0C).
    Fc,
    /// Function block (0x0E).
    Fb,
    /// Data block (0x0A).
    Db,
}

impl BlockType {
    /// The sub-block type byte (on the wire as two ASCII hex digits).
    pub fn sub_type(self) -> u8 {
        match self {
            BlockType::Ob => 0x08,
            BlockType::Fc => 0x0C,
            BlockType::Fb => 0x0E,
            BlockType::Db => 0x0A,
        }
    }
}

/// Start-up settings of the CPU beside its personality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuSpec {
    /// Identity and limits.
    pub personality: Personality,
    /// Session password (up to 8 characters); `None` = no password.
    pub password: Option<String>,
    /// Protection level 1–3 in force for connections that have not entered the password.
    pub protection_level: u8,
    /// Accept any rack/slot in the called TSAP, not only the personality's.
    pub accept_any_slot: bool,
    /// Maximum simultaneous connections per type: PG, OP, basic.
    pub quotas: [u16; 3],
    /// Slots of the event loop (reported as the connection limit).
    pub max_connections: u16,
    /// Blocks other than DBs the CPU reports (type, number).
    pub blocks: Vec<(BlockType, u16)>,
    /// Clients may download DBs (jobs 0x1A–0x1C and PI `_INSE`); otherwise they are refused
    /// like a protected CPU refuses them (0xD241).
    pub allow_download: bool,
    /// Clients may delete DBs (PI `_DELE`); otherwise refused with 0xD241.
    pub allow_delete: bool,
    /// Bytes of the download staging area (the largest DB's size; 0 without download).
    pub staging_len: usize,
}

impl Default for CpuSpec {
    /// An S7-300 without password, protection, quotas or download, accepting any rack/slot
    /// and 32 connections: a CPU every client may talk to (tools, tests, benches).
    fn default() -> CpuSpec {
        CpuSpec {
            personality: Personality::s7_300(),
            password: None,
            protection_level: 1,
            accept_any_slot: true,
            quotas: [u16::MAX; 3],
            max_connections: 32,
            blocks: Vec::new(),
            allow_download: false,
            allow_delete: false,
            staging_len: 0,
        }
    }
}

/// The CPU state.
#[derive(Debug)]
pub struct Cpu {
    /// Identity and limits.
    pub personality: Personality,
    mode: Mode,
    last_change_ms: i64,
    clock_offset_ms: i64,
    password: Option<[u8; 8]>,
    protection_level: u8,
    accept_any_slot: bool,
    quotas: [u16; 3],
    open: [u16; 3],
    max_connections: u16,
    blocks: Box<[(BlockType, u16)]>,
    started_ms: i64,
    allow_download: bool,
    allow_delete: bool,
    /// The download in progress (one per server).
    pub staging: Staging,
    /// Diagnostic buffer.
    pub diag: DiagBuffer,
    /// Access rules by client network (open unless configured); the event loop decides
    /// each connection's grant with them at accept.
    pub access: crate::access::Access,
}

impl Cpu {
    /// Builds the CPU in RUN at wall time `wall_ms` and records the start in the
    /// diagnostic buffer.
    pub fn new(spec: &CpuSpec, wall_ms: i64) -> Cpu {
        let mut blocks: Vec<(BlockType, u16)> = spec
            .blocks
            .iter()
            .copied()
            .filter(|(t, _)| *t != BlockType::Db)
            .collect();
        blocks.sort();
        blocks.dedup();
        let mut cpu = Cpu {
            personality: spec.personality.clone(),
            mode: Mode::Run,
            last_change_ms: wall_ms,
            clock_offset_ms: 0,
            password: spec.password.as_deref().map(scramble),
            protection_level: spec.protection_level.clamp(1, 3),
            accept_any_slot: spec.accept_any_slot,
            quotas: spec.quotas,
            open: [0; 3],
            max_connections: spec.max_connections,
            blocks: blocks.into(),
            started_ms: wall_ms,
            allow_download: spec.allow_download,
            allow_delete: spec.allow_delete,
            staging: Staging::new(if spec.allow_download {
                spec.staging_len
            } else {
                0
            }),
            diag: DiagBuffer::new(spec.personality.diag_entries),
            access: crate::access::Access::open(),
        };
        cpu.log(event_id::POWER_ON, 0, 0, wall_ms);
        cpu.log(event_id::RUN, 0, 0, wall_ms);
        cpu
    }

    /// A CPU from [`CpuSpec::default`] (unit tests).
    #[cfg(test)]
    pub(crate) fn for_tests(wall_ms: i64) -> Cpu {
        Cpu::new(&CpuSpec::default(), wall_ms)
    }

    /// The configuration allows block download.
    pub fn download_allowed(&self) -> bool {
        self.allow_download
    }

    /// The configuration allows block deletion.
    pub fn delete_allowed(&self) -> bool {
        self.allow_delete
    }

    /// Current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// PLC-clock time of the last mode change (Unix ms).
    pub fn last_change_ms(&self) -> i64 {
        self.last_change_ms
    }

    /// Changes the mode at wall time `wall_ms` and logs `event` in the diagnostic buffer.
    pub fn set_mode(&mut self, mode: Mode, event: u16, slot: u16, wall_ms: i64) {
        self.mode = mode;
        self.last_change_ms = self.plc_time_ms(wall_ms);
        self.log(event, 0, u32::from(slot), wall_ms);
    }

    /// The PLC clock at wall time `wall_ms` (Unix ms).
    pub fn plc_time_ms(&self, wall_ms: i64) -> i64 {
        wall_ms.saturating_add(self.clock_offset_ms)
    }

    /// Sets the PLC clock to `plc_ms` at wall time `wall_ms` (kept as an offset: the host
    /// clock is not touched).
    pub fn set_clock(&mut self, plc_ms: i64, wall_ms: i64) {
        self.clock_offset_ms = plc_ms.saturating_sub(wall_ms);
    }

    /// Wall time the server started (block timestamps).
    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    /// Adds a diagnostic-buffer entry stamped with the PLC clock.
    pub fn log(&mut self, event: u16, info1: u16, info2: u32, wall_ms: i64) {
        let time_ms = self.plc_time_ms(wall_ms);
        self.diag.push(DiagEntry {
            event_id: event,
            info1,
            info2,
            time_ms,
        });
    }

    /// True when a session password is configured.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Checks a password as the client sends it (8 bytes, Snap7 scrambling,
    /// docs/protocol.md §7.6).
    pub fn password_matches(&self, scrambled: &[u8]) -> bool {
        self.password.is_some_and(|p| p[..] == *scrambled)
    }

    /// Protection level for a connection, 1 when it entered the password.
    pub fn level_for(&self, legitimated: bool) -> u8 {
        if legitimated || self.password.is_none() {
            1
        } else {
            self.protection_level
        }
    }

    /// Configured protection level (1–3; 1 when no password exists).
    pub fn configured_level(&self) -> u8 {
        if self.password.is_none() {
            1
        } else {
            self.protection_level
        }
    }

    /// Maximum simultaneous connections.
    pub fn max_connections(&self) -> u16 {
        self.max_connections
    }

    /// Blocks other than DBs, sorted by type and number.
    pub fn blocks(&self) -> &[(BlockType, u16)] {
        &self.blocks
    }

    /// Admits a connection for `called_tsap` (2 bytes) or says why not; on success the
    /// connection counts against its type's quota until [`Cpu::release`].
    pub fn admit(&mut self, called_tsap: &[u8]) -> Result<ConnType, Refusal> {
        let (ty, rack_slot) = match called_tsap {
            [hi, lo, ..] => (ConnType::from_tsap(*hi), *lo),
            // No or a 1-byte TSAP: an old-style client; treat it as a PG to the CPU.
            _ => (Some(ConnType::Pg), self.cpu_rack_slot()),
        };
        let ty = ty.ok_or(Refusal::UnknownType)?;
        if !self.accept_any_slot && rack_slot != self.cpu_rack_slot() {
            return Err(Refusal::WrongRackSlot);
        }
        let i = ty.index();
        if self.open[i] >= self.quotas[i] {
            return Err(Refusal::QuotaExhausted);
        }
        self.open[i] += 1;
        Ok(ty)
    }

    /// Gives back a connection admitted by [`Cpu::admit`].
    pub fn release(&mut self, ty: ConnType) {
        let i = ty.index();
        self.open[i] = self.open[i].saturating_sub(1);
    }

    /// Open connections per type: PG, OP, basic.
    pub fn open_connections(&self) -> [u16; 3] {
        self.open
    }

    fn cpu_rack_slot(&self) -> u8 {
        self.personality.rack << 5 | (self.personality.slot & 0x1F)
    }
}

/// Scrambles a password the way Snap7-family clients send it (docs/protocol.md §7.6):
/// space-padded to 8 bytes, `p'[0..2] = p ^ 0x55`, `p'[i] = p[i] ^ 0x55 ^ p'[i-2]`.
pub fn scramble(pw: &str) -> [u8; 8] {
    let mut p = [b' '; 8];
    for (d, s) in p.iter_mut().zip(pw.bytes()) {
        *d = s;
    }
    let mut out = [0u8; 8];
    for i in 0..8 {
        out[i] = p[i] ^ 0x55 ^ if i >= 2 { out[i - 2] } else { 0 };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrambles_secret_like_golden_frame_84() {
        assert_eq!(
            scramble("secret"),
            [0x26, 0x30, 0x10, 0x17, 0x20, 0x36, 0x55, 0x43]
        );
    }

    #[test]
    fn quotas_count_per_type_and_release_frees() {
        let mut spec_cpu = Cpu::for_tests(0);
        spec_cpu.quotas = [1, 0, 2];
        assert_eq!(spec_cpu.admit(&[1, 1]), Ok(ConnType::Pg));
        assert_eq!(spec_cpu.admit(&[1, 2]), Err(Refusal::QuotaExhausted));
        assert_eq!(spec_cpu.admit(&[2, 1]), Err(Refusal::QuotaExhausted));
        assert_eq!(spec_cpu.admit(&[3, 1]), Ok(ConnType::Basic));
        assert_eq!(spec_cpu.admit(&[0x20, 1]), Err(Refusal::UnknownType));
        spec_cpu.release(ConnType::Pg);
        assert_eq!(spec_cpu.admit(&[1, 1]), Ok(ConnType::Pg));
        assert_eq!(spec_cpu.open_connections(), [1, 0, 1]);
    }

    #[test]
    fn strict_slot_accepts_only_the_personality_position() {
        let mut cpu = Cpu::for_tests(0);
        cpu.accept_any_slot = false;
        assert_eq!(cpu.admit(&[1, 1]), Err(Refusal::WrongRackSlot));
        assert_eq!(cpu.admit(&[2, 2]), Ok(ConnType::Op)); // S7-300: rack 0 slot 2
    }

    #[test]
    fn clock_offset_moves_the_plc_time_not_the_wall_time() {
        let mut cpu = Cpu::for_tests(1_000);
        cpu.set_clock(5_000, 2_000);
        assert_eq!(cpu.plc_time_ms(2_000), 5_000);
        assert_eq!(cpu.plc_time_ms(3_000), 6_000);
    }
}
