//! Typed configuration, read once at cold start from environment variables. A missing or malformed
//! variable fails start-up with its name, instead of failing some request later.

use std::collections::HashMap;

use crate::domain::sizing::{MAX_PART_SIZE, MIB, MIN_PART_SIZE, TIB};
/// SigV4 presigned URLs live at most seven days.
pub const MAX_PRESIGN_SECS: u64 = 7 * 24 * 3600;
/// The most URLs one batch answer may hold and still fit Lambda's 6 MB response payload in the
/// worst case: about 3.2 KB per entry (a key of 1,050 bytes once percent-encoded, a session token
/// of up to 1,400 bytes encoded, the upload id, query, signature, `headers`, and the escaping of
/// the body inside the API Gateway response envelope), so 1,500 entries stay under 5 MB.
/// `template.yaml` gives `MaxPartsPerBatch` the same `MaxValue`.
pub const MAX_BATCH_FOR_RESPONSE: u32 = 1_500;

#[derive(Clone, Debug)]
pub struct Config {
    /// `UPLOADS_BUCKET` (required).
    pub bucket: String,
    /// `UPLOADS_TABLE` (required).
    pub table: String,
    /// `S3_ENDPOINT_URL`: only for local S3 servers; unset in AWS.
    pub s3_endpoint: Option<String>,
    /// `S3_FORCE_PATH_STYLE`: path-style URLs (local servers); default false.
    pub s3_force_path_style: bool,
    /// `S3_ACCELERATE`: part URLs on the bucket's S3 Transfer Acceleration endpoint
    /// (`bucket.s3-accelerate.amazonaws.com`); the bucket must have acceleration enabled. The
    /// service's own S3 calls stay on the regional endpoint. Default false.
    pub s3_accelerate: bool,
    /// `S3_DUAL_STACK`: part URLs on the dual-stack (IPv4 and IPv6) endpoint, for IPv6-only mobile
    /// networks behind NAT64. Default false.
    pub s3_dual_stack: bool,
    /// `DYNAMODB_ENDPOINT_URL`: only for a local DynamoDB; unset in AWS.
    pub dynamodb_endpoint: Option<String>,
    /// `MAX_FILE_SIZE` in bytes; default 5 TiB.
    pub max_file_size: u64,
    /// `ALLOWED_CONTENT_TYPES`: comma-separated, `type/*` wildcards allowed; empty = any.
    pub allowed_content_types: Vec<String>,
    /// `PREFERRED_PART_SIZE` in bytes; grows per file so that no file needs more than 10,000 parts.
    pub preferred_part_size: u64,
    /// `UPLOAD_TTL_SECONDS`: how long an upload may take from initialize to complete; default 7 days.
    pub upload_ttl_secs: u64,
    /// `PRESIGNED_URL_TTL_SECONDS`: lifetime of one part URL; default 1 hour, at most 7 days.
    pub presigned_url_ttl_secs: u64,
    /// `MAX_PARTS_PER_BATCH`: URLs per batch request; default 1,000.
    pub max_parts_per_batch: u32,
    /// `RECORD_RETENTION_SECONDS`: how long a record is kept after its upload expires; default 30 days.
    pub record_retention_secs: u64,
    /// `MAX_BODY_BYTES`: request bodies above this get 413; default 1 MiB (10,000 parts fit).
    pub max_body_bytes: usize,
    /// `MAX_ACTIVE_UPLOADS_PER_USER`: unfinished uploads one user may have at once; default 100.
    pub max_active_uploads_per_user: u64,
    /// `MAX_BYTES_IN_FLIGHT_PER_USER`: declared bytes of one user's unfinished uploads; default 10 TiB.
    pub max_bytes_in_flight_per_user: u64,
    /// `CLEANUP_MAX_ABORTS`: aborts one cleanup run makes at most; the rest wait for the next run.
    pub cleanup_max_aborts: usize,
    /// `EXPIRY_SHARDS`: key values the sparse expiry index spreads unfinished uploads over (1 to
    /// 1,000); default 16. Raise it freely; never lower it (docs/scale.md).
    pub expiry_shards: u32,
    /// `RATE_LIMIT_REQUESTS_PER_MINUTE`: API requests one user may make per minute; default 600;
    /// 0 = no limit. Counted atomically in DynamoDB; over it: 429 `RATE_LIMITED` with Retry-After.
    pub rate_limit_requests_per_minute: u64,
    /// `RATE_LIMIT_URLS_PER_MINUTE`: part URLs one user may ask for per minute; default 20,000;
    /// 0 = no limit.
    pub rate_limit_urls_per_minute: u64,
    /// `ABORT_INCOMPLETE_MULTIPART_UPLOAD_DAYS`: the bucket's backstop lifecycle rule, as the
    /// template sets it (unset locally); it must outlast `UPLOAD_TTL_SECONDS`, or storage would
    /// abort uploads that are still allowed to finish.
    pub abort_incomplete_days: Option<u64>,
    /// `COMPLETION_WAIT_SECONDS`: how long a complete waits for a concurrent one to finish; default 20 s.
    pub completion_wait_secs: u64,
    /// `COMPLETING_STALE_SECONDS`: a completion older than this lost its function (Lambda's limit is
    /// 15 minutes) and is taken over; default 960 s.
    pub completing_stale_secs: u64,
    /// `REQUIRE_CHECKSUM`: initialize without `checksumAlgorithm` gets 400 `CHECKSUM_REQUIRED`;
    /// for deployments whose clients all send one. Default false (shipped apps send none).
    pub require_checksum: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads the configuration from a map of variables (the environment, or a test's own).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = Vars(vars);
        let config = Self {
            bucket: env.required("UPLOADS_BUCKET")?,
            table: env.required("UPLOADS_TABLE")?,
            s3_endpoint: env.optional("S3_ENDPOINT_URL"),
            s3_force_path_style: env.parse("S3_FORCE_PATH_STYLE", false)?,
            s3_accelerate: env.parse("S3_ACCELERATE", false)?,
            s3_dual_stack: env.parse("S3_DUAL_STACK", false)?,
            dynamodb_endpoint: env.optional("DYNAMODB_ENDPOINT_URL"),
            max_file_size: env.parse("MAX_FILE_SIZE", 5 * TIB)?,
            allowed_content_types: env
                .optional("ALLOWED_CONTENT_TYPES")
                .map(|list| {
                    list.split(',')
                        .map(|t| t.trim().to_ascii_lowercase())
                        .filter(|t| !t.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            preferred_part_size: env.parse("PREFERRED_PART_SIZE", 8 * MIB)?,
            upload_ttl_secs: env.parse("UPLOAD_TTL_SECONDS", 7 * 24 * 3600)?,
            presigned_url_ttl_secs: env.parse("PRESIGNED_URL_TTL_SECONDS", 3600)?,
            max_parts_per_batch: env.parse("MAX_PARTS_PER_BATCH", 1000)?,
            record_retention_secs: env.parse("RECORD_RETENTION_SECONDS", 30 * 24 * 3600)?,
            max_body_bytes: env.parse("MAX_BODY_BYTES", MIB as usize)?,
            completion_wait_secs: env.parse("COMPLETION_WAIT_SECONDS", 20)?,
            rate_limit_requests_per_minute: env.parse("RATE_LIMIT_REQUESTS_PER_MINUTE", 600)?,
            abort_incomplete_days: env
                .optional("ABORT_INCOMPLETE_MULTIPART_UPLOAD_DAYS")
                .map(|_| env.parse("ABORT_INCOMPLETE_MULTIPART_UPLOAD_DAYS", 0))
                .transpose()?,
            rate_limit_urls_per_minute: env.parse("RATE_LIMIT_URLS_PER_MINUTE", 20_000)?,
            completing_stale_secs: env.parse("COMPLETING_STALE_SECONDS", 16 * 60)?,
            require_checksum: env.parse("REQUIRE_CHECKSUM", false)?,
            cleanup_max_aborts: env.parse("CLEANUP_MAX_ABORTS", 1000)?,
            expiry_shards: env.parse("EXPIRY_SHARDS", 16)?,
            max_active_uploads_per_user: env.parse("MAX_ACTIVE_UPLOADS_PER_USER", 100)?,
            max_bytes_in_flight_per_user: env.parse("MAX_BYTES_IN_FLIGHT_PER_USER", 10 * TIB)?,
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let fail = |name, problem: &str| {
            Err(ConfigError {
                name,
                problem: problem.to_owned(),
            })
        };
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.preferred_part_size) {
            return fail("PREFERRED_PART_SIZE", "must be between 5 MiB and 5 GiB");
        }
        if self.max_file_size == 0 || self.max_file_size > MAX_PART_SIZE * 10_000 {
            return fail(
                "MAX_FILE_SIZE",
                "must be between 1 byte and 10,000 parts of 5 GiB",
            );
        }
        if !(1..=MAX_PRESIGN_SECS).contains(&self.presigned_url_ttl_secs) {
            return fail(
                "PRESIGNED_URL_TTL_SECONDS",
                "must be between 1 and 604800 (7 days)",
            );
        }
        if self.upload_ttl_secs == 0 {
            return fail("UPLOAD_TTL_SECONDS", "must be at least 1");
        }
        if self.s3_accelerate && (self.s3_force_path_style || self.s3_endpoint.is_some()) {
            return fail(
                "S3_ACCELERATE",
                "cannot be combined with S3_FORCE_PATH_STYLE or S3_ENDPOINT_URL (acceleration \
                 needs AWS's virtual-hosted accelerate endpoint)",
            );
        }
        if self.s3_dual_stack && self.s3_endpoint.is_some() {
            return fail(
                "S3_DUAL_STACK",
                "cannot be combined with S3_ENDPOINT_URL (a custom endpoint has no dual-stack twin)",
            );
        }
        if !(1..=MAX_BATCH_FOR_RESPONSE).contains(&self.max_parts_per_batch) {
            return fail(
                "MAX_PARTS_PER_BATCH",
                "must be between 1 and 1500 (a larger batch of URLs with session tokens can pass \
                 Lambda's 6 MB response limit)",
            );
        }
        if let Some(days) = self.abort_incomplete_days {
            if days.saturating_mul(86_400) <= self.upload_ttl_secs {
                return fail(
                    "ABORT_INCOMPLETE_MULTIPART_UPLOAD_DAYS",
                    "must exceed the upload lifetime (UPLOAD_TTL_SECONDS), or the bucket's lifecycle \
                     rule aborts uploads that may still finish",
                );
            }
        }
        if self.max_active_uploads_per_user == 0 {
            return fail("MAX_ACTIVE_UPLOADS_PER_USER", "must be at least 1");
        }
        if self.max_bytes_in_flight_per_user == 0 {
            return fail("MAX_BYTES_IN_FLIGHT_PER_USER", "must be at least 1");
        }
        if self.rate_limit_urls_per_minute != 0
            && self.rate_limit_urls_per_minute < u64::from(self.max_parts_per_batch)
        {
            return fail(
                "RATE_LIMIT_URLS_PER_MINUTE",
                "must be 0 (no limit) or at least MAX_PARTS_PER_BATCH, or a full batch never passes",
            );
        }
        if !(1..=1000).contains(&self.expiry_shards) {
            return fail("EXPIRY_SHARDS", "must be between 1 and 1000");
        }
        if self.max_body_bytes < 1024 {
            return fail("MAX_BODY_BYTES", "must be at least 1024");
        }
        Ok(())
    }
}

struct Vars<'a>(&'a HashMap<String, String>);

impl Vars<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        self.0
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or_else(|| ConfigError {
            name,
            problem: "is required but not set".to_owned(),
        })
    }

