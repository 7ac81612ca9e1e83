//! Benchmark of one cleanup run: creates N stale uploads (default 300; `BENCH_UPLOADS`) on the
//! local stack, moves the clock past their expiry, runs one sweep and prints how long it took and
//! how many AWS calls it made per upload. Run it with `scripts/bench-cleanup.sh`.

use std::time::{Duration, Instant};

use shared::cleanup::{self, Limits};
use shared::domain::ids::ObjectKey;
use shared::domain::{Status, UploadRecord};
use shared::{Clock, Config, Deps};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    shared::lambda::init_tracing();
    let moto =
        std::env::var("TEST_MOTO_URL").map_err(|_| "run through scripts/bench-cleanup.sh")?;
    let count: usize = std::env::var("BENCH_UPLOADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let name = testkit::config::unique_name("bench");
    let vars = testkit::vars(&[
        ("UPLOADS_BUCKET", &name),
        ("UPLOADS_TABLE", &name),
        ("S3_ENDPOINT_URL", &moto),
        ("DYNAMODB_ENDPOINT_URL", &moto),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("CLEANUP_MAX_ABORTS", "1000000"),
    ]);
    let deps = Deps::new(Config::from_vars(&vars)?, Clock::system()).await;
    local_api::bootstrap(&deps).await?;

    let setup = Instant::now();
    let now = deps.clock.epoch_secs();
    for i in 0..count {
        let upload_id = uuid::Uuid::new_v4().to_string();
        let owner = format!("user-{}", i % 50);
        let key = ObjectKey::from(format!("uploads/{owner}/{upload_id}/bench.bin"));
        let s3_upload_id = deps
            .objects
            .create_multipart(
                &key,
                "application/octet-stream",
                "attachment",
                None,
                &Default::default(),
            )
            .await?;
        let record = UploadRecord {
            upload_id: upload_id.into(),
            owner: owner.into(),
            key,
            s3_upload_id,
            file_name: "bench.bin".into(),
            file_type: "application/octet-stream".into(),
            metadata: Default::default(),
            file_size: 100,
            part_size: 5 << 20,
            total_parts: 1,
            checksum_algorithm: None,
            status: Status::Initiated,
            created_at: now,
            expires_at: now + 60,
            ttl: now + 3600,
            completing_since: None,
            completion: None,
        };
        deps.records
            .create(&record, shared::ports::Quota::UNLIMITED)
            .await?;
    }
    println!(
        "created {count} stale uploads in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    deps.clock.advance(120);
    let started = Instant::now();
    let summary = cleanup::run(
        &deps,
        &Limits {
            max_aborts: usize::MAX,
            deadline: Instant::now() + Duration::from_secs(3600),
        },
    )
    .await;
    let elapsed = started.elapsed();
    println!("one cleanup run over {count} stale uploads (moto on 127.0.0.1, 2 cores):");
    println!(
        "  time            {:.2} s ({:.2} ms per upload)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / count as f64
    );
    println!("  aborted         {}", summary.aborted);
    println!("  errors          {}", summary.errors);
    println!(
        "  AWS calls       {} ({:.2} per upload)",
        summary.aws_calls,
        summary.aws_calls as f64 / count as f64
    );
    if summary.aborted as usize != count || summary.errors > 0 {
        return Err(format!("unexpected summary: {summary:?}").into());
    }
    Ok(())
}
