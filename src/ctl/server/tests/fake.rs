//! The fake backend: an image behind a mutex, and client writes made by hand.

use super::super::*;
use crate::ctl::{Change, Content};
use crate::host::{ClientWrite, Notification};
use crate::plc::{DbSpec, Image, ImageSpec, Memory};
use crate::wire::var::Area;
use serde_json::Value as J;
use std::sync::mpsc::Receiver;

pub(super) struct Fake {
    pub(super) image: Mutex<Image>,
    pub(super) notes: Mutex<Option<SyncSender<Notification>>>,
    pub(super) subscribed: AtomicBool,
}

struct FakeSub(Receiver<Notification>);

impl Subscription for FakeSub {
    fn next(&mut self, timeout: Duration) -> Option<Notification> {
        self.0.recv_timeout(timeout).ok()
    }
}

pub(super) fn spec() -> ImageSpec {
    ImageSpec {
        dbs: vec![DbSpec {
            number: 1,
            size: 64,
            read_only: false,
        }],
        inputs: 8,
        outputs: 8,
        flags: 16,
        timers: 2,
        counters: 2,
    }
}

impl Fake {
    pub(super) fn new() -> Arc<Fake> {
        Arc::new(Fake {
            image: Mutex::new(Image::new(&spec())),
            notes: Mutex::new(None),
            subscribed: AtomicBool::new(false),
        })
    }

    /// What an S7 client write would do: change the image and notify.
    pub(super) fn client_write(&self, seq: u64, area: Area, db: u16, offset: usize, data: &[u8]) {
        lock(&self.image).area_mut(area, db).unwrap()[offset..offset + data.len()]
            .copy_from_slice(data);
        if let Some(tx) = lock(&self.notes).as_ref() {
            // Blocking, like a queue that never overflows: what the server does with its
            // watchers is under test here, not the notification queue.
            let _ = tx.send(Notification::Write(ClientWrite {
                seq,
                conn: 5,
                area,
                db,
                offset,
                bit: None,
                data: data.to_vec(),
                tags: Vec::new(),
            }));
        }
    }
}

impl Backend for Fake {
    fn read(&self, ranges: &[(Area, u16, usize, usize)]) -> Result<Vec<Vec<u8>>, Failure> {
        let img = lock(&self.image);
        ranges
            .iter()
            .map(|&(a, db, o, n)| {
                img.area(a, db)
                    .ok()
                    .and_then(|d| d.get(o..o + n))
                    .map(|d| d.to_vec())
                    .ok_or_else(|| Failure::new("out_of_range", "no such range"))
            })
            .collect()
    }

    fn write(&self, changes: &[Change]) -> Result<(), Failure> {
        let mut img = lock(&self.image);
        for c in changes {
            let area = img.area_mut(c.area, c.db).unwrap();
            match &c.content {
                Content::Bytes(data) => area[c.offset..c.offset + data.len()].copy_from_slice(data),
                Content::Bit { bit, value } => {
                    let b = &mut area[c.offset];
                    *b = if *value {
                        *b | 1 << bit
                    } else {
                        *b & !(1 << bit)
                    };
                }
            }
        }
        Ok(())
    }

    fn subscribe(&self) -> Result<Box<dyn Subscription>, Failure> {
        let (tx, rx) = sync_channel(4096);
        *lock(&self.notes) = Some(tx);
        self.subscribed.store(true, Ordering::Release);
        Ok(Box::new(FakeSub(rx)))
    }

    fn status(&self) -> J {
        json!({"rt": {"running": true}})
    }
}

pub(super) fn tags() -> Arc<TagTable> {
    Arc::new(crate::tags::config::table_for_tests(
        &[
            ("Speed", "DB1.DBD4", "REAL"),
            ("Run", "DB1.DBX0.3", "BOOL"),
            ("Name", "DB1.DBB10", "STRING[8]"),
            ("Count", "MW2", "INT"),
        ],
        &spec(),
    ))
}
