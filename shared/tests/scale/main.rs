//! The scale simulation (`make scale`; a scaled-down run is part of `make test`).
//!
//! It drives the real endpoints ([`Endpoint::handle`]) and the real cleanup over the in-memory
//! fakes, in virtual time (tokio's paused clock), through a model of what production adds:
//! - per-operation latency distributions (log-normal, from a median and a p99) for DynamoDB, S3,
//!   Lambda and API Gateway ([`LATENCIES`]; BENCHMARKS.md, "Scale", names the sources);
//! - DynamoDB capacity per partition key value, for the table and for each index: 1,000 write
//!   units/s and 3,000 read units/s. A call over it is throttled as DynamoDB throttles it, and
//!   retried with backoff like the SDK (and the adapter, for transactions) retries it;
//! - S3 request rates per prefix (`uploads/<owner>/`): 3,500 writes/s and 5,500 reads/s,
//!   counting the phones' part PUTs;
//! - API Gateway token buckets per route (429), and Lambda reserved concurrency per function (a
//!   throttled invocation reaches the client as API Gateway's 500);
//! - transaction conflicts: the fakes cancel one of two transactions that touch one item at the
//!   same virtual instant, and the adapter's retry takes it again.
//!
//! Four workloads, each printed as a table: a ramp to the highest sustained uploads/s (template
//! defaults, then account limits raised), one user starting 1,000 uploads at once, 10,000 uploads/s
//! of 1 GiB across 100,000 users, and a cleanup draining 100,000 stale uploads. `SCALE=full` runs
//! them at those sizes ([`FULL`]); without it ([`SMALL`], `make test`) it runs a fiftieth of the
//! load. Both assert the goals and the round-trip budgets.

#[path = "../support/mod.rs"]
mod support;

use shared::Endpoint;

const GIB: u64 = 1 << 30;
const WRITE_UNITS_PER_KEY: u64 = 1_000;
const READ_UNITS_PER_KEY: u64 = 3_000;
const S3_WRITES_PER_PREFIX: u64 = 3_500;
const S3_READS_PER_PREFIX: u64 = 5_500;

/// Median and p99 latency (ms) of each operation (BENCHMARKS.md, "Scale", has the sources).
const LATENCIES: &[(&str, f64, f64)] = &[
    ("GetItem", 3.0, 10.0),
    ("Query", 5.0, 15.0),
    ("UpdateItem", 4.0, 12.0),
    ("TransactWriteItems", 9.0, 30.0),
    ("CreateMultipartUpload", 25.0, 100.0),
    ("ListParts", 25.0, 100.0),
    ("CompleteMultipartUpload", 60.0, 250.0),
    ("AbortMultipartUpload", 20.0, 80.0),
    ("HeadObject", 15.0, 60.0),
    ("ListMultipartUploads", 30.0, 120.0),
    ("ApiGateway", 6.0, 20.0),
    ("LambdaInvoke", 2.0, 12.0),
];

/// Prices (us-east-1, on-demand, December 2026 price pages; BENCHMARKS.md cites them), in $.
const S3_PUT_CLASS: f64 = 0.005 / 1_000.0;
const S3_GET_CLASS: f64 = 0.0004 / 1_000.0;
const DDB_WRITE_UNIT: f64 = 0.625 / 1_000_000.0;
const DDB_READ_UNIT: f64 = 0.125 / 1_000_000.0;
const LAMBDA_REQUEST: f64 = 0.20 / 1_000_000.0;
const LAMBDA_GB_SECOND_ARM: f64 = 0.000_013_333_4;
const LAMBDA_MEMORY_GB: f64 = 0.25;
const HTTP_API_REQUEST: f64 = 1.00 / 1_000_000.0;

/// The sizes of one run.
struct Sizes {
    default_steps: &'static [u64],
    raised_steps: &'static [u64],
    step_secs: u64,
    burst: u64,
    steady_rate: u64,
    users: u64,
    file_size: u64,
    stale: u64,
}

