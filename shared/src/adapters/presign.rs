//! Presigned UploadPart URLs. Signing is local computation (no S3 call); each URL is bound to one
//! bucket, key, upload id and part number, and expires when the caller asks, never later, and
//! never after the credentials that signed it.
//!
//! The signing itself is [`super::sigv4`]; this module supplies what it needs and keeps it warm:
//! - the bucket's endpoint, resolved once by aws-sdk-s3's own endpoint resolver (so virtual-hosted
//!   vs path-style, custom endpoints, dots in bucket names all follow the SDK's rules);
//! - credentials from the normal provider chain, cached and refreshed before they expire (in
//!   Lambda: the role's temporary credentials with their session token);
//! - the signing key, derived once per credentials, day and region.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use tokio::sync::Mutex;

use crate::adapters::sigv4::{
    BucketEndpoint, PartSigner, SigningCredentials, SigningKey, MAX_EXPIRES,
};
use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::error::SigningError;
use crate::domain::ids::{ObjectKey, PartNumber, S3UploadId};
use crate::ports::{BoxFuture, PartUrls, UrlSigner};

/// Temporary credentials are replaced this long before they expire, so that a URL signed just
/// before the switch still has a useful life.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, Debug)]
pub struct Presigner {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    provider: Option<SharedCredentialsProvider>,
    /// The endpoint and signing region, or why there is none (reported when signing is asked for,
    /// so that a misconfiguration is an error response, not a crash at cold start).
    target: Result<(BucketEndpoint, String), String>,
    cache: Mutex<Option<Cached>>,
}

struct Cached {
    credentials: Credentials,
    key: SigningKey,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("credentials", &self.credentials) // redacts the secret itself
            .finish_non_exhaustive()
    }
}

/// How part URLs address the bucket: the S3 client's settings of the same names.
#[derive(Clone, Copy, Debug, Default)]
pub struct Addressing<'a> {
    /// A custom endpoint (local S3 servers); `None` in AWS.
    pub endpoint: Option<&'a str>,
    pub force_path_style: bool,
    /// S3 Transfer Acceleration (`bucket.s3-accelerate.amazonaws.com`).
    pub accelerate: bool,
    /// Dual-stack (IPv4 and IPv6) endpoints.
    pub dual_stack: bool,
}

impl<'a> Addressing<'a> {
    /// The addressing `config` asks for.
    pub fn of(config: &'a crate::config::Config) -> Self {
        Self {
            endpoint: config.s3_endpoint.as_deref(),
            force_path_style: config.s3_force_path_style,
            accelerate: config.s3_accelerate,
            dual_stack: config.s3_dual_stack,
        }
    }
}

/// What a batch of part URLs was signed for: the signer, and when its URLs stop working.
pub struct Signed {
    pub signer: PartSigner,
    pub expires_at: SystemTime,
}

impl Presigner {
    /// A presigner for `bucket` with the SDK configuration's credentials and region.
    pub async fn new(sdk: &SdkConfig, bucket: &str, addressing: Addressing<'_>) -> Self {
        let region = sdk.region().map(|r| r.to_string());
        let target = match region {
            None => Err("no AWS region configured (set AWS_REGION)".to_owned()),
            Some(region) => resolve(bucket, &region, addressing).await,
        };
        Self::with_target(sdk.credentials_provider(), target)
    }

    /// A presigner with fixed credentials, for tests and benchmarks.
    pub async fn with_credentials(
        credentials: Credentials, bucket: &str, region: &str, endpoint: Option<&str>,
        force_path_style: bool,
    ) -> Self {
        let addressing = Addressing {
            endpoint,
            force_path_style,
            ..Addressing::default()
        };
        Self::with_addressing(credentials, bucket, region, addressing).await
    }

    /// [`Presigner::with_credentials`] with any addressing (acceleration, dual-stack).
    pub async fn with_addressing(
        credentials: Credentials, bucket: &str, region: &str, addressing: Addressing<'_>,
    ) -> Self {
        let target = resolve(bucket, region, addressing).await;
        Self::with_target(Some(SharedCredentialsProvider::new(credentials)), target)
    }

    /// Why this presigner cannot sign, if it cannot (an endpoint the SDK's rules refuse).
    pub fn unusable(&self) -> Option<&str> {
        self.inner.target.as_ref().err().map(String::as_str)
    }

