//! Business metrics as CloudWatch Embedded Metric Format: one JSON line on stdout per event, which
//! CloudWatch Logs turns into metrics. No API call and no latency on the request path.
//!
//! Each metric is counted once per dimension set the dashboard and the alarms read:
//! - business counters (uploads initiated, completed, expired, ...) and the cleanup's backlog under
//!   `Service` only, whichever function counted them (a completion settled by `status` or by the
//!   cleanup is still one completion); the line names the function as a plain property;
//! - errors per `Function`, and per `Function` with their cause: `ErrorCode` for client errors,
//!   `Dependency` (dynamodb, s3, none) and `ErrorCode` for server errors and dependency retries.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::ports::{Metric, MetricsSink};

pub const NAMESPACE: &str = "MultipartUpload";
/// The value of the `Service` dimension of the business metrics.
pub const SERVICE: &str = "multipart-upload";

tokio::task_local! {
    /// The function serving the current request or run, for metrics emitted below the use cases
    /// (an adapter's retry) that are not told which function they serve.
    static CURRENT_FUNCTION: &'static str;
}

/// Runs `work` with `function` as the function that [`Metrics::dependency_retry`] reports.
pub async fn in_function<F: std::future::Future>(function: &'static str, work: F) -> F::Output {
    CURRENT_FUNCTION.scope(function, work).await
}

/// The function set by [`in_function`], else `unknown`.
pub fn current_function() -> &'static str {
    CURRENT_FUNCTION.try_with(|f| *f).unwrap_or("unknown")
}

/// The service a failed call went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    DynamoDb,
    S3,
    /// The function's own fault (rendering, configuration, credentials).
    None,
}

impl Dependency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DynamoDb => "dynamodb",
            Self::S3 => "s3",
            Self::None => "none",
        }
    }

    /// The service of an adapter operation (`GetItem`, `ListParts`, ... as [`PortError::call`]
    /// names it), from the IAM action it needs.
    ///
    /// [`PortError::call`]: crate::ports::PortError
    pub fn of_call(call: &str) -> Self {
        match super::iam::iam_actions(call).first() {
            Some(action) if action.starts_with("dynamodb:") => Self::DynamoDb,
            Some(action) if action.starts_with("s3:") => Self::S3,
            _ => Self::None,
        }
    }
}

/// The `ErrorCode` of a throttled call (DynamoDB throttling, S3 `SlowDown`).
pub const THROTTLED: &str = "THROTTLED";

/// The `ErrorCode` of a 5xx that is the function's own fault (rendering, configuration, credentials).
pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";

/// The `ErrorCode` of a 502 for storage holding something that cannot be right.
pub const STORAGE_INCONSISTENT: &str = "INCONSISTENT";

/// The `ErrorCode` of a dependency's failure, from the SDK's error chain: what on-call acts on
/// (throttling, conflicting transactions, timeouts, the service's own 5xx).
pub fn dependency_cause(detail: &str) -> &'static str {
    let has = |needles: &[&str]| needles.iter().any(|n| detail.contains(n));
    if has(&[
        "Throttling",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "SlowDown",
        "TooManyRequests",
    ]) {
        THROTTLED
    } else if has(&["TransactionConflict", "TransactionInProgress"]) {
        "TRANSACTION_CONFLICT"
    } else if has(&["timed out", "timeout", "Timeout"]) {
        "TIMEOUT"
    } else if has(&["dispatch failure", "connection", "Connection"]) {
        "UNREACHABLE"
    } else if has(&[
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "status code: 5",
    ]) {
        "DEPENDENCY_5XX"
    } else {
        "DEPENDENCY_ERROR"
    }
}

/// Writes EMF lines to stdout, or into a buffer while a test captures them.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    captured: Arc<Mutex<Option<Vec<String>>>>,
}

impl Metrics {
    /// Emits `values` for `function` with extra `dimensions` as one EMF line.
    pub fn emit(&self, function: &str, dimensions: &[(&str, &str)], values: &[(Metric, f64)]) {
        let line = emf_line(function, dimensions, values, now_millis()).to_string();
        match self.captured.lock() {
            Ok(mut guard) => match guard.as_mut() {
                Some(lines) => lines.push(line),
                None => println!("{line}"),
            },
            Err(_) => println!("{line}"),
        }
    }

