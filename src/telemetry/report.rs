//! Bench reports.
