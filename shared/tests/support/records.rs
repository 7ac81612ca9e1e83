//! The record store: DynamoDB's conditional writes, transactions, conflicts and paged index
//! queries, in memory.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use shared::adapters::dynamodb::{retrying, Attempt};
use shared::domain::ids::{Owner, UploadId};
use shared::domain::listing::Position;
use shared::domain::record::Transition;
use shared::domain::{Status, UploadRecord};
use shared::ports::{
    expiry_shard, sweep_after, sweep_at, BoxFuture, Created, FingerprintClaim, Holding, OwnerPage,
    PageToken, Paged, PortError, Quota, QuotaUsage, RateUse, RecordStore,
};

use super::*;

#[derive(Default)]
pub(crate) struct RecordState {
    pub(crate) records: HashMap<String, UploadRecord>,
    pub(crate) quota: HashMap<String, QuotaUsage>,
    /// Rate counters by (owner, window).
    pub(crate) rates: HashMap<(String, i64), RateUse>,
    /// Successful transactions by ClientRequestToken: a repeat is answered like the first.
    pub(crate) tokens: HashMap<String, bool>,
    /// (owner, fingerprint) -> the upload it names.
    pub(crate) fingerprints: HashMap<(String, String), String>,
    /// The expiry index: upload id -> its entry (shard, `sweepAt`), unfinished records only.
    pub(crate) sweep: HashMap<String, (u32, i64)>,
    /// The same entries in the index's order: (shard, sweepAt, uploadId).
    pub(crate) index: std::collections::BTreeSet<(u32, i64, String)>,
}

impl RecordState {
    /// Puts `upload_id` in the expiry index at `at` (`None`: takes it out).
    pub(crate) fn index_at(&mut self, upload_id: &str, shards: u32, at: Option<i64>) {
        if let Some((shard, old)) = self.sweep.remove(upload_id) {
            self.index.remove(&(shard, old, upload_id.to_owned()));
        }
        if let Some(at) = at {
            let shard = expiry_shard(upload_id, shards);
            self.sweep.insert(upload_id.to_owned(), (shard, at));
            self.index.insert((shard, at, upload_id.to_owned()));
        }
    }
}

/// The expiry index entry a record written as is (test set-up) would have: due at its expiry, or
/// for a COMPLETING one from its start (at least as early as the adapter's, the sweep checks).
pub(crate) fn raw_sweep(record: &UploadRecord) -> Option<i64> {
    match record.status {
        Status::Initiated => Some(sweep_at(record)),
        Status::Completing => Some(record.completing_since.unwrap_or(0)),
        _ => None,
    }
}

/// Items held by transactions in flight; released when the holder finishes or is dropped.
pub(crate) struct Held<'a> {
    pub(crate) busy: &'a Mutex<HashSet<String>>,
    pub(crate) items: Vec<String>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut busy = self.busy.lock().unwrap();
        for item in &self.items {
            busy.remove(item);
        }
    }
}

pub struct FakeRecords {
    pub(crate) state: Mutex<RecordState>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) time: Arc<FakeTime>,
    /// Shards of the expiry index.
    pub shards: u32,
    /// Items a transaction in flight holds.
    pub(crate) busy: Mutex<HashSet<String>>,
    /// Transactions cancelled by a conflict (and retried).
    pub conflicts: AtomicU64,
}

impl FakeRecords {
    pub fn new(faults: Arc<Faults>, time: Arc<FakeTime>) -> Self {
        Self {
            state: Mutex::default(),
            faults,
            time,
            shards: 4,
            busy: Mutex::default(),
            conflicts: AtomicU64::new(0),
        }
    }

    /// Whether the expiry index holds `upload_id`.
    pub fn indexed(&self, upload_id: &str) -> bool {
        self.state.lock().unwrap().sweep.contains_key(upload_id)
    }

    pub fn all(&self) -> Vec<UploadRecord> {
        self.state
            .lock()
            .unwrap()
            .records
            .values()
            .cloned()
            .collect()
    }

    pub fn record(&self, upload_id: &str) -> Option<UploadRecord> {
        self.state.lock().unwrap().records.get(upload_id).cloned()
    }

    pub fn usage(&self, owner: &str) -> QuotaUsage {
        self.state
            .lock()
            .unwrap()
            .quota
            .get(owner)
            .copied()
            .unwrap_or_default()
    }

