//! The upload-record store on DynamoDB: one item per upload, keyed by `uploadId`. Every state change
//! is a conditional write, so two requests racing on one upload can never both win.
//!
//! Each user also has one quota item (`uploadId = "quota#{owner}"`, never a valid upload id) counting
//! active uploads and bytes in flight. Starting an upload reserves its share and finishing,
//! aborting or expiring releases it in the same transaction as the state change, so two concurrent
//! requests can never both slip under a limit and a share is never released twice. Every
//! transaction carries a `ClientRequestToken` derived from what it does, so the SDK's retry of a
//! transaction whose answer was lost is answered like the first attempt instead of failing its
//! condition.
//!
//! Unfinished records also carry `expShard` (`exp#<n>`, n a hash of the upload id modulo the
//! configured number of shards) and `sweepAt` (when the cleanup must look at them): the keys of
//! the sparse expiry index. Its writes spread over N key values, none of them a status, and a
//! finished upload leaves it. A transaction cancelled by a conflict, and a throttled call, are
//! retried here with bounded, jittered backoff ([`retrying`]): a conflict is not an error.

use crate::metrics::{Dependency, Metrics};
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder as TransactRequest;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;
use sha2::{Digest, Sha256};

use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::listing::Position;
use crate::domain::metadata::Metadata;
use crate::domain::record::{Completion, Transition};
use crate::domain::{Status, UploadRecord};
use crate::error::error_chain;
use crate::ports::{
    expiry_shard, sweep_after, sweep_at, BoxFuture, Created, FingerprintClaim, Holding, OwnerPage,
    PageToken, Paged, PortError, Quota, QuotaUsage, RateUse, RecordStore,
};

/// The sparse, sharded GSI the cleanup uses to find due uploads without scanning: partition key
/// [`SHARD_ATTRIBUTE`], sort key [`SWEEP_ATTRIBUTE`]; only unfinished records carry them.
pub const EXPIRY_INDEX: &str = "expShard-sweepAt";
pub const SHARD_ATTRIBUTE: &str = "expShard";
pub const SWEEP_ATTRIBUTE: &str = "sweepAt";
/// The number of expiry shards when none is configured (`EXPIRY_SHARDS`).
pub const DEFAULT_EXPIRY_SHARDS: u32 = 16;
pub const TTL_ATTRIBUTE: &str = "ttl";
/// The GSI that lists an owner's uploads by creation time. Sparse: only upload records carry
/// `owner`, so quota, rate and fingerprint items never appear in it.
pub const OWNER_CREATED_INDEX: &str = "owner-createdAt";
/// Queries one listing page may make when the status filter skips many records; past that the
/// page is returned short, with its cursor.
const MAX_QUERIES_PER_PAGE: usize = 4;

/// A raw DynamoDB item (also a pagination key).
pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct DynamoRecords {
    client: Client,
    table: String,
    shards: u32,
    /// Where each retried conflict or throttle is counted (`DependencyRetries`), so the retries
    /// that hide them from callers stay visible to on-call.
    metrics: Option<Metrics>,
}

/// The expiry index's partition key value of shard `shard`.
pub fn shard_key(shard: u32) -> String {
    format!("exp#{shard}")
}

/// Attempts of one write that keeps meeting a conflict or a throttle, before it is an error.
pub const MAX_ATTEMPTS: u32 = 10;

/// The wait before retry `attempt` (1-based): full jitter over an exponential ceiling of 10 ms
/// doubling to 1 s, so 10 attempts wait about 3.3 s in all at worst (1.6 s on average): long
/// enough to outlast a key's one-second throttle window, short against Lambda's timeout.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = (10u64 << attempt.saturating_sub(1).min(7)).min(1_000);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_millis(1 + random % ceiling_ms)
}

/// What one attempt of a retried call came to.
pub enum Attempt<T, E> {
    Done(Result<T, E>),
    /// Nothing was applied (a conflict, a throttle): worth another attempt.
    Retry(E),
}

