//! The upload records: create (with the quota reservation and the fingerprint claim), read, each
//! transition as a conditional write, the completion claim, and the index pages.

use crate::adapters::metrics::{dependency_cause, Dependency};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use super::codec::{
    expressions, from_item, index_key, index_token, n, owner_key, owner_position, s, to_item,
};
use super::quota::quota_key;
use super::retries::{
    condition_failed, contended, first_condition_failed, request_token, retrying, transact, Attempt,
};
use super::{
    failed, shard_key, DynamoRecords, EXPIRY_INDEX, MAX_QUERIES_PER_PAGE, OWNER_CREATED_INDEX,
    SHARD_ATTRIBUTE, SWEEP_ATTRIBUTE, TTL_ATTRIBUTE,
};
use crate::domain::error::error_chain;
use crate::domain::ids::UploadId;
use crate::domain::listing::Position;
use crate::domain::record::Transition;
use crate::domain::{Status, UploadRecord};
use crate::ports::{
    expiry_shard, sweep_after, sweep_at, Created, FingerprintClaim, Holding, OwnerPage, PageToken,
    Paged, PortError, Quota,
};

/// The item naming the upload an owner's fingerprint belongs to. Hashed, so neither the owner nor
/// the client's string can shape the key (or collide with an upload id or a quota item).
pub(super) fn fingerprint_key(owner: &str, fingerprint: &str) -> String {
    format!("fp#{}", request_token(&format!("{owner}\0{fingerprint}")))
}

