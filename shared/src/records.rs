//! Upload records in DynamoDB: one item per upload, keyed by `uploadId`. Every state change is a
//! conditional write, so two requests racing on one upload can never both win.
//!
//! Each user also has one quota item (`uploadId = "quota#{owner}"`, never a valid upload id) counting
//! active uploads and bytes in flight. Starting an upload reserves its share and finishing,
//! aborting or expiring releases it in the same DynamoDB transaction as the state change, so two
//! concurrent requests can never both slip under a limit and a share is never released twice.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use lambda_http::http::StatusCode;

use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::record::Completion;
use crate::domain::{Status, UploadRecord};
use crate::error::ApiError;

/// The GSI the cleanup uses to find stale uploads without scanning.
pub const STATUS_EXPIRY_INDEX: &str = "status-expiresAt";
pub const TTL_ATTRIBUTE: &str = "ttl";

/// A raw DynamoDB item (also a pagination key).
pub type Item = HashMap<String, AttributeValue>;

/// Per-user limits on uploads that are started but not finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub max_active_uploads: u64,
    pub max_bytes_in_flight: u64,
}

impl Quota {
    pub const UNLIMITED: Self = Self {
        max_active_uploads: u64::MAX,
        max_bytes_in_flight: u64::MAX,
    };
}

#[derive(Clone, Debug)]
pub struct Records {
    client: Client,
    table: String,
    quota: Quota,
}

fn quota_key(owner: &str) -> String {
    format!("quota#{owner}")
}

fn quota_exceeded(quota: Quota) -> ApiError {
    ApiError::client(
        StatusCode::TOO_MANY_REQUESTS,
        "QUOTA_EXCEEDED",
        format!(
            "too many unfinished uploads: at most {} at once and {} bytes in flight per user; \
             complete or abort some first",
            quota.max_active_uploads, quota.max_bytes_in_flight
        ),
    )
}

/// Whether a transaction was cancelled because the condition of its first item failed.
fn first_condition_failed(err: &TransactWriteItemsError) -> bool {
    match err {
        TransactWriteItemsError::TransactionCanceledException(e) => e
            .cancellation_reasons()
            .first()
            .and_then(|r| r.code())
            .is_some_and(|code| code == "ConditionalCheckFailed"),
        _ => false,
    }
}