    /// A 5xx answer of `function`: counted per function, and per function, dependency and code.
    pub fn server_error(&self, function: &str, dependency: Dependency, code: &str) {
        self.emit(
            function,
            &[("Dependency", dependency.as_str()), ("ErrorCode", code)],
            &[(Metric::ServerErrors, 1.0)],
        );
    }

    /// The hook for an adapter that retries a call itself (a throttled or conflicting DynamoDB
    /// transaction): counted like a server error, under the function [`in_function`] names, so
    /// retries stay visible even when the request succeeds in the end.
    pub fn dependency_retry(&self, dependency: Dependency, code: &str) {
        self.emit(
            current_function(),
            &[("Dependency", dependency.as_str()), ("ErrorCode", code)],
            &[(Metric::DependencyRetries, 1.0)],
        );
    }

    /// From now on lines go to a buffer instead of stdout (tests).
    pub fn capture(&self) {
        if let Ok(mut guard) = self.captured.lock() {
            guard.get_or_insert_with(Vec::new);
        }
    }

    /// Drops the lines captured so far (long simulations keep only what they count).
    pub fn clear_captured(&self) {
        if let Ok(mut guard) = self.captured.lock() {
            if let Some(lines) = guard.as_mut() {
                lines.clear();
            }
        }
    }

    /// The lines captured so far.
    pub fn captured(&self) -> Vec<String> {
        self.captured
            .lock()
            .ok()
            .and_then(|guard| guard.clone())
            .unwrap_or_default()
    }
}

