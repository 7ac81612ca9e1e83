//! The AWS side of each port: DynamoDB for the upload records, S3 for the multipart uploads. The
//! system clock and the EMF metrics sink implement their ports beside their types
//! (`clock.rs`, `metrics.rs`).

pub mod dynamodb;
pub mod s3;

pub use dynamodb::DynamoRecords;
pub use s3::S3Objects;
