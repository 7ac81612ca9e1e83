//! In-memory fakes of the ports with the real services' semantics, and a fault plan.
//!
//! - [`FakeRecords`]: conditional transitions with DynamoDB's all-or-nothing transactions (the
//!   record's guard and the quota release apply together or not at all), the quota condition of
//!   `create`, `ClientRequestToken` idempotency, paged index queries (the sparse, sharded expiry
//!   index: only unfinished records, each in the shard its id hashes to), and transaction
//!   conflicts: a transaction holds its items for one scheduler turn, and another that touches one
//!   of them meanwhile is cancelled with `TransactionConflict` and retried with backoff, as the
//!   DynamoDB adapter does ([`shared::adapters::dynamodb::retrying`]).
//! - [`FakeObjects`]: S3's multipart rules: `NoSuchUpload` after complete or abort, 5 MiB minimum
//!   for every part but the last, part ETags checked at complete, `If-None-Match: *` on complete,
//!   multipart ETags `"…-N"`, and paged listings of multipart uploads.
//! - [`Faults`]: makes the Nth call of a named operation fail in one of four ways. Every call
//!   yields to the scheduler first, so racing use cases interleave at each external call, in an
//!   order a seeded generator picks.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::adapters::dynamodb::{retrying, Attempt};
use shared::config::Config;
use shared::domain::checksum::ChecksumAlgorithm;
use shared::domain::listing::Position;
use shared::domain::metadata::Metadata;
use shared::domain::record::Transition;
use shared::domain::{Status, UploadRecord};
use shared::ports::Metric;
use shared::ports::{
    expiry_shard, sweep_after, sweep_at, BoxFuture, CompleteError, CompletedObject, Created,
    FingerprintClaim, MetricsSink, MultipartListing, ObjectHead, ObjectStore, OwnerPage, PageToken,
    Paged, PartRef, PortError, Ports, Quota, QuotaUsage, RateUse, RecordStore, StoredPart, Time,
};

pub const MIB: u64 = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// An error answer; nothing applied.
    Error,
    /// No answer in time; nothing applied, and time has passed.
    Timeout,
    /// Applied, but the answer was lost: the caller sees an error.
    AppliedLost,
    /// Applied and answered, then the function died: the use case is dropped right there.
    Death,
}

pub const FAULT_KINDS: [FaultKind; 4] = [
    FaultKind::Error,
    FaultKind::Timeout,
    FaultKind::AppliedLost,
    FaultKind::Death,
];

#[derive(Clone, Debug)]
pub struct Fault {
    /// The index of the call (0-based, counting every call of the invocation).
    pub call: usize,
    pub kind: FaultKind,
}

/// A small deterministic generator (xorshift64*), so a seed replays an interleaving exactly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The fault plan and the log of calls, shared by both fakes.
#[derive(Default)]
pub struct Faults {
    plan: Mutex<Option<Fault>>,
    calls: Mutex<Vec<&'static str>>,
    /// Set when the planned death happened: every later call of the dead invocation hangs.
    pub dead: AtomicBool,
    pub died: tokio::sync::Notify,
    /// Random extra yields per call, for interleavings.
    rng: Mutex<Option<Rng>>,
    /// The function whose calls are being made, and every operation seen per function.
    pub function: Mutex<Option<&'static str>>,
    pub observed: Mutex<BTreeMap<&'static str, std::collections::BTreeSet<&'static str>>>,
}

/// What the fake does with one call.
enum Verdict {
    Normal,
    Fail { apply: bool },
    Die,
}

impl Faults {
    pub fn arm(&self, fault: Option<Fault>) {
        *self.plan.lock().unwrap() = fault;
        self.calls.lock().unwrap().clear();
        self.dead.store(false, Ordering::SeqCst);
    }

    pub fn interleave(&self, seed: Option<u64>) {
        *self.rng.lock().unwrap() = seed.map(Rng::new);
    }

