//! `POST /complete`: verifies every part against the record (present, exactly sized, ETags matching
//! what S3 holds), then completes exactly once. Concurrent and repeated completes all get the one
//! result; a refused completion leaves the upload resumable.

use std::collections::BTreeMap;
use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::{json, Value};

use super::{caller, json_body, owned_upload, Deps, Endpoint, Outcome};
use crate::clock::rfc3339;
use crate::domain::record::{not_uploading, Completion};
use crate::domain::sizing::{PartPlan, MAX_PARTS};
use crate::domain::validate::integer_in;
use crate::domain::{Status, UploadRecord};
use crate::error::ApiError;
use crate::metrics::Metric;
use crate::storage::{CompleteError, PartRef};

/// A COMPLETING older than this lost its function (Lambda's limit is 15 minutes): take it over.
const STALE_COMPLETING_SECS: i64 = 16 * 60;
/// How many part numbers an error message lists before "and N more".
const LISTED: usize = 20;

pub async fn handle(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let body = json_body(deps, req)?;
    let client_parts = body
        .opt_array("parts")?
        .map(|items| parse_parts(items))
        .transpose()?;
    let record = owned_upload(deps, &owner, &body).await?;
    tracing::Span::current().record("upload_id", record.upload_id.as_str());
    complete(deps, record, client_parts.as_deref()).await
}

/// The client's `parts`: objects with `PartNumber` and `ETag`, in ascending order, no duplicates.
fn parse_parts(items: &[Value]) -> Result<Vec<PartRef>, ApiError> {
    if items.is_empty() {
        return Err(ApiError::bad_request(
            "INVALID_PARTS",
            "parts must not be empty; omit it to complete with the parts storage holds",
        ));
    }
    if items.len() > MAX_PARTS as usize {
        return Err(ApiError::bad_request(
            "INVALID_PARTS",
            "parts has more than 10000 entries",
        ));
    }
    let mut parts = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| item.get(name).filter(|v| !v.is_null());
        let number = field("PartNumber").ok_or_else(|| {
            ApiError::bad_request(
                "INVALID_PARTS",
                format!("parts[{i}].PartNumber is required"),
            )
        })?;
        let number = integer_in(number, &format!("parts[{i}].PartNumber"), 1, MAX_PARTS)? as u32;
        let etag = match field("ETag") {
            Some(Value::String(etag)) if !etag.trim().is_empty() && etag.len() <= 1024 => {
                etag.clone()
            }
            _ => {
                return Err(ApiError::bad_request(
                    "INVALID_PARTS",
                    format!(
                        "parts[{i}].ETag must be the ETag header S3 returned for part {number}"
                    ),
                ))
            }
        };
        let checksum = match field("ChecksumSHA256").or_else(|| field("ChecksumCRC32C")) {
            None => None,
            Some(Value::String(value)) => Some(value.clone()),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "INVALID_PARTS",
                    format!("parts[{i}] checksum must be a base64 string"),
                ))
            }
        };
        if let Some(PartRef {
            number: previous, ..
        }) = parts.last()
        {
            if number <= *previous {
                return Err(ApiError::bad_request(
                    "INVALID_PARTS",
                    format!("parts must be in ascending PartNumber order without duplicates (part {number} after {previous})"),
                ));
            }
        }
        parts.push(PartRef {
            number,
            etag,
            checksum,
        });
    }
    Ok(parts)
}

async fn complete(
    deps: &Deps,
    mut record: UploadRecord,
    client_parts: Option<&[PartRef]>,
) -> Outcome {
    let wait_until = deps.clock.epoch_secs() + deps.config.completion_wait_secs as i64;
    loop {
        let now = deps.clock.epoch_secs();
        match record.status_at(now) {
            Status::Completed => return Ok(completed_response(&record)),
            Status::Initiated => {}
            Status::Completing
                if record.completing_since.unwrap_or(0) < now - STALE_COMPLETING_SECS => {}
            Status::Completing if now < wait_until => {
                // Another request is completing this upload: wait for its outcome and share it.
                tokio::time::sleep(Duration::from_millis(200)).await;
                record = reread(deps, &record).await?;
                continue;
            }
            status => return Err(not_uploading(status)),
        }
        let Some(parts) = verified_parts(deps, &record, client_parts).await? else {
            // Storage no longer has the multipart upload. Either another request completed it
            // after this one read the record (then the record has moved on: share its outcome),
            // or it was aborted or cleaned up.
            let current = reread(deps, &record).await?;
            if current.status != record.status
                || current.completing_since != record.completing_since
            {
                record = current;
                continue;
            }
            return Err(ApiError::expired());
        };
        if !deps
            .records
            .begin_completing(&record.upload_id, now, now - STALE_COMPLETING_SECS)
            .await?
        {
            record = reread(deps, &record).await?;
            continue;
        }
        return finish(deps, record, &parts, now).await;
    }
}

async fn reread(deps: &Deps, record: &UploadRecord) -> Result<UploadRecord, ApiError> {
    deps.records
        .get_owned(&record.upload_id, &record.owner)
        .await
}

