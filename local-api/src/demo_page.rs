//! The demo page and its script, served at `GET /` and `GET /app.js`.

use http_body_util::Full;
use hyper::body::Bytes;

/// The demo page and its script, served at `GET /` and `GET /app.js` (local only, same origin as
/// the API; the parts go to storage under the bucket's CORS rule).
const INDEX_HTML: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");

/// The demo page's files, before route matching.
pub(crate) fn static_file(
    method: &hyper::Method, path: &str,
) -> Option<hyper::Response<Full<Bytes>>> {
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
