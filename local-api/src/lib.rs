//! The local API: serves every route of `template.yaml` on 127.0.0.1 through the very handlers the
//! Lambda functions run. Each HTTP request becomes the API Gateway HTTP API (payload v2) event that
//! API Gateway would send, with the JWT authorizer's claims taken from the `x-user-id` header: that
//! header is honoured here only, never by the functions.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::StatusCode;
use lambda_http::Body;
use serde_json::{json, Map, Value};
use shared::error::json_response;
use shared::{ApiError, Deps, Endpoint, ROUTES};
use tokio::net::TcpListener;

/// The header that stands in for the JWT authorizer locally.
pub const IDENTITY_HEADER: &str = "x-user-id";

pub mod bootstrap;

/// Creates the bucket and table the configuration names, as the template would.
pub async fn bootstrap(deps: &Deps) -> Result<(), ApiError> {
    bootstrap::create_bucket(&deps.aws.s3, &deps.config.bucket).await?;
    bootstrap::create_table(&deps.aws.dynamodb, &deps.config.table).await
}

/// Serves the API on `listener` until the task is dropped.
pub async fn serve(deps: Arc<Deps>, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let deps = deps.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let deps = deps.clone();
                async move { Ok::<_, Infallible>(handle(&deps, req).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection closed: {err}");
            }
        });
    }
}

/// What the route table says about a method and path.
#[derive(Debug, PartialEq, Eq)]
pub enum Matched {
    Route {
        endpoint: Endpoint,
        route_key: String,
        upload_id: Option<String>,
    },
    /// The path exists, with these methods only (for the 405's `Allow` header).
    WrongMethod(Vec<&'static str>),
    NotFound,
}

/// Matches `path` against the template's routes, `{uploadId}` matching one segment.
pub fn match_route(method: &str, path: &str) -> Matched {
    let segments: Vec<&str> = path.split('/').collect();
    let mut allowed = Vec::new();
    for route in ROUTES {
        let pattern: Vec<&str> = route.path.split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut upload_id = None;
        let fits = pattern.iter().zip(&segments).all(|(p, s)| {
            if *p == "{uploadId}" {
                upload_id = Some((*s).to_owned());
                !s.is_empty()
            } else {
                p == s
            }
        });
        if !fits {
            continue;
        }
        if route.method == method {
            return Matched::Route {
                endpoint: route.endpoint,
                route_key: format!("{} {}", route.method, route.path),
                upload_id,
            };
        }
        allowed.push(route.method);
    }
    if allowed.is_empty() {
        Matched::NotFound
    } else {
        Matched::WrongMethod(allowed)
    }
}

/// The demo page and its script, served at `GET /` and `GET /app.js` (local only, same origin as
/// the API; the parts go to storage under the bucket's CORS rule).
const INDEX_HTML: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");

/// The demo page's files, before route matching.
fn static_file(method: &hyper::Method, path: &str) -> Option<hyper::Response<Full<Bytes>>> {
    if method != hyper::Method::GET {
        return None;
    }
    let (body, content_type) = match path {
        "/" | "/index.html" => (INDEX_HTML, "text/html; charset=utf-8"),
        "/app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        _ => return None,
    };
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    Some(response)
}

async fn handle(deps: &Deps, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    if let Some(page) = static_file(req.method(), req.uri().path()) {
        return page;
    }
    let response = match to_event(deps, req).await {
        Ok((endpoint, event)) => match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => endpoint.handle(deps, request).await,
            Err(err) => ApiError::internal("building the API Gateway event", err).to_response(),
        },
        Err(response) => response,
    };
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

type Refusal = lambda_http::Response<Body>;

/// The API Gateway HTTP API v2 event for `req`, as the JWT authorizer integration would send it.
async fn to_event(
    deps: &Deps,
    req: hyper::Request<Incoming>,
) -> Result<(Endpoint, Value), Refusal> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let (endpoint, route_key, upload_id) = match match_route(&method, &path) {
        Matched::Route {
            endpoint,
            route_key,
            upload_id,
        } => (endpoint, route_key, upload_id),
        Matched::WrongMethod(allowed) => {
            let mut response = refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "this path does not take this method",
            );
            // RFC 9110 15.5.6: a 405 must say which methods the path does take.
            if let Ok(allow) = allowed.join(", ").parse() {
                response
                    .headers_mut()
                    .insert(lambda_http::http::header::ALLOW, allow);
            }
            return Err(response);
        }
        Matched::NotFound => {
            return Err(refusal(
                StatusCode::NOT_FOUND,
                "ROUTE_NOT_FOUND",
                "no such route",
            ))
        }
    };
    let query = req.uri().query().unwrap_or("").to_owned();
    let mut headers = Map::new();
    let mut user = None;
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name.as_str() == IDENTITY_HEADER {
            user = Some(value).filter(|v| !v.trim().is_empty());
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let limit = deps.config.max_body_bytes;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(ApiError::payload_too_large(limit).to_response()),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let user_agent = headers.get("user-agent").cloned().unwrap_or(Value::Null);
    let mut context = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": "127.0.0.1",
        "domainPrefix": "local",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": user_agent,
        },
        "requestId": uuid_like(now.as_nanos()),
        "routeKey": route_key,
        "stage": "$default",
        "time": shared::clock::rfc3339(now.as_secs() as i64),
        "timeEpoch": now.as_millis() as u64,
    });
    if let Some(user) = user {
        context["authorizer"] = json!({ "jwt": { "claims": { "sub": user }, "scopes": null } });
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    if let Some(id) = upload_id {
        event["pathParameters"] = json!({ "uploadId": id });
    }
    if !body.is_empty() {
        // Bodies here are JSON text; anything else reaches the handler as text it will refuse.
        event["body"] = Value::String(String::from_utf8_lossy(&body).into_owned());
    }
    Ok((endpoint, event))
}

fn refusal(status: StatusCode, code: &'static str, message: &str) -> Refusal {
    json_response(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

fn uuid_like(nanos: u128) -> String {
    format!("local-{nanos:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_the_table() {
        assert_eq!(
            match_route("POST", "/api/v1/multipart-upload/initialize"),
            Matched::Route {
                endpoint: Endpoint::Initialize,
                route_key: "POST /api/v1/multipart-upload/initialize".into(),
                upload_id: None
            }
        );
        match match_route("GET", "/api/v1/multipart-upload/parts/abc") {
            Matched::Route {
                endpoint,
                upload_id,
                ..
            } => {
                assert_eq!(endpoint, Endpoint::ListParts);
                assert_eq!(upload_id.as_deref(), Some("abc"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            match_route("GET", "/api/v1/multipart-upload/initialize"),
            Matched::WrongMethod(vec!["POST"])
        );
        assert_eq!(
            match_route("DELETE", "/api/v1/multipart-upload/status/abc"),
            Matched::WrongMethod(vec!["GET"])
        );
        assert_eq!(
            match_route("GET", "/api/v1/multipart-upload/parts/"),
            Matched::NotFound
        );
        assert_eq!(
            match_route("GET", "/api/v1/multipart-upload/parts/a/b"),
            Matched::NotFound
        );
        assert_eq!(match_route("POST", "/nope"), Matched::NotFound);
    }
}