const FULL: Sizes = Sizes {
    default_steps: &[250, 500, 1_000, 2_000],
    raised_steps: &[5_000, 10_000, 20_000],
    step_secs: 3,
    burst: 1_000,
    steady_rate: 10_000,
    users: 100_000,
    file_size: GIB,
    stale: 100_000,
};

/// `make test`'s run (a debug build): the same code paths at a fiftieth of the load, files of
/// 64 MiB (8 parts), so it takes seconds.
const SMALL: Sizes = Sizes {
    default_steps: &[100, 200],
    raised_steps: &[200, 400],
    step_secs: 1,
    burst: 1_000,
    steady_rate: 200,
    users: 2_000,
    file_size: 64 << 20,
    stale: 2_000,
};

fn main() {
    let full = std::env::var("SCALE").is_ok_and(|v| v == "full");
    let sizes = if full { FULL } else { SMALL };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let wall = std::time::Instant::now();
    runtime.block_on(async {
        println!(
            "## Scale simulation ({})",
            if full {
                "SCALE=full"
            } else {
                "scaled down; SCALE=full for the full run"
            }
        );
        let s = &sizes;
        let toured = tour().await;
        toured.print();
        let defaults = ramp(DEFAULTS, "template defaults", s).await;
        defaults.print();
        let raised = ramp(RAISED, "account limits raised", s).await;
        raised.print();
        let one_user = burst(s.burst).await;
        one_user.print();
        let steady = steady(s).await;
        steady.print();
        let drained = drain(s.stale).await;
        drained.print();
        let listed = listing_budget().await;
        println!(
            "\nOne listing page of 40 unfinished uploads: {listed} ListParts calls (budget 8)."
        );
        println!("\nin {:.1} s of wall time", wall.elapsed().as_secs_f64());

        // The goals and budgets this change holds (docs/scale.md).
        let mut failed = Vec::new();
        let mut check = |ok: bool, what: String| {
            if !ok {
                failed.push(what);
            }
        };
        for report in [&toured, &defaults, &raised, &one_user, &steady, &drained] {
            check(
                report.r503 == 0,
                format!("{}: {} x 503", report.title, report.r503),
            );
            check(
                report.r5xx == 0,
                format!("{}: {} x 5xx", report.title, report.r5xx),
            );
        }
        check(
            one_user.conflicts > 0,
            "the burst met no transaction conflict".into(),
        );
        check(
            steady.hottest.2 <= 0.5,
            format!("hottest key at {:.0}%", steady.hottest.2 * 100.0),
        );
        check(
            steady.uploads_per_sec >= 0.99 * s.steady_rate as f64,
            format!("steady: {} uploads/s", steady.uploads_per_sec),
        );
        check(
            drained.stale_quota == 0,
            format!("{} quota shares left after the sweep", drained.stale_quota),
        );
        check(listed <= 8, format!("listing made {listed} ListParts"));
        for (endpoint, budget) in BUDGETS {
            check(
                toured.answered(*endpoint),
                format!("the tour got no 2xx from {}", endpoint.name()),
            );
            for report in [&toured, &raised, &steady] {
                let trips = report.trips(*endpoint);
                check(
                    trips <= *budget,
                    format!(
                        "{}: {} made {trips} round trips, budget {budget}",
                        report.title,
                        endpoint.name()
                    ),
                );
            }
        }
        if !failed.is_empty() {
            for what in &failed {
                println!("FAILED: {what}");
            }
            std::process::exit(1);
        }
        println!("scale: every goal and budget held");
    });
}

/// Sequential round trips each endpoint may take on the happy path (docs/scale.md). The listing's
/// second is its storage calls, at most 8, sent at once.
const BUDGETS: &[(Endpoint, usize)] = &[
    (Endpoint::Initialize, 3),
    (Endpoint::PresignedUrl, 1),
    (Endpoint::BatchPresignedUrls, 1),
    (Endpoint::ListParts, 2),
    (Endpoint::Status, 2),
    (Endpoint::Complete, 3),
    (Endpoint::Abort, 2),
    (Endpoint::ListUploads, 2),
];

mod front;
mod model;
mod report;
mod stores;
mod workloads;
use front::*;
use model::*;
use report::*;
use stores::*;
use workloads::*;
