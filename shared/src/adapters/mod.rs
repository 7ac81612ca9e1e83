//! The AWS side of each port: DynamoDB for the upload records, S3 for the multipart uploads. The
//! system clock and the EMF metrics sink implement their ports beside their types
//! (`clock.rs`, `metrics.rs`).

pub mod dynamodb;
pub mod s3;

pub use dynamodb::DynamoRecords;
pub use s3::S3Objects;

/// The IAM actions an operation of the adapters needs (`TransactWriteItems` needs those of the
/// writes inside it). `template.yaml` must grant each function those of its operations.
pub fn iam_actions(operation: &str) -> &'static [&'static str] {
    match operation {
        "GetItem" => &["dynamodb:GetItem"],
        "Query" => &["dynamodb:Query"],
        "TransactWriteItems"
        | "UpdateItem"
        | "UpdateItem(rate)"
        | "UpdateItem(begin-completing)" => &["dynamodb:UpdateItem"],
        "TransactWriteItems(create)" => &["dynamodb:PutItem", "dynamodb:UpdateItem"],
        "CreateMultipartUpload" | "CompleteMultipartUpload" | "PresignUploadPart" => {
            &["s3:PutObject"]
        }
        "ListParts" => &["s3:ListMultipartUploadParts"],
        "AbortMultipartUpload" => &["s3:AbortMultipartUpload"],
        "HeadObject" => &["s3:GetObject"],
        "ListMultipartUploads" => &["s3:ListBucketMultipartUploads"],
        _ => &[],
    }
}
