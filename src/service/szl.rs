//! Read SZL (userdata group 4, subfunction 1): the system status lists a client reads to
//! identify the CPU and watch its state. Records are produced on the fly from the
//! personality and the live CPU state into a [`Window`] (no buffer, no allocation), so the
//! same function serves a single answer, the first fragment and every follow-up.
//!
//! Served lists (docs/protocol.md §7.3, with their record layouts):
//! `0000` and header-only `0F00` (ids served) · `0011` / `0111` 1, 6, 7 / `0F11`
//! (identification) · `001C` / `011C` 1–5, 7–B / `0F1C` (component identification) ·
//! `0131` 1–9 (communication capabilities; index 1 live) · `0132` / `0232` 4 (protection,
//! live) · `0131` / `0232` index 0 (what python-snap7 3.x asks; answered with the index-1 /
//! index-4 record, see [`record_for_index_0`]) · `0024` / `0424` (mode, live) · `0019` /
//! `0074` (LEDs, live) · `0037` (Ethernet)
//! · `00A0` / `01A0` n (diagnostic buffer, newest first).

use crate::plc::clock::encode_date_and_time;
use crate::plc::cpu::{Cpu, Mode};
use crate::plc::diag::ENTRY_LEN;
use crate::wire::szl::Window;
use crate::wire::HeaderError;

/// The ids this server answers, in the order SZL 0x0000 lists them.
pub(crate) const SERVED_IDS: [u16; 18] = [
    0x0000, 0x0F00, 0x0011, 0x0111, 0x0F11, 0x001C, 0x011C, 0x0F1C, 0x0131, 0x0132, 0x0232, 0x0024,
    0x0424, 0x0019, 0x0074, 0x0037, 0x00A0, 0x01A0,
];

/// The record served for `(id, index)`: `index` itself, except index 0 of `0131` and `0232`,
/// which no S7 CPU documents. python-snap7 3.x's `get_cp_info()` and `get_protection()` ask
/// for index 0; instead of refusing them (D402) they get the record that holds the answer:
/// communication capabilities index 1 (live PDU and connection limits) and protection index
/// 4. The record keeps its own index, so a client that checks it sees which record it got.
pub(crate) fn record_for_index_0(id: u16, index: u16) -> u16 {
    match (id, index) {
        (0x0131, 0) => 1,
        (0x0232, 0) => 4,
        _ => index,
    }
}

/// Indexes of the component-identification records (there is no index 6).
const COMPONENT_INDEXES: [u16; 10] = [1, 2, 3, 4, 5, 7, 8, 9, 0x0A, 0x0B];
/// Indexes of the module-identification records; firmware (7) last so Snap7's
/// `GetOrderCode` (last three bytes of the answer) shows the firmware version.
const IDENT_INDEXES: [u16; 3] = [1, 6, 7];
/// LEDs reported: SF, BUS1F, RUN, STOP, FRCE (S7 LED ids).
const LEDS: [u16; 5] = [0x0001, 0x000B, 0x0004, 0x0005, 0x0006];

/// Live inputs of an SZL answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Live<'a> {
    /// CPU state.
    pub(crate) cpu: &'a Cpu,
    /// The connection's negotiated PDU length.
    pub(crate) pdu_len: u16,
    /// The connection entered the session password.
    pub(crate) legitimated: bool,
}

/// Checks that `(id, index)` is served.
pub(crate) fn check(id: u16, index: u16, cpu: &Cpu) -> Result<(), HeaderError> {
    let ok = match id {
        0x0000 | 0x0F00 | 0x0011 | 0x0F11 | 0x001C | 0x0F1C | 0x0024 | 0x0424 | 0x0019 | 0x0074
        | 0x0037 | 0x00A0 => index == 0,
        0x0111 => IDENT_INDEXES.contains(&index),
        0x011C => COMPONENT_INDEXES.contains(&index),
        0x0131 => (0..=9).contains(&index),
        0x0132 => index == 4,
        0x0232 => index == 4 || index == 0,
        0x01A0 => usize::from(index) <= cpu.diag.capacity(),
        _ => return Err(HeaderError::SZL_UNKNOWN_ID),
    };
    if ok {
        Ok(())
    } else {
        Err(HeaderError::SZL_UNKNOWN_INDEX)
    }
}