    /// The calls made since the last `arm`.
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }

    /// Yields (as a network call would), then decides this call's fate.
    async fn enter(&self, time: &FakeTime, op: &'static str) -> Verdict {
        let yields = self
            .rng
            .lock()
            .unwrap()
            .as_mut()
            .map_or(1, |rng| 1 + rng.below(3));
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        if self.dead.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if let Some(function) = *self.function.lock().unwrap() {
            self.observed
                .lock()
                .unwrap()
                .entry(function)
                .or_default()
                .insert(op);
        }
        let index = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(op);
            calls.len() - 1
        };
        let fault = self.plan.lock().unwrap().clone();
        match fault {
            Some(Fault { call, kind }) if call == index => match kind {
                FaultKind::Error => Verdict::Fail { apply: false },
                FaultKind::Timeout => {
                    time.advance(30);
                    Verdict::Fail { apply: false }
                }
                FaultKind::AppliedLost => Verdict::Fail { apply: true },
                FaultKind::Death => Verdict::Die,
            },
            _ => Verdict::Normal,
        }
    }

    fn die(&self) {
        self.dead.store(true, Ordering::SeqCst);
        self.died.notify_one();
    }
}

fn injected(op: &'static str) -> PortError {
    PortError::new(op, "injected fault")
}

/// Time that moves only when told to (or when a use case sleeps).
#[derive(Default)]
pub struct FakeTime {
    now: AtomicI64,
}

impl FakeTime {
    pub fn at(now: i64) -> Self {
        Self {
            now: AtomicI64::new(now),
        }
    }

    pub fn advance(&self, secs: i64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Time for FakeTime {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.advance(duration.as_secs().max(1) as i64);
            tokio::task::yield_now().await;
        })
    }
}

#[derive(Default)]
pub struct FakeMetrics {
    pub lines: Mutex<Vec<(String, Metric, f64)>>,
}

impl MetricsSink for FakeMetrics {
    fn emit(&self, function: &str, _dimensions: &[(&str, &str)], values: &[(Metric, f64)]) {
        let mut lines = self.lines.lock().unwrap();
        for (metric, value) in values {
            lines.push((function.to_owned(), *metric, *value));
        }
    }
}

#[derive(Default)]
struct RecordState {
    records: HashMap<String, UploadRecord>,
    quota: HashMap<String, QuotaUsage>,
    /// Rate counters by (owner, window).
    rates: HashMap<(String, i64), RateUse>,
    /// Successful transactions by ClientRequestToken: a repeat is answered like the first.
    tokens: HashMap<String, bool>,
    /// (owner, fingerprint) -> the upload it names.
    fingerprints: HashMap<(String, String), String>,
    /// The expiry index: upload id -> its entry (shard, `sweepAt`), unfinished records only.
    sweep: HashMap<String, (u32, i64)>,
    /// The same entries in the index's order: (shard, sweepAt, uploadId).
    index: std::collections::BTreeSet<(u32, i64, String)>,
}

impl RecordState {
    /// Puts `upload_id` in the expiry index at `at` (`None`: takes it out).
    fn index_at(&mut self, upload_id: &str, shards: u32, at: Option<i64>) {
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
fn raw_sweep(record: &UploadRecord) -> Option<i64> {
    match record.status {
        Status::Initiated => Some(sweep_at(record)),
        Status::Completing => Some(record.completing_since.unwrap_or(0)),
        _ => None,
    }
}

/// Items held by transactions in flight; released when the holder finishes or is dropped.
struct Held<'a> {
    busy: &'a Mutex<HashSet<String>>,
    items: Vec<String>,
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
    state: Mutex<RecordState>,
    faults: Arc<Faults>,
    time: Arc<FakeTime>,
    /// Shards of the expiry index.
    pub shards: u32,
    /// Items a transaction in flight holds.
    busy: Mutex<HashSet<String>>,
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
        state.records.insert(record.upload_id.clone(), record);
    }

    /// Writes a record as a crashed function would have left it (test set-up only).
    pub fn put_raw(&self, record: UploadRecord) {
        let mut state = self.state.lock().unwrap();
        if matches!(record.status, Status::Initiated | Status::Completing) {
            let usage = state.quota.entry(record.owner.clone()).or_default();
            usage.active_uploads += 1;
            usage.bytes_in_flight += record.file_size as i64;
        }
        state.index_at(&record.upload_id, self.shards, raw_sweep(&record));
        state.records.insert(record.upload_id.clone(), record);
    }

