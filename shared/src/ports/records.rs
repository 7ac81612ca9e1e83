//! The upload-record store: each state change a conditional write, the owner's quota and rate
//! counters, and the sparse, sharded expiry index the cleanup reads.

use crate::domain::ids::{Owner, UploadId};
use crate::domain::listing::Position;
use crate::domain::record::{Transition, UploadRecord};
use crate::domain::Status;

use super::{BoxFuture, PageToken, Paged, PortError, Quota, RateUse};

/// What a user's quota item counts: unfinished uploads and their declared bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    pub active_uploads: i64,
    pub bytes_in_flight: i64,
}

/// The expiry shard of an upload: a stable hash (FNV-1a) of its id, modulo the number of shards.
/// The index's partition key is `exp#<shard>`, so N shards spread its writes over N key values.
pub fn expiry_shard(upload_id: &str, shards: u32) -> u32 {
    let hash = upload_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % u64::from(shards.max(1))) as u32
}

/// When the cleanup must look at a record next, after `transition` (`None`: never, the upload is
/// finished and leaves the expiry index). An INITIATED upload is due at its expiry; a COMPLETING
/// one when its hold goes stale (at once, if abandoned).
pub fn sweep_after(transition: &Transition, expires_at: i64) -> Option<i64> {
    match *transition {
        Transition::BeginCompleting { now, stale_before } => {
            Some(now.saturating_add(now.saturating_sub(stale_before)))
        }
        Transition::Abandon { .. } => Some(0),
        Transition::Release { .. } => Some(expires_at),
        Transition::Complete(_)
        | Transition::Abort { .. }
        | Transition::Expire { .. }
        | Transition::Lost { .. } => None,
    }
}

/// When the cleanup must look at a newly created record: at its expiry.
pub fn sweep_at(record: &UploadRecord) -> i64 {
    record.expires_at
}

/// One page of an owner's records, newest first, and the position the next page starts after.
pub type OwnerPage = (Vec<UploadRecord>, Option<Position>);

/// A client's fingerprint of its file (scoped to the owner), claimed by a new upload.
#[derive(Clone, Copy, Debug)]
pub struct FingerprintClaim<'a> {
    pub fingerprint: &'a str,
    /// The upload the fingerprint named when it was read, found finished or of another size: the
    /// claim may replace exactly that one, and no other.
    pub replaces: Option<&'a UploadId>,
}

/// How a create with a fingerprint claim went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    Yes,
    /// The owner is at a quota limit; nothing was written.
    QuotaExceeded,
    /// Another upload claimed the fingerprint since it was read; nothing was written.
    FingerprintTaken,
}

/// How a request's claim on an upload's completion went ([`RecordStore::begin_completing`]).
#[derive(Clone, Debug)]
pub enum Holding {
    /// This request holds COMPLETING (since the `now` it sent): the record as written.
    /// `took_over`: the hold it replaced had gone stale, and its holder may have completed in
    /// storage before it died.
    Held {
        record: UploadRecord,
        took_over: bool,
    },
    /// The guard did not hold: the record as it is, or `None` when the owner has no such upload.
    Refused(Option<UploadRecord>),
}

impl Holding {
    /// The record this request holds, if it holds one.
    pub fn held(&self) -> Option<&UploadRecord> {
        match self {
            Self::Held { record, .. } => Some(record),
            Self::Refused(_) => None,
        }
    }

    /// The record, held or not (`None`: no such upload of the owner's).
    pub fn record(&self) -> Option<&UploadRecord> {
        match self {
            Self::Held { record, .. } | Self::Refused(Some(record)) => Some(record),
            Self::Refused(None) => None,
        }
    }
}

