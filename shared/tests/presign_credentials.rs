//! Credentials for presigning come from the provider chain and rotate (in Lambda: the role's
//! temporary credentials). The presigner refreshes them before they expire, signs with the new key
//! id, and never issues a URL that outlives the credentials that signed it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use shared::adapters::presign::{Addressing, Presigner};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Hands out credentials number n, valid for one hour from `issued`, counting the calls.
fn rotating(calls: Arc<AtomicU64>, issued: Arc<AtomicU64>) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(aws_credential_types::credential_fn::provide_credentials_fn(
        move || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            let from = issued.load(Ordering::SeqCst);
            async move {
                Ok(Credentials::new(
                    format!("ASIAKEY{n}"),
                    format!("secret-{n}"),
                    Some(format!("token-{n}")),
                    Some(at(from + 3600)),
                    "rotating",
                ))
            }
        },
    ))
}

#[tokio::test]
async fn credentials_are_refreshed_before_expiry_and_cap_the_url() {
    let calls = Arc::new(AtomicU64::new(0));
    let issued = Arc::new(AtomicU64::new(1_000_000));
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-3"))
        .credentials_provider(rotating(calls.clone(), issued.clone()))
        .build();
    let presigner = Presigner::new(&sdk, "uploads", Addressing::default()).await;
    let sign = |now: u64, wanted: u64| {
        let presigner = presigner.clone();
        async move {
            let signed = presigner
                .for_upload("k", "u", None, at(now), at(wanted))
                .await
                .unwrap();
            (signed.signer.url(1, 5, None), signed.expires_at)
        }
    };

    // Fresh credentials: one provider call, URL lives as long as asked.
    let (url, expires) = sign(1_000_000, 1_000_600).await;
    assert!(url.contains("X-Amz-Credential=ASIAKEY1%2F"), "{url}");
    assert!(url.contains("X-Amz-Security-Token=token-1"), "{url}");
    assert_eq!(expires, at(1_000_600));
    // Cached: no second call while they are good.
    sign(1_001_000, 1_001_600).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // 40 minutes before expiry, asking for an hour: capped at the credentials' expiry.
    let (url, expires) = sign(1_001_200, 1_004_800).await;
    assert_eq!(expires, at(1_003_600));
    assert!(url.contains("X-Amz-Expires=2400&"), "{url}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Within 5 minutes of expiry the provider is asked again, and the new key id signs.
    issued.store(1_003_400, Ordering::SeqCst);
    let (url, expires) = sign(1_003_400, 1_004_000).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(url.contains("X-Amz-Credential=ASIAKEY2%2F"), "{url}");
    assert!(url.contains("X-Amz-Security-Token=token-2"), "{url}");
    assert_eq!(expires, at(1_004_000));
}