    fn create_now(
        &self,
        record: &UploadRecord,
        quota: Quota,
        claim: Option<FingerprintClaim<'_>>,
    ) -> Result<Created, PortError> {
        let mut state = self.state.lock().unwrap();
        let token = format!("create {}", record.upload_id);
        if state.tokens.contains_key(&token) {
            return Ok(Created::Yes);
        }
        let usage = state.quota.get(&record.owner).copied();
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
        if state.records.contains_key(&record.upload_id) {
            // The put's condition failed: the transaction is cancelled on its second item.
            return Err(PortError::new("TransactWriteItems", "put condition failed"));
        }
        let claim_key = claim.map(|c| (record.owner.clone(), c.fingerprint.to_owned()));
        if let (Some(claim), Some(key)) = (claim, &claim_key) {
            let held = state.fingerprints.get(key);
            if held.is_some() && held.map(String::as_str) != claim.replaces {
                return Ok(Created::FingerprintTaken);
            }
        }
        let usage = state.quota.entry(record.owner.clone()).or_default();
        usage.active_uploads += 1;
        usage.bytes_in_flight += record.file_size as i64;
        state
            .records
            .insert(record.upload_id.clone(), record.clone());
        state.index_at(&record.upload_id, self.shards, Some(sweep_at(record)));
        if let Some(key) = claim_key {
            state.fingerprints.insert(key, record.upload_id.clone());
        }
        state.tokens.insert(token, true);
        Ok(Created::Yes)
    }

    fn transition_now(&self, record: &UploadRecord, t: &Transition) -> bool {
        let mut state = self.state.lock().unwrap();
        let token = format!("{} {t:?}", record.upload_id);
        if let Some(done) = state.tokens.get(&token) {
            return *done;
        }
        let Some(stored) = state.records.get_mut(&record.upload_id) else {
            return false;
        };
        if !stored.apply(t) {
            return false;
        }
        let (owner, size) = (stored.owner.clone(), stored.file_size as i64);
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
    async fn transact<T>(
        &self,
        op: &'static str,
        items: Vec<String>,
        apply: impl Fn() -> Result<T, PortError>,
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
    async fn faulty<T>(
        &self,
        op: &'static str,
        apply: impl FnOnce() -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        let verdict = self.faults.enter(&self.time, op).await;
        self.answer(op, verdict, apply)
    }

    /// What a call that met `verdict` answers: `apply` does the work and gives the answer.
    fn answer<T>(
        &self,
        op: &'static str,
        verdict: Verdict,
        apply: impl FnOnce() -> Result<T, PortError>,
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
        &'a self,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<UploadRecord>, PortError>> {
        Box::pin(self.faulty("GetItem", move || Ok(self.record(upload_id))))
    }

    fn create<'a>(
        &'a self,
        record: &'a UploadRecord,
        quota: Quota,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.transact(
            "TransactWriteItems(create)",
            vec![record.upload_id.clone(), quota_item(&record.owner)],
            move || Ok(self.create_now(record, quota, None)? == Created::Yes),
        ))
    }

    fn fingerprint<'a>(
        &'a self,
        owner: &'a str,
        fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>> {
        Box::pin(self.faulty("GetItem(fingerprint)", move || {
            let state = self.state.lock().unwrap();
            Ok(state
                .fingerprints
                .get(&(owner.to_owned(), fingerprint.to_owned()))
                .cloned())
        }))
    }