/// The upload records, each state change a conditional write. Transitions out of the unfinished
/// states release the owner's quota share in the same atomic write.
pub trait RecordStore: Send + Sync {
    /// The record, read with strong consistency.
    fn get<'a>(
        &'a self, upload_id: &'a UploadId,
    ) -> BoxFuture<'a, Result<Option<UploadRecord>, PortError>>;

    /// Stores a new record and reserves its quota share atomically. `Ok(false)`: the owner is at a
    /// limit and nothing was written. Repeating the same create is answered like the first.
    fn create<'a>(
        &'a self, record: &'a UploadRecord, quota: Quota,
    ) -> BoxFuture<'a, Result<bool, PortError>>;

    /// The upload the owner's `fingerprint` names, if any.
    fn fingerprint<'a>(
        &'a self, owner: &'a Owner, fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Option<UploadId>, PortError>>;

    /// [`RecordStore::create`] that also makes the record the one the owner's fingerprint names, in
    /// the same transaction: of concurrent creates with one fingerprint, exactly one succeeds.
    fn create_claiming<'a>(
        &'a self, record: &'a UploadRecord, quota: Quota, claim: FingerprintClaim<'a>,
    ) -> BoxFuture<'a, Result<Created, PortError>>;

    /// Applies `transition` if its guard holds on the stored record (`Ok(false)` when it does not).
    fn transition<'a>(
        &'a self, record: &'a UploadRecord, transition: &'a Transition,
    ) -> BoxFuture<'a, Result<bool, PortError>>;

    /// Applies `begin` ([`Transition::BeginCompleting`]) to the owner's upload `upload_id` if its
    /// guard holds, in one conditional write that answers with the record either way, so no read
    /// has to come first. Marking COMPLETING releases no quota: a single-item write, not a
    /// transaction. Another owner's upload is answered like a missing one.
    fn begin_completing<'a>(
        &'a self, upload_id: &'a UploadId, owner: &'a Owner, begin: &'a Transition,
    ) -> BoxFuture<'a, Result<Holding, PortError>>;

    /// How many shards the expiry index spreads unfinished records over ([`RecordStore::due`]).
    fn expiry_shards(&self) -> u32;

    /// One page of the unfinished (INITIATED or COMPLETING) records of expiry shard `shard` that
    /// are due for the cleanup at `by` ([`sweep_at`] at or before it), from the sparse, sharded
    /// expiry index (never a scan). Finished records are not in it.
    fn due<'a>(
        &'a self, shard: u32, by: i64, start: Option<PageToken>, limit: u32,
    ) -> BoxFuture<'a, Result<Paged<UploadRecord>, PortError>>;

    /// One page of the owner's records, newest first (by creation time), whose status as of `now`
    /// ([`UploadRecord::status_at`]) is `filter` (any, if `None`), starting after `after`; and the
    /// position to continue from when there may be more. At most `limit` records; a page may hold
    /// fewer and still have a next position. From an index on the owner (never a scan).
    fn by_owner<'a>(
        &'a self, owner: &'a Owner, filter: Option<Status>, now: i64, after: Option<Position>,
        limit: u32,
    ) -> BoxFuture<'a, Result<OwnerPage, PortError>>;

    /// The owner's quota counters.
    fn quota_usage<'a>(&'a self, owner: &'a Owner) -> BoxFuture<'a, Result<QuotaUsage, PortError>>;

    /// Adds `add` to the owner's counters for the rate window starting at `window` (epoch
    /// seconds) in one atomic conditional write, unless either counter would pass its `limit`
    /// (`Ok(false)`: nothing was added). The counter item expires (TTL) at `expires_at`.
    fn count_rate<'a>(
        &'a self, owner: &'a Owner, window: i64, expires_at: i64, add: RateUse, limit: RateUse,
    ) -> BoxFuture<'a, Result<bool, PortError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_shards_are_stable_and_match_the_backfill_script() {
        // scripts/backfill-expiry-index.py computed these against moto (docs/scale.md, migration).
        assert_eq!(expiry_shard("3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f", 16), 6);
        assert_eq!(expiry_shard("11111111-2222-3333-4444-555555555555", 16), 9);
        assert_eq!(expiry_shard("anything", 1), 0);
        assert_eq!(expiry_shard("anything", 0), 0);
    }

    #[test]
    fn only_unfinished_records_stay_in_the_expiry_index() {
        let begin = Transition::BeginCompleting {
            now: 1_000,
            stale_before: 40,
        };
        assert_eq!(sweep_after(&begin, 5_000), Some(1_960));
        assert_eq!(
            sweep_after(&Transition::Abandon { since: 1_000 }, 5_000),
            Some(0)
        );
        assert_eq!(
            sweep_after(&Transition::Release { since: 1_000 }, 5_000),
            Some(5_000)
        );
        for ending in [
            Transition::Abort { stale_before: 0 },
            Transition::Expire { now: 0 },
            Transition::Lost { since: None },
        ] {
            assert_eq!(sweep_after(&ending, 5_000), None, "{ending:?}");
        }
    }
}