/// Runs `attempt(0)`, `attempt(1)`, ... until one is done or [`MAX_ATTEMPTS`] were retried, with
/// [`backoff`] between them; the last retryable error is the answer then.
pub async fn retrying<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let mut n = 0;
    loop {
        match attempt(n).await {
            Attempt::Done(result) => return result,
            Attempt::Retry(err) if n + 1 >= MAX_ATTEMPTS => return Err(err),
            Attempt::Retry(_) => {
                n += 1;
                tokio::time::sleep(backoff(n)).await;
            }
        }
    }
}

/// The token of attempt `attempt` of the write named `what`. A cancelled transaction applied
/// nothing, and DynamoDB keeps a token's outcome for ten minutes: the retry after a cancellation
/// gets a token of its own, so it is executed rather than answered from the cancelled attempt.
/// The SDK's own retries (a lost answer, a 5xx) resend the same token, so a write that was applied
/// is answered like the first time.
fn attempt_token(what: &str, attempt: u32) -> String {
    match attempt {
        0 => request_token(what),
        n => request_token(&format!("{what} #{n}")),
    }
}

/// Whether a transaction failed without applying anything for a reason a retry can get past: a
/// conflict with another transaction on one of its items, a throttle, or the same token still in
/// progress (then the same token must be sent again, see [`attempt_token`]).
fn transient(err: &TransactWriteItemsError) -> bool {
    match err {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            let codes: Vec<&str> = e
                .cancellation_reasons()
                .iter()
                .filter_map(|r| r.code())
                .collect();
            codes.iter().any(|c| {
                matches!(
                    *c,
                    "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            }) && !codes.contains(&"ConditionalCheckFailed")
        }
        TransactWriteItemsError::ProvisionedThroughputExceededException(_)
        | TransactWriteItemsError::ThrottlingException(_)
        | TransactWriteItemsError::RequestLimitExceeded(_)
        | TransactWriteItemsError::TransactionInProgressException(_) => true,
        _ => false,
    }
}

/// Whether a transaction failed past every retry without applying anything (conflicts or
/// throttles; not one still in progress, which may yet apply).
fn contended(err: &SdkError<TransactWriteItemsError, HttpResponse>) -> bool {
    matches!(err, SdkError::ServiceError(e) if transient(e.err()) && !in_progress(e.err()))
}

/// Whether a transaction attempt should keep its token on retry (it may still be running).
fn in_progress(err: &TransactWriteItemsError) -> bool {
    matches!(
        err,
        TransactWriteItemsError::TransactionInProgressException(_)
    )
}

/// A `TransactWriteItems` with [`MAX_ATTEMPTS`] attempts: `request` carries everything but the
/// token, which [`attempt_token`] gives each attempt.
async fn transact(
    request: TransactRequest,
    what: &str,
    metrics: Option<&Metrics>,
) -> Result<(), SdkError<TransactWriteItemsError, HttpResponse>> {
    let (mut attempt, mut token_attempt) = (0, 0);
    loop {
        let sent = request
            .clone()
            .client_request_token(attempt_token(what, token_attempt))
            .send()
            .await;
        match sent {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(e)) if transient(e.err()) && attempt + 1 < MAX_ATTEMPTS => {
                if let Some(metrics) = metrics {
                    let cause = crate::metrics::dependency_cause(&format!("{:?}", e.err()));
                    metrics.dependency_retry(Dependency::DynamoDb, cause);
                }
                attempt += 1;
                if !in_progress(e.err()) {
                    token_attempt = attempt;
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn quota_key(owner: &str) -> String {
    format!("quota#{owner}")
}

/// The rate counter item of `owner` for the window starting at `window`: `rate#{window}#{owner}`,
/// never a valid upload id; it expires by TTL shortly after its window.
fn rate_key(owner: &str, window: i64) -> String {
    format!("rate#{window}#{owner}")
}

/// A `ClientRequestToken` (at most 36 characters) that names exactly this write: the same write
/// retried gets the same token, any other write another one.
pub fn request_token(what: &str) -> String {
    let digest = Sha256::digest(what.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a transaction was cancelled because the condition of its item `index` failed.
fn condition_failed(err: &TransactWriteItemsError, index: usize) -> bool {
    match err {
        TransactWriteItemsError::TransactionCanceledException(e) => e
            .cancellation_reasons()
            .get(index)
            .and_then(|r| r.code())
            .is_some_and(|code| code == "ConditionalCheckFailed"),
        _ => false,
    }
}

/// Whether a transaction was cancelled because the condition of its first item failed.
fn first_condition_failed(err: &TransactWriteItemsError) -> bool {
    condition_failed(err, 0)
}

/// The item naming the upload an owner's fingerprint belongs to. Hashed, so neither the owner nor
/// the client's string can shape the key (or collide with an upload id or a quota item).
fn fingerprint_key(owner: &str, fingerprint: &str) -> String {
    format!("fp#{}", request_token(&format!("{owner}\0{fingerprint}")))
}

fn failed<E: std::error::Error>(call: &'static str) -> impl Fn(E) -> PortError {
    move |e| PortError::new(call, error_chain(&e))
}

/// The update and condition expressions of a transition, and its values.
fn expressions(
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

impl DynamoRecords {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            shards: DEFAULT_EXPIRY_SHARDS,
            metrics: None,
        }
    }

    /// Counts every retried conflict or throttle in `metrics` (`DependencyRetries`).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Spreads the expiry index over `shards` key values (at least 1). Raise it freely; lowering
    /// it hides the records of the shards dropped from the cleanup (docs/scale.md).
    pub fn with_expiry_shards(mut self, shards: u32) -> Self {
        self.shards = shards.max(1);
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn create_record(
        &self,
        record: &UploadRecord,
        quota: Quota,
        claim: Option<FingerprintClaim<'_>>,
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

    async fn fingerprinted(
        &self,
        owner: &str,
        fingerprint: &str,
    ) -> Result<Option<String>, PortError> {
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
            Some(AttributeValue::S(id)) => Some(id.clone()),
            _ => None,
        }))
    }

    async fn get_record(&self, upload_id: &str) -> Result<Option<UploadRecord>, PortError> {
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
    async fn apply(
        &self,
        record: &UploadRecord,
        transition: &Transition,
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
    async fn hold(
        &self,
        upload_id: &str,
        owner: &str,
        begin: &Transition,
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
                                let cause = crate::metrics::dependency_cause(&format!("{err:?}"));
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

    async fn owner_page(
        &self,
        owner: &str,
        filter: Option<Status>,
        now: i64,
        mut after: Option<Position>,
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

    async fn page(
        &self,
        shard: u32,
        by: i64,
        start: Option<PageToken>,
        limit: u32,
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

    async fn usage(&self, owner: &str) -> Result<QuotaUsage, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("uploadId", s(&quota_key(owner)))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed("GetItem"))?;
        let item = output.item.unwrap_or_default();
        Ok(QuotaUsage {
            active_uploads: get_n(&item, "activeUploads").unwrap_or(0),
            bytes_in_flight: get_n(&item, "bytesInFlight").unwrap_or(0),
        })
    }
}

impl DynamoRecords {
    async fn rate(
        &self,
        owner: &str,
        window: i64,
        expires_at: i64,
        add: RateUse,
        limit: RateUse,
    ) -> Result<bool, PortError> {
        let mut conditions = Vec::new();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("uploadId", s(&rate_key(owner, window)))
            .update_expression("ADD requests :requests, urls :urls SET #ttl = :ttl")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":requests", n(add.requests as i64))
            .expression_attribute_values(":urls", n(add.urls as i64))
            .expression_attribute_values(":ttl", n(expires_at));
        for (name, added, limit) in [
            ("requests", add.requests, limit.requests),
            ("urls", add.urls, limit.urls),
        ] {
            if limit == 0 || added == 0 {
                continue;
            }
            if added > limit {
                return Ok(false);
            }
            // At most `limit - added` already counted, so the sum stays within the limit.
            let placeholder = format!(":max_{name}");
            conditions.push(format!(
                "(attribute_not_exists({name}) OR {name} <= {placeholder})"
            ));
            request = request.expression_attribute_values(placeholder, n((limit - added) as i64));
        }
        if !conditions.is_empty() {
            request = request.condition_expression(conditions.join(" AND "));
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            // Throttled after the SDK's retries: this one counter item takes over 1,000 writes/s,
            // so the user is far past any per-user limit. Refused like one, with no side effect.
            Err(SdkError::ServiceError(e))
                if e.err().is_provisioned_throughput_exceeded_exception()
                    || e.err().is_throttling_exception()
                    || e.err().is_request_limit_exceeded() =>
            {
                tracing::warn!(
                    "the rate counter is throttled; refusing the request as rate-limited"
                );
                Ok(false)
            }
            Err(e) => Err(PortError::new("UpdateItem", error_chain(&e))),
        }
    }
}

impl RecordStore for DynamoRecords {
    fn get<'a>(
        &'a self,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<UploadRecord>, PortError>> {
        Box::pin(self.get_record(upload_id))
    }

    fn create<'a>(
        &'a self,
        record: &'a UploadRecord,
        quota: Quota,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move { Ok(self.create_record(record, quota, None).await? == Created::Yes) })
    }

    fn fingerprint<'a>(
        &'a self,
        owner: &'a str,
        fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>> {
        Box::pin(self.fingerprinted(owner, fingerprint))
    }

    fn create_claiming<'a>(
        &'a self,
        record: &'a UploadRecord,
        quota: Quota,
        claim: FingerprintClaim<'a>,
    ) -> BoxFuture<'a, Result<Created, PortError>> {
        Box::pin(self.create_record(record, quota, Some(claim)))
    }

    fn transition<'a>(
        &'a self,
        record: &'a UploadRecord,
        transition: &'a Transition,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.apply(record, transition))
    }

    fn begin_completing<'a>(
        &'a self,
        upload_id: &'a str,
        owner: &'a str,
        begin: &'a Transition,
    ) -> BoxFuture<'a, Result<Holding, PortError>> {
        Box::pin(self.hold(upload_id, owner, begin))
    }

    fn expiry_shards(&self) -> u32 {
        self.shards
    }

    fn due<'a>(
        &'a self,
        shard: u32,
        by: i64,
        start: Option<PageToken>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Paged<UploadRecord>, PortError>> {
        Box::pin(self.page(shard, by, start, limit))
    }

    fn by_owner<'a>(
        &'a self,
        owner: &'a str,
        filter: Option<Status>,
        now: i64,
        after: Option<Position>,
        limit: u32,
    ) -> BoxFuture<'a, Result<OwnerPage, PortError>> {
        Box::pin(self.owner_page(owner, filter, now, after, limit))
    }

    fn quota_usage<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<QuotaUsage, PortError>> {
        Box::pin(self.usage(owner))
    }

    fn count_rate<'a>(
        &'a self,
        owner: &'a str,
        window: i64,
        expires_at: i64,
        add: RateUse,
        limit: RateUse,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.rate(owner, window, expires_at, add, limit))
    }
}

/// The expiry index's LastEvaluatedKey as a page token, and back. Upload ids are UUIDs and shard
/// keys `exp#<n>`, so `|` cannot occur in either.
fn index_token(key: &Item) -> Option<PageToken> {
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

fn index_key(token: &PageToken) -> Option<Item> {
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
fn owner_key(owner: &str, position: &Position) -> Item {
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
fn owner_position(key: &Item) -> Option<Position> {
    match key.get("uploadId") {
        Some(AttributeValue::S(id)) => Some(Position {
            created_at: get_n(key, "createdAt")?,
            upload_id: id.clone(),
        }),
        _ => None,
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, field: &str) -> Option<T> {
    match item.get(field) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
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

fn from_item(item: &Item) -> Result<UploadRecord, PortError> {
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
        upload_id: get_s("uploadId")?,
        owner: get_s("owner")?,
        key: get_s("objectKey")?,
        s3_upload_id: get_s("s3UploadId")?,
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
