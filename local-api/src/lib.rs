//! The local API: serves every route of `template.yaml` on 127.0.0.1 through the very handlers the
//! Lambda functions run. Each HTTP request becomes the API Gateway HTTP API (payload v2) event that
//! API Gateway would send, with the JWT authorizer's claims taken from the `x-user-id` header: that
//! header is honoured here only, never by the functions. Browsers on other origins get CORS answers
//! like the deployed API's `CorsConfiguration`, for the origins `CORS_ALLOWED_ORIGINS` lists.
//!
//! Since `x-user-id` lets any caller act as any user, only this machine may send it: connections from
//! other addresses are refused, and so is every request whose `Host` is not a loopback name
//! ([`is_loopback_host`]). A page on another site that rebinds its own DNS name to 127.0.0.1 (DNS
//! rebinding) still sends its own name as `Host`, and gets 403 HOST_NOT_ALLOWED.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::StatusCode;
use lambda_http::Body;
use serde_json::{json, Map, Value};
use shared::api::error::json_response;
use shared::{ApiError, Deps, Endpoint, ErrorCode, ROUTES};
use tokio::net::TcpListener;

/// The header that stands in for the JWT authorizer locally.
pub const IDENTITY_HEADER: &str = "x-user-id";

pub mod bootstrap;

/// Creates the bucket and table the configuration names, as the template would.
pub async fn bootstrap(deps: &Deps) -> Result<(), ApiError> {
    bootstrap::create_bucket(&deps.aws.s3, &deps.config.bucket).await?;
    bootstrap::create_table(&deps.aws.dynamodb, &deps.config.table).await
}

/// The variable listing the browser origins allowed to call the local API, comma-separated.
pub const CORS_ORIGINS_VAR: &str = "CORS_ALLOWED_ORIGINS";
/// Web dev servers on this machine, on any port.
pub const DEFAULT_CORS_ORIGINS: &str = "http://localhost:*,http://127.0.0.1:*";