    /// Replaces a record's state as a crashed function would have left it (test set-up only;
    /// the quota is untouched, as for a move between unfinished states).
    pub fn overwrite(&self, record: UploadRecord) {
        let mut state = self.state.lock().unwrap();
        state.index_at(&record.upload_id, self.shards, raw_sweep(&record));
        state.records.insert(record.upload_id.to_string(), record);
    }

    /// Writes a record as a crashed function would have left it (test set-up only).
    pub fn put_raw(&self, record: UploadRecord) {
        let mut state = self.state.lock().unwrap();
        if matches!(record.status, Status::Initiated | Status::Completing) {
            let usage = state.quota.entry(record.owner.to_string()).or_default();
            usage.active_uploads += 1;
            usage.bytes_in_flight += record.file_size as i64;
        }
        state.index_at(&record.upload_id, self.shards, raw_sweep(&record));
        state.records.insert(record.upload_id.to_string(), record);
    }

    pub(crate) fn create_now(
        &self, record: &UploadRecord, quota: Quota, claim: Option<FingerprintClaim<'_>>,
    ) -> Result<Created, PortError> {
        let mut state = self.state.lock().unwrap();
        let token = format!("create {}", record.upload_id);
        if state.tokens.contains_key(&token) {
            return Ok(Created::Yes);
        }
        let usage = state.quota.get(record.owner.as_str()).copied();
        // DynamoDB's condition: no quota item yet, or below both limits.
        let room = match (
            usage,
            quota.max_bytes_in_flight.checked_sub(record.file_size),
        ) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(u), Some(limit)) => {
                (u.active_uploads as u64) < quota.max_active_uploads
                    && (u.bytes_in_flight.max(0) as u64) <= limit
            }
        };
        if !room {
            return Ok(Created::QuotaExceeded);
        }
        if state.records.contains_key(record.upload_id.as_str()) {
            // The put's condition failed: the transaction is cancelled on its second item.
            return Err(PortError::new("TransactWriteItems", "put condition failed"));
        }
        let claim_key = claim.map(|c| (record.owner.to_string(), c.fingerprint.to_owned()));
        if let (Some(claim), Some(key)) = (claim, &claim_key) {
            let held = state.fingerprints.get(key);
            if held.is_some() && held.map(String::as_str) != claim.replaces.map(|id| id.as_str()) {
                return Ok(Created::FingerprintTaken);
            }
        }
        let usage = state.quota.entry(record.owner.to_string()).or_default();
        usage.active_uploads += 1;
        usage.bytes_in_flight += record.file_size as i64;
        state
            .records
            .insert(record.upload_id.to_string(), record.clone());
        state.index_at(&record.upload_id, self.shards, Some(sweep_at(record)));
        if let Some(key) = claim_key {
            state.fingerprints.insert(key, record.upload_id.to_string());
        }
        state.tokens.insert(token, true);
        Ok(Created::Yes)
    }

    pub(crate) fn transition_now(&self, record: &UploadRecord, t: &Transition) -> bool {
        let mut state = self.state.lock().unwrap();
        let token = format!("{} {t:?}", record.upload_id);
        if let Some(done) = state.tokens.get(&token) {
            return *done;
        }
        let Some(stored) = state.records.get_mut(record.upload_id.as_str()) else {
            return false;
        };
        if !stored.apply(t) {
            return false;
        }
        let (owner, size) = (stored.owner.to_string(), stored.file_size as i64);
        let at = sweep_after(t, stored.expires_at);
        state.index_at(&record.upload_id, self.shards, at);
        if t.releases_quota() {
            let usage = state.quota.entry(owner).or_default();
            usage.active_uploads -= 1;
            usage.bytes_in_flight -= size;
        }
        state.tokens.insert(token, true);
        true
    }

    /// A transaction on `items` under the fault plan, with DynamoDB's conflicts: it holds its
    /// items for one scheduler turn, and one that finds an item held is cancelled
    /// (`TransactionConflict`, nothing applied) and retried with the adapter's backoff.
    pub(crate) async fn transact<T>(
        &self, op: &'static str, items: Vec<String>, apply: impl Fn() -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        retrying(|_| {
            let (items, apply) = (items.clone(), &apply);
            async move {
                let verdict = self.faults.enter(&self.time, op).await;
                let held = {
                    let mut busy = self.busy.lock().unwrap();
                    if items.iter().any(|item| busy.contains(item)) {
                        None
                    } else {
                        busy.extend(items.iter().cloned());
                        Some(Held {
                            busy: &self.busy,
                            items,
                        })
                    }
                };
                let Some(held) = held else {
                    self.conflicts.fetch_add(1, Ordering::SeqCst);
                    return Attempt::Retry(PortError::contended(
                        op,
                        "TransactionCanceledException: [TransactionConflict]",
                    ));
                };
                tokio::task::yield_now().await;
                let answer = self.answer(op, verdict, apply);
                drop(held);
                Attempt::Done(answer)
            }
        })
        .await
    }

    /// Runs `call` under the fault plan: `apply` does the work and gives the answer.
    pub(crate) async fn faulty<T>(
        &self, op: &'static str, apply: impl FnOnce() -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        let verdict = self.faults.enter(&self.time, op).await;
        self.answer(op, verdict, apply)
    }

    /// What a call that met `verdict` answers: `apply` does the work and gives the answer.
    pub(crate) fn answer<T>(
        &self, op: &'static str, verdict: Verdict, apply: impl FnOnce() -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        match verdict {
            Verdict::Normal => apply(),
            Verdict::Fail { apply: applied } => {
                if applied {
                    let _ = apply();
                }
                Err(injected(op))
            }
            Verdict::Die => {
                let answer = apply();
                self.faults.die();
                answer
            }
        }
    }
}

