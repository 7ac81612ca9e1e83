//! The model: latency, capacity per key, call counts, and each request's sequential round trips.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use shared::adapters::dynamodb::backoff;
use shared::domain::Status;
use shared::ports::PortError;
use support::Rng;
use tokio::time::Instant;

use super::*;

// ---------------------------------------------------------------------------------------------
// The model: latency, capacity per key, call counts, and each request's sequential round trips.

tokio::task_local! {
    /// The storage calls of the request being handled: (start, end) in virtual microseconds.
    pub(crate) static TRACE: RefCell<Vec<(u64, u64)>>;
}

#[derive(Default)]
pub(crate) struct KeyUse {
    pub(crate) second: u64,
    pub(crate) writes: u64,
    pub(crate) reads: u64,
    pub(crate) peak_writes: u64,
    pub(crate) peak_reads: u64,
}

pub(crate) struct Model {
    pub(crate) start: Instant,
    pub(crate) rng: Mutex<Rng>,
    /// Partition key value -> its use in the current second and its peak.
    pub(crate) keys: Mutex<HashMap<String, KeyUse>>,
    /// S3 prefixes, the same way.
    pub(crate) prefixes: Mutex<HashMap<String, KeyUse>>,
    /// Operation -> calls (attempts included).
    pub(crate) calls: Mutex<BTreeMap<&'static str, u64>>,
    pub(crate) write_units: AtomicU64,
    pub(crate) read_units: AtomicU64,
    pub(crate) throttled: AtomicU64,
    /// Throttled after every retry: the call failed (a 503 if a request made it).
    pub(crate) exhausted: AtomicU64,
    /// What the old `status-expiresAt` index (status as partition key) would have been written.
    pub(crate) legacy: Mutex<HashMap<String, KeyUse>>,
}

