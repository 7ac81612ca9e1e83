//! Everything the upload functions share: configuration, errors, the upload domain, presigning, the
//! DynamoDB-backed upload records, the S3 multipart calls and the HTTP handlers themselves.
//!
//! The Lambda binaries in `functions/` and the local dev server in `local-api/` both call
//! [`api::Endpoint::handle`], so they run exactly the same code.

pub mod api;
pub mod cleanup;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod lambda;
pub mod metrics;
pub mod presign;
pub mod records;
pub mod sigv4;
pub mod storage;

pub use api::{Deps, Endpoint, ROUTES};
pub use clock::Clock;
pub use config::Config;
pub use error::ApiError;
