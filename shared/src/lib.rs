//! Everything the upload functions share, in layers whose imports point down only:
//!
//! ```text
//! lambda/      the Lambda entry points: every endpoint's (mod.rs), the cleanup's   (top)
//! app.rs       Deps: config, adapters and SDK clients, built once at cold start
//! api/         HTTP only: routes, the first calls made alongside the rate write (prefetch),
//!              one handler per endpoint (parse, call the use case, render); error.rs maps
//!              UploadError to ApiError (status, contract ErrorCode, message) once
//! adapters/    the AWS and system side of each port: dynamodb/ (records, quota, codec,
//!              retries), s3, presign over sigv4 (part URLs), clock, metrics (EMF), xray, iam
//! usecases/    initialize, presign, complete/ (with settle and the parts checks), abort,
//!              parts and status, listing, rate, cleanup: async functions over the ports
//! ports/       the traits the use cases need: records, objects, signing, time, metrics
//! domain/      pure upload logic: records and their transitions, ids, part sizing, keys,
//!              file checks, limits, UploadError; no HTTP, JSON or AWS          (ground)
//! ```
//!
//! `config.rs` (typed configuration from the environment) stands beside the domain.
//!
//! The Lambda binaries in `functions/` and the local dev server in `local-api/` both call
//! [`api::Endpoint::handle`], so they run exactly the same code.

pub mod adapters;
pub mod api;
pub mod app;
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
/// The cleanup function, also at its historical path `shared::cleanup`.
pub use lambda::cleanup;
/// The codes of [`ApiError`]s, from the contract.
pub use upload_contract::ErrorCode;
