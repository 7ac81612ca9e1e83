//! Initialize: plans the parts, starts the multipart upload and records it with its quota share.
//! With a fingerprint, an unfinished upload of the caller's with the same fingerprint and size is
//! answered instead (resumed); the record and the fingerprint's claim are written in one
//! transaction, so of concurrent initializes of one file exactly one starts an upload.
//!
//! Storage is only asked for a multipart upload after a quota read says there is room, and any
//! multipart upload this request cannot hand to the client is aborted before it answers. If the
//! function dies between the two writes, the orphan pass of the cleanup aborts the multipart upload.

use crate::config::Config;
use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::content;
use crate::domain::file;
use crate::domain::ids::{ObjectKey, Owner, UploadId};
use crate::domain::key::{display_name, object_key, sanitise_file_name};
use crate::domain::metadata::Metadata;
use crate::domain::record::Transition;
use crate::domain::sizing::{PartPlan, MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE};
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::{Created, FingerprintClaim, PortError, Ports, Quota, QuotaUsage, StoredPart};
use crate::usecases::complete::settle::settle_gone;
use upload_contract::ErrorCode;

/// A checked request to start an upload.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub owner: Owner,
    /// Validated; sanitised into the key, NFC and visible characters only in the record.
    pub file_name: String,
    /// Validated; active types are stored as `application/octet-stream`.
    pub file_type: String,
    pub file_size: u64,
    /// Checked user metadata (`domain::metadata`), set on the object.
    pub metadata: Metadata,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The client's preferred part size, honoured when it fits S3's limits.
    pub part_size: Option<u64>,
    /// The client's fingerprint of the file: an unfinished upload of the caller's with the same
    /// fingerprint and size is resumed instead of starting another.
    pub fingerprint: Option<String>,
}

/// A started upload, or a resumed one with the parts storage already holds.
#[derive(Clone, Debug)]
pub struct Initialized {
    pub record: UploadRecord,
    /// `Some` when an unfinished upload with the same fingerprint and size was resumed.
    pub resumed: Option<Vec<StoredPart>>,
}

/// What initialize reads before it writes anything: the owner's quota counters and, with a
/// fingerprint, the upload it names. Both at once; the HTTP layer sends them alongside the rate
/// write ([`look_up`]), so that initialize makes three sequential round trips.
#[derive(Clone, Debug)]
pub struct Lookups {
    pub usage: QuotaUsage,
    /// The upload the owner's fingerprint names, if a fingerprint was sent and names one.
    pub named: Option<UploadId>,
}

/// The reads of [`Lookups`], at once.
pub async fn look_up(
    ports: Ports<'_>, owner: &Owner, fingerprint: Option<&str>,
) -> Result<Lookups, PortError> {
    let named = async {
        match fingerprint {
            Some(fingerprint) => ports.records.fingerprint(owner, fingerprint).await,
            None => Ok(None),
        }
    };
    let (usage, named) = futures_util::join!(ports.records.quota_usage(owner), named);
    Ok(Lookups {
        usage: usage?,
        named: named?,
    })
}

/// How many times a fingerprint claimed by a concurrent request is looked up again.
const CLAIM_ATTEMPTS: usize = 3;

/// The quota configured for every user.
pub fn quota(config: &Config) -> Quota {
    Quota {
        max_active_uploads: config.max_active_uploads_per_user,
        max_bytes_in_flight: config.max_bytes_in_flight_per_user,
    }
}

/// The part plan for `file_size`, with the client's preferred part size if it sent one.
pub fn plan(
    config: &Config, file_size: u64, part_size: Option<u64>,
) -> Result<PartPlan, UploadError> {
    if file_size == 0 || file_size > config.max_file_size {
        return Err(UploadError::invalid(
            ErrorCode::InvalidFileSize,
            file::file_size_message(config.max_file_size),
        ));
    }
    let Some(preferred) = part_size else {
        return PartPlan::for_file(file_size, config.preferred_part_size).ok_or_else(|| {
            UploadError::invalid(
                ErrorCode::InvalidFileSize,
                "fileSize does not fit in 10,000 parts of 5 GiB",
            )
        });
    };
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&preferred) {
        return Err(UploadError::invalid(
            ErrorCode::InvalidPartSize,
            format!(
                "partSize must be from {MIN_PART_SIZE} (5 MiB) to {MAX_PART_SIZE} (5 GiB) bytes"
            ),
        ));
    }
    let total_parts = file_size.div_ceil(preferred);
    if total_parts > MAX_PARTS {
        return Err(UploadError::invalid(
            ErrorCode::InvalidPartSize,
            format!(
                "partSize {preferred} would need {total_parts} parts; at most {MAX_PARTS} are allowed, so send at least {}",
                file_size.div_ceil(MAX_PARTS)
            ),
        ));
    }
    Ok(PartPlan {
        part_size: preferred,
        total_parts: total_parts as u32,
    })
}

