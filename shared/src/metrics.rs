//! Business metrics as CloudWatch Embedded Metric Format: one JSON line on stdout per event, which
//! CloudWatch Logs turns into metrics. No API call and no latency on the request path.
//!
//! Every metric carries the `Function` dimension; client errors also an `ErrorCode` one.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "MultipartUpload";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
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
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Self::BytesCompleted => Unit::Bytes,
            Self::CompletionLatency => Unit::Seconds,
            _ => Unit::Count,
        }
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

impl crate::ports::MetricsSink for Metrics {
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
/// top-level members.
pub fn emf_line(
    function: &str,
    dimensions: &[(&str, &str)],
    values: &[(Metric, f64)],
    timestamp: u64,
) -> Value {
    let mut dimension_names = vec![Value::from("Function")];
    dimension_names.extend(dimensions.iter().map(|(name, _)| Value::from(*name)));
    let definitions: Vec<Value> = values
        .iter()
        .map(|(metric, _)| json!({ "Name": metric.name(), "Unit": metric.unit().as_str() }))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimension_names],
                "Metrics": definitions,
            }],
        }),
    );
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
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
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
            json!([["Function", "ErrorCode"]])
        );
        assert_eq!(line["ErrorCode"], "INVALID_FILE_SIZE");
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
