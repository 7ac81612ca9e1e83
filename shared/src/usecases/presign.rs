//! Part URLs for an upload that is still being sent: for parts within its range, expiring at the
//! configured lifetime but never after the upload itself. For checksummed uploads each URL is
//! signed with its part's checksum, so storage refuses other bytes. No storage call: the record
//! was read by the caller, and signing is local.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::domain::checksum::part_headers;
use crate::domain::ids::PartNumber;
use crate::domain::{UploadError, UploadRecord};
use crate::ports::{PartUrls, Ports, UrlSigner};
use upload_contract::ErrorCode;

/// One part's URL and the headers its `PUT` must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedPart {
    pub number: PartNumber,
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

/// The URLs asked for, and when they stop working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presigned {
    pub parts: Vec<PresignedPart>,
    pub expires_at: SystemTime,
}

/// A part's checksum as the request sent it, read when the part is signed.
pub trait ChecksumOf: Sync {
    /// The checksum sent for `part`, if any.
    fn checksum(&self, part: PartNumber) -> Result<Option<&str>, UploadError>;
    /// Where the request carries it, for messages.
    fn field(&self, part: PartNumber) -> String;
}

/// URLs for `parts` of `record` (the caller's, read by the caller), signed by `signer`.
pub async fn presign(
    ports: Ports<'_>, signer: &dyn UrlSigner, config: &Config, record: &UploadRecord,
    parts: RangeInclusive<PartNumber>, checksums: &dyn ChecksumOf,
) -> Result<Presigned, UploadError> {
    let now = ports.time.now();
    record.require_uploading(now)?;
    let wanted = (now + config.presigned_url_ttl_secs as i64).min(record.expires_at);
    let urls = signer
        .sign_upload(
            &record.key,
            &record.s3_upload_id,
            record.checksum_algorithm,
            at(now),
            at(wanted),
        )
        .await?;
    check_range(record, parts.end().get())?;
    let numbers = (parts.start().get()..=parts.end().get()).filter_map(PartNumber::new);
    let mut signed = Vec::with_capacity(numbers.clone().count());
    for part in numbers {
        let checksum = checksums.checksum(part)?;
        signed.push(sign(record, urls.as_ref(), part, checksum, checksums)?);
    }
    Ok(Presigned {
        parts: signed,
        expires_at: urls.expires_at(),
    })
}

fn check_range(record: &UploadRecord, end: u32) -> Result<(), UploadError> {
    if end > record.total_parts {
        let total = record.total_parts;
        return Err(UploadError::invalid(
            ErrorCode::InvalidPartNumber,
            format!("part numbers must be from 1 to {total} for this upload"),
        ));
    }
    Ok(())
}

/// Part `part`'s URL with the headers the PUT must carry (its exact `content-length`, and the
/// checksum for checksummed uploads).
fn sign(
    record: &UploadRecord, urls: &dyn PartUrls, part: PartNumber, checksum: Option<&str>,
    checksums: &dyn ChecksumOf,
) -> Result<PresignedPart, UploadError> {
    let checksum = match (record.checksum_algorithm, checksum) {
        (Some(algorithm), Some(value)) => Some((
            algorithm,
            algorithm.check_value(value, &checksums.field(part))?,
        )),
        (Some(algorithm), None) => {
            let field = checksums.field(part);
            return Err(UploadError::invalid(
                ErrorCode::MissingChecksum,
                format!(
                    "this upload verifies parts with {}: send {field} for part {part}",
                    algorithm.as_str()
                ),
            ));
        }
        (None, Some(_)) => {
            return Err(UploadError::invalid(
                ErrorCode::ChecksumNotEnabled,
                "this upload was started without checksumAlgorithm; omit the checksum",
            ))
        }
        (None, None) => None,
    };
    let length = record.part_length(part.get());
    Ok(PresignedPart {
        number: part,
        url: urls.url(part, length, checksum.map(|(_, value)| value)),
        headers: part_headers(length, checksum),
    })
}

fn at(epoch_secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(epoch_secs.max(0) as u64)
}
