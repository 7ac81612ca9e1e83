//! The stores: the in-memory fakes behind the model.

use std::sync::Arc;

use shared::adapters::dynamodb::{shard_key, MAX_ATTEMPTS};
use shared::domain::ids::{ObjectKey, S3UploadId};
use shared::domain::ids::{Owner, UploadId};
use shared::domain::listing::Position;
use shared::domain::record::Transition;
use shared::domain::{Status, UploadRecord};
use shared::ports::{
    expiry_shard, BoxFuture, CompleteError, CompletedObject, Created, Expected, FingerprintClaim,
    Holding, MultipartListing, ObjectHead, ObjectStore, OwnerPage, PageToken, Paged, PartRef,
    PortError, Quota, QuotaUsage, RateUse, RecordStore, StoredPart,
};
use support::{FakeObjects, FakeRecords};

use super::*;

// ---------------------------------------------------------------------------------------------
// The stores: the fakes, behind the model.

pub(crate) struct SimRecords {
    pub(crate) fake: FakeRecords,
    pub(crate) model: Arc<Model>,
}

pub(crate) fn owner_key(owner: &str) -> String {
    format!("owner#{owner}")
}

pub(crate) fn quota_key(owner: &str) -> String {
    format!("quota#{owner}")
}

impl SimRecords {
    pub(crate) fn shard(&self, upload_id: &str) -> String {
        shard_key(expiry_shard(upload_id, self.fake.shards))
    }

    /// A create transaction through the model: the record, the quota item, the fingerprint's item
    /// when it claims one, and the two index entries. When it answers `applied`, the old status
    /// index would have gained an INITIATED entry.
    async fn create_through<T: PartialEq>(
        &self, record: &UploadRecord, fingerprint: Option<&str>,
        create: impl std::future::Future<Output = Result<T, PortError>>, applied: T,
    ) -> Result<T, PortError> {
        let mut keys = vec![
            (record.upload_id.to_string(), TX, true),
            (quota_key(&record.owner), TX, true),
        ];
        if let Some(fingerprint) = fingerprint {
            keys.push((format!("fp#{}#{fingerprint}", record.owner), TX, true));
        }
        keys.push((owner_key(&record.owner), 1, true));
        keys.push((self.shard(&record.upload_id), 1, true));
        let created = self
            .model
            .call("TransactWriteItems", keys, MAX_ATTEMPTS, create)
            .await;
        if created.as_ref() == Ok(&applied) {
            self.model.legacy_write(None, Some(Status::Initiated));
        }
        created
    }
}

/// A transaction writes each item twice (DynamoDB's two-phase transactions cost 2 units an item).
pub(crate) const TX: u64 = 2;

