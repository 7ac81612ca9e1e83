//! The business metrics the use cases count, with their units, and the sink they go to.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Bytes => "Bytes",
            Self::Seconds => "Seconds",
        }
    }
}

/// The metrics this service emits, with their units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    UploadsInitiated,
    UploadsCompleted,
    UploadsAborted,
    UploadsExpired,
    BytesCompleted,
    PartsPresigned,
    ClientErrors,
    /// Initialize to complete.
    CompletionLatency,
    /// A request answered 5xx (handled 503s included), by `Dependency` and `ErrorCode`.
    ServerErrors,
    /// A call an adapter retried (throttled, conflicting transaction), by `Dependency` and
    /// `ErrorCode`; the request may still have succeeded.
    DependencyRetries,
    /// Cleanup: stale or stuck uploads and orphans found in one run.
    CleanupFound,
    /// Cleanup: uploads aborted, expired or settled in one run.
    CleanupAborted,
    /// Cleanup: uploads seen but left for the next run (at its abort limit or deadline); a lower
    /// bound, as pages not read are not counted.
    CleanupLeft,
    /// Cleanup: 1 when the run stopped before it was done, else 0.
    CleanupIncomplete,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Self::UploadsInitiated => "UploadsInitiated",
            Self::UploadsCompleted => "UploadsCompleted",
            Self::UploadsAborted => "UploadsAborted",
            Self::UploadsExpired => "UploadsExpired",
            Self::BytesCompleted => "BytesCompleted",
            Self::PartsPresigned => "PartsPresigned",
            Self::ClientErrors => "ClientErrors",
            Self::CompletionLatency => "CompletionLatency",
            Self::ServerErrors => "ServerErrors",
            Self::DependencyRetries => "DependencyRetries",
            Self::CleanupFound => "CleanupFound",
            Self::CleanupAborted => "CleanupAborted",
            Self::CleanupLeft => "CleanupLeft",
            Self::CleanupIncomplete => "CleanupIncomplete",
        }
    }

    /// Whether it is counted per `Function` (errors), rather than once for the service.
    pub fn per_function(self) -> bool {
        matches!(
            self,
            Self::ClientErrors | Self::ServerErrors | Self::DependencyRetries
        )
    }

    pub fn unit(self) -> Unit {
        match self {
            Self::BytesCompleted => Unit::Bytes,
            Self::CompletionLatency => Unit::Seconds,
            _ => Unit::Count,
        }
    }
}

/// Where business metrics go.
pub trait MetricsSink: Send + Sync {
    fn emit(&self, function: &str, dimensions: &[(&str, &str)], values: &[(Metric, f64)]);
}
