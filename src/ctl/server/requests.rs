//! What one request line does: parse, execute against the backend, answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use serde_json::{json, Value as J};

use super::events::host_event;
use super::{lock, Shared};
use crate::ctl::hub::Line;
use crate::ctl::protocol::{self, Failure, Request, WriteItem};
use crate::ctl::{Change, Content};
use crate::tags::Value;

/// Executes one request line and returns the answer line.
pub(super) fn handle_line(
    conn: u64,
    line: &[u8],
    tx: &SyncSender<Line>,
    lagged: &Arc<AtomicU64>,
    shared: &Shared,
) -> String {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let parsed = protocol::parse(line, &shared.tags);
    let result = parsed
        .request
        .and_then(|r| execute(conn, r, tx, lagged, shared));
    match result {
        Ok(fields) => protocol::ok_line(&parsed.id, fields),
        Err(f) => {
            shared.counters.errors.fetch_add(1, Ordering::Relaxed);
            protocol::error_line(&parsed.id, &f)
        }
    }
}

fn execute(
    conn: u64,
    request: Request,
    tx: &SyncSender<Line>,
    lagged: &Arc<AtomicU64>,
    shared: &Shared,
) -> Result<J, Failure> {
    match request {
        Request::Read(tags) => {
            let ranges: Vec<_> = tags
                .iter()
                .map(|t| (t.address.area, t.address.db, t.offset(), t.byte_len()))
                .collect();
            let data = shared.backend.read(&ranges)?;
            let values: Vec<_> = tags
                .iter()
                .zip(&data)
                .map(|(t, d)| (t, Value::decode(t.ty, t.address.bit, d)))
                .collect();
            if let [(t, v)] = values.as_slice() {
                let v = v
                    .as_ref()
                    .map_err(|e| Failure::new(e.code(), format!("{}: {e}", t.name)))?;
                return Ok(protocol::tag_value(t, Ok(v)));
            }
            Ok(json!({"items": values
                .iter()
                .map(|(t, v)| protocol::tag_value(t, v.as_ref()))
                .collect::<Vec<_>>()}))
        }
        Request::Write(items) => {
            let changes = items.iter().map(change_of).collect::<Result<Vec<_>, _>>()?;
            shared.backend.write(&changes)?;
            if shared.hub.watchers() > 0 {
                for (item, change) in items.iter().zip(&changes) {
                    shared.hub.publish(&host_event(conn, item, change));
                }
            }
            if let [item] = items.as_slice() {
                return Ok(protocol::tag_value(&item.tag, Ok(&item.value)));
            }
            Ok(json!({"items": items
                .iter()
                .map(|i| protocol::tag_value(&i.tag, Ok(&i.value)))
                .collect::<Vec<_>>()}))
        }
        Request::Watch => {
            shared.hub.watch(conn, tx.clone(), lagged.clone());
            let mut sub = lock(&shared.sub);
            if sub.is_none() {
                match shared.backend.subscribe() {
                    Ok(s) => *sub = Some(s),
                    Err(f) => {
                        drop(sub);
                        shared.hub.unwatch(conn);
                        return Err(f);
                    }
                }
            }
            Ok(json!({"watching": true}))
        }
        Request::Unwatch => {
            shared.hub.unwatch(conn);
            Ok(json!({"watching": false}))
        }
        Request::Status => Ok(json!({"status": status(shared)})),
        Request::Tags => Ok(json!({"tags": shared
            .tags
            .iter()
            .map(|t| json!({
                "name": t.name,
                "address": t.address.to_string(),
                "type": t.ty.to_string(),
                "retain": t.retain,
            }))
            .collect::<Vec<_>>()})),
    }
}

fn status(shared: &Shared) -> J {
    let c = &shared.counters;
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut s = shared.backend.status();
    if !s.is_object() {
        s = json!({});
    }
    s["control"] = json!({
        "socket": shared.cfg.path.display().to_string(),
        "uptime_s": shared.started.elapsed().as_secs(),
        "clients": shared.clients.load(Ordering::Relaxed),
        "max_clients": shared.cfg.max_clients,
        "watchers": shared.hub.watchers(),
        "connections": l(&c.connections),
        "refused_busy": l(&c.refused_busy),
        "requests": l(&c.requests),
        "errors": l(&c.errors),
        "events_delivered": l(&shared.hub.stats.delivered),
        "events_lagged": l(&shared.hub.stats.lagged),
        "dropped_slow": l(&c.dropped_slow),
    });
    s
}

/// The image change for one write item.
fn change_of(item: &WriteItem) -> Result<Change, Failure> {
    let a = &item.tag.address;
    let content = match (&item.value, a.bit) {
        (Value::Bool(v), Some(bit)) => Content::Bit { bit, value: *v },
        _ => {
            let mut data = vec![0u8; item.tag.byte_len()];
            item.tag
                .encode(&item.value, &mut data)
                .map_err(|e| Failure::new(e.code(), format!("{}: {e}", item.tag.name)))?;
            Content::Bytes(data)
        }
    };
    Ok(Change {
        area: a.area,
        db: a.db,
        offset: item.tag.offset(),
        content,
    })
}