impl Model {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            start: Instant::now(),
            rng: Mutex::new(Rng::new(seed)),
            keys: Mutex::default(),
            prefixes: Mutex::default(),
            calls: Mutex::default(),
            write_units: AtomicU64::new(0),
            read_units: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            exhausted: AtomicU64::new(0),
            legacy: Mutex::default(),
        }
    }

    pub(crate) fn micros(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    pub(crate) fn uniform(&self) -> f64 {
        (self.rng.lock().unwrap().next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A log-normal latency with the operation's median and p99.
    pub(crate) fn latency(&self, op: &str) -> Duration {
        let (_, median, p99) = LATENCIES
            .iter()
            .find(|(name, _, _)| *name == op)
            .copied()
            .unwrap_or((op, 5.0, 20.0));
        let z: f64 = (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0;
        let sigma = (p99 / median).ln() / 2.326;
        Duration::from_micros((median * (sigma * z).exp() * 1_000.0) as u64)
    }

    /// Adds `units` to `key` in this second; `false` (and nothing added) past `limit`.
    pub(crate) fn charge(
        table: &Mutex<HashMap<String, KeyUse>>, second: u64, key: &str, units: u64, write: bool,
        limit: u64,
    ) -> bool {
        let mut table = table.lock().unwrap();
        let used = table.entry(key.to_owned()).or_default();
        if used.second != second {
            used.second = second;
            used.writes = 0;
            used.reads = 0;
        }
        let (now, peak) = if write {
            (&mut used.writes, &mut used.peak_writes)
        } else {
            (&mut used.reads, &mut used.peak_reads)
        };
        if *now + units > limit {
            return false;
        }
        *now += units;
        *peak = (*peak).max(*now);
        true
    }

    /// [`Model::charge`] for every key of one call, all or nothing.
    pub(crate) fn charge_all(
        table: &Mutex<HashMap<String, KeyUse>>, second: u64, keys: &[(String, u64, bool)],
    ) -> bool {
        let limit = |write: bool| {
            if write {
                WRITE_UNITS_PER_KEY
            } else {
                READ_UNITS_PER_KEY
            }
        };
        let fits = {
            let table = table.lock().unwrap();
            keys.iter().all(|(key, units, write)| {
                table.get(key).is_none_or(|used| {
                    let now = match (used.second == second, *write) {
                        (false, _) => 0,
                        (true, true) => used.writes,
                        (true, false) => used.reads,
                    };
                    now + units <= limit(*write)
                })
            })
        };
        fits && keys.iter().all(|(key, units, write)| {
            Self::charge(table, second, key, *units, *write, limit(*write))
        })
    }

    pub(crate) fn second(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    /// One call: its latency, then capacity on every key it touches; a throttled call is retried
    /// with backoff up to `attempts` times. `keys`: (partition key value, units, write?).
    pub(crate) async fn call<T>(
        &self, op: &'static str, keys: Vec<(String, u64, bool)>, attempts: u32,
        run: impl std::future::Future<Output = Result<T, PortError>>,
    ) -> Result<T, PortError> {
        let begun = self.micros();
        let mut attempt = 0;
        loop {
            *self.calls.lock().unwrap().entry(op).or_default() += 1;
            tokio::time::sleep(self.latency(op)).await;
            let second = self.second();
            let admitted = Self::charge_all(&self.keys, second, &keys);
            if admitted {
                for (_, units, write) in &keys {
                    let total = if *write {
                        &self.write_units
                    } else {
                        &self.read_units
                    };
                    total.fetch_add(*units, Ordering::Relaxed);
                }
                break;
            }
            self.throttled.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
            if attempt >= attempts {
                self.exhausted.fetch_add(1, Ordering::Relaxed);
                return Err(PortError::contended(
                    op,
                    "ProvisionedThroughputExceededException",
                ));
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        let answer = run.await;
        let ended = self.micros();
        let _ = TRACE.try_with(|trace| trace.borrow_mut().push((begun, ended)));
        answer
    }

    /// S3: a request on `key`'s prefix, over its per-prefix rate or not (S3 answers 503 SlowDown,
    /// which the SDK retries; counted as throttled).
    pub(crate) fn s3(&self, op: &'static str, key: &str, write: bool) {
        *self.calls.lock().unwrap().entry(op).or_default() += 1;
        let prefix: String = key.splitn(3, '/').take(2).collect::<Vec<_>>().join("/");
        let limit = if write {
            S3_WRITES_PER_PREFIX
        } else {
            S3_READS_PER_PREFIX
        };
        if !Self::charge(&self.prefixes, self.second(), &prefix, 1, write, limit) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts what the old status-keyed index would have been written for a status change.
    pub(crate) fn legacy_write(&self, from: Option<Status>, to: Option<Status>) {
        let second = self.second();
        for status in [from, to].into_iter().flatten() {
            let key = format!("status#{}", status.as_str());
            Self::charge(&self.legacy, second, &key, 1, true, u64::MAX);
        }
    }

    pub(crate) fn calls(&self, op: &str) -> u64 {
        self.calls.lock().unwrap().get(op).copied().unwrap_or(0)
    }

    /// The hottest key's peak writes/s: (key, peak, share of its capacity).
    pub(crate) fn hottest(
        table: &Mutex<HashMap<String, KeyUse>>, capacity: u64,
    ) -> (String, u64, f64) {
        table
            .lock()
            .unwrap()
            .iter()
            .max_by_key(|(_, used)| used.peak_writes)
            .map(|(key, used)| {
                (
                    key.clone(),
                    used.peak_writes,
                    used.peak_writes as f64 / capacity as f64,
                )
            })
            .unwrap_or_default()
    }
}

/// The number of sequential round trips in a request's calls: the longest chain of calls each
/// starting after the previous one ended.
pub(crate) fn sequential(calls: &[(u64, u64)]) -> usize {
    let mut sorted = calls.to_vec();
    sorted.sort_by_key(|(_, end)| *end);
    let mut chain = 0;
    let mut free_from = 0;
    for (start, end) in sorted {
        if start >= free_from {
            chain += 1;
            free_from = end;
        }
    }
    chain
}
