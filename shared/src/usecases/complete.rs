//! Complete: verifies every part against the record (present, exactly sized, ETags matching what
//! storage holds), then completes exactly once. With the client's ETags for every part it asks
//! storage nothing first: CompleteMultipartUpload itself refuses a missing part or a wrong ETag,
//! and every part URL is signed with its part's exact length, so storage holds no part of another
//! size; only a refusal lists the parts, to name what is wrong. Concurrent and repeated completes all get the one
//! result; a refused completion leaves the upload resumable.
//!
//! While storage completes, the record says COMPLETING since `t`. If this request cannot tell how
//! storage answered (an error, a timeout), it marks the hold abandoned, so the client's retry takes
//! over at once and finds out; if the function dies, the hold goes stale and the next complete,
//! abort or cleanup takes over.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{reread, settle_gone, settle_if_completed, stale, Settled};
use crate::config::Config;
use crate::domain::record::{Completion, Transition};
use crate::domain::sizing::PartPlan;
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::{CompleteError, Expected, Holding, PartRef, PortError, Ports};

const FUNCTION: &str = "complete";
/// How often a complete that waits for another one looks again.
const POLL: Duration = Duration::from_millis(200);
/// How many times one request claims an upload that keeps changing before it gives up.
const MAX_CLAIMS: u32 = 10;
/// How many part numbers an error message lists before "and N more".
const LISTED: usize = 20;

/// Claims the completion of the owner's upload `upload_id` (COMPLETING since now): one conditional
/// write that answers with the record, held or not, so that no read comes first. The HTTP layer
/// sends it alongside the rate write; whatever does not go on to [`complete`] gives the hold back
/// with [`let_go`].
pub async fn begin(
    ports: Ports<'_>,
    config: &Config,
    upload_id: &str,
    owner: &str,
) -> Result<Holding, UploadError> {
    let now = ports.time.now();
    let begin = Transition::BeginCompleting {
        now,
        stale_before: now - config.completing_stale_secs as i64,
    };
    match ports
        .records
        .begin_completing(upload_id, owner, &begin)
        .await
    {
        Ok(holding) => Ok(holding),
        Err(err) => {
            if !err.contended {
                // It may have been applied: make sure no live-looking hold is left behind.
                if let Ok(Some(record)) = ports.records.get(upload_id).await {
                    if record.owner == owner {
                        abandon(ports, &record, now).await;
                    }
                }
            }
            Err(err.into())
        }
    }
}

/// Gives back a hold this request will not use (the request was refused before storage was
/// asked): the upload is INITIATED again, as if nothing happened. If that fails, the hold is
/// marked abandoned, so the next complete takes over at once. Does nothing without a hold.
pub async fn let_go(ports: Ports<'_>, holding: &Holding) {
    if let Some(record) = holding.held() {
        give_back(ports, record).await;
    }
}

/// [`let_go`] of the hold `record` says this request has.
async fn give_back(ports: Ports<'_>, record: &UploadRecord) {
    let Some(since) = record.completing_since else {
        return;
    };
    if let Err(err) = ports
        .records
        .transition(record, &Transition::Release { since })
        .await
    {
        tracing::warn!("could not release COMPLETING, abandoning it instead: {err}");
        abandon(ports, record, since).await;
    }
}

/// Completes the caller's upload from `holding`, this request's claim ([`begin`]), with
/// `client_parts`, or with the parts storage holds when the client sent none. `whole_file` is the
/// client's checksum of its whole file (full-object uploads): storage refuses to create an object
/// of other bytes. The answer is the COMPLETED record.
pub async fn complete(
    ports: Ports<'_>,
    config: &Config,
    mut holding: Holding,
    client_parts: Option<&[PartRef]>,
    whole_file: Option<&str>,
) -> Result<UploadRecord, UploadError> {
    let wait_until = ports.time.now() + config.completion_wait_secs as i64;
    let mut claims = 1;
    loop {
        let record = match holding {
            Holding::Held { record, took_over } => {
                if took_over {
                    // Its holder died, maybe after storage completed: look first.
                    if let Some(settled) = settle_if_completed(ports, &record, FUNCTION).await? {
                        match settled {
                            Settled::Completed(done) => return Ok(*done),
                            _ => {
                                holding = Holding::Refused(Some(reread(ports, &record).await?));
                                continue;
                            }
                        }
                    }
                }
                match finish_held(ports, &record, client_parts, whole_file).await? {
                    Settled::Completed(done) => return Ok(*done),
                    Settled::Lost => return Err(UploadError::WrongState(Status::Expired)),
                    Settled::Changed => {
                        holding = Holding::Refused(Some(reread(ports, &record).await?));
                        continue;
                    }
                }
            }
            Holding::Refused(None) => return Err(UploadError::NotFound),
            Holding::Refused(Some(record)) => record,
        };
        let now = ports.time.now();
        match record.status_at(now) {
            Status::Completed => return Ok(record),
            Status::Completing
                if !stale(&record, now, config.completing_stale_secs) && now < wait_until =>
            {
                // Another request is completing this upload: wait for its outcome and share it.
                ports.time.sleep(POLL).await;
                holding = Holding::Refused(Some(reread(ports, &record).await?));
            }
            // Free again, or its holder died or gave up (maybe after storage completed, which
            // the completion then finds): claim it.
            Status::Initiated | Status::Completing
                if stale(&record, now, config.completing_stale_secs)
                    || record.status == Status::Initiated =>
            {
                if claims >= MAX_CLAIMS {
                    return Err(UploadError::Unavailable(PortError::contended(
                        "UpdateItem",
                        "the upload kept changing between claims",
                    )));
                }
                claims += 1;
                holding = begin(ports, config, &record.upload_id, &record.owner).await?;
            }
            status => return Err(UploadError::WrongState(status)),
        }
    }
}