    fn with_target(
        provider: Option<SharedCredentialsProvider>,
        target: Result<(BucketEndpoint, String), String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                provider,
                target,
                cache: Mutex::new(None),
            }),
        }
    }

    /// A signer for the parts of one upload, valid from `signed_at` until `wanted_expiry` or the
    /// credentials' own expiry, whichever comes first (AWS rejects a URL once the session token
    /// that signed it has expired, whatever `X-Amz-Expires` says).
    pub async fn for_upload(
        &self, key: &str, s3_upload_id: &str, checksum: Option<ChecksumAlgorithm>,
        signed_at: SystemTime, wanted_expiry: SystemTime,
    ) -> Result<Signed, SigningError> {
        let (endpoint, region) = self
            .inner
            .target
            .as_ref()
            .map_err(|why| SigningError::new("resolving the S3 endpoint", &Message(why)))?;
        let (credentials, signing_key) = self.credentials(signed_at, region).await?;
        let mut expires_at = wanted_expiry.min(signed_at + MAX_EXPIRES);
        if let Some(credentials_expiry) = credentials.expiry() {
            expires_at = expires_at.min(credentials_expiry);
        }
        let lifetime = expires_at
            .duration_since(signed_at)
            .unwrap_or_default()
            .max(Duration::from_secs(1));
        let signer = PartSigner::new(
            endpoint,
            region,
            &SigningCredentials {
                access_key_id: credentials.access_key_id(),
                session_token: credentials.session_token(),
                key: &signing_key,
            },
            key,
            s3_upload_id,
            checksum,
            signed_at,
            lifetime,
        );
        Ok(Signed {
            signer,
            expires_at: signed_at + lifetime,
        })
    }

    /// Current credentials and their signing key for `at`'s day, from the cache when still good.
    async fn credentials(
        &self, at: SystemTime, region: &str,
    ) -> Result<(Credentials, SigningKey), SigningError> {
        let mut cache = self.inner.cache.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|expiry| expiry > at + REFRESH_BEFORE_EXPIRY)
        };
        match cache.as_mut() {
            Some(cached) if fresh(&cached.credentials) => {
                if !cached.key.is_for(at) {
                    cached.key = SigningKey::derive(
                        cached.credentials.secret_access_key(),
                        at,
                        region,
                        "s3",
                    );
                }
            }
            _ => {
                let provider = self.inner.provider.as_ref().ok_or_else(|| {
                    SigningError::new("loading AWS credentials", &Message("none configured"))
                })?;
                let credentials = provider
                    .provide_credentials()
                    .await
                    .map_err(|e| SigningError::new("loading AWS credentials", &e))?;
                if credentials.expiry().is_some_and(|expiry| expiry <= at) {
                    return Err(SigningError::new(
                        "loading AWS credentials",
                        &Message("the provider returned expired credentials"),
                    ));
                }
                let key = SigningKey::derive(credentials.secret_access_key(), at, region, "s3");
                *cache = Some(Cached { credentials, key });
            }
        }
        let cached = cache.as_ref().expect("filled above");
        Ok((cached.credentials.clone(), cached.key.clone()))
    }
}

/// The bucket's endpoint and signing region, by the SDK's endpoint rules (no network).
async fn resolve(
    bucket: &str, region: &str, addressing: Addressing<'_>,
) -> Result<(BucketEndpoint, String), String> {
    let params = Params::builder()
        .bucket(bucket)
        .region(region)
        .force_path_style(addressing.force_path_style)
        .accelerate(addressing.accelerate)
        .use_dual_stack(addressing.dual_stack)
        .set_endpoint(addressing.endpoint.map(str::to_owned))
        .build()
        .map_err(|e| e.to_string())?;
    let resolved = DefaultResolver::new()
        .resolve_endpoint(&params)
        .await
        .map_err(|e| e.to_string())?;
    let parsed = BucketEndpoint::parse(resolved.url())
        .ok_or_else(|| format!("unusable S3 endpoint {}", resolved.url()))?;
    let signing_region = resolved
        .properties()
        .get("authSchemes")
        .and_then(|schemes| schemes.as_array())
        .and_then(|schemes| schemes.first())
        .and_then(|scheme| scheme.as_object())
        .and_then(|scheme| scheme.get("signingRegion"))
        .and_then(|r| r.as_string())
        .unwrap_or(region)
        .to_owned();
    Ok((parsed, signing_region))
}

