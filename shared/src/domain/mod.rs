//! The upload domain: part sizing, object keys, the checks of what a client describes, the upload
//! record's states and transitions, per-user limits, and the upload error. Pure: no I/O, and nothing
//! of HTTP, JSON or AWS; the API layer maps [`UploadError`] to an answer once.

pub mod checksum;
pub mod content;
pub mod error;
pub mod file;
pub mod ids;
pub mod key;
pub mod limits;
pub mod listing;
pub mod metadata;
pub mod record;
pub mod sizing;

pub use error::UploadError;
pub use record::{Status, Transition, UploadRecord};
