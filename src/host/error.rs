//! What a host call reports when it did not do what it asked.

use crate::plc::ItemError;
use crate::wire::var::Area;

/// Why a host call did not do what it asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// No such area, or no such DB.
    NoSuchObject {
        /// The area asked for.
        area: Area,
        /// The DB asked for (DB/DI).
        db: u16,
    },
    /// The range does not lie inside the area.
    OutOfRange {
        /// The area asked for.
        area: Area,
        /// The DB asked for (DB/DI).
        db: u16,
        /// First byte asked for.
        offset: usize,
        /// Bytes asked for.
        len: usize,
        /// Size of the area.
        size: usize,
    },
    /// A bit number above 7.
    BadBit(u8),
    /// The command queue has no room for the transaction: nothing of it was queued.
    QueueFull {
        /// Commands the transaction needs.
        needed: usize,
        /// Free places in the queue.
        free: usize,
    },
    /// The transaction has more commands than `[host] max_batch`.
    BatchTooLarge {
        /// Commands the transaction needs.
        commands: usize,
        /// The limit.
        max: usize,
    },
    /// The RT thread refused the access (e.g. a client deleted the DB).
    Refused(ItemError),
    /// The RT thread did not answer within the timeout.
    Timeout,
    /// The server has stopped.
    Stopped,
    /// Another [`Notifications`](super::Notifications) receiver exists.
    AlreadySubscribed,
    /// The tag name or address does not resolve (typed access).
    Tag(crate::tags::ResolveError),
    /// The value does not suit the tag's type, or the bytes read are no valid value.
    Value(crate::tags::ValueError),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::NoSuchObject { area, db } => match area {
                Area::DataBlock | Area::InstanceDataBlock => write!(f, "DB{db} does not exist"),
                _ => write!(f, "area {area:?} does not exist"),
            },
            HostError::OutOfRange {
                area,
                db,
                offset,
                len,
                size,
            } => write!(
                f,
                "{len} bytes at offset {offset} do not fit {} ({size} bytes)",
                AreaName(*area, *db)
            ),
            HostError::BadBit(b) => write!(f, "bit {b} is not 0..=7"),
            HostError::QueueFull { needed, free } => write!(
                f,
                "host command queue full ({needed} commands needed, {free} free): retry later or raise [host] command_queue"
            ),
            HostError::BatchTooLarge { commands, max } => write!(
                f,
                "transaction of {commands} commands exceeds [host] max_batch = {max}"
            ),
            HostError::Refused(e) => write!(f, "refused by the server: {e:?}"),
            HostError::Timeout => write!(f, "the server did not answer in time"),
            HostError::Stopped => write!(f, "the server has stopped"),
            HostError::AlreadySubscribed => {
                write!(f, "another receiver of client-write notifications exists")
            }
            HostError::Tag(e) => write!(f, "{e}"),
            HostError::Value(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HostError {}

struct AreaName(Area, u16);

impl std::fmt::Display for AreaName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Area::DataBlock | Area::InstanceDataBlock => write!(f, "DB{}", self.1),
            Area::Inputs => f.write_str("inputs"),
            Area::Outputs => f.write_str("outputs"),
            Area::Flags => f.write_str("flags"),
            Area::Timers => f.write_str("timers"),
            Area::Counters => f.write_str("counters"),
            a => write!(f, "{a:?}"),
        }
    }
}