/// Starts (or, by its fingerprint, resumes) the upload `new`. `first`: the [`Lookups`] already
/// made for it, if any (they are made here otherwise).
pub async fn initialize(
    ports: Ports<'_>, config: &Config, new: NewUpload, mut first: Option<Lookups>,
) -> Result<Initialized, UploadError> {
    let plan = plan(config, new.file_size, new.part_size)?;
    let quota = quota(config);
    for _ in 0..CLAIM_ATTEMPTS {
        let Lookups { usage, named } = match first.take() {
            Some(lookups) => lookups,
            None => look_up(ports, &new.owner, new.fingerprint.as_deref()).await?,
        };
        let mut replaces = None;
        if new.fingerprint.is_some() {
            match resumable(ports, &new, named).await? {
                Found::Resumable(resumed) => return Ok(*resumed),
                Found::Replaceable(id) => replaces = Some(id),
                Found::Nothing => {}
            }
        }
        // Refuse before storage is touched; the transaction below still enforces it atomically.
        if usage.active_uploads >= quota.max_active_uploads.min(i64::MAX as u64) as i64
            || (usage.bytes_in_flight.max(0) as u64).saturating_add(new.file_size)
                > quota.max_bytes_in_flight
        {
            return Err(UploadError::QuotaExceeded(quota));
        }
        let record = start(ports, config, &new, plan).await?;
        let created = match &new.fingerprint {
            None => ports.records.create(&record, quota).await.map(|yes| {
                if yes {
                    Created::Yes
                } else {
                    Created::QuotaExceeded
                }
            }),
            Some(fingerprint) => {
                let claim = FingerprintClaim {
                    fingerprint,
                    replaces: replaces.as_ref(),
                };
                ports.records.create_claiming(&record, quota, claim).await
            }
        };
        match created {
            Ok(Created::Yes) => {
                return Ok(Initialized {
                    record,
                    resumed: None,
                })
            }
            Ok(Created::QuotaExceeded) => {
                roll_back(ports, &record, false).await;
                return Err(UploadError::QuotaExceeded(quota));
            }
            // A concurrent initialize of the same file won: drop ours and answer with theirs.
            Ok(Created::FingerprintTaken) => roll_back(ports, &record, false).await,
            Err(err) => {
                // The record may have been written: the client never learns its id, so end it too.
                roll_back(ports, &record, true).await;
                return Err(err.into());
            }
        }
    }
    Err(UploadError::Unavailable(PortError::new(
        "TransactWriteItems",
        "the fingerprint kept being claimed by concurrent requests",
    )))
}

/// Starts the multipart upload and builds its record.
async fn start(
    ports: Ports<'_>, config: &Config, new: &NewUpload, plan: PartPlan,
) -> Result<UploadRecord, UploadError> {
    let upload_id = UploadId::random();
    tracing::Span::current().record("upload_id", upload_id.as_str());
    let key = ObjectKey::from(object_key(&new.owner, &upload_id, &new.file_name));
    // Active content (HTML, SVG, XML, script, ...) is stored as opaque bytes, and every object
    // downloads as an attachment under its sanitized name (see `domain::content`).
    let file_type = content::stored_type(&new.file_type).to_owned();
    let disposition = content::attachment(&sanitise_file_name(&new.file_name));
    let s3_upload_id = ports
        .objects
        .create_multipart(
            &key,
            &file_type,
            &disposition,
            new.checksum_algorithm,
            &new.metadata,
        )
        .await?;
    let now = ports.time.now();
    let expires_at = now + config.upload_ttl_secs as i64;
    Ok(UploadRecord {
        upload_id,
        owner: new.owner.clone(),
        key,
        s3_upload_id,
        file_name: display_name(&new.file_name),
        file_type,
        metadata: new.metadata.clone(),
        file_size: new.file_size,
        part_size: plan.part_size,
        total_parts: plan.total_parts,
        checksum_algorithm: new.checksum_algorithm,
        status: Status::Initiated,
        created_at: now,
        expires_at,
        ttl: expires_at + config.record_retention_secs as i64,
        completing_since: None,
        completion: None,
    })
}