/// Completes in S3 while this request holds COMPLETING, then records the outcome.
async fn finish(deps: &Deps, mut record: UploadRecord, parts: &[PartRef], now: i64) -> Outcome {
    let completed = match deps
        .storage
        .complete(
            &record.key,
            &record.s3_upload_id,
            parts,
            record.checksum_algorithm,
        )
        .await
    {
        Ok(object) => object,
        Err(CompleteError::NoSuchUpload) => match deps.storage.head(&record.key).await? {
            // An earlier holder completed in S3 but died before recording it.
            Some((etag, size)) if size == record.file_size => crate::storage::CompletedObject {
                etag,
                location: format!("s3://{}/{}", deps.storage.bucket(), record.key),
                checksum: None,
            },
            _ => {
                release(deps, &record).await;
                return Err(ApiError::expired());
            }
        },
        Err(failure) => {
            release(deps, &record).await;
            return Err(match failure {
                CompleteError::Refused { code, message } => ApiError::bad_request(
                    "PARTS_REJECTED",
                    format!("storage refused the parts ({code}: {message}); check GET /parts and upload again"),
                ),
                CompleteError::KeyExists => ApiError::conflict(
                    "OBJECT_EXISTS",
                    "an object already exists under this upload's key",
                ),
                CompleteError::Failed(err) => err,
                CompleteError::NoSuchUpload => unreachable!("handled above"),
            });
        }
    };
    let completion = Completion {
        etag: completed.etag,
        size: record.file_size,
        location: completed.location,
        completed_at: now,
        checksum: completed.checksum,
    };
    if !deps.records.finish_completing(&record, &completion).await? {
        // Somebody took over a COMPLETING they thought stale and finished first: report theirs.
        let current = reread(deps, &record).await?;
        if current.status == Status::Completed {
            return Ok(completed_response(&current));
        }
        return Err(not_uploading(current.status));
    }
    deps.metrics.emit(
        Endpoint::Complete.name(),
        &[],
        &[
            (Metric::UploadsCompleted, 1.0),
            (Metric::BytesCompleted, record.file_size as f64),
            (
                Metric::CompletionLatency,
                (now - record.created_at).max(0) as f64,
            ),
        ],
    );
    record.status = Status::Completed;
    record.completion = Some(completion);
    tracing::info!(
        size = record.file_size,
        parts = parts.len(),
        "upload completed"
    );
    Ok(completed_response(&record))
}

async fn release(deps: &Deps, record: &UploadRecord) {
    if let Err(err) = deps.records.release_completing(&record.upload_id).await {
        tracing::error!(
            "could not release COMPLETING; it becomes stale and is taken over later: {err}"
        );
    }
}

fn completed_response(record: &UploadRecord) -> (StatusCode, Value) {
    let c = record.completion.as_ref();
    (
        StatusCode::OK,
        json!({
            "uploadId": record.upload_id,
            "status": Status::Completed.as_str(),
            "key": record.key,
            "location": c.map(|c| c.location.as_str()),
            "etag": c.map(|c| c.etag.as_str()),
            "size": c.map_or(record.file_size, |c| c.size),
            "completedAt": c.map(|c| rfc3339(c.completed_at)),
            "checksum": c.and_then(|c| c.checksum.as_deref()),
        }),
    )
}