/// Checks the parts and completes in storage while this request holds COMPLETING; a refusal
/// before storage is asked gives the hold back.
async fn finish_held(
    ports: Ports<'_>,
    record: &UploadRecord,
    client_parts: Option<&[PartRef]>,
    whole_file: Option<&str>,
) -> Result<Settled, UploadError> {
    let since = record.completing_since.unwrap_or_default();
    let parts = match client_parts {
        // One storage call on the happy path: CompleteMultipartUpload checks the ETags.
        Some(listed) if self_sufficient(record, listed) => listed_parts(record, listed),
        _ => match ports
            .objects
            .list_parts(&record.key, &record.s3_upload_id)
            .await
        {
            Ok(Some(stored)) => verified_parts(record, stored, client_parts),
            Ok(None) => return settle_gone(ports, record, FUNCTION).await,
            Err(err) => {
                abandon(ports, record, since).await;
                return Err(err.into());
            }
        },
    };
    match parts {
        Ok(parts) => finish(ports, record, &parts, client_parts, whole_file, since).await,
        Err(refused) => {
            give_back(ports, record).await;
            Err(refused)
        }
    }
}

/// Completes in storage while this request holds COMPLETING since `since`, then records the outcome.
async fn finish(
    ports: Ports<'_>,
    record: &UploadRecord,
    parts: &[PartRef],
    client_parts: Option<&[PartRef]>,
    whole_file: Option<&str>,
    since: i64,
) -> Result<Settled, UploadError> {
    let completed = ports
        .objects
        .complete(
            &record.key,
            &record.s3_upload_id,
            parts,
            Expected {
                size: record.file_size,
                checksum: record.checksum_algorithm,
                whole_file,
            },
        )
        .await;
    let settled = match completed {
        Ok(object) => {
            let completion = Completion {
                etag: object.etag,
                size: record.file_size,
                location: object.location,
                completed_at: ports.time.now(),
                checksum: object.checksum,
            };
            super::record_completion(ports, record, completion, FUNCTION).await
        }
        // Gone, or already an object: an earlier attempt of ours went through, or the parts are lost.
        Err(CompleteError::NoSuchUpload | CompleteError::KeyExists) => {
            settle_gone(ports, record, FUNCTION).await
        }
        Err(CompleteError::Refused { code, message }) => {
            // Storage refused before creating anything: the upload stays resumable.
            give_back(ports, record).await;
            if client_parts.is_some() && PART_REFUSALS.contains(&code.as_str()) {
                // The parts were not checked against storage before: now name what is wrong.
                if let Some(stored) = ports
                    .objects
                    .list_parts(&record.key, &record.s3_upload_id)
                    .await?
                {
                    verified_parts(record, stored, client_parts)?;
                }
            }
            if code == "BadDigest" && record.checksum_algorithm.is_some_and(|a| a.full_object()) {
                return Err(UploadError::invalid(
                    "CHECKSUM_MISMATCH",
                    format!("storage holds bytes whose checksum differs from the file's ({code}: {message}); compare GET /parts with the file, upload the parts that differ again, then complete again"),
                ));
            }
            return Err(UploadError::invalid(
                "PARTS_REJECTED",
                format!("storage refused the parts ({code}: {message}); check GET /parts and upload again"),
            ));
        }
        Err(CompleteError::Failed(err)) => Err(err.into()),
    };
    if settled.is_err() {
        // Storage may or may not have completed: let the next attempt take over and find out.
        abandon(ports, record, since).await;
    }
    settled
}

/// Best effort: marks this request's hold (COMPLETING since `since`) stale at once. If it fails, the
/// hold goes stale by itself after the configured window.
async fn abandon(ports: Ports<'_>, record: &UploadRecord, since: i64) {
    if let Err(err) = ports
        .records
        .transition(record, &Transition::Abandon { since })
        .await
    {
        tracing::error!("could not abandon COMPLETING; it is taken over once stale: {err}");
    }
}

