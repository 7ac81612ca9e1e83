//! What one run counts: live [`Counters`] shared by its tasks, read out as [`Stats`] at the end.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counts of one run.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Parts storage held that differ from the local bytes (or could not be checked): sent again.
    pub parts_differing: u64,
    /// Completes storage refused because the whole file's checksum did not match what it held.
    pub checksum_mismatches: u64,
    /// Part `PUT` requests made (first tries and retries).
    pub puts: u64,
    /// Tries after a failure (parts and API calls).
    pub retries: u64,
    /// Part URLs fetched again after storage answered `403`.
    pub url_refreshes: u64,
    /// `batch-presigned-urls` requests.
    pub url_batches: u64,
    /// Parts this run stored.
    pub parts_uploaded: u64,
    /// Parts storage held before this run started.
    pub parts_already_stored: u64,
    pub bytes_uploaded: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub parts_differing: AtomicU64,
    pub checksum_mismatches: AtomicU64,
    pub puts: AtomicU64,
    pub retries: AtomicU64,
    pub url_refreshes: AtomicU64,
    pub url_batches: AtomicU64,
    pub parts_uploaded: AtomicU64,
    pub bytes_uploaded: AtomicU64,
}

impl Counters {
    pub fn stats(&self, already_stored: u64) -> Stats {
        Stats {
            puts: self.puts.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            url_refreshes: self.url_refreshes.load(Ordering::Relaxed),
            url_batches: self.url_batches.load(Ordering::Relaxed),
            parts_uploaded: self.parts_uploaded.load(Ordering::Relaxed),
            parts_differing: self.parts_differing.load(Ordering::Relaxed),
            checksum_mismatches: self.checksum_mismatches.load(Ordering::Relaxed),
            parts_already_stored: already_stored,
            bytes_uploaded: self.bytes_uploaded.load(Ordering::Relaxed),
        }
    }
}
