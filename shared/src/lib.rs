//! Everything the upload functions share, in layers:
//!
//! - `domain/`: pure upload logic (records and their transitions, part sizing, keys, validation);
//! - `ports.rs`: the traits the use cases need (record store, object store, time, metrics);
//! - `usecases/`: initialize, complete, abort, parts and status, cleanup, as async functions over
//!   the ports;
//! - `adapters/`: DynamoDB and S3 behind those ports; `presign.rs`/`sigv4.rs` sign part URLs;
//! - `api/`: HTTP only (parse, call the use case, render), with one mapping of upload errors to
//!   responses (`error.rs`); `lambda.rs` and `cleanup.rs` are the Lambda entry points.
//!
//! The Lambda binaries in `functions/` and the local dev server in `local-api/` both call
//! [`api::Endpoint::handle`], so they run exactly the same code.

pub mod adapters;
pub mod api;
pub mod app;
pub mod cleanup;
pub mod config;
pub mod domain;
pub mod lambda;
pub mod ports;
pub mod usecases;

pub use adapters::clock::Clock;
pub use adapters::presign::Presigner;
pub use api::error::ApiError;
pub use api::{Endpoint, ROUTES};
pub use app::Deps;
pub use config::Config;
/// The codes of [`ApiError`]s, from the contract.
pub use upload_contract::ErrorCode;
