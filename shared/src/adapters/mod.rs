//! The AWS and system side of each port: DynamoDB for the upload records (`dynamodb/`), S3 for
//! the multipart uploads (`s3.rs`), SigV4 part URLs (`presign.rs` over `sigv4.rs`), the system clock
//! (`clock.rs`) and the EMF metrics sink (`metrics.rs`); `xray.rs` traces the SDK calls, and
//! `iam.rs` names the IAM actions each operation needs.

pub mod clock;
pub mod dynamodb;
mod iam;
pub mod metrics;
pub mod presign;
pub mod s3;
pub mod sigv4;
pub mod xray;

pub use dynamodb::DynamoRecords;
pub use iam::iam_actions;
pub use s3::S3Objects;