/// The parts to complete with, after checking that S3 holds exactly the declared file: parts
/// 1..=totalParts, each of its planned size, and (when the client sent them) the same ETags.
async fn verified_parts(
    deps: &Deps,
    record: &UploadRecord,
    client_parts: Option<&[PartRef]>,
) -> Result<Option<Vec<PartRef>>, ApiError> {
    let Some(stored) = deps
        .storage
        .list_parts(&record.key, &record.s3_upload_id)
        .await?
    else {
        return Ok(None);
    };
    let stored: BTreeMap<u32, _> = stored.into_iter().map(|p| (p.number, p)).collect();
    let plan = PartPlan {
        part_size: record.part_size,
        total_parts: record.total_parts,
    };
    let all = 1..=record.total_parts;

    let missing: Vec<u32> = all.clone().filter(|n| !stored.contains_key(n)).collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(
            "MISSING_PARTS",
            format!(
                "storage does not hold {}; upload them, then complete again",
                part_list(&missing)
            ),
        ));
    }
    let wrong_size: Vec<String> = all
        .clone()
        .filter_map(|n| {
            let expected = plan.expected_size(record.file_size, n);
            let actual = stored[&n].size;
            (actual != expected).then(|| format!("part {n} is {actual} bytes, expected {expected}"))
        })
        .collect();
    if !wrong_size.is_empty() {
        return Err(ApiError::bad_request(
            "PART_SIZE_MISMATCH",
            format!(
                "{}; upload those parts again with the right bytes, then complete again",
                abbreviate(&wrong_size)
            ),
        ));
    }

    let Some(client_parts) = client_parts else {
        return all
            .map(|n| {
                stored[&n]
                    .etag
                    .clone()
                    .map(|etag| PartRef {
                        number: n,
                        etag,
                        checksum: stored[&n].checksum.clone(),
                    })
                    .ok_or_else(|| ApiError::Internal {
                        status: StatusCode::BAD_GATEWAY,
                        context: "listing the uploaded parts",
                        detail: format!("storage reported no ETag for part {n}"),
                    })
            })
            .collect::<Result<_, _>>()
            .map(Some);
    };
    let out_of_range: Vec<u32> = client_parts
        .iter()
        .map(|p| p.number)
        .filter(|n| *n > record.total_parts)
        .collect();
    if !out_of_range.is_empty() {
        return Err(ApiError::bad_request(
            "INVALID_PART_NUMBER",
            format!(
                "{} beyond this upload's {} parts",
                part_list(&out_of_range),
                record.total_parts
            ),
        ));
    }
    let listed: BTreeMap<u32, &PartRef> = client_parts.iter().map(|p| (p.number, p)).collect();
    let unlisted: Vec<u32> = all.clone().filter(|n| !listed.contains_key(n)).collect();
    if !unlisted.is_empty() {
        return Err(ApiError::bad_request(
            "MISSING_PARTS",
            format!(
                "the parts list lacks {}; send every part 1 to {} or omit parts",
                part_list(&unlisted),
                record.total_parts
            ),
        ));
    }
    let mismatched: Vec<u32> = all
        .clone()
        .filter(|n| {
            stored[n]
                .etag
                .as_deref()
                .is_some_and(|held| unquote(held) != unquote(&listed[n].etag))
        })
        .collect();
    if !mismatched.is_empty() {
        return Err(ApiError::bad_request(
            "ETAG_MISMATCH",
            format!(
                "the ETag sent for {} differs from what storage holds; upload again or complete without parts",
                part_list(&mismatched)
            ),
        ));
    }
    // Storage's own checksum where it reports one, else the client's.
    Ok(Some(
        client_parts
            .iter()
            .map(|p| PartRef {
                checksum: stored[&p.number]
                    .checksum
                    .clone()
                    .or_else(|| p.checksum.clone()),
                ..p.clone()
            })
            .collect(),
    ))
}

fn unquote(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// "part 3" or "parts 2, 5 and 9" (abbreviated past [`LISTED`]).
fn part_list(numbers: &[u32]) -> String {
    let noun = if numbers.len() == 1 { "part" } else { "parts" };
    let shown: Vec<String> = numbers.iter().map(u32::to_string).collect();
    format!("{noun} {}", abbreviate(&shown))
}

fn abbreviate(items: &[String]) -> String {
    if items.len() > LISTED {
        format!(
            "{} and {} more",
            items[..LISTED].join(", "),
            items.len() - LISTED
        )
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(json: &str) -> Result<Vec<PartRef>, ApiError> {
        let value: Value = serde_json::from_str(json).unwrap();
        parse_parts(value.as_array().unwrap())
    }

    #[test]
    fn accepts_ascending_parts() {
        let p = parts(
            r#"[{"PartNumber":1,"ETag":"\"a\""},{"PartNumber":3,"ETag":"b","ChecksumCRC32C":"AAAAAA=="}]"#,
        )
        .unwrap();
        let simple: Vec<_> = p
            .iter()
            .map(|p| (p.number, p.etag.as_str(), p.checksum.as_deref()))
            .collect();
        assert_eq!(simple, vec![(1, "\"a\"", None), (3, "b", Some("AAAAAA=="))]);
    }

    #[test]
    fn refuses_bad_part_lists() {
        for (json, needle) in [
            ("[]", "must not be empty"),
            (
                r#"[{"PartNumber":2,"ETag":"a"},{"PartNumber":1,"ETag":"b"}]"#,
                "ascending",
            ),
            (
                r#"[{"PartNumber":1,"ETag":"a"},{"PartNumber":1,"ETag":"b"}]"#,
                "duplicates",
            ),
            (r#"[{"PartNumber":0,"ETag":"a"}]"#, "from 1 to 10000"),
            (r#"[{"PartNumber":10001,"ETag":"a"}]"#, "from 1 to 10000"),
            (r#"[{"PartNumber":-1,"ETag":"a"}]"#, "from 1 to 10000"),
            (r#"[{"PartNumber":"1","ETag":"a"}]"#, "from 1 to 10000"),
            (r#"[{"ETag":"a"}]"#, "PartNumber is required"),
            (r#"[{"PartNumber":1}]"#, "ETag"),
            (r#"[{"PartNumber":1,"ETag":""}]"#, "ETag"),
            (r#"[1]"#, "PartNumber is required"),
        ] {
            let err = parts(json).unwrap_err();
            assert_eq!(err.status(), 400, "{json}");
            assert!(err.to_string().contains(needle), "{json}: {err}");
        }
    }

    #[test]
    fn part_lists_name_the_parts() {
        assert_eq!(part_list(&[2]), "part 2");
        assert_eq!(part_list(&[2, 5]), "parts 2, 5");
        let many: Vec<u32> = (1..=25).collect();
        assert!(part_list(&many).ends_with("20 and 5 more"));
    }

    #[test]
    fn etags_compare_without_quotes() {
        assert_eq!(unquote("\"abc\""), unquote("abc"));
    }
}
