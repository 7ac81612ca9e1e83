//! The per-user rate limits as a use case over the in-memory record store: fixed one-minute
//! windows, nothing counted when refused, `Retry-After` the seconds left in the window, other users
//! and the next window unaffected, and a failed counter write is a retryable 503, not a pass.

mod support;

use shared::domain::UploadError;
use shared::usecases::rate::admit;
use shared::ApiError;
use support::{Fault, FaultKind, World};
use upload_contract::ErrorCode;

fn refused_after(result: Result<(), UploadError>) -> Option<u32> {
    match result {
        Err(UploadError::RateLimited {
            retry_after_secs, ..
        }) => Some(retry_after_secs),
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(()) => None,
    }
}

#[tokio::test]
async fn requests_are_limited_per_user_and_minute() {
    let world = World::new(&[
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "3"),
        ("RATE_LIMIT_URLS_PER_MINUTE", "0"),
    ]);
    world.time.advance(15); // START is on a minute boundary
    for _ in 0..3 {
        admit(world.ports(), &world.config, &"alice".into(), 0)
            .await
            .unwrap();
    }
    let result = admit(world.ports(), &world.config, &"alice".into(), 0).await;
    assert_eq!(refused_after(result), Some(45));
    let err = ApiError::from(
        admit(world.ports(), &world.config, &"alice".into(), 0)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (429, &ErrorCode::RateLimited)
    );
    assert_eq!(err.retry_after(), Some(45));
    // Another user is not slowed down.
    admit(world.ports(), &world.config, &"bob".into(), 0)
        .await
        .unwrap();
    // The next minute starts afresh.
    world.time.advance(45);
    admit(world.ports(), &world.config, &"alice".into(), 0)
        .await
        .unwrap();
}

#[tokio::test]
async fn urls_are_limited_and_a_refused_batch_counts_nothing() {
    let world = World::new(&[
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "0"),
        ("MAX_PARTS_PER_BATCH", "10"),
        ("RATE_LIMIT_URLS_PER_MINUTE", "25"),
    ]);
    admit(world.ports(), &world.config, &"alice".into(), 10)
        .await
        .unwrap();
    admit(world.ports(), &world.config, &"alice".into(), 10)
        .await
        .unwrap();
    let result = admit(world.ports(), &world.config, &"alice".into(), 10).await;
    assert_eq!(refused_after(result), Some(60));
    admit(world.ports(), &world.config, &"alice".into(), 5)
        .await
        .unwrap();
    assert!(refused_after(admit(world.ports(), &world.config, &"alice".into(), 1).await).is_some());
    // Requests that ask for no URL are not URL-limited.
    admit(world.ports(), &world.config, &"alice".into(), 0)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_counter_write_is_retryable_not_a_pass() {
    let world = World::new(&[("RATE_LIMIT_REQUESTS_PER_MINUTE", "3")]);
    world.faults.arm(Some(Fault {
        call: 0,
        kind: FaultKind::Error,
    }));
    let err = admit(world.ports(), &world.config, &"alice".into(), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::Unavailable(_)), "{err:?}");
    assert_eq!(ApiError::from(err).status().as_u16(), 503);
    assert_eq!(world.faults.calls(), ["UpdateItem(rate)"]);
}

#[tokio::test]
async fn no_limits_means_no_write() {
    let world = World::new(&[
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "0"),
        ("RATE_LIMIT_URLS_PER_MINUTE", "0"),
    ]);
    admit(world.ports(), &world.config, &"alice".into(), 1000)
        .await
        .unwrap();
    assert!(world.faults.calls().is_empty());
}
