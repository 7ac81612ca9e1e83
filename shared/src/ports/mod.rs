//! The ports the use cases run over: the upload-record store (`records.rs`), the multipart object
//! store (`objects.rs`), part-URL signing (`signing.rs`), time, and the metrics sink
//! (`metrics.rs`). Production plugs in DynamoDB, S3, SigV4, the system clock and EMF lines
//! (`adapters/`); tests plug in in-memory fakes with the same semantics and injectable faults.
//!
//! Every call can fail, and a failed call may still have been applied: a use case treats each
//! [`PortError`] as "outcome unknown" and is written so that a retry, or the next cleanup run,
//! converges on the right state.

mod metrics;
mod objects;
mod records;
mod signing;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use self::metrics::{Metric, MetricsSink, Unit};
pub use self::objects::{
    CompleteError, CompletedObject, Expected, MultipartListing, ObjectHead, ObjectStore, PartRef,
    StoredPart,
};
pub use self::records::{
    expiry_shard, sweep_after, sweep_at, Created, FingerprintClaim, Holding, OwnerPage, QuotaUsage,
    RecordStore,
};
pub use self::signing::{PartUrls, UrlSigner};
pub use crate::domain::error::{PortError, SigningError};
pub use crate::domain::limits::{Quota, RateUse};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the next page of a listing starts; opaque to the use cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageToken(pub String);

/// One page of a listing, and where the next one starts.
pub type Paged<T> = (Vec<T>, Option<PageToken>);

/// The service's notion of now, and waiting.
pub trait Time: Send + Sync {
    /// Epoch seconds.
    fn now(&self) -> i64;
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()>;
}

/// Everything a use case talks to.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub records: &'a dyn RecordStore,
    pub objects: &'a dyn ObjectStore,
    pub time: &'a dyn Time,
    pub metrics: &'a dyn MetricsSink,
}