impl DynamoRecords {
    pub(super) async fn create_record(
        &self, record: &UploadRecord, quota: Quota, claim: Option<FingerprintClaim<'_>>,
    ) -> Result<Created, PortError> {
        let Some(limit) = quota.max_bytes_in_flight.checked_sub(record.file_size) else {
            return Ok(Created::QuotaExceeded);
        };
        let build = failed("TransactWriteItems");
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
            .map_err(&build)?;
        let mut item = to_item(record);
        item.insert(
            SHARD_ATTRIBUTE.into(),
            s(&shard_key(expiry_shard(&record.upload_id, self.shards))),
        );
        item.insert(SWEEP_ATTRIBUTE.into(), n(sweep_at(record)));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(uploadId)")
            .build()
            .map_err(&build)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(reserve).build())
            .transact_items(TransactWriteItem::builder().put(put).build());
        if let Some(claim) = claim {
            let mut put = Put::builder()
                .table_name(&self.table)
                .item(
                    "uploadId",
                    s(&fingerprint_key(&record.owner, claim.fingerprint)),
                )
                .item("uploadRef", s(&record.upload_id))
                .item(TTL_ATTRIBUTE, n(record.ttl));
            put = match claim.replaces {
                None => put.condition_expression("attribute_not_exists(uploadId)"),
                Some(replaced) => put
                    .condition_expression("attribute_not_exists(uploadId) OR uploadRef = :replaces")
                    .expression_attribute_values(":replaces", s(replaced)),
            };
            request = request.transact_items(
                TransactWriteItem::builder()
                    .put(put.build().map_err(&build)?)
                    .build(),
            );
        }
        match transact(
            request,
            &format!("create {}", record.upload_id),
            self.metrics.as_ref(),
        )
        .await
        {
            Ok(()) => Ok(Created::Yes),
            Err(e) if contended(&e) => {
                Err(PortError::contended("TransactWriteItems", error_chain(&e)))
            }
            Err(SdkError::ServiceError(e)) if condition_failed(e.err(), 0) => {
                Ok(Created::QuotaExceeded)
            }
            Err(SdkError::ServiceError(e)) if condition_failed(e.err(), 2) => {
                Ok(Created::FingerprintTaken)
            }
            Err(e) => Err(PortError::new("TransactWriteItems", error_chain(&e))),
        }
    }

    pub(super) async fn fingerprinted(
        &self, owner: &str, fingerprint: &str,
    ) -> Result<Option<UploadId>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("uploadId", s(&fingerprint_key(owner, fingerprint)))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed("GetItem"))?;
        Ok(output.item.and_then(|item| match item.get("uploadRef") {
            Some(AttributeValue::S(id)) => Some(UploadId::from(id.as_str())),
            _ => None,
        }))
    }

    pub(super) async fn get_record(
        &self, upload_id: &str,
    ) -> Result<Option<UploadRecord>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("uploadId", s(upload_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed("GetItem"))?;
        output.item.map(|item| from_item(&item)).transpose()
    }

    /// Applies `transition` in one transaction: the record's conditional update and, for the
    /// transitions that end an upload, the release of its quota share.
    pub(super) async fn apply(
        &self, record: &UploadRecord, transition: &Transition,
    ) -> Result<bool, PortError> {
        let build = failed("TransactWriteItems");
        let (update, condition, mut values) = expressions(transition);
        // The expiry index: due again at `sweepAt`, or left for good when the upload ends.
        let update = match sweep_after(transition, record.expires_at) {
            Some(at) => {
                values.push((":sweep", n(at)));
                update.replacen("SET ", &format!("SET {SWEEP_ATTRIBUTE} = :sweep, "), 1)
            }
            None if update.contains(" REMOVE ") => {
                format!("{update}, {SHARD_ATTRIBUTE}, {SWEEP_ATTRIBUTE}")
            }
            None => format!("{update} REMOVE {SHARD_ATTRIBUTE}, {SWEEP_ATTRIBUTE}"),
        };
        let mut change = Update::builder()
            .table_name(&self.table)
            .key("uploadId", s(&record.upload_id))
            .update_expression(&update)
            .condition_expression(format!("attribute_exists(uploadId) AND ({condition})"))
            .expression_attribute_names("#status", "status");
        if update.contains("#location") {
            change = change.expression_attribute_names("#location", "location");
        }
        for (name, value) in values {
            change = change.expression_attribute_values(name, value);
        }
        let mut request = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .update(change.build().map_err(&build)?)
                .build(),
        );
        if transition.releases_quota() {
            let free = Update::builder()
                .table_name(&self.table)
                .key("uploadId", s(&quota_key(&record.owner)))
                .update_expression("ADD activeUploads :minusOne, bytesInFlight :minusBytes")
                .expression_attribute_values(":minusOne", n(-1))
                .expression_attribute_values(":minusBytes", n(-(record.file_size as i128)))
                .build()
                .map_err(&build)?;
            request = request.transact_items(TransactWriteItem::builder().update(free).build());
        }
        match transact(
            request,
            &format!("{} {transition:?}", record.upload_id),
            self.metrics.as_ref(),
        )
        .await
        {
            Ok(()) => Ok(true),
            Err(e) if contended(&e) => {
                Err(PortError::contended("TransactWriteItems", error_chain(&e)))
            }
            Err(SdkError::ServiceError(e)) if first_condition_failed(e.err()) => Ok(false),
            Err(e) => Err(PortError::new("TransactWriteItems", error_chain(&e))),
        }
    }

    /// [`RecordStore::begin_completing`]: one conditional `UpdateItem` with the record in its
    /// answer as the write or the condition found it (`ALL_OLD`), so a takeover of a stale hold is
    /// told apart. A conflict with a
    /// transaction on the item or a throttle applied nothing and is retried like a transaction's.
    pub(super) async fn hold(
        &self, upload_id: &str, owner: &str, begin: &Transition,
    ) -> Result<Holding, PortError> {
        let (update, condition, values) = expressions(begin);
        // Due for the cleanup when the hold goes stale; BeginCompleting's time needs no expiry.
        let sweep = sweep_after(begin, 0).unwrap_or(0);
        let update = update.replacen("SET ", &format!("SET {SWEEP_ATTRIBUTE} = :sweep, "), 1);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("uploadId", s(upload_id))
            .update_expression(update)
            .condition_expression(format!(
                "attribute_exists(uploadId) AND #owner = :owner AND ({condition})"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":sweep", n(sweep))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        retrying(|_| {
            let request = request.clone();
            async move {
                match request.send().await {
                    Ok(output) => Attempt::Done(match output.attributes {
                        Some(item) => from_item(&item).map(|before| {
                            let mut record = before.clone();
                            record.apply(begin);
                            Holding::Held {
                                took_over: before.status == Status::Completing,
                                record,
                            }
                        }),
                        None => Err(PortError::new("UpdateItem", "no record in the answer")),
                    }),
                    Err(SdkError::ServiceError(e)) => match e.err() {
                        UpdateItemError::ConditionalCheckFailedException(refused) => {
                            Attempt::Done(match refused.item() {
                                Some(item) => from_item(item).map(|record| {
                                    Holding::Refused(Some(record).filter(|r| r.owner == owner))
                                }),
                                None => Ok(Holding::Refused(None)),
                            })
                        }
                        err @ (UpdateItemError::TransactionConflictException(_)
                        | UpdateItemError::ProvisionedThroughputExceededException(_)
                        | UpdateItemError::ThrottlingException(_)
                        | UpdateItemError::RequestLimitExceeded(_)) => {
                            if let Some(metrics) = &self.metrics {
                                let cause = dependency_cause(&format!("{err:?}"));
                                metrics.dependency_retry(Dependency::DynamoDb, cause);
                            }
                            Attempt::Retry(PortError::contended("UpdateItem", error_chain(err)))
                        }
                        err => Attempt::Done(Err(PortError::new("UpdateItem", error_chain(err)))),
                    },
                    Err(e) => Attempt::Done(Err(PortError::new("UpdateItem", error_chain(&e)))),
                }
            }
        })
        .await
    }

    pub(super) async fn owner_page(
        &self, owner: &str, filter: Option<Status>, now: i64, mut after: Option<Position>,
        limit: u32,
    ) -> Result<OwnerPage, PortError> {
        let (condition, values): (Option<&str>, Vec<(&str, AttributeValue)>) = match filter {
            None => (None, vec![]),
            // What a client sees: an INITIATED upload past its expiry is EXPIRED.
            Some(Status::Initiated) => (
                Some("#status = :initiated AND expiresAt > :now"),
                vec![
                    (":initiated", s(Status::Initiated.as_str())),
                    (":now", n(now)),
                ],
            ),
            Some(Status::Expired) => (
                Some("#status = :expired OR (#status = :initiated AND expiresAt <= :now)"),
                vec![
                    (":expired", s(Status::Expired.as_str())),
                    (":initiated", s(Status::Initiated.as_str())),
                    (":now", n(now)),
                ],
            ),
            Some(status) => (
                Some("#status = :status"),
                vec![(":status", s(status.as_str()))],
            ),
        };
        let mut records = Vec::new();
        for _ in 0..MAX_QUERIES_PER_PAGE {
            let wanted = limit.saturating_sub(records.len() as u32);
            if wanted == 0 {
                break;
            }
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(OWNER_CREATED_INDEX)
                .key_condition_expression("#owner = :owner")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":owner", s(owner))
                .scan_index_forward(false)
                .set_exclusive_start_key(after.take().map(|p| owner_key(owner, &p)))
                .limit(wanted.min(i32::MAX as u32) as i32);
            if let Some(condition) = condition {
                query = query
                    .filter_expression(condition)
                    .expression_attribute_names("#status", "status");
                for (name, value) in &values {
                    query = query.expression_attribute_values(*name, value.clone());
                }
            }
            let page = query.send().await.map_err(failed("Query"))?;
            for item in page.items() {
                records.push(from_item(item)?);
            }
            after = page.last_evaluated_key.as_ref().and_then(owner_position);
            if after.is_none() {
                break;
            }
        }
        Ok((records, after))
    }

    pub(super) async fn page(
        &self, shard: u32, by: i64, start: Option<PageToken>, limit: u32,
    ) -> Result<Paged<UploadRecord>, PortError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(EXPIRY_INDEX)
            .key_condition_expression("#shard = :shard AND #sweep <= :by")
            .expression_attribute_names("#shard", SHARD_ATTRIBUTE)
            .expression_attribute_names("#sweep", SWEEP_ATTRIBUTE)
            .expression_attribute_values(":shard", s(&shard_key(shard)))
            .expression_attribute_values(":by", n(by))
            .set_exclusive_start_key(start.and_then(|t| index_key(&t)))
            .limit(limit.min(i32::MAX as u32) as i32)
            .send()
            .await
            .map_err(failed("Query"))?;
        let records = page
            .items()
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = page
            .last_evaluated_key
            .filter(|k| !k.is_empty())
            .and_then(|k| index_token(&k));
        Ok((records, next))
    }
}
