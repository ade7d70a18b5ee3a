//! Per-connection service state: what a client started and must be able to continue (SZL
//! fragments, block-list continuation, an upload, a download), its legitimation and
//! connection type.
//! Fixed size, kept inside the `Session`, reset with it.

use crate::access::Grant;
use crate::plc::ConnType;
use crate::wire::HeaderError;

/// Continuation of a fragmented SZL answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SzlCursor {
    /// Sequence number the client must echo.
    pub(crate) seq: u8,
    /// Data unit reference of all fragments.
    pub(crate) dur: u8,
    /// SZL id.
    pub(crate) id: u16,
    /// SZL index.
    pub(crate) index: u16,
    /// Stream bytes already sent.
    pub(crate) sent: usize,
}

/// Continuation of a list-blocks-of-type answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockCursor {
    /// Sequence number the client must echo.
    pub(crate) seq: u8,
    /// Data unit reference.
    pub(crate) dur: u8,
    /// Sub-block type listed.
    pub(crate) sub_type: u8,
    /// Last block number sent.
    pub(crate) last: u16,
}

/// An upload in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Upload {
    /// Upload id given to the client (1..=255).
    pub(crate) id: u8,
    /// DB being uploaded.
    pub(crate) db: u16,
    /// Bytes of the block already sent.
    pub(crate) sent: usize,
}

/// Which job the CPU sends next in a download (docs/protocol.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DownloadStep {
    /// `1B` download block: the client answers with the next part.
    Block,
    /// `1C` download ended.
    Ended,
}

/// A download this connection runs: the CPU's outstanding job to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Download {
    /// The job to send (or sent).
    pub(crate) step: DownloadStep,
    /// PDU reference of the job sent (the client's Ack_Data echoes it).
    pub(crate) pdu_ref: u16,
    /// The job was sent; waiting for the client's answer.
    pub(crate) sent: bool,
    /// Error code carried by the `1C` job (`0x0000` = block received whole).
    pub(crate) error: HeaderError,
}

/// The state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ConnState {
    /// The negotiated PDU length: 0 until Setup Communication, which is all a connection
    /// may ask for until then.
    pub(crate) pdu_len: u16,
    /// Type admitted from the called TSAP (counts against its quota while set).
    pub(crate) conn_type: Option<ConnType>,
    /// The client entered the session password.
    pub(crate) legitimated: bool,
    /// What the `[[access]]` rules let this connection do (decided at accept).
    pub(crate) grant: Grant,
    /// Fragmented SZL answer in progress.
    pub(crate) szl: Option<SzlCursor>,
    /// Block list in progress.
    pub(crate) blocks: Option<BlockCursor>,
    /// Upload in progress.
    pub(crate) upload: Option<Upload>,
    /// Download in progress.
    pub(crate) download: Option<Download>,
    counter: u8,
    job_ref: u16,
}

impl ConnState {
    /// A fresh non-zero number for sequence numbers, data unit references and upload ids.
    pub(crate) fn next_id(&mut self) -> u8 {
        self.counter = self.counter.wrapping_add(1).max(1);
        self.counter
    }

    /// A fresh non-zero PDU reference for a job the CPU sends to the client.
    pub(crate) fn next_job_ref(&mut self) -> u16 {
        self.job_ref = self.job_ref.wrapping_add(1).max(1);
        self.job_ref
    }
}