impl MetricsSink for Metrics {
    fn emit(&self, function: &str, dimensions: &[(&str, &str)], values: &[(Metric, f64)]) {
        Metrics::emit(self, function, dimensions, values)
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The EMF document: `_aws` metadata naming the metrics, then dimension and metric values as
/// top-level members. Per-function metrics are declared under `[Function]` and, with extra
/// `dimensions`, also under `[Function, ...dimensions]`; the others under `[Service]` alone, the
/// function and the extra dimensions staying plain members of the line (for Logs Insights).
pub fn emf_line(
    function: &str, dimensions: &[(&str, &str)], values: &[(Metric, f64)], timestamp: u64,
) -> Value {
    let definitions = |per_function: bool| -> Vec<Value> {
        values
            .iter()
            .filter(|(metric, _)| metric.per_function() == per_function)
            .map(|(metric, _)| json!({ "Name": metric.name(), "Unit": metric.unit().as_str() }))
            .collect()
    };
    let mut directives = Vec::new();
    let service = definitions(false);
    if !service.is_empty() {
        directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": [["Service"]],
            "Metrics": service,
        }));
    }
    let per_function = definitions(true);
    if !per_function.is_empty() {
        let mut sets = vec![json!(["Function"])];
        if !dimensions.is_empty() {
            let mut names = vec![Value::from("Function")];
            names.extend(dimensions.iter().map(|(name, _)| Value::from(*name)));
            sets.push(Value::Array(names));
        }
        directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": sets,
            "Metrics": per_function,
        }));
    }
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": directives,
        }),
    );
    root.insert("Service".into(), Value::from(SERVICE));
    root.insert("Function".into(), Value::from(function));
    for (name, value) in dimensions {
        root.insert((*name).into(), Value::from(*value));
    }
    for (metric, value) in values {
        root.insert(metric.name().into(), Value::from(*value));
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_valid_emf() {
        let line = emf_line(
            "complete",
            &[],
            &[
                (Metric::UploadsCompleted, 1.0),
                (Metric::BytesCompleted, 42.0),
            ],
            1_700_000_000_000,
        );
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Service"]]));
        assert_eq!(line["Service"], SERVICE);
        assert_eq!(
            directive["Metrics"],
            json!([{ "Name": "UploadsCompleted", "Unit": "Count" }, { "Name": "BytesCompleted", "Unit": "Bytes" }])
        );
        assert_eq!(line["Function"], "complete");
        assert_eq!(line["BytesCompleted"], 42.0);
    }

    #[test]
    fn extra_dimensions_are_declared_and_valued() {
        let line = emf_line(
            "initialize",
            &[("ErrorCode", "INVALID_FILE_SIZE")],
            &[(Metric::ClientErrors, 1.0)],
            0,
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"], ["Function", "ErrorCode"]])
        );
        assert_eq!(line["ErrorCode"], "INVALID_FILE_SIZE");
    }

    #[test]
    fn business_counters_are_counted_once_whichever_function_counts_them() {
        let by_status = emf_line("status", &[], &[(Metric::UploadsCompleted, 1.0)], 0);
        let by_cleanup = emf_line(
            "cleanup-stale-uploads",
            &[],
            &[(Metric::UploadsCompleted, 1.0)],
            0,
        );
        for line in [&by_status, &by_cleanup] {
            let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
            assert_eq!(directives.len(), 1);
            assert_eq!(directives[0]["Dimensions"], json!([["Service"]]));
        }
        assert_eq!(by_cleanup["Function"], "cleanup-stale-uploads");
    }

    #[test]
    fn server_errors_carry_function_dependency_and_code() {
        let metrics = Metrics::default();
        metrics.capture();
        metrics.server_error("complete", Dependency::DynamoDb, "THROTTLED");
        let line: Value = serde_json::from_str(&metrics.captured()[0]).unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            directive["Dimensions"],
            json!([["Function"], ["Function", "Dependency", "ErrorCode"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([{ "Name": "ServerErrors", "Unit": "Count" }])
        );
        assert_eq!(line["Function"], "complete");
        assert_eq!(line["Dependency"], "dynamodb");
        assert_eq!(line["ErrorCode"], "THROTTLED");
    }

    #[tokio::test]
    async fn a_retry_is_counted_under_the_function_it_serves() {
        let metrics = Metrics::default();
        metrics.capture();
        metrics.dependency_retry(Dependency::S3, "THROTTLED");
        in_function("abort", async {
            metrics.dependency_retry(Dependency::DynamoDb, "TRANSACTION_CONFLICT")
        })
        .await;
        let lines: Vec<Value> = metrics
            .captured()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["Function"], "unknown");
        assert_eq!(lines[1]["Function"], "abort");
        assert_eq!(lines[1]["Dependency"], "dynamodb");
        assert_eq!(lines[1]["DependencyRetries"], 1.0);
    }

    #[test]
    fn causes_are_read_from_the_sdks_own_errors() {
        use aws_sdk_dynamodb::operation::get_item::GetItemError;
        use aws_sdk_dynamodb::types::error::ThrottlingException;
        use aws_sdk_s3::error::ErrorMetadata;
        use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError;
        let throttled = GetItemError::ThrottlingException(
            ThrottlingException::builder()
                .message("Rate exceeded")
                .build(),
        );
        let chain = crate::domain::error::error_chain(&throttled);
        assert_eq!(dependency_cause(&chain), THROTTLED, "{chain}");
        let slow_down = CompleteMultipartUploadError::generic(
            ErrorMetadata::builder()
                .code("SlowDown")
                .message("Please reduce your request rate.")
                .build(),
        );
        let chain = crate::domain::error::error_chain(&slow_down);
        assert_eq!(dependency_cause(&chain), THROTTLED, "{chain}");
    }

    #[test]
    fn calls_and_causes_are_classified() {
        assert_eq!(Dependency::of_call("GetItem"), Dependency::DynamoDb);
        assert_eq!(
            Dependency::of_call("UpdateItem(rate)"),
            Dependency::DynamoDb
        );
        assert_eq!(
            Dependency::of_call("CompleteMultipartUpload"),
            Dependency::S3
        );
        assert_eq!(
            Dependency::of_call("rendering the answer"),
            Dependency::None
        );
        assert_eq!(
            dependency_cause("service error: ThrottlingException: Rate exceeded"),
            "THROTTLED"
        );
        assert_eq!(
            dependency_cause("SlowDown: Please reduce your request rate"),
            "THROTTLED"
        );
        assert_eq!(
            dependency_cause("TransactionCanceledException: [TransactionConflict]"),
            "TRANSACTION_CONFLICT"
        );
        assert_eq!(
            dependency_cause("dispatch failure: io error"),
            "UNREACHABLE"
        );
        assert_eq!(dependency_cause("operation timed out"), "TIMEOUT");
        assert_eq!(
            dependency_cause("ResourceNotFoundException"),
            "DEPENDENCY_ERROR"
        );
    }

    #[test]
    fn capture_collects_instead_of_printing() {
        let metrics = Metrics::default();
        metrics.capture();
        metrics.emit("status", &[], &[(Metric::PartsPresigned, 3.0)]);
        let lines = metrics.captured();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("\"PartsPresigned\":3.0"));
    }
}
