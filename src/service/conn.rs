//! Per-connection service state: what a client started and must be able to continue (SZL
//! fragments, block-list continuation, an upload, a download), its legitimation and
//! connection type.
//! Fixed size, kept inside the `Session`, reset with it.

use crate::access::Grant;
use crate::plc::ConnType;
use crate::wire::HeaderError;

/// Continuation of a fragmented SZL answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SzlCursor {
    /// Sequence number the client must echo.
    pub seq: u8,
    /// Data unit reference of all fragments.
    pub dur: u8,
    /// SZL id.
    pub id: u16,
    /// SZL index.
    pub index: u16,
    /// Stream bytes already sent.
    pub sent: usize,
}

/// Continuation of a list-blocks-of-type answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockCursor {
    /// Sequence number the client must echo.
    pub seq: u8,
    /// Data unit reference.
    pub dur: u8,
    /// Sub-block type listed.
    pub sub_type: u8,
    /// Last block number sent.
    pub last: u16,
}

/// An upload in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upload {
    /// Upload id given to the client (1..=255).
    pub id: u8,
    /// DB being uploaded.
    pub db: u16,
    /// Bytes of the block already sent.
    pub sent: usize,
}

/// Which job the CPU sends next in a download (PROTOCOL.md §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadStep {
    /// `1B` download block: the client answers with the next part.
    Block,
    /// `1C` download ended.
    Ended,
}

/// A download this connection runs: the CPU's outstanding job to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    /// The job to send (or sent).
    pub step: DownloadStep,
    /// PDU reference of the job sent (the client's Ack_Data echoes it).
    pub pdu_ref: u16,
    /// The job was sent; waiting for the client's answer.
    pub sent: bool,
    /// Error code carried by the `1C` job (`0x0000` = block received whole).
    pub error: HeaderError,
}

/// The state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnState {
    /// Type admitted from the called TSAP (counts against its quota while set).
    pub conn_type: Option<ConnType>,
    /// The client entered the session password.
    pub legitimated: bool,
    /// What the `[[access]]` rules let this connection do (decided at accept).
    pub grant: Grant,
    /// Fragmented SZL answer in progress.
    pub szl: Option<SzlCursor>,
    /// Block list in progress.
    pub blocks: Option<BlockCursor>,
    /// Upload in progress.
    pub upload: Option<Upload>,
    /// Download in progress.
    pub download: Option<Download>,
    counter: u8,
    job_ref: u16,
}

impl ConnState {
    /// A fresh non-zero number for sequence numbers, data unit references and upload ids.
    pub fn next_id(&mut self) -> u8 {
        self.counter = self.counter.wrapping_add(1).max(1);
        self.counter
    }

    /// A fresh non-zero PDU reference for a job the CPU sends to the client.
    pub fn next_job_ref(&mut self) -> u16 {
        self.job_ref = self.job_ref.wrapping_add(1).max(1);
        self.job_ref
    }
}
