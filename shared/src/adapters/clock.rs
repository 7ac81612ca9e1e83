//! The service's notion of "now", injectable so tests can move time forward without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// System time plus an adjustable offset in seconds (zero in production).
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// Moves this clock (and every clone of it) by `secs`, which may be negative.
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn now(&self) -> SystemTime {
        let offset = self.offset_secs.load(Ordering::SeqCst);
        let base = SystemTime::now();
        if offset >= 0 {
            base + Duration::from_secs(offset.unsigned_abs())
        } else {
            base - Duration::from_secs(offset.unsigned_abs())
        }
    }

    /// Whole seconds since the Unix epoch.
    pub fn epoch_secs(&self) -> i64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// RFC 3339 (UTC, whole seconds) for epoch seconds, as the API reports times.
pub fn rfc3339(epoch_secs: i64) -> String {
    aws_sdk_s3::primitives::DateTime::from_secs(epoch_secs)
        .fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
        .unwrap_or_else(|_| epoch_secs.to_string())
}

impl crate::ports::Time for Clock {
    fn now(&self) -> i64 {
        self.epoch_secs()
    }

    fn sleep(&self, duration: Duration) -> crate::ports::BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_every_clone() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = other.epoch_secs();
        clock.advance(3600);
        let after = other.epoch_secs();
        assert!(
            (3599..=3601).contains(&(after - before)),
            "{before} -> {after}"
        );
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