/// Storage's refusals of a parts list that [`verified_parts`] can name precisely.
const PART_REFUSALS: [&str; 3] = ["InvalidPart", "InvalidPartOrder", "EntityTooSmall"];

/// Whether the client's list has all that CompleteMultipartUpload needs: for an upload with part
/// checksums, each part's (else storage's are read first, as older clients send none).
fn self_sufficient(record: &UploadRecord, client_parts: &[PartRef]) -> bool {
    record.checksum_algorithm.is_none() || client_parts.iter().all(|p| p.checksum.is_some())
}

/// The client's parts list, checked against the record alone: every part 1..=totalParts, none
/// beyond. Storage checks the rest at completion (each ETag; each size was signed into its URL).
fn listed_parts(
    record: &UploadRecord,
    client_parts: &[PartRef],
) -> Result<Vec<PartRef>, UploadError> {
    let listed: BTreeMap<u32, &PartRef> = client_parts.iter().map(|p| (p.number, p)).collect();
    check_listed(record, &listed)?;
    Ok(listed.into_values().cloned().collect())
}

/// The parts to complete with, after checking that storage holds exactly the declared file: parts
/// 1..=totalParts, each of its planned size, and (when the client sent them) the same ETags.
pub fn verified_parts(
    record: &UploadRecord,
    stored: Vec<crate::ports::StoredPart>,
    client_parts: Option<&[PartRef]>,
) -> Result<Vec<PartRef>, UploadError> {
    let stored: BTreeMap<u32, _> = stored.into_iter().map(|p| (p.number, p)).collect();
    let plan = PartPlan {
        part_size: record.part_size,
        total_parts: record.total_parts,
    };
    let all = 1..=record.total_parts;

    // A wrongly sized part is reported first: it is the mistake to fix, whatever else is missing.
    let wrong_size: Vec<String> = all
        .clone()
        .filter_map(|n| {
            let expected = plan.expected_size(record.file_size, n);
            let actual = stored.get(&n)?.size;
            (actual != expected).then(|| format!("part {n} is {actual} bytes, expected {expected}"))
        })
        .collect();
    if !wrong_size.is_empty() {
        return Err(UploadError::invalid(
            "PART_SIZE_MISMATCH",
            format!(
                "{}; upload those parts again with the right bytes, then complete again",
                abbreviate(&wrong_size)
            ),
        ));
    }
    let missing: Vec<u32> = all.clone().filter(|n| !stored.contains_key(n)).collect();
    if !missing.is_empty() {
        return Err(UploadError::invalid(
            "MISSING_PARTS",
            format!(
                "storage does not hold {}; upload them, then complete again",
                part_list(&missing)
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
                    .ok_or_else(|| {
                        UploadError::Inconsistent(format!("storage reported no ETag for part {n}"))
                    })
            })
            .collect();
    };
    let listed: BTreeMap<u32, &PartRef> = client_parts.iter().map(|p| (p.number, p)).collect();
    check_listed(record, &listed)?;
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
        return Err(UploadError::invalid(
            "ETAG_MISMATCH",
            format!(
                "the ETag sent for {} differs from what storage holds; upload again or complete without parts",
                part_list(&mismatched)
            ),
        ));
    }
    // Storage's own checksum where it reports one, else the client's.
    Ok(client_parts
        .iter()
        .map(|p| PartRef {
            checksum: stored[&p.number]
                .checksum
                .clone()
                .or_else(|| p.checksum.clone()),
            ..p.clone()
        })
        .collect())
}

/// Checks a client's parts list against the record: none missing (named first, as a missing part
/// is what to fix), no part number beyond it.
fn check_listed(
    record: &UploadRecord,
    listed: &BTreeMap<u32, &PartRef>,
) -> Result<(), UploadError> {
    let unlisted: Vec<u32> = (1..=record.total_parts)
        .filter(|n| !listed.contains_key(n))
        .collect();
    if !unlisted.is_empty() {
        return Err(UploadError::invalid(
            "MISSING_PARTS",
            format!(
                "the parts list lacks {}; send every part 1 to {} or omit parts",
                part_list(&unlisted),
                record.total_parts
            ),
        ));
    }
    let out_of_range: Vec<u32> = listed
        .keys()
        .copied()
        .filter(|n| *n > record.total_parts)
        .collect();
    if !out_of_range.is_empty() {
        return Err(UploadError::invalid(
            "INVALID_PART_NUMBER",
            format!(
                "{} beyond this upload's {} parts",
                part_list(&out_of_range),
                record.total_parts
            ),
        ));
    }
    Ok(())
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
