//! How an upload runs: parallelism, retries, timeouts, what storage verifies, metadata.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::digest::Verify;

#[cfg(feature = "fault-injection")]
use super::faults::Faults;

/// How an upload runs.
#[derive(Debug)]
pub struct Options {
    /// Parts in flight at once; memory is about `concurrency × chunkSize`.
    pub concurrency: usize,
    /// Further tries of one failed part (or API call) before giving up.
    pub max_retries: u32,
    /// First backoff pause; doubled per try, capped at `retry_cap`, half of it random.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// URLs per `batch-presigned-urls` request; 0 chooses `4 × concurrency` (at least 8).
    pub urls_per_batch: u32,
    /// Media type sent to `initialize`; `None` guesses from the file name.
    pub content_type: Option<String>,
    /// One part `PUT` may take this long before it counts as failed.
    pub put_timeout: Duration,
    /// Test aid: a pause before each part's first `PUT`, to make runs slow enough to interrupt.
    pub part_delay: Duration,
    /// Test aid, with the `fault-injection` feature only: failures to inject (see [`Faults`]).
    #[cfg(feature = "fault-injection")]
    pub faults: Faults,
    /// How new uploads are verified by storage (resumes follow what the upload was started with):
    /// CRC64NVME of every part and of the whole file by default.
    pub verify: Verify,
    /// User metadata for new uploads (`--meta k=v`), set on the stored object as `x-amz-meta-k`.
    pub metadata: BTreeMap<String, String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_retries: 5,
            retry_base: Duration::from_millis(500),
            retry_cap: Duration::from_secs(30),
            urls_per_batch: 0,
            content_type: None,
            put_timeout: Duration::from_secs(600),
            part_delay: Duration::ZERO,
            #[cfg(feature = "fault-injection")]
            faults: Faults::default(),
            verify: Verify::default(),
            metadata: BTreeMap::new(),
        }
    }
}
