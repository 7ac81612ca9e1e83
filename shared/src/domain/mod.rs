//! The upload domain: part sizing, object keys, input validation, the upload record's states and
//! transitions, and the upload error. Pure: no I/O.

pub mod checksum;
pub mod content;
pub mod error;
pub mod key;
pub mod listing;
pub mod metadata;
pub mod record;
pub mod sizing;

pub use error::UploadError;
pub use record::{Status, Transition, UploadRecord};
