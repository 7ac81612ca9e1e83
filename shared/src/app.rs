//! The application's wiring: the configuration, the adapters behind each port and the SDK clients,
//! built once at cold start and shared by every request ([`Deps`]).

use std::sync::Arc;

use aws_sdk_dynamodb::config::BehaviorVersion;

use crate::adapters::clock::Clock;
use crate::adapters::metrics::Metrics;
use crate::adapters::presign::{Addressing, Presigner};
use crate::adapters::{DynamoRecords, S3Objects};
use crate::config::{Config, ConfigError};
use crate::ports::{ObjectStore, Ports, RecordStore};

/// What every handler needs, built once at cold start.
#[derive(Clone)]
pub struct Deps {
    pub config: Config,
    pub records: Arc<dyn RecordStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub presigner: Presigner,
    pub clock: Clock,
    pub metrics: Metrics,
    /// The SDK clients behind the adapters, for local set-up and tests.
    pub aws: Aws,
}

#[derive(Clone, Debug)]
pub struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Deps {
    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::new(Config::from_env()?, Clock::system()).await)
    }

    /// SDK clients for `config`. Loads credentials and region lazily: nothing touches the network here.
    pub async fn new(config: Config, clock: Clock) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let mut s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(config.s3_force_path_style)
            // Checksums are the client's choice per part; the SDK must not add its own to URLs.
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .interceptor(crate::adapters::xray::Subsegments::new("S3"));
        if let Some(endpoint) = &config.s3_endpoint {
            s3 = s3.endpoint_url(endpoint);
        }
        let s3 = aws_sdk_s3::Client::from_conf(s3.build());
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(crate::adapters::xray::Subsegments::new("DynamoDB"));
        if let Some(endpoint) = &config.dynamodb_endpoint {
            dynamodb = dynamodb.endpoint_url(endpoint);
        }
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
        // One sink for the handlers and the adapters' retries, so a test's capture sees both.
        let metrics = Metrics::default();
        Self {
            records: Arc::new(
                DynamoRecords::new(dynamodb.clone(), &config.table)
                    .with_expiry_shards(config.expiry_shards)
                    .with_metrics(metrics.clone()),
            ),
            objects: Arc::new(S3Objects::new(s3.clone(), &config.bucket)),
            presigner: Presigner::new(&sdk, &config.bucket, Addressing::of(&config)).await,
            clock,
            metrics,
            aws: Aws { s3, dynamodb },
            config,
        }
    }

    /// The ports the use cases run over.
    pub fn ports(&self) -> Ports<'_> {
        Ports {
            records: self.records.as_ref(),
            objects: self.objects.as_ref(),
            time: &self.clock,
            metrics: &self.metrics,
        }
    }
}
