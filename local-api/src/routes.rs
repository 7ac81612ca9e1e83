//! The template's route table applied to a method and path.

use shared::{Endpoint, ROUTES};

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
