//! Records as DynamoDB items and back, the update and condition expressions of each transition,
//! and the index keys and page tokens.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Item, SHARD_ATTRIBUTE, SWEEP_ATTRIBUTE, TTL_ATTRIBUTE};
use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::listing::Position;
use crate::domain::metadata::Metadata;
use crate::domain::record::{Completion, Transition};
use crate::domain::{Status, UploadRecord};
use crate::ports::{PageToken, PortError};

/// The update and condition expressions of a transition, and its values.
pub(super) fn expressions(
    t: &Transition,
) -> (
    &'static str,
    &'static str,
    Vec<(&'static str, AttributeValue)>,
) {
    let status = |st: Status| s(st.as_str());
    match t {
        Transition::BeginCompleting { now, stale_before } => (
            "SET #status = :completing, completingSince = :now",
            "(#status = :initiated AND expiresAt > :now) \
             OR (#status = :completing AND completingSince < :stale)",
            vec![
                (":completing", status(Status::Completing)),
                (":initiated", status(Status::Initiated)),
                (":now", n(now)),
                (":stale", n(stale_before)),
            ],
        ),
        Transition::Abandon { since } => (
            "SET completingSince = :zero",
            "#status = :completing AND completingSince = :since",
            vec![
                (":completing", status(Status::Completing)),
                (":since", n(since)),
                (":zero", n(0)),
            ],
        ),
        Transition::Release { since } => (
            "SET #status = :initiated REMOVE completingSince",
            "#status = :completing AND completingSince = :since",
            vec![
                (":completing", status(Status::Completing)),
                (":initiated", status(Status::Initiated)),
                (":since", n(since)),
            ],
        ),
        Transition::Complete(c) => {
            let mut values = vec![
                (":completed", status(Status::Completed)),
                (":completing", status(Status::Completing)),
                (":initiated", status(Status::Initiated)),
                (":etag", s(&c.etag)),
                (":size", n(c.size)),
                (":location", s(&c.location)),
                (":at", n(c.completed_at)),
            ];
            let update = match &c.checksum {
                Some(checksum) => {
                    values.push((":checksum", s(checksum)));
                    "SET #status = :completed, etag = :etag, completedSize = :size, \
                     #location = :location, completedAt = :at, checksum = :checksum \
                     REMOVE completingSince"
                }
                None => {
                    "SET #status = :completed, etag = :etag, completedSize = :size, \
                     #location = :location, completedAt = :at REMOVE completingSince"
                }
            };
            (update, "#status IN (:initiated, :completing)", values)
        }
        Transition::Abort { stale_before } => (
            "SET #status = :aborted",
            "#status = :initiated OR (#status = :completing AND completingSince < :stale)",
            vec![
                (":aborted", status(Status::Aborted)),
                (":initiated", status(Status::Initiated)),
                (":completing", status(Status::Completing)),
                (":stale", n(stale_before)),
            ],
        ),
        Transition::Expire { now } => (
            "SET #status = :expired",
            "#status = :initiated AND expiresAt <= :now",
            vec![
                (":expired", status(Status::Expired)),
                (":initiated", status(Status::Initiated)),
                (":now", n(now)),
            ],
        ),
        Transition::Lost { since: None } => (
            "SET #status = :expired",
            "#status = :initiated",
            vec![
                (":expired", status(Status::Expired)),
                (":initiated", status(Status::Initiated)),
            ],
        ),
        Transition::Lost { since: Some(since) } => (
            "SET #status = :expired",
            "#status = :completing AND completingSince = :since",
            vec![
                (":expired", status(Status::Expired)),
                (":completing", status(Status::Completing)),
                (":since", n(since)),
            ],
        ),
    }
}

/// The expiry index's LastEvaluatedKey as a page token, and back. Upload ids are UUIDs and shard
/// keys `exp#<n>`, so `|` cannot occur in either.
pub(super) fn index_token(key: &Item) -> Option<PageToken> {
    match (
        key.get("uploadId"),
        key.get(SHARD_ATTRIBUTE),
        key.get(SWEEP_ATTRIBUTE),
    ) {
        (
            Some(AttributeValue::S(id)),
            Some(AttributeValue::S(shard)),
            Some(AttributeValue::N(at)),
        ) => Some(PageToken(format!("{id}|{shard}|{at}"))),
        _ => None,
    }
}

pub(super) fn index_key(token: &PageToken) -> Option<Item> {
    let mut parts = token.0.splitn(3, '|');
    let (id, shard, at) = (parts.next()?, parts.next()?, parts.next()?);
    Some(
        [
            ("uploadId", s(id)),
            (SHARD_ATTRIBUTE, s(shard)),
            (SWEEP_ATTRIBUTE, AttributeValue::N(at.to_owned())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    )
}

/// The owner index's key of the record at `position` (an ExclusiveStartKey).
pub(super) fn owner_key(owner: &str, position: &Position) -> Item {
    [
        ("uploadId", s(&position.upload_id)),
        ("owner", s(owner)),
        ("createdAt", n(position.created_at)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The owner index's LastEvaluatedKey as a listing position.
pub(super) fn owner_position(key: &Item) -> Option<Position> {
    match key.get("uploadId") {
        Some(AttributeValue::S(id)) => Some(Position {
            created_at: get_n(key, "createdAt")?,
            upload_id: id.clone(),
        }),
        _ => None,
    }
}

pub(super) fn get_n<T: std::str::FromStr>(item: &Item, field: &str) -> Option<T> {
    match item.get(field) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn to_item(r: &UploadRecord) -> Item {
    let mut item: Item = [
        ("uploadId", s(&r.upload_id)),
        ("owner", s(&r.owner)),
        ("objectKey", s(&r.key)),
        ("s3UploadId", s(&r.s3_upload_id)),
        ("fileName", s(&r.file_name)),
        ("fileType", s(&r.file_type)),
        ("fileSize", n(r.file_size)),
        ("partSize", n(r.part_size)),
        ("totalParts", n(r.total_parts)),
        ("status", s(r.status.as_str())),
        ("createdAt", n(r.created_at)),
        ("expiresAt", n(r.expires_at)),
        (TTL_ATTRIBUTE, n(r.ttl)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(algorithm) = r.checksum_algorithm {
        item.insert("checksumAlgorithm".into(), s(algorithm.as_str()));
    }
    if !r.metadata.is_empty() {
        let map = r.metadata.iter().map(|(k, v)| (k.clone(), s(v))).collect();
        item.insert("metadata".into(), AttributeValue::M(map));
    }
    if let Some(since) = r.completing_since {
        item.insert("completingSince".into(), n(since));
    }
    if let Some(c) = &r.completion {
        item.insert("etag".into(), s(&c.etag));
        item.insert("completedSize".into(), n(c.size));
        item.insert("location".into(), s(&c.location));
        item.insert("completedAt".into(), n(c.completed_at));
        if let Some(checksum) = &c.checksum {
            item.insert("checksum".into(), s(checksum));
        }
    }
    item
}

pub(super) fn from_item(item: &Item) -> Result<UploadRecord, PortError> {
    let corrupt = |field: &str| {
        PortError::new(
            "GetItem",
            format!("upload record attribute {field} is missing or malformed"),
        )
    };
    let get_s = |field: &str| match item.get(field) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(corrupt(field)),
    };
    let req_n = |field: &str| get_n::<i64>(item, field).ok_or_else(|| corrupt(field));
    let completion = match (get_s("etag"), get_n::<u64>(item, "completedSize")) {
        (Ok(etag), Some(size)) => Some(Completion {
            etag,
            size,
            location: get_s("location").unwrap_or_default(),
            completed_at: get_n(item, "completedAt").unwrap_or_default(),
            checksum: get_s("checksum").ok(),
        }),
        _ => None,
    };
    Ok(UploadRecord {
        upload_id: get_s("uploadId")?.into(),
        owner: get_s("owner")?.into(),
        key: get_s("objectKey")?.into(),
        s3_upload_id: get_s("s3UploadId")?.into(),
        file_name: get_s("fileName")?,
        file_type: get_s("fileType")?,
        metadata: match item.get("metadata") {
            None => Metadata::new(),
            Some(AttributeValue::M(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    AttributeValue::S(v) => Ok((k.clone(), v.clone())),
                    _ => Err(corrupt("metadata")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(corrupt("metadata")),
        },
        file_size: get_n(item, "fileSize").ok_or_else(|| corrupt("fileSize"))?,
        part_size: get_n(item, "partSize").ok_or_else(|| corrupt("partSize"))?,
        total_parts: get_n(item, "totalParts").ok_or_else(|| corrupt("totalParts"))?,
        checksum_algorithm: match get_s("checksumAlgorithm") {
            Ok(name) => {
                Some(ChecksumAlgorithm::parse(&name).map_err(|_| corrupt("checksumAlgorithm"))?)
            }
            Err(_) => None,
        },
        status: Status::parse(&get_s("status")?).ok_or_else(|| corrupt("status"))?,
        created_at: req_n("createdAt")?,
        expires_at: req_n("expiresAt")?,
        ttl: req_n(TTL_ATTRIBUTE)?,
        completing_since: get_n(item, "completingSince"),
        completion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip() {
        let mut record = UploadRecord {
            upload_id: "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f".into(),
            owner: "user-1".into(),
            key: "uploads/user-1/3f2c/a.mp4".into(),
            s3_upload_id: "s3-id".into(),
            file_name: "a.mp4".into(),
            file_type: "video/mp4".into(),
            metadata: [("album".to_owned(), "Summer".to_owned())].into(),
            file_size: 12_345_678,
            part_size: 8 << 20,
            total_parts: 2,
            checksum_algorithm: Some(ChecksumAlgorithm::Sha256),
            status: Status::Initiated,
            created_at: 1_700_000_000,
            expires_at: 1_700_604_800,
            ttl: 1_703_196_800,
            completing_since: None,
            completion: None,
        };
        assert_eq!(from_item(&to_item(&record)).unwrap(), record);
        record.status = Status::Completed;
        record.completion = Some(Completion {
            etag: "\"abc-2\"".into(),
            size: 12_345_678,
            location: "http://s3/b/k".into(),
            completed_at: 1_700_000_500,
            checksum: Some("abc=-2".into()),
        });
        assert_eq!(from_item(&to_item(&record)).unwrap(), record);
    }

    #[test]
    fn a_malformed_item_is_an_error_naming_the_attribute() {
        let mut item = to_item(&UploadRecord {
            upload_id: "x".into(),
            owner: "o".into(),
            key: "k".into(),
            s3_upload_id: "s".into(),
            file_name: "f".into(),
            file_type: "t/t".into(),
            metadata: Metadata::new(),
            file_size: 1,
            part_size: 1,
            total_parts: 1,
            checksum_algorithm: None,
            status: Status::Initiated,
            created_at: 0,
            expires_at: 0,
            ttl: 0,
            completing_since: None,
            completion: None,
        });
        item.insert("status".into(), s("WHATEVER"));
        let err = from_item(&item).unwrap_err();
        assert!(err.to_string().contains("status"), "{err}");
    }
}
