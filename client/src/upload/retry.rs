//! Trying again: API calls retried while they fail transiently, and the backoff pause (exponential,
//! capped, with jitter) that parts and API calls wait between tries.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

use super::options::Options;
use super::progress::Progress;
use super::stats::Counters;

/// Runs an API call, trying again after a pause while it fails transiently.
pub(super) async fn retry_api<T, F, Fut>(
    options: &Options, progress: &dyn Progress, counters: Option<&Counters>, mut call: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match call().await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_transient() && tries <= options.max_retries => {
                let wait = backoff(options, tries);
                if let Some(counters) = counters {
                    counters.retries.fetch_add(1, Ordering::Relaxed);
                }
                progress.retrying(0, &err.to_string(), tries + 1, wait);
                tokio::time::sleep(wait).await;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The pause after failed try `tries` (1-based): `retry_base × 2^(tries-1)`, at most `retry_cap`,
/// of which a random half ("equal jitter"), so parts that failed together do not retry together.
pub fn backoff(options: &Options, tries: u32) -> Duration {
    let exponent = tries.saturating_sub(1).min(20);
    let full = options
        .retry_base
        .saturating_mul(1u32 << exponent)
        .min(options.retry_cap);
    let half = full / 2;
    half + half.mul_f64(random_unit())
}

/// A number in [0, 1) from a xorshift generator seeded by the clock; jitter needs no more.
fn random_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x2545_F491_4F6C_DD1D)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let options = Options {
            retry_base: Duration::from_millis(100),
            retry_cap: Duration::from_millis(1000),
            ..Options::default()
        };
        for _ in 0..100 {
            let first = backoff(&options, 1);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = backoff(&options, 3);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            let late = backoff(&options, 40);
            assert!((Duration::from_millis(500)..=Duration::from_millis(1000)).contains(&late));
        }
    }
}
