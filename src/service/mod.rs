//! One module per S7 function family. Each takes the parsed request and the image and writes
//! the answer's parameter and data parts into the caller's buffer, or returns the header
//! error to send instead.

pub(crate) mod address;
pub(crate) mod blocks;
pub(crate) mod clock;
pub(crate) mod conn;
pub(crate) mod control;
pub(crate) mod ctx;
pub(crate) mod dispatch;
pub(crate) mod download;
pub(crate) mod read_var;
pub(crate) mod security;
pub(crate) mod szl;
pub(crate) mod upload;
pub(crate) mod userdata;
pub(crate) mod write_var;

use crate::wire::s7::Function;
use crate::wire::HeaderError;

/// Lengths of an answer written by a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    /// Parameter part length.
    pub(crate) param_len: usize,
    /// Data part length.
    pub(crate) data_len: usize,
}

/// A refused job: the header error, and the length of a parameter the service wrote
/// (0 = answer with a bare Ack, ROSCTR 2; otherwise Ack_Data carrying that parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobError {
    /// Header error class and code.
    pub(crate) error: HeaderError,
    /// Parameter bytes written (e.g. `29 07` "already in STOP").
    pub(crate) param_len: usize,
}

impl From<HeaderError> for JobError {
    fn from(error: HeaderError) -> JobError {
        JobError {
            error,
            param_len: 0,
        }
    }
}

/// The answer parameter of a job that succeeded without data: the function byte alone.
pub(crate) fn function_only(function: Function, out: &mut [u8]) -> Result<Answer, JobError> {
    let b = out
        .first_mut()
        .ok_or(JobError::from(HeaderError::PDU_SIZE))?;
    *b = function.into();
    Ok(Answer {
        param_len: 1,
        data_len: 0,
    })
}
