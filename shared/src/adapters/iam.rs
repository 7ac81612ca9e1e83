//! What each adapter operation needs from IAM.

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