    fn create_claiming<'a>(
        &'a self,
        record: &'a UploadRecord,
        quota: Quota,
        claim: FingerprintClaim<'a>,
    ) -> BoxFuture<'a, Result<Created, PortError>> {
        Box::pin(self.transact(
            "TransactWriteItems(create)",
            vec![
                record.upload_id.clone(),
                quota_item(&record.owner),
                format!("fp#{}#{}", record.owner, claim.fingerprint),
            ],
            move || self.create_now(record, quota, Some(claim)),
        ))
    }

    fn transition<'a>(
        &'a self,
        record: &'a UploadRecord,
        transition: &'a Transition,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        let mut items = vec![record.upload_id.clone()];
        if transition.releases_quota() {
            items.push(quota_item(&record.owner));
        }
        Box::pin(self.transact(transition_op(transition), items, move || {
            Ok(self.transition_now(record, transition))
        }))
    }

    fn expiry_shards(&self) -> u32 {
        self.shards
    }

    /// Like the sparse expiry index: the unfinished records of one shard, by (sweepAt, uploadId).
    fn due<'a>(
        &'a self,
        shard: u32,
        by: i64,
        start: Option<PageToken>,
        limit: u32,
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
        &'a self,
        owner: &'a str,
        filter: Option<Status>,
        now: i64,
        after: Option<Position>,
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
                        upload_id: r.upload_id.clone(),
                    })
                })
                .flatten();
            Ok((page, next))
        }))
    }

    fn quota_usage<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<QuotaUsage, PortError>> {
        Box::pin(self.faulty("GetItem(quota)", move || Ok(self.usage(owner))))
    }

    /// Like the DynamoDB adapter's conditional `ADD`: all or nothing, never past a limit.
    fn count_rate<'a>(
        &'a self,
        owner: &'a str,
        window: i64,
        _expires_at: i64,
        add: RateUse,
        limit: RateUse,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.faulty("UpdateItem(rate)", move || {
            let mut state = self.state.lock().unwrap();
            let counted = state.rates.entry((owner.to_owned(), window)).or_default();
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
fn quota_item(owner: &str) -> String {
    format!("quota#{owner}")
}

fn transition_op(t: &Transition) -> &'static str {
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

#[derive(Clone, Debug)]
pub struct FakeUpload {
    pub key: String,
    pub parts: BTreeMap<u32, (String, u64)>,
    pub initiated: i64,
}

#[derive(Default)]
struct ObjectState {
    uploads: BTreeMap<String, FakeUpload>,
    objects: HashMap<String, ObjectHead>,
    next: u64,
}

pub struct FakeObjects {
    state: Mutex<ObjectState>,
    faults: Arc<Faults>,
    time: Arc<FakeTime>,
    /// Page size of ListMultipartUploads (S3's is 1,000).
    pub listing_page: usize,
    puts: AtomicU64,
}

impl FakeObjects {
    pub fn new(faults: Arc<Faults>, time: Arc<FakeTime>) -> Self {
        Self {
            state: Mutex::default(),
            faults,
            time,
            listing_page: 1000,
            puts: AtomicU64::new(0),
        }
    }

    /// A phone's PUT of a part to its presigned URL; `false` if the upload is gone.
    pub fn put_part(&self, s3_upload_id: &str, number: u32, size: u64, content: u64) -> bool {
        self.puts.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        let Some(upload) = state.uploads.get_mut(s3_upload_id) else {
            return false;
        };
        let etag = format!(
            "\"{:016x}\"",
            content.wrapping_mul(31).wrapping_add(size) ^ u64::from(number)
        );
        upload.parts.insert(number, (etag, size));
        true
    }

    pub fn uploads(&self) -> Vec<(String, FakeUpload)> {
        let state = self.state.lock().unwrap();
        state
            .uploads
            .iter()
            .map(|(id, u)| (id.clone(), u.clone()))
            .collect()
    }

    /// The parts a multipart upload holds, with their ETags (what a phone collects from its PUTs).
    pub fn etags(&self, s3_upload_id: &str) -> Vec<(u32, String)> {
        let state = self.state.lock().unwrap();
        state.uploads.get(s3_upload_id).map_or_else(Vec::new, |u| {
            u.parts
                .iter()
                .map(|(n, (etag, _))| (*n, etag.clone()))
                .collect()
        })
    }

    pub fn object(&self, key: &str) -> Option<ObjectHead> {
        self.state.lock().unwrap().objects.get(key).cloned()
    }

    pub fn object_count(&self) -> usize {
        self.state.lock().unwrap().objects.len()
    }

    /// Starts a multipart upload outside any use case (test set-up only).
    pub fn create_raw(&self, key: &str) -> String {
        let mut state = self.state.lock().unwrap();
        state.next += 1;
        let id = format!("mpu-{}", state.next);
        state.uploads.insert(
            id.clone(),
            FakeUpload {
                key: key.to_owned(),
                parts: BTreeMap::new(),
                initiated: self.time.now(),
            },
        );
        id
    }

    /// Completes in storage outside any use case (what a dead function did before it died).
    pub fn complete_raw(&self, s3_upload_id: &str) {
        let mut state = self.state.lock().unwrap();
        let upload = state.uploads.remove(s3_upload_id).expect("upload exists");
        let size = upload.parts.values().map(|(_, s)| s).sum();
        state.objects.insert(
            upload.key,
            ObjectHead {
                etag: format!("\"raw-{}\"", upload.parts.len()),
                size,
            },
        );
    }

    /// Drops a multipart upload as a lifecycle rule would.
    pub fn lose(&self, s3_upload_id: &str) {
        self.state.lock().unwrap().uploads.remove(s3_upload_id);
    }

    fn complete_now(
        &self,
        key: &str,
        id: &str,
        parts: &[PartRef],
    ) -> Result<CompletedObject, CompleteError> {
        let mut state = self.state.lock().unwrap();
        let Some(upload) = state.uploads.get(id).filter(|u| u.key == key) else {
            return Err(CompleteError::NoSuchUpload);
        };
        if state.objects.contains_key(key) {
            return Err(CompleteError::KeyExists);
        }
        let refused = |code: &str| CompleteError::Refused {
            code: code.to_owned(),
            message: "refused".into(),
        };
        let mut size = 0;
        for (i, part) in parts.iter().enumerate() {
            if i > 0 && parts[i - 1].number >= part.number {
                return Err(refused("InvalidPartOrder"));
            }
            let Some((etag, part_size)) = upload.parts.get(&part.number) else {
                return Err(refused("InvalidPart"));
            };
            if etag.trim_matches('"') != part.etag.trim_matches('"') {
                return Err(refused("InvalidPart"));
            }
            if i + 1 < parts.len() && *part_size < 5 * MIB {
                return Err(refused("EntityTooSmall"));
            }
            size += part_size;
        }
        let head = ObjectHead {
            etag: format!("\"{:x}-{}\"", size, parts.len()),
            size,
        };
        state.uploads.remove(id);
        state.objects.insert(key.to_owned(), head.clone());
        Ok(CompletedObject {
            etag: head.etag,
            location: format!("http://fake/{key}"),
            checksum: None,
        })
    }
}

impl ObjectStore for FakeObjects {
    fn bucket(&self) -> &str {
        "fake-bucket"
    }

    fn create_multipart<'a>(
        &'a self,
        key: &'a str,
        _content_type: &'a str,
        _content_disposition: &'a str,
        _checksum: Option<ChecksumAlgorithm>,
        _metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<String, PortError>> {
        Box::pin(async move {
            match self.faults.enter(&self.time, "CreateMultipartUpload").await {
                Verdict::Normal => Ok(self.create_raw(key)),
                Verdict::Fail { apply } => {
                    if apply {
                        self.create_raw(key);
                    }
                    Err(injected("CreateMultipartUpload"))
                }
                Verdict::Die => {
                    let id = self.create_raw(key);
                    self.faults.die();
                    Ok(id)
                }
            }
        })
    }

    fn list_parts<'a>(
        &'a self,
        key: &'a str,
        s3_upload_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<StoredPart>>, PortError>> {
        Box::pin(async move {
            let verdict = self.faults.enter(&self.time, "ListParts").await;
            let answer = {
                let state = self.state.lock().unwrap();
                state
                    .uploads
                    .get(s3_upload_id)
                    .filter(|u| u.key == key)
                    .map(|u| {
                        u.parts
                            .iter()
                            .map(|(n, (etag, size))| StoredPart {
                                number: *n,
                                etag: Some(etag.clone()),
                                size: *size,
                                checksum: None,
                            })
                            .collect()
                    })
            };
            match verdict {
                Verdict::Normal => Ok(answer),
                Verdict::Fail { .. } => Err(injected("ListParts")),
                Verdict::Die => {
                    self.faults.die();
                    Ok(answer)
                }
            }
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        s3_upload_id: &'a str,
        parts: &'a [PartRef],
        _checksum: Option<ChecksumAlgorithm>,
        _whole_file: Option<&'a str>,
    ) -> BoxFuture<'a, Result<CompletedObject, CompleteError>> {
        Box::pin(async move {
            match self
                .faults
                .enter(&self.time, "CompleteMultipartUpload")
                .await
            {
                Verdict::Normal => self.complete_now(key, s3_upload_id, parts),
                Verdict::Fail { apply } => {
                    if apply {
                        let _ = self.complete_now(key, s3_upload_id, parts);
                    }
                    Err(CompleteError::Failed(injected("CompleteMultipartUpload")))
                }
                Verdict::Die => {
                    let answer = self.complete_now(key, s3_upload_id, parts);
                    self.faults.die();
                    answer
                }
            }
        })
    }

    fn abort<'a>(
        &'a self,
        key: &'a str,
        s3_upload_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move {
            let verdict = self.faults.enter(&self.time, "AbortMultipartUpload").await;
            let apply = || {
                let mut state = self.state.lock().unwrap();
                match state.uploads.get(s3_upload_id) {
                    Some(u) if u.key == key => state.uploads.remove(s3_upload_id).is_some(),
                    _ => false,
                }
            };
            match verdict {
                Verdict::Normal => Ok(apply()),
                Verdict::Fail { apply: applied } => {
                    if applied {
                        apply();
                    }
                    Err(injected("AbortMultipartUpload"))
                }
                Verdict::Die => {
                    let answer = apply();
                    self.faults.die();
                    Ok(answer)
                }
            }
        })
    }

    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<ObjectHead>, PortError>> {
        Box::pin(async move {
            let verdict = self.faults.enter(&self.time, "HeadObject").await;
            let answer = self.object(key);
            match verdict {
                Verdict::Normal => Ok(answer),
                Verdict::Fail { .. } => Err(injected("HeadObject")),
                Verdict::Die => {
                    self.faults.die();
                    Ok(answer)
                }
            }
        })
    }

    fn multipart_uploads<'a>(
        &'a self,
        prefix: &'a str,
        start: Option<PageToken>,
    ) -> BoxFuture<'a, Result<Paged<MultipartListing>, PortError>> {
        Box::pin(async move {
            let verdict = self.faults.enter(&self.time, "ListMultipartUploads").await;
            let answer = {
                let state = self.state.lock().unwrap();
                let mut all: Vec<MultipartListing> = state
                    .uploads
                    .iter()
                    .filter(|(_, u)| u.key.starts_with(prefix))
                    .map(|(id, u)| MultipartListing {
                        key: u.key.clone(),
                        s3_upload_id: id.clone(),
                        initiated: u.initiated,
                    })
                    .collect();
                all.sort_by(|a, b| (&a.key, &a.s3_upload_id).cmp(&(&b.key, &b.s3_upload_id)));
                let position = |l: &MultipartListing| format!("{}\0{}", l.key, l.s3_upload_id);
                let page: Vec<MultipartListing> = all
                    .into_iter()
                    .filter(|l| start.as_ref().is_none_or(|s| position(l) > s.0))
                    .take(self.listing_page)
                    .collect();
                let next = (page.len() == self.listing_page)
                    .then(|| page.last().map(|l| PageToken(position(l))))
                    .flatten();
                (page, next)
            };
            match verdict {
                Verdict::Normal => Ok(answer),
                Verdict::Fail { .. } => Err(injected("ListMultipartUploads")),
                Verdict::Die => {
                    self.faults.die();
                    Ok(answer)
                }
            }
        })
    }
}

