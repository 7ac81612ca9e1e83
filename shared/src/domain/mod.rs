//! The upload domain: part sizing, object keys, input validation and the upload record's states.

pub mod checksum;
pub mod key;
pub mod record;
pub mod sizing;
pub mod validate;

pub use record::{Status, UploadRecord};
