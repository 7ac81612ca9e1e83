//! A client for the multipart upload API: uploads a file from disk in parts, in parallel, straight
//! to storage through presigned URLs; retries one failed part alone with exponential backoff and
//! jitter; fetches a fresh URL when storage answers `403` (expired); survives being killed through
//! a small state file next to the file (`FILE.upload.json`) and `GET /parts`; completes without
//! sending ETags when it does not have all of them (the server reads them from storage).
//!
//! ```no_run
//! # async fn demo() -> Result<(), upload_client::Error> {
//! use std::sync::Arc;
//! use upload_client::{Api, Identity, Options, Silent, Uploader};
//!
//! let api = Api::new("http://127.0.0.1:3000/api/v1/multipart-upload", Identity::User("alice".into()))?;
//! let uploader = Uploader::new(api, Options::default());
//! let finished = uploader.upload("match.mp4".as_ref(), Arc::new(Silent)).await?;
//! println!("stored as {}", finished.key);
//! # Ok(())
//! # }
//! ```
//!
//! Memory stays at about `concurrency × chunkSize`: each in-flight part is read from disk (seek,
//! read_exact) into its own buffer just before it is sent.

pub mod api;
pub mod digest;
mod error;
pub mod state;
pub mod upload;

pub use api::{Api, Identity};
pub use digest::Verify;
pub use error::Error;
#[cfg(feature = "fault-injection")]
pub use upload::Faults;
pub use upload::{Finished, Options, Plan, Progress, Silent, Stats, Uploader};
