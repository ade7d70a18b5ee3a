//! One module per S7 function family. Each takes the parsed request and the image and writes
//! the answer's parameter and data parts into the caller's buffer, or returns the header
//! error to send instead.

pub mod address;
pub mod blocks;
pub mod clock;
pub mod conn;
pub mod control;
pub mod download;
pub mod read_var;
pub mod security;
pub mod szl;
pub mod upload;
pub mod userdata;
pub mod write_var;

use crate::wire::HeaderError;

/// Lengths of an answer written by a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Parameter part length.
    pub param_len: usize,
    /// Data part length.
    pub data_len: usize,
}

/// A refused job: the header error, and the length of a parameter the service wrote
/// (0 = answer with a bare Ack, ROSCTR 2; otherwise Ack_Data carrying that parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobError {
    /// Header error class and code.
    pub error: HeaderError,
    /// Parameter bytes written (e.g. `29 07` "already in STOP").
    pub param_len: usize,
}

impl From<HeaderError> for JobError {
    fn from(error: HeaderError) -> JobError {
        JobError {
            error,
            param_len: 0,
        }
    }
}