impl Records {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            quota: Quota::UNLIMITED,
        }
    }

    pub fn with_quota(mut self, quota: Quota) -> Self {
        self.quota = quota;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Stores a new record and reserves its share of the owner's quota, atomically; 429 when the
    /// owner is at a limit. Never overwrites an existing id.
    pub async fn create(&self, record: &UploadRecord) -> Result<(), ApiError> {
        let quota = self.quota;
        let Some(limit) = quota.max_bytes_in_flight.checked_sub(record.file_size) else {
            return Err(quota_exceeded(quota));
        };
        let build_failed = |e| ApiError::internal("building the quota transaction", e);
        let reserve = Update::builder()
            .table_name(&self.table)
            .key("uploadId", s(&quota_key(&record.owner)))
            .update_expression(
                "SET activeUploads = if_not_exists(activeUploads, :zero) + :one, \
                 bytesInFlight = if_not_exists(bytesInFlight, :zero) + :bytes",
            )
            .condition_expression(
                "attribute_not_exists(activeUploads) \
                 OR (activeUploads < :maxActive AND bytesInFlight <= :limit)",
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":bytes", n(record.file_size))
            .expression_attribute_values(":maxActive", n(quota.max_active_uploads))
            .expression_attribute_values(":limit", n(limit))
            .build()
            .map_err(build_failed)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(record)))
            .condition_expression("attribute_not_exists(uploadId)")
            .build()
            .map_err(build_failed)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(reserve).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if first_condition_failed(e.err()) => {
                Err(quota_exceeded(quota))
            }
            Err(e) => Err(ApiError::upstream("storing the upload record", e)),
        }
    }

    /// The record with a strongly consistent read.
    pub async fn get(&self, upload_id: &str) -> Result<Option<UploadRecord>, ApiError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("uploadId", s(upload_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ApiError::upstream("reading the upload record", e))?;
        output.item.map(|item| from_item(&item)).transpose()
    }

    /// The caller's own record; a missing id and somebody else's look exactly alike (404).
    pub async fn get_owned(&self, upload_id: &str, owner: &str) -> Result<UploadRecord, ApiError> {
        match self.get(upload_id).await? {
            Some(record) if record.owner == owner => Ok(record),
            _ => Err(ApiError::upload_not_found()),
        }
    }

    /// INITIATED (and not expired) → COMPLETING, or takes over a COMPLETING that started before
    /// `stale_before` (its function died). `false` when another request holds or finished it.
    pub async fn begin_completing(
        &self,
        upload_id: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<bool, ApiError> {
        self.update_if(
            upload_id,
            "SET #status = :completing, completingSince = :now",
            "(#status = :initiated AND expiresAt > :now) \
             OR (#status = :completing AND completingSince < :stale)",
            &[
                (":completing", s(Status::Completing.as_str())),
                (":initiated", s(Status::Initiated.as_str())),
                (":now", n(now)),
                (":stale", n(stale_before)),
            ],
        )
        .await
    }

    /// COMPLETING → COMPLETED with what S3 reported; releases the quota share.
    pub async fn finish_completing(
        &self,
        record: &UploadRecord,
        completion: &Completion,
    ) -> Result<bool, ApiError> {
        self.transition(
            record,
            if completion.checksum.is_some() {
                "SET #status = :completed, etag = :etag, completedSize = :size, \
                 #location = :location, completedAt = :at, checksum = :checksum REMOVE completingSince"
            } else {
                "SET #status = :completed, etag = :etag, completedSize = :size, \
                 #location = :location, completedAt = :at REMOVE completingSince"
            },
            "#status = :completing",
            &[
                (":completed", s(Status::Completed.as_str())),
                (":completing", s(Status::Completing.as_str())),
                (":etag", s(&completion.etag)),
                (":size", n(completion.size)),
                (":location", s(&completion.location)),
                (":at", n(completion.completed_at)),
            ]
            .into_iter()
            .chain(completion.checksum.as_deref().map(|c| (":checksum", s(c))))
            .collect::<Vec<_>>(),
            true,
        )
        .await
    }

    /// COMPLETING → INITIATED: S3 refused the completion, the upload stays resumable.
    pub async fn release_completing(&self, upload_id: &str) -> Result<bool, ApiError> {
        self.update_if(
            upload_id,
            "SET #status = :initiated REMOVE completingSince",
            "#status = :completing",
            &[
                (":initiated", s(Status::Initiated.as_str())),
                (":completing", s(Status::Completing.as_str())),
            ],
        )
        .await
    }

    /// INITIATED → ABORTED; releases the quota share.
    pub async fn mark_aborted(&self, record: &UploadRecord) -> Result<bool, ApiError> {
        self.transition(
            record,
            "SET #status = :aborted",
            "#status = :initiated",
            &[
                (":aborted", s(Status::Aborted.as_str())),
                (":initiated", s(Status::Initiated.as_str())),
            ],
            true,
        )
        .await
    }

    /// INITIATED and past its expiry → EXPIRED. `false` if the upload was completed, aborted or
    /// revived meanwhile, so the cleanup can never touch a finished upload.
    /// Releases the quota share.
    pub async fn mark_expired(&self, upload_id: &str, now: i64) -> Result<bool, ApiError> {
        let Some(record) = self.get(upload_id).await? else {
            return Ok(false);
        };
        self.transition(
            &record,
            "SET #status = :expired",
            "#status = :initiated AND expiresAt <= :now",
            &[
                (":expired", s(Status::Expired.as_str())),
                (":initiated", s(Status::Initiated.as_str())),
                (":now", n(now)),
            ],
            true,
        )
        .await
    }

    /// [`Self::update_if`] on `record`, releasing its quota share in the same transaction when
    /// `release` is set (transitions out of the unfinished states).
    async fn transition(
        &self,
        record: &UploadRecord,
        update: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
        release: bool,
    ) -> Result<bool, ApiError> {
        if !release {
            return self
                .update_if(&record.upload_id, update, condition, values)
                .await;
        }
        let build_failed = |e| ApiError::internal("building the state transaction", e);
        let mut change = Update::builder()
            .table_name(&self.table)
            .key("uploadId", s(&record.upload_id))
            .update_expression(update)
            .condition_expression(format!("attribute_exists(uploadId) AND ({condition})"))
            .expression_attribute_names("#status", "status");
        if update.contains("#location") {
            change = change.expression_attribute_names("#location", "location");
        }
        for (name, value) in values {
            change = change.expression_attribute_values(*name, value.clone());
        }
        let free = Update::builder()
            .table_name(&self.table)
            .key("uploadId", s(&quota_key(&record.owner)))
            .update_expression("ADD activeUploads :minusOne, bytesInFlight :minusBytes")
            .expression_attribute_values(":minusOne", n(-1))
            .expression_attribute_values(":minusBytes", n(-(record.file_size as i128)))
            .build()
            .map_err(build_failed)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(change.build().map_err(build_failed)?)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(free).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if first_condition_failed(e.err()) => Ok(false),
            Err(e) => Err(ApiError::upstream("updating the upload record", e)),
        }
    }

    /// One page of INITIATED uploads whose expiry is at or before `now`, from the status/expiry
    /// index (never a scan), and where the next page starts.
    pub async fn stale_page(
        &self,
        now: i64,
        start: Option<Item>,
        limit: i32,
    ) -> Result<(Vec<UploadRecord>, Option<Item>), ApiError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(STATUS_EXPIRY_INDEX)
            .key_condition_expression("#status = :initiated AND expiresAt <= :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":initiated", s(Status::Initiated.as_str()))
            .expression_attribute_values(":now", n(now))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(|e| ApiError::upstream("querying stale uploads", e))?;
        let records = page
            .items()
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, page.last_evaluated_key.filter(|k| !k.is_empty())))
    }

    /// Applies `update` if `condition` holds; `Ok(false)` when it does not.
    async fn update_if(
        &self,
        upload_id: &str,
        update: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool, ApiError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("uploadId", s(upload_id))
            .update_expression(update)
            .condition_expression(format!("attribute_exists(uploadId) AND ({condition})"))
            .expression_attribute_names("#status", "status");
        if update.contains("#location") {
            request = request.expression_attribute_names("#location", "location");
        }
        for (name, value) in values {
            request = request.expression_attribute_values(*name, value.clone());
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(ApiError::upstream("updating the upload record", e)),
        }
    }

    /// Creates the table as `template.yaml` declares it (local stack and tests only).
    pub async fn create_table(&self) -> Result<(), ApiError> {
        let attr = |name: &str, kind| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .expect("attribute definition is complete")
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key schema element is complete")
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(STATUS_EXPIRY_INDEX)
            .key_schema(key("status", KeyType::Hash))
            .key_schema(key("expiresAt", KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("index is complete");
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("uploadId", ScalarAttributeType::S))
            .attribute_definitions(attr("status", ScalarAttributeType::S))
            .attribute_definitions(attr("expiresAt", ScalarAttributeType::N))
            .key_schema(key("uploadId", KeyType::Hash))
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => {
                return Ok(())
            }
            Err(e) => return Err(ApiError::upstream("creating the table", e)),
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .expect("ttl specification is complete"),
            )
            .send()
            .await
            .map_err(|e| ApiError::upstream("enabling TTL", e))?;
        Ok(())
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn to_item(r: &UploadRecord) -> Item {
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

fn from_item(item: &Item) -> Result<UploadRecord, ApiError> {
    let corrupt = |field: &str| ApiError::Internal {
        status: lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR,
        context: "reading the upload record",
        detail: format!("attribute {field} is missing or malformed"),
    };
    let get_s = |field: &str| match item.get(field) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(corrupt(field)),
    };
    fn get_n<T: std::str::FromStr>(item: &Item, field: &str) -> Option<T> {
        match item.get(field) {
            Some(AttributeValue::N(v)) => v.parse().ok(),
            _ => None,
        }
    }
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
        upload_id: get_s("uploadId")?,
        owner: get_s("owner")?,
        key: get_s("objectKey")?,
        s3_upload_id: get_s("s3UploadId")?,
        file_name: get_s("fileName")?,
        file_type: get_s("fileType")?,
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
    fn a_malformed_item_is_an_internal_error_naming_the_attribute() {
        let mut item = to_item(&UploadRecord {
            upload_id: "x".into(),
            owner: "o".into(),
            key: "k".into(),
            s3_upload_id: "s".into(),
            file_name: "f".into(),
            file_type: "t/t".into(),
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
        assert_eq!(err.status(), 500);
        assert!(err.to_string().contains("status"));
    }
}
