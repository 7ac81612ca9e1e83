//! Time that moves when told to, and a metrics sink that remembers what it was given.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use shared::metrics::Metric;
use shared::ports::{BoxFuture, MetricsSink, Time};

/// Time that moves only when told to (or when a use case sleeps).
#[derive(Default)]
pub struct FakeTime {
    pub(crate) now: AtomicI64,
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
