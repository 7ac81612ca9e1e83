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

mod clock;
mod faults;
mod objects;
mod records;

pub use clock::*;
pub use faults::*;
pub use objects::*;
pub use records::*;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use shared::config::Config;
use shared::ports::Ports;

pub const MIB: u64 = 1024 * 1024;

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