impl RecordStore for SimRecords {
    fn get<'a>(
        &'a self, id: &'a UploadId,
    ) -> BoxFuture<'a, Result<Option<UploadRecord>, PortError>> {
        Box::pin(self.model.call(
            "GetItem",
            vec![(id.to_string(), 1, false)],
            3,
            self.fake.get(id),
        ))
    }

    fn create<'a>(
        &'a self, record: &'a UploadRecord, quota: Quota,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.create_through(record, None, self.fake.create(record, quota), true))
    }

    fn fingerprint<'a>(
        &'a self, owner: &'a Owner, fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Option<UploadId>, PortError>> {
        Box::pin(self.model.call(
            "GetItem",
            vec![(format!("fp#{owner}#{fingerprint}"), 1, false)],
            3,
            self.fake.fingerprint(owner, fingerprint),
        ))
    }

    fn create_claiming<'a>(
        &'a self, record: &'a UploadRecord, quota: Quota, claim: FingerprintClaim<'a>,
    ) -> BoxFuture<'a, Result<Created, PortError>> {
        let create = self.fake.create_claiming(record, quota, claim);
        Box::pin(self.create_through(record, Some(claim.fingerprint), create, Created::Yes))
    }

    fn transition<'a>(
        &'a self, record: &'a UploadRecord, transition: &'a Transition,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move {
            let mut keys = vec![
                (record.upload_id.to_string(), TX, true),
                (owner_key(&record.owner), 1, true),
                (self.shard(&record.upload_id), 1, true),
            ];
            if transition.releases_quota() {
                keys.push((quota_key(&record.owner), TX, true));
            }
            let applied = self
                .model
                .call(
                    "TransactWriteItems",
                    keys,
                    MAX_ATTEMPTS,
                    self.fake.transition(record, transition),
                )
                .await;
            if applied == Ok(true) {
                let mut after = record.clone();
                after.apply(transition);
                if after.status != record.status {
                    self.model
                        .legacy_write(Some(record.status), Some(after.status));
                }
            }
            applied
        })
    }

    fn begin_completing<'a>(
        &'a self, upload_id: &'a UploadId, owner: &'a Owner, begin: &'a Transition,
    ) -> BoxFuture<'a, Result<Holding, PortError>> {
        Box::pin(async move {
            // The record and its expiry-index entry (sweepAt moves); owner index untouched.
            let keys = vec![
                (upload_id.to_string(), 1, true),
                (self.shard(upload_id), 1, true),
            ];
            let held = self
                .model
                .call(
                    "UpdateItem",
                    keys,
                    MAX_ATTEMPTS,
                    self.fake.begin_completing(upload_id, owner, begin),
                )
                .await;
            if let Ok(Holding::Held { .. }) = held {
                self.model
                    .legacy_write(Some(Status::Initiated), Some(Status::Completing));
            }
            held
        })
    }

    fn expiry_shards(&self) -> u32 {
        self.fake.shards
    }

    fn due<'a>(
        &'a self, shard: u32, by: i64, start: Option<PageToken>, limit: u32,
    ) -> BoxFuture<'a, Result<Paged<UploadRecord>, PortError>> {
        // A page of 100 records of about 600 bytes, read eventually consistent: 8 units.
        Box::pin(self.model.call(
            "Query",
            vec![(shard_key(shard), 8, false)],
            3,
            self.fake.due(shard, by, start, limit),
        ))
    }

    fn by_owner<'a>(
        &'a self, owner: &'a Owner, filter: Option<Status>, now: i64, after: Option<Position>,
        limit: u32,
    ) -> BoxFuture<'a, Result<OwnerPage, PortError>> {
        Box::pin(self.model.call(
            "Query",
            vec![(owner_key(owner), 8, false)],
            3,
            self.fake.by_owner(owner, filter, now, after, limit),
        ))
    }

    fn quota_usage<'a>(&'a self, owner: &'a Owner) -> BoxFuture<'a, Result<QuotaUsage, PortError>> {
        Box::pin(self.model.call(
            "GetItem",
            vec![(quota_key(owner), 1, false)],
            3,
            self.fake.quota_usage(owner),
        ))
    }

    fn count_rate<'a>(
        &'a self, owner: &'a Owner, window: i64, expires_at: i64, add: RateUse, limit: RateUse,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move {
            let counted = self
                .model
                .call(
                    "UpdateItem",
                    vec![(format!("rate#{window}#{owner}"), 1, true)],
                    3,
                    self.fake.count_rate(owner, window, expires_at, add, limit),
                )
                .await;
            // As the adapter does: the user's own counter throttled is the user over any limit.
            match counted {
                Err(err) if err.contended => Ok(false),
                other => other,
            }
        })
    }
}

pub(crate) struct SimObjects {
    pub(crate) fake: FakeObjects,
    pub(crate) model: Arc<Model>,
}

impl SimObjects {
    pub(crate) async fn timed<T>(
        &self, op: &'static str, key: &str, write: bool, run: impl std::future::Future<Output = T>,
    ) -> T {
        let begun = self.model.micros();
        self.model.s3(op, key, write);
        tokio::time::sleep(self.model.latency(op)).await;
        let answer = run.await;
        let ended = self.model.micros();
        let _ = TRACE.try_with(|trace| trace.borrow_mut().push((begun, ended)));
        answer
    }
}

impl ObjectStore for SimObjects {
    fn bucket(&self) -> &str {
        self.fake.bucket()
    }

    fn create_multipart<'a>(
        &'a self, key: &'a ObjectKey, content_type: &'a str, content_disposition: &'a str,
        checksum: Option<shared::domain::checksum::ChecksumAlgorithm>,
        metadata: &'a shared::domain::metadata::Metadata,
    ) -> BoxFuture<'a, Result<S3UploadId, PortError>> {
        Box::pin(
            self.timed(
                "CreateMultipartUpload",
                key,
                true,
                self.fake.create_multipart(
                    key,
                    content_type,
                    content_disposition,
                    checksum,
                    metadata,
                ),
            ),
        )
    }

    fn list_parts<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<Option<Vec<StoredPart>>, PortError>> {
        Box::pin(self.timed(
            "ListParts",
            key,
            false,
            self.fake.list_parts(key, s3_upload_id),
        ))
    }

    fn complete<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId, parts: &'a [PartRef],
        expected: Expected<'a>,
    ) -> BoxFuture<'a, Result<CompletedObject, CompleteError>> {
        Box::pin(self.timed(
            "CompleteMultipartUpload",
            key,
            true,
            self.fake.complete(key, s3_upload_id, parts, expected),
        ))
    }

    fn abort<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.timed(
            "AbortMultipartUpload",
            key,
            true,
            self.fake.abort(key, s3_upload_id),
        ))
    }

    fn head<'a>(
        &'a self, key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<ObjectHead>, PortError>> {
        Box::pin(self.timed("HeadObject", key, false, self.fake.head(key)))
    }

    fn multipart_uploads<'a>(
        &'a self, prefix: &'a str, start: Option<PageToken>,
    ) -> BoxFuture<'a, Result<Paged<MultipartListing>, PortError>> {
        Box::pin(self.timed(
            "ListMultipartUploads",
            prefix,
            false,
            self.fake.multipart_uploads(prefix, start),
        ))
    }
}
