//! Presigned UploadPart URLs. Signing is local computation (no S3 call); each URL is bound to one
//! bucket, key, upload id and part number, and expires when the caller asks, never later.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client;

use crate::domain::checksum::ChecksumAlgorithm;
use crate::error::ApiError;

#[derive(Clone, Debug)]
pub struct Presigner {
    client: Client,
    bucket: String,
}

impl Presigner {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// A URL for `PUT`ting part `part_number`, valid from `signed_at` for `expires_in`. With a
    /// checksum, its header is signed into the URL: the `PUT` must carry it, and storage refuses bytes
    /// whose digest differs.
    pub async fn upload_part_url(
        &self,
        key: &str,
        s3_upload_id: &str,
        part_number: u32,
        signed_at: SystemTime,
        expires_in: Duration,
        checksum: Option<(ChecksumAlgorithm, &str)>,
    ) -> Result<String, ApiError> {
        let config = PresigningConfig::builder()
            .start_time(signed_at)
            .expires_in(expires_in)
            .build()
            .map_err(|e| ApiError::internal("configuring the presigned URL", e))?;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(s3_upload_id)
            .part_number(part_number as i32);
        let request = match checksum {
            Some((ChecksumAlgorithm::Sha256, value)) => request.checksum_sha256(value),
            Some((ChecksumAlgorithm::Crc32c, value)) => request.checksum_crc32_c(value),
            None => request,
        };
        let request = request
            .presigned(config)
            .await
            .map_err(|e| ApiError::internal("presigning the part URL", e))?;
        Ok(request.uri().to_owned())
    }
}

/// A presigned URL with its signature cut off, for logs: the URL is a bearer credential.
pub fn redact(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_the_query() {
        assert_eq!(
            redact("https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&partNumber=1"),
            "https://b.s3.amazonaws.com/k"
        );
        assert_eq!(redact("https://host/k"), "https://host/k");
    }
}