/// Which origins may call the API from a browser, and what a preflight answers; the methods and
/// headers are the template's `CorsConfiguration` plus the local identity header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    pub const ALLOW_METHODS: &'static str = "GET, POST, OPTIONS";
    pub const ALLOW_HEADERS: &'static str = "authorization, content-type, x-user-id";
    pub const MAX_AGE_SECONDS: u32 = 3600;

    /// `CORS_ALLOWED_ORIGINS`, else [`DEFAULT_CORS_ORIGINS`].
    pub fn from_env() -> Self {
        Self::parse(
            &std::env::var(CORS_ORIGINS_VAR).unwrap_or_else(|_| DEFAULT_CORS_ORIGINS.to_owned()),
        )
    }

    /// A comma list of origins: `*` (any), `scheme://host:*` (any port) or an exact origin.
    pub fn parse(list: &str) -> Self {
        let origins = list
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        Self { origins }
    }

    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.origins.iter().any(|allowed| {
            if allowed == "*" {
                return true;
            }
            match allowed.strip_suffix(":*") {
                // The wildcard stands for a port only, so `http://localhost.evil.example` is no match.
                Some(prefix) => origin
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .is_some_and(|port| {
                        !port.is_empty()
                            && port.len() <= 5
                            && port.bytes().all(|b| b.is_ascii_digit())
                    }),
                None => *allowed == origin,
            }
        })
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`):
    /// 204 with the allowed methods and headers, or 403 for an origin not in the list.
    fn preflight(&self, origin: &str) -> hyper::Response<Full<Bytes>> {
        if !self.allows(origin) {
            let body = json!({ "error": {
                "code": ErrorCode::CorsOriginNotAllowed,
                "message": format!("origin {origin} may not call this API; add it to {CORS_ORIGINS_VAR}"),
            }});
            let mut response = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
            *response.status_mut() = StatusCode::FORBIDDEN;
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return response;
        }
        let mut response = hyper::Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(Self::ALLOW_METHODS),
        );
        headers.insert(
            hyper::header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(Self::ALLOW_HEADERS),
        );
        headers.insert(
            hyper::header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(Self::MAX_AGE_SECONDS),
        );
        self.allow_origin(origin, &mut response);
        response
    }

    /// Lets the browser read an answer to `origin` when the origin is allowed.
    fn allow_origin(&self, origin: &str, response: &mut hyper::Response<Full<Bytes>>) {
        let headers = response.headers_mut();
        headers.insert(hyper::header::VARY, HeaderValue::from_static("Origin"));
        if self.allows(origin) {
            if let Ok(value) = HeaderValue::from_str(origin) {
                headers.insert(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            }
        }
    }
}

/// Whether a `Host` header names this machine's loopback interface: `localhost`, an IPv4 loopback
/// address (127.0.0.0/8) or `[::1]`, with or without a port. Any other name may be an attacker's
/// domain rebound to 127.0.0.1.
pub fn is_loopback_host(host: &str) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, port)) => match ip.parse::<std::net::Ipv6Addr>() {
                Ok(ip) if ip.is_loopback() => ("", port),
                _ => return false,
            },
            None => return false,
        }
    } else {
        match host.find(':') {
            Some(colon) => (&host[..colon], &host[colon..]),
            None => (host, ""),
        }
    };
    let name_ok = name.is_empty() && host.starts_with('[')
        || name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    name_ok && port_ok
}

/// The code of [`not_local`]'s refusal: the local API's own, which the deployed API never answers,
/// so the contract's `ErrorCode` does not list it.
const HOST_NOT_ALLOWED: &str = "HOST_NOT_ALLOWED";

/// The refusal of a request from another machine or with a foreign `Host` (see the module's doc).
fn not_local(what: &str) -> hyper::Response<Full<Bytes>> {
    let body = json!({ "error": {
        "code": HOST_NOT_ALLOWED,
        "message": format!(
            "the local API answers only this machine by a loopback name (127.0.0.1, localhost, \
             [::1]), since {IDENTITY_HEADER} lets any caller act as any user; {what}"
        ),
    }});
    let mut response = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// [`not_local`] for a request that is not from this machine or names another host, else `None`.
fn refuse_foreign(
    peer_is_loopback: bool,
    req: &hyper::Request<Incoming>,
) -> Option<hyper::Response<Full<Bytes>>> {
    if !peer_is_loopback {
        return Some(not_local("this connection comes from another address"));
    }
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .map(|v| v.to_str().unwrap_or("(not text)"));
    match host {
        Some(host) if is_loopback_host(host) => None,
        Some(host) => {
            let host: String = host.chars().take(100).collect();
            Some(not_local(&format!("this request names the host {host:?}")))
        }
        None => Some(not_local("this request has no Host header")),
    }
}

/// Serves the API on `listener` until the task is dropped, with CORS from the environment.
pub async fn serve(deps: Arc<Deps>, listener: TcpListener) -> std::io::Result<()> {
    serve_with_cors(deps, listener, Cors::from_env()).await
}

/// [`serve`] with the given CORS origins.
pub async fn serve_with_cors(
    deps: Arc<Deps>,
    listener: TcpListener,
    cors: Cors,
) -> std::io::Result<()> {
    let cors = Arc::new(cors);
    loop {
        let (stream, peer) = listener.accept().await?;
        let peer_is_loopback = peer.ip().to_canonical().is_loopback();
        let deps = deps.clone();
        let cors = cors.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let deps = deps.clone();
                let cors = cors.clone();
                async move {
                    if let Some(refused) = refuse_foreign(peer_is_loopback, &req) {
                        return Ok::<_, Infallible>(refused);
                    }
                    Ok(handle_cors(&deps, &cors, req).await)
                }
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

/// CORS around [`handle`]: preflights are answered here, as API Gateway answers them before any
/// function runs; other answers get `Access-Control-Allow-Origin` when the origin is allowed.
async fn handle_cors(
    deps: &Deps,
    cors: &Cors,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let origin = req
        .headers()
        .get(hyper::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return handle(deps, req).await;
    };
    let is_preflight = req.method() == hyper::Method::OPTIONS
        && req
            .headers()
            .contains_key(hyper::header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        return cors.preflight(&origin);
    }
    let mut response = handle(deps, req).await;
    cors.allow_origin(&origin, &mut response);
    response
}

async fn handle(deps: &Deps, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    if let Some(page) = static_file(req.method(), req.uri().path()) {
        return page;
    }
    let anonymous = req
        .headers()
        .get(IDENTITY_HEADER)
        .is_none_or(|v| v.to_str().map_or(true, |v| v.trim().is_empty()));
    let mut response = match to_event(deps, req).await {
        Ok((endpoint, event)) => match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => endpoint.handle(deps, request).await,
            Err(err) => ApiError::internal("building the API Gateway event", err).to_response(),
        },
        Err(response) => response,
    };
    if anonymous && response.status() == StatusCode::UNAUTHORIZED {
        // The functions' answer names the deployed API's bearer token; here the caller is the header.
        response = ApiError::client(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            format!(
                "no caller identity: the local API takes the caller's id from the \
                 {IDENTITY_HEADER} header (e.g. {IDENTITY_HEADER}: alice); the deployed API takes \
                 a bearer token instead"
            ),
        )
        .to_response();
    }
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
                ErrorCode::MethodNotAllowed,
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
                ErrorCode::RouteNotFound,
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
        "time": shared::adapters::clock::rfc3339(now.as_secs() as i64),
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
    if let Some(parameters) = query_parameters(&query) {
        event["queryStringParameters"] = parameters;
    }
    if !body.is_empty() {
        // Bodies here are JSON text; anything else reaches the handler as text it will refuse.
        event["body"] = Value::String(String::from_utf8_lossy(&body).into_owned());
    }
    Ok((endpoint, event))
}

fn refusal(status: StatusCode, code: ErrorCode, message: &str) -> Refusal {
    json_response(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

/// The query string as API Gateway (payload v2) hands it over: decoded, a repeated name's values
/// joined with commas; absent when there is none.
fn query_parameters(query: &str) -> Option<Value> {
    let mut parameters = Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match parameters.get_mut(name.as_ref()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                parameters.insert(name.into_owned(), Value::String(value.into_owned()));
            }
        }
    }
    (!parameters.is_empty()).then_some(Value::Object(parameters))
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

    #[test]
    fn query_strings_decode_like_api_gateway() {
        assert_eq!(query_parameters(""), None);
        assert_eq!(
            query_parameters("status=INITIATED&limit=5&cursor=c1.2%2E3&x=a&x=b+c"),
            Some(json!({"status": "INITIATED", "limit": "5", "cursor": "c1.2.3", "x": "a,b c"}))
        );
    }

    #[test]
    fn only_loopback_names_are_local_hosts() {
        for local in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "127.1.2.3:80",
            "localhost",
            "LocalHost:5173",
            "[::1]",
            "[::1]:3000",
            "[0:0:0:0:0:0:0:1]:8080",
        ] {
            assert!(is_loopback_host(local), "{local}");
        }
        for foreign in [
            "",
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example",
            "localhost.evil.example:3000",
            "127.0.0.1.evil.example",
            "localhost:3000.evil.example",
            "localhost:",
            "localhost:99999",
            "localhost:30:00",
            "localhost:abc",
            "sub.localhost",
            "0.0.0.0:3000",
            "10.0.0.2:3000",
            "[::2]:3000",
            "[::1",
            "[::1]3000",
            "[::1]:",
            "::1",
        ] {
            assert!(!is_loopback_host(foreign), "{foreign}");
        }
    }

    #[test]
    fn cors_origins_match_by_port_wildcard_or_exactly() {
        let cors = Cors::parse(DEFAULT_CORS_ORIGINS);
        assert!(cors.allows("http://localhost:5173"));
        assert!(cors.allows("http://127.0.0.1:8080"));
        assert!(cors.allows("HTTP://LOCALHOST:3000"));
        for refused in [
            "http://localhost",
            "http://localhost:",
            "http://localhost.evil.example:80",
            "http://localhost:80.evil.example",
            "https://localhost:443",
            "http://127.0.0.2:80",
            "null",
        ] {
            assert!(!cors.allows(refused), "{refused}");
        }
        let cors = Cors::parse(" https://app.example.com/ , http://10.0.0.2:* ");
        assert!(cors.allows("https://app.example.com"));
        assert!(cors.allows("http://10.0.0.2:19006"));
        assert!(!cors.allows("http://localhost:3000"));
        assert!(Cors::parse("*").allows("https://anything.example"));
        assert!(!Cors::parse("").allows("http://localhost:3000"));
    }
}
