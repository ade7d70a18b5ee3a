//! One module per S7 function family. Each takes the parsed request and the image and writes
//! the answer's parameter and data parts into the caller's buffer, or returns the header
//! error to send instead.

pub mod address;
pub mod read_var;
pub mod write_var;

/// Lengths of an answer written by a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Parameter part length.
    pub param_len: usize,
    /// Data part length.
    pub data_len: usize,
}
