//! The `watch` events: client writes (with the tags they touch) and writes made through
//! the socket, as JSON lines for the hub.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as J};

use super::{lagged_line, lock, Shared};
use crate::ctl::protocol::{self, area_name, WriteItem};
use crate::ctl::{Change, Content};
use crate::host::{ClientWrite, Notification};
use crate::tags::{Tag, Value};
use crate::wire::var::Area;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Event line of a write made through the socket.
pub(super) fn host_event(conn: u64, item: &WriteItem, change: &Change) -> String {
    let (bit, data) = match &change.content {
        Content::Bytes(data) => (None, data.clone()),
        Content::Bit { bit, value } => (Some(*bit), vec![u8::from(*value)]),
    };
    json!({
        "event": "write",
        "source": "host",
        "conn": conn,
        "area": area_name(change.area),
        "db": change.db,
        "offset": change.offset,
        "len": data.len(),
        "bit": bit,
        "data": hex(&data),
        "tags": [protocol::tag_value(&item.tag, Ok(&item.value))],
    })
    .to_string()
}

/// The tags a client write touches, with their values: decoded from the written bytes when
/// the write covers the whole tag, read back from the image when it covers part of it.
fn tags_of_write(shared: &Shared, w: &ClientWrite) -> Vec<J> {
    let len = if w.bit.is_some() { 1 } else { w.data.len() };
    shared
        .tags
        .covering(w.area, w.db, w.offset as u32, len, w.bit)
        .map(|t| {
            let value = match (w.bit, t.address.bit) {
                (Some(_), Some(_)) => Ok(Value::Bool(w.data.first().is_some_and(|b| b & 1 == 1))),
                _ => {
                    let start = t.offset().checked_sub(w.offset);
                    match start.and_then(|s| w.data.get(s..s + t.byte_len())) {
                        Some(bytes) => Value::decode(t.ty, t.address.bit, bytes),
                        None => read_tag(shared, t),
                    }
                }
            };
            protocol::tag_value(t, value.as_ref())
        })
        .collect()
}

fn read_tag(shared: &Shared, t: &Tag) -> Result<Value, crate::tags::ValueError> {
    let a = &t.address;
    match shared
        .backend
        .read(&[(a.area, a.db, t.offset(), t.byte_len())])
    {
        Ok(d) => Value::decode(t.ty, a.bit, d.first().map_or(&[][..], |v| v)),
        Err(f) => Err(crate::tags::ValueError::Corrupt(format!(
            "cannot read it back: {}",
            f.message
        ))),
    }
}

fn client_event(shared: &Shared, w: &ClientWrite) -> String {
    let area = match w.area {
        Area::InstanceDataBlock => Area::DataBlock,
        a => a,
    };
    json!({
        "event": "write",
        "source": "client",
        "conn": w.conn,
        "seq": w.seq,
        "area": area_name(area),
        "db": w.db,
        "offset": w.offset,
        "len": w.data.len(),
        "bit": w.bit,
        "data": hex(&w.data),
        "tags": tags_of_write(shared, w),
    })
    .to_string()
}

/// Publishes client writes while anyone watches; holds no subscription otherwise.
pub(super) fn event_loop(shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::Acquire) {
        let note = {
            let mut sub = lock(&shared.sub);
            if shared.hub.watchers() == 0 {
                *sub = None;
            }
            // Polled with a timeout, so the lock is free for a `watch` in between.
            sub.as_mut().map(|s| s.next(Duration::from_millis(20)))
        };
        match note {
            Some(Some(Notification::Write(w))) => shared.hub.publish(&client_event(&shared, &w)),
            Some(Some(Notification::Lagged(n))) => shared.hub.publish(&lagged_line(n, "server")),
            Some(None) => {}
            // Nobody watches: nothing to wait for.
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
