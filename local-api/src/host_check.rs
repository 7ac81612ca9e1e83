//! The host check: only this machine, by a loopback name, may call the local API (see the crate's doc).

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use lambda_http::http::StatusCode;
use serde_json::json;

use crate::gateway_event::IDENTITY_HEADER;

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
pub(crate) fn refuse_foreign(
    peer_is_loopback: bool, req: &hyper::Request<Incoming>,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