impl RecordStore for FakeRecords {
    fn get<'a>(
        &'a self, upload_id: &'a UploadId,
    ) -> BoxFuture<'a, Result<Option<UploadRecord>, PortError>> {
        let upload_id = upload_id.as_str();
        Box::pin(self.faulty("GetItem", move || Ok(self.record(upload_id))))
    }

    fn create<'a>(
        &'a self, record: &'a UploadRecord, quota: Quota,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.transact(
            "TransactWriteItems(create)",
            vec![record.upload_id.to_string(), quota_item(&record.owner)],
            move || Ok(self.create_now(record, quota, None)? == Created::Yes),
        ))
    }

    fn fingerprint<'a>(
        &'a self, owner: &'a Owner, fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Option<UploadId>, PortError>> {
        Box::pin(self.faulty("GetItem(fingerprint)", move || {
            let state = self.state.lock().unwrap();
            Ok(state
                .fingerprints
                .get(&(owner.to_string(), fingerprint.to_owned()))
                .map(|id| UploadId::from(id.as_str())))
        }))
    }

    fn create_claiming<'a>(
        &'a self, record: &'a UploadRecord, quota: Quota, claim: FingerprintClaim<'a>,
    ) -> BoxFuture<'a, Result<Created, PortError>> {
        Box::pin(self.transact(
            "TransactWriteItems(create)",
            vec![
                record.upload_id.to_string(),
                quota_item(&record.owner),
                format!("fp#{}#{}", record.owner, claim.fingerprint),
            ],
            move || self.create_now(record, quota, Some(claim)),
        ))
    }

    fn transition<'a>(
        &'a self, record: &'a UploadRecord, transition: &'a Transition,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        let mut items = vec![record.upload_id.to_string()];
        if transition.releases_quota() {
            items.push(quota_item(&record.owner));
        }
        Box::pin(self.transact(transition_op(transition), items, move || {
            Ok(self.transition_now(record, transition))
        }))
    }

    fn begin_completing<'a>(
        &'a self, upload_id: &'a UploadId, owner: &'a Owner, begin: &'a Transition,
    ) -> BoxFuture<'a, Result<Holding, PortError>> {
        let upload_id = upload_id.as_str();
        // A single-item write meets a transaction on its item as DynamoDB's does: a conflict.
        Box::pin(self.transact(
            "UpdateItem(begin-completing)",
            vec![upload_id.to_owned()],
            move || {
                let mut state = self.state.lock().unwrap();
                let Some(stored) = state
                    .records
                    .get_mut(upload_id)
                    .filter(|r| r.owner == owner)
                else {
                    return Ok(Holding::Refused(None));
                };
                let took_over = stored.status == Status::Completing;
                if !stored.apply(begin) {
                    return Ok(Holding::Refused(Some(stored.clone())));
                }
                let record = stored.clone();
                state.index_at(
                    upload_id,
                    self.shards,
                    sweep_after(begin, record.expires_at),
                );
                Ok(Holding::Held { record, took_over })
            },
        ))
    }

    fn expiry_shards(&self) -> u32 {
        self.shards
    }

    /// Like the sparse expiry index: the unfinished records of one shard, by (sweepAt, uploadId).
    fn due<'a>(
        &'a self, shard: u32, by: i64, start: Option<PageToken>, limit: u32,
    ) -> BoxFuture<'a, Result<Paged<UploadRecord>, PortError>> {
        Box::pin(self.faulty("Query", move || {
            let state = self.state.lock().unwrap();
            let after = match &start {
                None => std::ops::Bound::Included((shard, i64::MIN, String::new())),
                Some(token) => {
                    let (at, id) = token.0.split_once('|').expect("a token of this fake");
                    let at = at.parse().expect("a token of this fake");
                    std::ops::Bound::Excluded((shard, at, id.to_owned()))
                }
            };
            let page: Vec<(i64, UploadRecord)> = state
                .index
                .range((after, std::ops::Bound::Unbounded))
                .take_while(|(s, at, _)| *s == shard && *at <= by)
                .take(limit as usize)
                .filter_map(|(_, at, id)| Some((*at, state.records.get(id)?.clone())))
                .collect();
            let next = (page.len() == limit as usize)
                .then(|| {
                    page.last()
                        .map(|(at, r)| PageToken(format!("{at}|{}", r.upload_id)))
                })
                .flatten();
            Ok((page.into_iter().map(|(_, r)| r).collect(), next))
        }))
    }

    /// Like the owner index queried newest first: (createdAt, uploadId) descending, the filter on
    /// the status as of `now`, a next position whenever the page is full.
    fn by_owner<'a>(
        &'a self, owner: &'a Owner, filter: Option<Status>, now: i64, after: Option<Position>,
        limit: u32,
    ) -> BoxFuture<'a, Result<OwnerPage, PortError>> {
        Box::pin(self.faulty("Query(owner)", move || {
            let state = self.state.lock().unwrap();
            let mut mine: Vec<&UploadRecord> = state
                .records
                .values()
                .filter(|r| r.owner == owner)
                .collect();
            mine.sort_by(|a, b| (b.created_at, &b.upload_id).cmp(&(a.created_at, &a.upload_id)));
            let page: Vec<UploadRecord> = mine
                .into_iter()
                .filter(|r| {
                    after.as_ref().is_none_or(|p| {
                        (r.created_at, r.upload_id.as_str()) < (p.created_at, p.upload_id.as_str())
                    })
                })
                .filter(|r| filter.is_none_or(|f| r.status_at(now) == f))
                .take(limit as usize)
                .cloned()
                .collect();
            let next = (page.len() == limit as usize)
                .then(|| {
                    page.last().map(|r| Position {
                        created_at: r.created_at,
                        upload_id: r.upload_id.to_string(),
                    })
                })
                .flatten();
            Ok((page, next))
        }))
    }

    fn quota_usage<'a>(&'a self, owner: &'a Owner) -> BoxFuture<'a, Result<QuotaUsage, PortError>> {
        Box::pin(self.faulty("GetItem(quota)", move || Ok(self.usage(owner))))
    }

    /// Like the DynamoDB adapter's conditional `ADD`: all or nothing, never past a limit.
    fn count_rate<'a>(
        &'a self, owner: &'a Owner, window: i64, _expires_at: i64, add: RateUse, limit: RateUse,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.faulty("UpdateItem(rate)", move || {
            let mut state = self.state.lock().unwrap();
            let counted = state.rates.entry((owner.to_string(), window)).or_default();
            let within = |used: u64, added: u64, limit: u64| {
                limit == 0 || added == 0 || used.saturating_add(added) <= limit
            };
            if !within(counted.requests, add.requests, limit.requests)
                || !within(counted.urls, add.urls, limit.urls)
            {
                return Ok(false);
            }
            counted.requests += add.requests;
            counted.urls += add.urls;
            Ok(true)
        }))
    }
}

/// The quota item of `owner`, as a transaction's conflict set names it.
pub(crate) fn quota_item(owner: &str) -> String {
    format!("quota#{owner}")
}

pub(crate) fn transition_op(t: &Transition) -> &'static str {
    match t {
        Transition::BeginCompleting { .. } => "TransactWriteItems(begin-completing)",
        Transition::Abandon { .. } => "TransactWriteItems(abandon)",
        Transition::Release { .. } => "TransactWriteItems(release)",
        Transition::Complete(_) => "TransactWriteItems(complete)",
        Transition::Abort { .. } => "TransactWriteItems(abort)",
        Transition::Expire { .. } => "TransactWriteItems(expire)",
        Transition::Lost { .. } => "TransactWriteItems(lost)",
    }
}
