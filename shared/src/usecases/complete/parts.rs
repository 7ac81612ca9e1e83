//! The client's parts list and what storage holds, checked against the upload's plan before
//! storage is asked to complete: every part 1..=totalParts, each of its planned size, the same
//! ETags; refusals name the parts to fix.

use std::collections::BTreeMap;

use crate::domain::sizing::PartPlan;
use crate::domain::{UploadError, UploadRecord};
use crate::ports::PartRef;
use upload_contract::ErrorCode;

/// How many part numbers an error message lists before "and N more".
const LISTED: usize = 20;

/// Storage's refusals of a parts list that [`verified_parts`] can name precisely.
pub(super) const PART_REFUSALS: [&str; 3] = ["InvalidPart", "InvalidPartOrder", "EntityTooSmall"];

/// Whether the client's list has all that CompleteMultipartUpload needs: for an upload with part
/// checksums, each part's (else storage's are read first, as older clients send none).
pub(super) fn self_sufficient(record: &UploadRecord, client_parts: &[PartRef]) -> bool {
    record.checksum_algorithm.is_none() || client_parts.iter().all(|p| p.checksum.is_some())
}

/// The client's parts list, checked against the record alone: every part 1..=totalParts, none
/// beyond. Storage checks the rest at completion (each ETag; each size was signed into its URL).
pub(super) fn listed_parts(
    record: &UploadRecord, client_parts: &[PartRef],
) -> Result<Vec<PartRef>, UploadError> {
    let listed: BTreeMap<u32, &PartRef> =
        client_parts.iter().map(|p| (p.number.get(), p)).collect();
    check_listed(record, &listed)?;
    Ok(listed.into_values().cloned().collect())
}

/// The parts to complete with, after checking that storage holds exactly the declared file: parts
/// 1..=totalParts, each of its planned size, and (when the client sent them) the same ETags.
pub fn verified_parts(
    record: &UploadRecord, stored: Vec<crate::ports::StoredPart>, client_parts: Option<&[PartRef]>,
) -> Result<Vec<PartRef>, UploadError> {
    let stored: BTreeMap<u32, _> = stored.into_iter().map(|p| (p.number.get(), p)).collect();
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
            ErrorCode::PartSizeMismatch,
            format!(
                "{}; upload those parts again with the right bytes, then complete again",
                abbreviate(&wrong_size)
            ),
        ));
    }
    let missing: Vec<u32> = all.clone().filter(|n| !stored.contains_key(n)).collect();
    if !missing.is_empty() {
        return Err(UploadError::invalid(
            ErrorCode::MissingParts,
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
                        number: stored[&n].number,
                        etag,
                        checksum: stored[&n].checksum.clone(),
                    })
                    .ok_or_else(|| {
                        UploadError::Inconsistent(format!("storage reported no ETag for part {n}"))
                    })
            })
            .collect();
    };
    let listed: BTreeMap<u32, &PartRef> =
        client_parts.iter().map(|p| (p.number.get(), p)).collect();
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
            ErrorCode::EtagMismatch,
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
            checksum: stored[&p.number.get()]
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
    record: &UploadRecord, listed: &BTreeMap<u32, &PartRef>,
) -> Result<(), UploadError> {
    let unlisted: Vec<u32> = (1..=record.total_parts)
        .filter(|n| !listed.contains_key(n))
        .collect();
    if !unlisted.is_empty() {
        return Err(UploadError::invalid(
            ErrorCode::MissingParts,
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
            ErrorCode::InvalidPartNumber,
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
