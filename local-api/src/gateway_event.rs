//! A local HTTP request as the API Gateway HTTP API (payload v2) event the JWT authorizer
//! integration would send, or the refusal API Gateway itself would answer.

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use lambda_http::http::StatusCode;
use lambda_http::Body;
use serde_json::{json, Map, Value};
use shared::api::error::json_response;
use shared::{ApiError, Deps, Endpoint, ErrorCode};

use crate::routes::{match_route, Matched};

/// The header that stands in for the JWT authorizer locally.
pub const IDENTITY_HEADER: &str = "x-user-id";

type Refusal = lambda_http::Response<Body>;

/// The API Gateway HTTP API v2 event for `req`, as the JWT authorizer integration would send it.
pub(crate) async fn to_event(
    deps: &Deps, req: hyper::Request<Incoming>,
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
    fn query_strings_decode_like_api_gateway() {
        assert_eq!(query_parameters(""), None);
        assert_eq!(
            query_parameters("status=INITIATED&limit=5&cursor=c1.2%2E3&x=a&x=b+c"),
            Some(json!({"status": "INITIATED", "limit": "5", "cursor": "c1.2.3", "x": "a,b c"}))
        );
    }
}