/// Writes the stream `LENTHDR | N_DR | records` of `(id, index)` through `w`.
pub(crate) fn stream(
    id: u16,
    index: u16,
    live: &Live<'_>,
    w: &mut Window<'_>,
) -> Result<(), HeaderError> {
    check(id, index, live.cpu)?;
    let cpu = live.cpu;
    match id {
        0x0000 => {
            head(w, 2, SERVED_IDS.len());
            for i in SERVED_IDS {
                w.put_u16(i);
            }
        }
        0x0F00 => head(w, 2, SERVED_IDS.len()),
        0x0011 => {
            head(w, 28, IDENT_INDEXES.len());
            for i in IDENT_INDEXES {
                ident(w, cpu, i);
            }
        }
        0x0111 => {
            head(w, 28, 1);
            ident(w, cpu, index);
        }
        0x0F11 => head(w, 28, IDENT_INDEXES.len()),
        0x001C => {
            head(w, 34, COMPONENT_INDEXES.len());
            for i in COMPONENT_INDEXES {
                component(w, cpu, i);
            }
        }
        0x011C => {
            head(w, 34, 1);
            component(w, cpu, index);
        }
        0x0F1C => head(w, 34, COMPONENT_INDEXES.len()),
        0x0131 => {
            head(w, 40, 1);
            comm_capabilities(w, live, record_for_index_0(id, index));
        }
        0x0132 | 0x0232 => {
            head(w, 40, 1);
            protection(w, live);
        }
        0x0024 | 0x0424 => {
            head(w, 20, 1);
            mode(w, cpu);
        }
        0x0019 | 0x0074 => {
            head(w, 4, LEDS.len());
            for led in LEDS {
                let on = match (led, cpu.mode()) {
                    (0x0004, Mode::Run) | (0x0005, Mode::Stop) => 1,
                    _ => 0,
                };
                w.put_u16(led);
                w.put(&[on, 0]);
            }
        }
        0x0037 => {
            head(w, 48, 1);
            let p = &cpu.personality;
            w.put_u16(0x07FE); // logical address of the PN interface
            w.put(&p.ip.octets());
            w.put(&p.netmask.octets());
            w.put(&p.gateway.octets());
            w.put(&p.mac);
            w.put(&[0x01, 0x00]); // source: configured; reserved
            w.zeros(26);
        }
        0x00A0 | 0x01A0 => {
            let n = if id == 0x00A0 {
                cpu.diag.len()
            } else {
                usize::from(index).min(cpu.diag.len())
            };
            head(w, ENTRY_LEN, n);
            for e in cpu.diag.newest_first().take(n) {
                w.put(&e.to_bytes());
            }
        }
        _ => return Err(HeaderError::SZL_UNKNOWN_ID),
    }
    Ok(())
}

fn head(w: &mut Window<'_>, lenthdr: usize, n: usize) {
    w.put_u16(lenthdr as u16);
    w.put_u16(n as u16);
}

/// SZL 0x0011 record (28 bytes): index, MLFB (20), BGTyp, Ausbg, Ausbe.
fn ident(w: &mut Window<'_>, cpu: &Cpu, index: u16) {
    let p = &cpu.personality;
    w.put_u16(index);
    if index == 7 {
        let [major, minor, patch] = p.firmware_version;
        w.text("", 20, b' ');
        w.put_u16(p.module_type_id);
        w.put(&[b'V', major, minor, patch]);
    } else {
        w.text(&p.order_number, 20, b' ');
        w.put_u16(p.module_type_id);
        w.put_u16(p.hardware_version);
        w.put_u16(1);
    }
}

/// SZL 0x001C record (34 bytes): index + 32 bytes of text or ids.
fn component(w: &mut Window<'_>, cpu: &Cpu, index: u16) {
    let p = &cpu.personality;
    w.put_u16(index);
    match index {
        1 => texts(w, &p.as_name, 24, 8),
        2 => texts(w, &p.module_name, 24, 8),
        3 => texts(w, &p.plant_id, 32, 0),
        4 => texts(w, &p.copyright, 26, 6),
        5 => texts(w, &p.serial_number, 24, 8),
        7 => texts(w, &p.module_type_name, 32, 0),
        8 => texts(w, &p.memory_card_serial, 32, 0),
        9 => {
            w.put_u16(p.manufacturer_id);
            w.put_u16(p.profile_id);
            w.put_u16(p.profile_type);
            w.zeros(26);
        }
        0x0A => {
            w.zeros(26);
            w.put_u16(p.oem_id);
            w.zeros(4);
        }
        _ => texts(w, &p.location, 32, 0),
    }
}

fn texts(w: &mut Window<'_>, s: &str, len: usize, reserved: usize) {
    w.text(s, len, 0);
    w.zeros(reserved);
}

/// SZL 0x0131 record (40 bytes). Index 1 carries the live limits; the others report the
/// index and no optional capability.
fn comm_capabilities(w: &mut Window<'_>, live: &Live<'_>, index: u16) {
    w.put_u16(index);
    if index == 1 {
        let p = &live.cpu.personality;
        w.put_u16(live.pdu_len);
        w.put_u16(live.cpu.max_connections());
        w.put(&p.mpi_bps.to_be_bytes());
        w.put(&p.bus_bps.to_be_bytes());
        w.zeros(26);
    } else {
        w.zeros(38);
    }
}

/// SZL 0x0132/0x0232 index 4 record (40 bytes): key-switch level, password level, level
/// in force for this connection, mode switch, startup switch.
fn protection(w: &mut Window<'_>, live: &Live<'_>) {
    let cpu = live.cpu;
    let param = if cpu.has_password() {
        cpu.configured_level()
    } else {
        0
    };
    w.put_u16(4);
    w.put_u16(1);
    w.put_u16(u16::from(param));
    w.put_u16(u16::from(cpu.level_for(live.legitimated)));
    w.put_u16(cpu.personality.mode_switch);
    w.put_u16(0);
    w.zeros(28);
}

/// SZL 0x0424 record (20 bytes). The previous-mode nibble stays 0: Snap7's
/// `GetPlcStatus` reports anything but `00`/`04`/`08` as STOP (docs/protocol.md §7.3).
fn mode(w: &mut Window<'_>, cpu: &Cpu) {
    let (ereig, bzu) = match cpu.mode() {
        // 0x5144 is what a real CPU 315 reported in RUN (Snap7's template).
        Mode::Run => (0x5144, 0x08),
        Mode::Stop => (0x4304, 0x04),
    };
    w.put_u16(ereig);
    w.put(&[0xFF, bzu]);
    w.zeros(8);
    w.put(&encode_date_and_time(cpu.last_change_ms()));
}
