//! Per-user rate limits: requests per minute and part URLs per minute, counted in one counter item
//! per user and minute (fixed windows aligned on the minute) by one atomic conditional write, so
//! concurrent functions can never let a user past a limit together. A refused request adds
//! nothing, and is told how many seconds remain in the window. Other users have their own items:
//! one user at a limit slows nobody else down.

use crate::config::Config;
use crate::domain::ids::Owner;
use crate::domain::UploadError;
use crate::ports::{Ports, RateUse};

/// The length of a rate window.
pub const WINDOW_SECS: i64 = 60;
/// How long a counter item outlives its window before DynamoDB's TTL may remove it.
const KEEP_AFTER_SECS: i64 = 3600;

/// The configured limits per window (`0`: no limit).
pub fn limits(config: &Config) -> RateUse {
    RateUse {
        requests: config.rate_limit_requests_per_minute,
        urls: config.rate_limit_urls_per_minute,
    }
}

/// Counts one request asking for `urls` part URLs against `owner`'s limits; refuses with
/// [`UploadError::RateLimited`] when either would pass its limit in the current window.
pub async fn admit(
    ports: Ports<'_>, config: &Config, owner: &Owner, urls: u64,
) -> Result<(), UploadError> {
    let limit = limits(config);
    if limit.requests == 0 && limit.urls == 0 {
        return Ok(());
    }
    let now = ports.time.now();
    let window = now - now.rem_euclid(WINDOW_SECS);
    let add = RateUse { requests: 1, urls };
    let admitted = ports
        .records
        .count_rate(
            owner,
            window,
            window + WINDOW_SECS + KEEP_AFTER_SECS,
            add,
            limit,
        )
        .await?;
    if admitted {
        Ok(())
    } else {
        Err(UploadError::RateLimited {
            limit,
            retry_after_secs: (window + WINDOW_SECS - now).max(1) as u32,
        })
    }
}