impl PartUrls for Signed {
    fn url(&self, part: PartNumber, length: u64, checksum: Option<&str>) -> String {
        self.signer.url(part.get(), length, checksum)
    }

    fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

impl UrlSigner for Presigner {
    fn sign_upload<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
        checksum: Option<ChecksumAlgorithm>, signed_at: SystemTime, wanted_expiry: SystemTime,
    ) -> BoxFuture<'a, Result<Box<dyn PartUrls>, SigningError>> {
        Box::pin(async move {
            let signed = self
                .for_upload(key, s3_upload_id, checksum, signed_at, wanted_expiry)
                .await?;
            Ok(Box::new(signed) as Box<dyn PartUrls>)
        })
    }
}

#[derive(Debug)]
struct Message<'a>(&'a str);

impl std::fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Message<'_> {}

/// A presigned URL with its signature cut off, for logs: the URL is a bearer credential.
pub fn redact(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_the_query() {
        assert_eq!(
            redact("https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&partNumber=1"),
            "https://b.s3.amazonaws.com/k"
        );
        assert_eq!(redact("https://host/k"), "https://host/k");
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[tokio::test]
    async fn url_expiry_is_capped_at_the_credentials_expiry() {
        let creds = Credentials::new(
            "AKID",
            "secret",
            Some("token".into()),
            Some(at(10_000)),
            "t",
        );
        let presigner =
            Presigner::with_credentials(creds, "bucket", "eu-west-3", None, false).await;
        let signed = presigner
            .for_upload("k", "u", None, at(1_000), at(50_000))
            .await
            .unwrap();
        assert_eq!(signed.expires_at, at(10_000));
        assert!(signed
            .signer
            .url(1, 5, None)
            .contains("X-Amz-Expires=9000&"));

        let signed = presigner
            .for_upload("k", "u", None, at(1_000), at(2_000))
            .await
            .unwrap();
        assert_eq!(signed.expires_at, at(2_000));
    }

    #[tokio::test]
    async fn the_configuration_chooses_accelerated_and_dual_stack_urls() {
        let mut vars: std::collections::HashMap<String, String> = [
            ("UPLOADS_BUCKET", "uploads-1"),
            ("UPLOADS_TABLE", "t"),
            ("S3_ACCELERATE", "true"),
            ("S3_DUAL_STACK", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let url = |config: crate::config::Config| async move {
            let creds = Credentials::new("AKID", "secret", None, None, "t");
            let presigner = Presigner::with_addressing(
                creds,
                &config.bucket,
                "eu-west-3",
                Addressing::of(&config),
            )
            .await;
            let signed = presigner
                .for_upload("k", "u", None, at(0), at(60))
                .await
                .unwrap();
            redact(&signed.signer.url(1, 5, None)).to_owned()
        };
        let config = crate::config::Config::from_vars(&vars).unwrap();
        assert_eq!(
            url(config).await,
            "https://uploads-1.s3-accelerate.dualstack.amazonaws.com/k"
        );
        vars.insert("S3_ACCELERATE".into(), "false".into());
        let config = crate::config::Config::from_vars(&vars).unwrap();
        assert_eq!(
            url(config).await,
            "https://uploads-1.s3.dualstack.eu-west-3.amazonaws.com/k"
        );
    }

    #[tokio::test]
    async fn url_expiry_never_exceeds_seven_days() {
        let creds = Credentials::new("AKID", "secret", None, None, "t");
        let presigner = Presigner::with_credentials(creds, "bucket", "us-east-1", None, true).await;
        let signed = presigner
            .for_upload("k", "u", None, at(0), at(30 * 86_400))
            .await
            .unwrap();
        assert_eq!(signed.expires_at, at(604_800));
    }

    #[tokio::test]
    async fn expired_credentials_are_an_error_not_a_dead_url() {
        let creds = Credentials::new("AKID", "secret", Some("t".into()), Some(at(500)), "t");
        let presigner = Presigner::with_credentials(creds, "bucket", "us-east-1", None, true).await;
        let err = presigner
            .for_upload("k", "u", None, at(1_000), at(2_000))
            .await
            .err()
            .expect("expired credentials must not sign");
        assert_eq!(err.context, "loading AWS credentials");
        assert!(err.detail.contains("expired"), "{err}");
    }
}
