//! X-Ray subsegments for the AWS SDK calls, so a slow trace shows which call was slow.
//!
//! An SDK interceptor on both clients times each attempt (retries are attempts of their own) and
//! sends one subsegment document per attempt over UDP to the X-Ray daemon Lambda runs beside the
//! function (`AWS_XRAY_DAEMON_ADDRESS`), under the invocation's segment (`_X_AMZN_TRACE_ID`, which
//! the runtime sets for each invocation). UDP to the local daemon never waits on the network; a
//! failed send is dropped. Without a daemon address or trace header (locally, in tests) it does
//! nothing, and an unsampled trace sends nothing.

use std::net::UdpSocket;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::{json, Value};

/// The interceptor; `service` names the subsegments (`S3`, `DynamoDB`, as X-Ray's service map
/// names them).
#[derive(Debug)]
pub struct Subsegments {
    service: &'static str,
    /// The daemon address and trace header to use instead of the environment's.
    fixed: Option<(String, String)>,
}

impl Subsegments {
    pub fn new(service: &'static str) -> Self {
        Self {
            service,
            fixed: None,
        }
    }

    /// Sends to `daemon` under `trace_header` whatever the environment says (tests, or a runtime
    /// that hands the header over another way).
    pub fn with_trace(mut self, daemon: &str, trace_header: &str) -> Self {
        self.fixed = Some((daemon.to_owned(), trace_header.to_owned()));
        self
    }

    /// The daemon's UDP address and the current trace, if there is a sampled one.
    fn destination(&self) -> Option<(String, TraceHeader)> {
        let (daemon, header) = match &self.fixed {
            Some((daemon, header)) => (daemon.clone(), header.clone()),
            None => (
                udp_address(&std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?)?,
                std::env::var("_X_AMZN_TRACE_ID").ok()?,
            ),
        };
        Some((daemon, TraceHeader::parse(&header)?))
    }
}

/// When the current attempt started and what it calls, kept in the call's own configuration bag.
#[derive(Clone, Debug)]
struct Attempt {
    start: f64,
    operation: String,
}

impl Storable for Attempt {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Subsegments {
    fn name(&self) -> &'static str {
        "XRaySubsegments"
    }

    fn read_before_attempt(
        &self, context: &BeforeTransmitInterceptorContextRef<'_>, _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = operation(
            request.method(),
            request.uri(),
            request.headers().get("x-amz-target"),
        );
        cfg.interceptor_state().store_put(Attempt {
            start: now(),
            operation,
        });
        Ok(())
    }

    fn read_after_attempt(
        &self, context: &FinalizerInterceptorContextRef<'_>, _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(attempt) = cfg.load::<Attempt>().cloned() else {
            return Ok(());
        };
        let Some((daemon, trace)) = self.destination() else {
            return Ok(());
        };
        let status = context.response().map(|r| r.status().as_u16());
        let document = subsegment(
            &trace,
            self.service,
            &attempt.operation,
            (attempt.start, now()),
            status,
        );
        send(&daemon, &document);
        Ok(())
    }
}

/// The parts of an `X-Amzn-Trace-Id` header a subsegment needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: String,
}

impl TraceHeader {
    /// `Root=1-...;Parent=...;Sampled=1`; `None` when a part is missing or the trace is not sampled.
    pub fn parse(header: &str) -> Option<Self> {
        let mut root = None;
        let mut parent = None;
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v.to_owned()),
                Some(("Parent", v)) => parent = Some(v.to_owned()),
                Some(("Sampled", "0")) => return None,
                _ => {}
            }
        }
        Some(Self {
            root: root?,
            parent: parent?,
        })
    }
}

