//! What one workload measured, printed as a table.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use shared::Endpoint;

use super::*;

pub(crate) fn percentile(values: &mut [u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// What one workload measured.
pub(crate) struct Report {
    pub(crate) title: String,
    pub(crate) uploads_per_sec: f64,
    /// Endpoint -> (round trips (max), p50 ms, p99 ms, 2xx).
    pub(crate) endpoints: Vec<(&'static str, usize, f64, f64, u64)>,
    pub(crate) r429: u64,
    pub(crate) r503: u64,
    pub(crate) r5xx: u64,
    pub(crate) codes: BTreeMap<String, u64>,
    pub(crate) hottest: (String, u64, f64),
    pub(crate) legacy_hottest: (String, u64, f64),
    pub(crate) conflicts: u64,
    pub(crate) throttled: u64,
    pub(crate) cost: (f64, f64),
    pub(crate) extra: Vec<String>,
    /// Quota shares still counted for stale uploads after the cleanup (workload 4).
    pub(crate) stale_quota: i64,
}

impl Report {
    pub(crate) fn of(sim: &Sim, title: impl Into<String>, uploads_per_sec: f64) -> Self {
        let mut endpoints = Vec::new();
        let mut codes = BTreeMap::new();
        for (name, stats) in sim.stats.lock().unwrap().iter_mut() {
            let ok = stats
                .statuses
                .iter()
                .filter(|(s, _)| **s < 300)
                .map(|(_, n)| n)
                .sum();
            let trips = stats.round_trips.iter().copied().max().unwrap_or(0);
            let p50 = percentile(&mut stats.latencies_us, 0.5) as f64 / 1_000.0;
            let p99 = percentile(&mut stats.latencies_us, 0.99) as f64 / 1_000.0;
            endpoints.push((*name, trips, p50, p99, ok));
            for (code, n) in &stats.codes {
                *codes.entry(code.clone()).or_default() += n;
            }
        }
        Self {
            title: title.into(),
            uploads_per_sec,
            endpoints,
            r429: sim.count(|s| s == 429),
            r503: sim.count(|s| s == 503),
            r5xx: sim.count(|s| s >= 500),
            codes,
            hottest: Model::hottest(&sim.model.keys, WRITE_UNITS_PER_KEY),
            legacy_hottest: Model::hottest(&sim.model.legacy, WRITE_UNITS_PER_KEY),
            conflicts: sim.records.fake.conflicts.load(Ordering::Relaxed),
            throttled: sim.model.throttled.load(Ordering::Relaxed),
            cost: sim.cost_per_thousand(),
            extra: Vec::new(),
            stale_quota: 0,
        }
    }

    pub(crate) fn print(&self) {
        println!("\n### {}\n", self.title);
        println!("| endpoint | sequential round trips | p50 ms | p99 ms | 2xx |");
        println!("|---|---:|---:|---:|---:|");
        for (name, trips, p50, p99, ok) in &self.endpoints {
            println!("| {name} | {trips} | {p50:.1} | {p99:.1} | {ok} |");
        }
        println!();
        println!("| figure | value |");
        println!("|---|---|");
        println!("| uploads/s sustained | {:.0} |", self.uploads_per_sec);
        println!(
            "| 429 / 503 / all 5xx | {} / {} / {} |",
            self.r429, self.r503, self.r5xx
        );
        let codes: Vec<String> = self.codes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        println!(
            "| error codes | {} |",
            if codes.is_empty() {
                "none".into()
            } else {
                codes.join(", ")
            }
        );
        println!(
            "| hottest key, peak writes/s | `{}` {} ({:.0}% of 1,000) |",
            self.hottest.0,
            self.hottest.1,
            self.hottest.2 * 100.0
        );
        println!(
            "| the old status index's hottest key would have had | `{}` {} ({:.0}% of 1,000) |",
            self.legacy_hottest.0,
            self.legacy_hottest.1,
            self.legacy_hottest.2 * 100.0
        );
        println!(
            "| transaction conflicts retried / throttled calls | {} / {} |",
            self.conflicts, self.throttled
        );
        if self.cost.1 > 0.0 {
            println!(
                "| $ per 1,000 uploads (S3 requests alone) | {:.4} ({:.4}, {:.3}x) |",
                self.cost.0,
                self.cost.1,
                self.cost.0 / self.cost.1
            );
        }
        for line in &self.extra {
            println!("{line}");
        }
    }

    /// Whether `endpoint` answered a 2xx in this workload.
    pub(crate) fn answered(&self, endpoint: Endpoint) -> bool {
        self.endpoints
            .iter()
            .any(|(name, .., ok)| *name == endpoint.name() && *ok > 0)
    }

    pub(crate) fn trips(&self, endpoint: Endpoint) -> usize {
        self.endpoints
            .iter()
            .find(|(name, ..)| *name == endpoint.name())
            .map_or(0, |e| e.1)
    }
}