/// One world: fakes, time, metrics and the configuration.
pub struct World {
    pub faults: Arc<Faults>,
    pub time: Arc<FakeTime>,
    pub records: FakeRecords,
    pub objects: FakeObjects,
    pub metrics: FakeMetrics,
    pub config: Config,
    /// Racing requests interleave, so calls are not attributed to one function.
    pub racing: AtomicBool,
}

pub const START: i64 = 1_800_000_000;

impl World {
    pub fn new(vars: &[(&str, &str)]) -> Self {
        let faults = Arc::new(Faults::default());
        let time = Arc::new(FakeTime::at(START));
        let mut all: HashMap<String, String> = [
            ("UPLOADS_BUCKET", "fake-bucket"),
            ("UPLOADS_TABLE", "fake-table"),
            ("MAX_ACTIVE_UPLOADS_PER_USER", "10"),
            ("UPLOAD_TTL_SECONDS", "86400"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Self {
            records: FakeRecords::new(faults.clone(), time.clone()),
            objects: FakeObjects::new(faults.clone(), time.clone()),
            faults,
            time,
            metrics: FakeMetrics::default(),
            config: Config::from_vars(&all).expect("test configuration is valid"),
            racing: AtomicBool::new(false),
        }
    }

    pub fn racing(&self) -> bool {
        self.racing.load(Ordering::SeqCst)
    }

    pub fn ports(&self) -> Ports<'_> {
        Ports {
            records: &self.records,
            objects: &self.objects,
            time: self.time.as_ref(),
            metrics: &self.metrics,
        }
    }
}