/// The operation a request makes: DynamoDB names it in `X-Amz-Target`, S3 by method and query.
pub fn operation(method: &str, uri: &str, target: Option<&str>) -> String {
    if let Some(target) = target {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    let has = |name: &str| {
        query
            .split('&')
            .any(|p| p == name || p.starts_with(&format!("{name}=")))
    };
    let name = match (method, has("uploads"), has("uploadId")) {
        ("POST", true, _) => "CreateMultipartUpload",
        ("GET", true, _) => "ListMultipartUploads",
        ("POST", _, true) => "CompleteMultipartUpload",
        ("DELETE", _, true) => "AbortMultipartUpload",
        ("GET", _, true) => "ListParts",
        ("PUT", _, true) => "UploadPart",
        ("HEAD", _, _) => "HeadObject",
        ("GET", _, _) => "GetObject",
        ("PUT", _, _) => "PutObject",
        (other, _, _) => other,
    };
    name.to_owned()
}

/// One subsegment document, as the daemon takes it. `status` is `None` when no answer came.
pub fn subsegment(
    trace: &TraceHeader, service: &str, operation: &str, (start, end): (f64, f64),
    status: Option<u16>,
) -> Value {
    let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    let mut doc = json!({
        "name": service,
        "id": id,
        "trace_id": trace.root,
        "parent_id": trace.parent,
        "type": "subsegment",
        "namespace": "aws",
        "start_time": start,
        "end_time": end,
        "aws": { "operation": operation },
    });
    match status {
        Some(status) => {
            doc["http"] = json!({ "response": { "status": status } });
            doc["throttle"] = json!(status == 429);
            doc["error"] = json!((400..500).contains(&status));
            doc["fault"] = json!(status >= 500);
        }
        // Timed out or the connection failed.
        None => doc["fault"] = json!(true),
    }
    doc
}

/// `169.254.79.129:2000`, or the UDP address of `tcp:... udp:...`.
fn udp_address(setting: &str) -> Option<String> {
    let udp = setting
        .split_whitespace()
        .find_map(|part| part.strip_prefix("udp:"))
        .or_else(|| (!setting.contains(' ')).then_some(setting))?;
    Some(udp.to_owned())
}

/// Sends `document` to the daemon at `address`; failures are dropped (tracing must never fail a
/// request).
pub fn send(address: &str, document: &Value) {
    static SOCKET: OnceLock<Option<UdpSocket>> = OnceLock::new();
    let socket = SOCKET.get_or_init(|| UdpSocket::bind("0.0.0.0:0").ok());
    if let Some(socket) = socket {
        let packet = format!("{{\"format\": \"json\", \"version\": 1}}\n{document}");
        let _ = socket.send_to(packet.as_bytes(), address);
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_headers_are_parsed_and_unsampled_ones_ignored() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(
            TraceHeader::parse(header),
            Some(TraceHeader {
                root: "1-5759e988-bd862e3fe1be46a994272793".into(),
                parent: "53995c3f42cd8ad8".into(),
            })
        );
        assert_eq!(TraceHeader::parse("Root=1-a-b;Parent=c;Sampled=0"), None);
        assert_eq!(TraceHeader::parse("Root=1-a-b"), None);
    }

    #[test]
    fn operations_are_named_as_the_sdk_names_them() {
        let target = Some("DynamoDB_20120810.TransactWriteItems");
        assert_eq!(
            operation("POST", "https://d/", target),
            "TransactWriteItems"
        );
        for (method, uri, name) in [
            ("POST", "https://b/k?uploads", "CreateMultipartUpload"),
            ("GET", "https://b/?uploads&prefix=x", "ListMultipartUploads"),
            ("POST", "https://b/k?uploadId=1", "CompleteMultipartUpload"),
            ("DELETE", "https://b/k?uploadId=1", "AbortMultipartUpload"),
            ("GET", "https://b/k?uploadId=1&max-parts=1000", "ListParts"),
            ("HEAD", "https://b/k", "HeadObject"),
        ] {
            assert_eq!(operation(method, uri, None), name, "{method} {uri}");
        }
    }

    #[test]
    fn a_subsegment_reaches_the_daemon_under_the_invocations_segment() {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let trace = TraceHeader {
            root: "1-5759e988-bd862e3fe1be46a994272793".into(),
            parent: "53995c3f42cd8ad8".into(),
        };
        let doc = subsegment(&trace, "DynamoDB", "GetItem", (10.0, 10.25), Some(400));
        send(&daemon.local_addr().unwrap().to_string(), &doc);
        let mut buf = [0u8; 4096];
        let n = daemon.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["type"], "subsegment");
        assert_eq!(body["trace_id"], trace.root);
        assert_eq!(body["parent_id"], trace.parent);
        assert_eq!(body["aws"]["operation"], "GetItem");
        assert_eq!(body["end_time"], 10.25);
        assert_eq!(
            (body["error"].clone(), body["fault"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(body["id"].as_str().unwrap().len(), 16);
        let lost = subsegment(&trace, "S3", "ListParts", (1.0, 2.0), None);
        assert_eq!(lost["fault"], true);
    }

    #[tokio::test]
    async fn each_attempt_of_an_sdk_call_is_a_subsegment() {
        use aws_sdk_dynamodb::config::retry::RetryConfig;
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let interceptor = Subsegments::new("DynamoDB")
            .with_trace(&daemon.local_addr().unwrap().to_string(), header);
        // Nothing listens on port 1: both attempts fail to connect.
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("id", "secret", None, None, "test"))
            .endpoint_url("http://127.0.0.1:1")
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .interceptor(interceptor)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let result = client.get_item().table_name("t").send().await;
        assert!(result.is_err());
        let mut buf = [0u8; 4096];
        for _ in 0..2 {
            let n = daemon.recv(&mut buf).unwrap();
            let text = std::str::from_utf8(&buf[..n]).unwrap();
            let body: Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
            assert_eq!(body["name"], "DynamoDB");
            assert_eq!(body["aws"]["operation"], "GetItem");
            assert_eq!(body["parent_id"], "53995c3f42cd8ad8");
            assert_eq!(body["fault"], true, "no answer came: {body}");
            assert!(body["end_time"].as_f64() >= body["start_time"].as_f64());
        }
    }

    #[test]
    fn daemon_address_forms() {
        assert_eq!(
            udp_address("169.254.79.129:2000").as_deref(),
            Some("169.254.79.129:2000")
        );
        assert_eq!(
            udp_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2000").as_deref(),
            Some("127.0.0.2:2000")
        );
    }
}