    fn parse<T: std::str::FromStr>(
        &self, name: &'static str, default: T,
    ) -> Result<T, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| ConfigError {
                name,
                problem: format!("cannot parse {raw:?}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_apply() {
        let c =
            Config::from_vars(&vars(&[("UPLOADS_BUCKET", "b1"), ("UPLOADS_TABLE", "t")])).unwrap();
        assert_eq!(c.max_file_size, 5 * TIB);
        assert_eq!(c.presigned_url_ttl_secs, 3600);
        assert_eq!(c.max_parts_per_batch, 1000);
        assert!(c.allowed_content_types.is_empty());
        assert!(c.s3_endpoint.is_none());
    }

    #[test]
    fn missing_variable_is_named() {
        let err = Config::from_vars(&vars(&[("UPLOADS_TABLE", "t")])).unwrap_err();
        assert_eq!(err.name, "UPLOADS_BUCKET");
    }

    #[test]
    fn malformed_and_out_of_range_values_are_named() {
        let base = [("UPLOADS_BUCKET", "b1"), ("UPLOADS_TABLE", "t")];
        for (name, value) in [
            ("MAX_FILE_SIZE", "lots"),
            ("PREFERRED_PART_SIZE", "1024"),
            ("PRESIGNED_URL_TTL_SECONDS", "604801"),
            ("MAX_PARTS_PER_BATCH", "0"),
            ("MAX_PARTS_PER_BATCH", "1501"),
            ("RATE_LIMIT_URLS_PER_MINUTE", "999"),
        ] {
            let mut v = vars(&base);
            v.insert(name.into(), value.into());
            assert_eq!(Config::from_vars(&v).unwrap_err().name, name);
        }
    }

    #[test]
    fn acceleration_and_dual_stack_need_aws_endpoints() {
        let with = |pairs: &[(&str, &str)]| {
            let mut v = vars(&[("UPLOADS_BUCKET", "b1"), ("UPLOADS_TABLE", "t")]);
            for (k, val) in pairs {
                v.insert((*k).into(), (*val).into());
            }
            Config::from_vars(&v)
        };
        let c = with(&[("S3_ACCELERATE", "true"), ("S3_DUAL_STACK", "true")]).unwrap();
        assert!(c.s3_accelerate && c.s3_dual_stack);
        let c = with(&[]).unwrap();
        assert!(!c.s3_accelerate && !c.s3_dual_stack);
        for (pairs, name) in [
            (
                &[("S3_ACCELERATE", "true"), ("S3_FORCE_PATH_STYLE", "true")][..],
                "S3_ACCELERATE",
            ),
            (
                &[
                    ("S3_ACCELERATE", "true"),
                    ("S3_ENDPOINT_URL", "http://127.0.0.1:9000"),
                ][..],
                "S3_ACCELERATE",
            ),
            (
                &[
                    ("S3_DUAL_STACK", "true"),
                    ("S3_ENDPOINT_URL", "http://127.0.0.1:9000"),
                ][..],
                "S3_DUAL_STACK",
            ),
            (&[("S3_ACCELERATE", "yes please")][..], "S3_ACCELERATE"),
        ] {
            assert_eq!(with(pairs).unwrap_err().name, name, "{pairs:?}");
        }
    }

    #[test]
    fn the_lifecycle_rule_must_outlast_an_upload() {
        let base = [("UPLOADS_BUCKET", "b1"), ("UPLOADS_TABLE", "t")];
        let with = |days: &str, ttl: &str| {
            let mut v = vars(&base);
            v.insert("ABORT_INCOMPLETE_MULTIPART_UPLOAD_DAYS".into(), days.into());
            v.insert("UPLOAD_TTL_SECONDS".into(), ttl.into());
            Config::from_vars(&v)
        };
        assert_eq!(with("8", "604800").unwrap().abort_incomplete_days, Some(8));
        assert_eq!(
            with("7", "604800").unwrap_err().name,
            "ABORT_INCOMPLETE_MULTIPART_UPLOAD_DAYS"
        );
        assert_eq!(
            with("1", "90000").unwrap_err().name,
            "ABORT_INCOMPLETE_MULTIPART_UPLOAD_DAYS"
        );
        assert!(with("1", "3600").is_ok());
    }

    #[test]
    fn content_type_list_is_normalised() {
        let c = Config::from_vars(&vars(&[
            ("UPLOADS_BUCKET", "b1"),
            ("UPLOADS_TABLE", "t"),
            ("ALLOWED_CONTENT_TYPES", " video/* , Image/JPEG,,"),
        ]))
        .unwrap();
        assert_eq!(c.allowed_content_types, vec!["video/*", "image/jpeg"]);
    }
}
