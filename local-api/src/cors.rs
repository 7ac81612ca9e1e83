//! Browser origins: which may call the local API, and the answers to their preflights, like the
//! deployed API's `CorsConfiguration`.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use lambda_http::http::StatusCode;
use serde_json::json;

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
    pub(crate) fn preflight(&self, origin: &str) -> hyper::Response<Full<Bytes>> {
        if !self.allows(origin) {
            let body = json!({ "error": {
                "code": shared::ErrorCode::CorsOriginNotAllowed,
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
    pub(crate) fn allow_origin(&self, origin: &str, response: &mut hyper::Response<Full<Bytes>>) {
        let headers = response.headers_mut();
        headers.insert(hyper::header::VARY, HeaderValue::from_static("Origin"));
        if self.allows(origin) {
            if let Ok(value) = HeaderValue::from_str(origin) {
                headers.insert(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