enum Found {
    Resumable(Box<Initialized>),
    /// The fingerprint names this upload, which is finished, lost or of another size.
    Replaceable(UploadId),
    Nothing,
}

/// The caller's unfinished upload of the same file, if its fingerprint names one (`named`).
async fn resumable(
    ports: Ports<'_>, new: &NewUpload, named: Option<UploadId>,
) -> Result<Found, UploadError> {
    let Some(id) = named else {
        return Ok(Found::Nothing);
    };
    let now = ports.time.now();
    let record = match ports.records.get(&id).await? {
        Some(record)
            if record.owner == new.owner
                && record.file_size == new.file_size
                && matches!(
                    record.status_at(now),
                    Status::Initiated | Status::Completing
                ) =>
        {
            record
        }
        _ => return Ok(Found::Replaceable(id)),
    };
    match ports
        .objects
        .list_parts(&record.key, &record.s3_upload_id)
        .await?
    {
        Some(parts) => {
            tracing::Span::current().record("upload_id", record.upload_id.as_str());
            let parts = parts
                .into_iter()
                .filter(|p| (1..=record.total_parts).contains(&p.number.get()))
                .collect();
            Ok(Found::Resumable(Box::new(Initialized {
                record,
                resumed: Some(parts),
            })))
        }
        // Storage dropped it (or it completed meanwhile): settle it, and start afresh.
        None => {
            settle_gone(ports, &record, "initialize").await?;
            Ok(Found::Replaceable(id))
        }
    }
}

/// Ends what this request started and cannot hand over: the record if it may exist (giving back
/// its quota share), then the multipart upload. What fails here the cleanup finishes.
async fn roll_back(ports: Ports<'_>, record: &UploadRecord, record_may_exist: bool) {
    if record_may_exist {
        if let Err(err) = ports
            .records
            .transition(record, &Transition::Abort { stale_before: 0 })
            .await
        {
            tracing::warn!("could not end the unconfirmed record; the cleanup expires it: {err}");
        }
    }
    if let Err(err) = ports.objects.abort(&record.key, &record.s3_upload_id).await {
        tracing::warn!("could not abort the unrecorded multipart upload; the cleanup will: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sizing::MIB;
    use std::collections::HashMap;

    fn config() -> Config {
        let vars: HashMap<String, String> = [
            ("UPLOADS_BUCKET", "b"),
            ("UPLOADS_TABLE", "t"),
            ("MAX_FILE_SIZE", "1099511627776"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Config::from_vars(&vars).unwrap()
    }

    #[test]
    fn a_preferred_part_size_is_honoured_within_limits() {
        let c = config();
        let p = plan(&c, 23 * MIB, Some(5 * MIB)).unwrap();
        assert_eq!((p.part_size, p.total_parts), (5 * MIB, 5));
        let p = plan(&c, 23 * MIB, None).unwrap();
        assert_eq!(p.part_size, c.preferred_part_size);
    }

    #[test]
    fn bad_sizes_name_the_real_range() {
        let c = config();
        for (size, part, code, needle) in [
            (0, None, "INVALID_FILE_SIZE", "from 1 to 1099511627776"),
            (c.max_file_size + 1, None, "INVALID_FILE_SIZE", "from 1 to"),
            (10 * MIB, Some(MIB), "INVALID_PART_SIZE", "5 MiB"),
            (10 * MIB, Some(6 * 1024 * MIB), "INVALID_PART_SIZE", "5 GiB"),
            (
                60_000 * MIB,
                Some(5 * MIB),
                "INVALID_PART_SIZE",
                "at most 10000",
            ),
        ] {
            match plan(&c, size, part) {
                Err(UploadError::Invalid { code: got, message }) => {
                    assert_eq!(got, code, "{size} {part:?}");
                    assert!(message.contains(needle), "{message}");
                }
                other => panic!("{size} {part:?}: {other:?}"),
            }
        }
    }
}
