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

mod codec;
mod quota;
mod records;
mod retries;

use crate::adapters::metrics::Metrics;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use crate::domain::error::error_chain;
use crate::domain::ids::{Owner, UploadId};
use crate::domain::listing::Position;
use crate::domain::record::Transition;
use crate::domain::{Status, UploadRecord};
use crate::ports::{
    BoxFuture, Created, FingerprintClaim, Holding, OwnerPage, PageToken, Paged, PortError, Quota,
    QuotaUsage, RateUse, RecordStore,
};

pub use self::retries::{backoff, request_token, retrying, Attempt, MAX_ATTEMPTS};

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

fn failed<E: std::error::Error>(call: &'static str) -> impl Fn(E) -> PortError {
    move |e| PortError::new(call, error_chain(&e))
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
}

impl RecordStore for DynamoRecords {
    fn get<'a>(
        &'a self, upload_id: &'a UploadId,
    ) -> BoxFuture<'a, Result<Option<UploadRecord>, PortError>> {
        Box::pin(self.get_record(upload_id))
    }

    fn create<'a>(
        &'a self, record: &'a UploadRecord, quota: Quota,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move { Ok(self.create_record(record, quota, None).await? == Created::Yes) })
    }

    fn fingerprint<'a>(
        &'a self, owner: &'a Owner, fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Option<UploadId>, PortError>> {
        Box::pin(self.fingerprinted(owner, fingerprint))
    }

    fn create_claiming<'a>(
        &'a self, record: &'a UploadRecord, quota: Quota, claim: FingerprintClaim<'a>,
    ) -> BoxFuture<'a, Result<Created, PortError>> {
        Box::pin(self.create_record(record, quota, Some(claim)))
    }

    fn transition<'a>(
        &'a self, record: &'a UploadRecord, transition: &'a Transition,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.apply(record, transition))
    }

    fn begin_completing<'a>(
        &'a self, upload_id: &'a UploadId, owner: &'a Owner, begin: &'a Transition,
    ) -> BoxFuture<'a, Result<Holding, PortError>> {
        Box::pin(self.hold(upload_id, owner, begin))
    }

    fn expiry_shards(&self) -> u32 {
        self.shards
    }

    fn due<'a>(
        &'a self, shard: u32, by: i64, start: Option<PageToken>, limit: u32,
    ) -> BoxFuture<'a, Result<Paged<UploadRecord>, PortError>> {
        Box::pin(self.page(shard, by, start, limit))
    }

    fn by_owner<'a>(
        &'a self, owner: &'a Owner, filter: Option<Status>, now: i64, after: Option<Position>,
        limit: u32,
    ) -> BoxFuture<'a, Result<OwnerPage, PortError>> {
        Box::pin(self.owner_page(owner, filter, now, after, limit))
    }

    fn quota_usage<'a>(&'a self, owner: &'a Owner) -> BoxFuture<'a, Result<QuotaUsage, PortError>> {
        Box::pin(self.usage(owner))
    }

    fn count_rate<'a>(
        &'a self, owner: &'a Owner, window: i64, expires_at: i64, add: RateUse, limit: RateUse,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.rate(owner, window, expires_at, add, limit))
    }
}
