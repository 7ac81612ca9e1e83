//! CORS: a page on another origin (a web dev server on localhost) can call the local API, as it can
//! call the deployed one; an origin outside `CORS_ALLOWED_ORIGINS` is refused.

use std::sync::Arc;

use local_api::{Cors, DEFAULT_CORS_ORIGINS};
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE,
};
use reqwest::Method;

use testkit::{S3Server, Stack};

/// The stack's deps served again with `cors`; returns the base URL.
async fn serve(stack: &Stack, cors: Cors) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        shared::api::BASE_PATH
    );
    tokio::spawn(local_api::serve_with_cors(
        Arc::clone(&stack.deps),
        listener,
        cors,
    ));
    base
}

async fn preflight(http: &reqwest::Client, url: &str, origin: &str) -> reqwest::Response {
    http.request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-user-id")
        .send()
        .await
        .expect("local API answers")
}

fn header(response: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn preflight_from_a_local_dev_server_is_allowed_and_answers_carry_the_origin() {
    let stack = Stack::start(S3Server::Moto).await;
    let base = serve(&stack, Cors::parse(DEFAULT_CORS_ORIGINS)).await;
    let origin = "http://localhost:5173";

    let answer = preflight(&stack.http, &format!("{base}/initialize"), origin).await;
    assert_eq!(answer.status(), 204);
    assert_eq!(header(&answer, ACCESS_CONTROL_ALLOW_ORIGIN), Some(origin));
    let methods = header(&answer, ACCESS_CONTROL_ALLOW_METHODS).unwrap();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let headers = header(&answer, ACCESS_CONTROL_ALLOW_HEADERS).unwrap();
    assert!(
        headers.contains("content-type")
            && headers.contains("x-user-id")
            && headers.contains("authorization"),
        "{headers}"
    );
    assert_eq!(header(&answer, ACCESS_CONTROL_MAX_AGE), Some("3600"));

    // Also on a path with an id, and from 127.0.0.1 on another port.
    let answer = preflight(
        &stack.http,
        &format!("{base}/parts/3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"),
        "http://127.0.0.1:8080",
    )
    .await;
    assert_eq!(answer.status(), 204);

    let answer = initialize_from(&stack, &base, origin).await;
    assert_eq!(answer.status(), 201);
    assert_eq!(header(&answer, ACCESS_CONTROL_ALLOW_ORIGIN), Some(origin));

    // Errors are readable by the page too, so a client can show the API's code.
    let answer = stack
        .http
        .get(format!(
            "{base}/status/3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"
        ))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert_eq!(header(&answer, ACCESS_CONTROL_ALLOW_ORIGIN), Some(origin));
}

/// A page on `origin` starts an upload through the API at `base`.
async fn initialize_from(stack: &Stack, base: &str, origin: &str) -> reqwest::Response {
    stack
        .http
        .post(format!("{base}/initialize"))
        .header("origin", origin)
        .header("x-user-id", "alice")
        .header("content-type", "application/json")
        .body(r#"{"fileName":"a.mp4","fileType":"video/mp4","fileSize":1000}"#)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_origin_that_is_not_allowed_is_refused() {
    let stack = Stack::start(S3Server::Moto).await;
    let base = serve(&stack, Cors::parse(DEFAULT_CORS_ORIGINS)).await;
    let evil = "http://localhost.evil.example:3000";

    let answer = preflight(&stack.http, &format!("{base}/initialize"), evil).await;
    assert_eq!(answer.status(), 403);
    assert_eq!(header(&answer, ACCESS_CONTROL_ALLOW_ORIGIN), None);
    assert_eq!(header(&answer, ACCESS_CONTROL_ALLOW_METHODS), None);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "CORS_ORIGIN_NOT_ALLOWED");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("CORS_ALLOWED_ORIGINS"));

    // A request sent anyway is answered without the header, so the browser hides the answer.
    let answer = initialize_from(&stack, &base, evil).await;
    assert_eq!(header(&answer, ACCESS_CONTROL_ALLOW_ORIGIN), None);

    // A configured list replaces the default: localhost is then refused too.
    let base = serve(&stack, Cors::parse("https://app.example.com")).await;
    let answer = preflight(
        &stack.http,
        &format!("{base}/initialize"),
        "http://localhost:5173",
    )
    .await;
    assert_eq!(answer.status(), 403);
    let answer = preflight(
        &stack.http,
        &format!("{base}/initialize"),
        "https://app.example.com",
    )
    .await;
    assert_eq!(answer.status(), 204);
    assert_eq!(
        header(&answer, ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("https://app.example.com")
    );
}

/// The bucket's CORS rule allows PUT and nothing else, in the template and on the local stack the
/// browser tests (the demo page, the TypeScript client and Uppy in Chromium) upload through: what
/// they do needs no GET or HEAD on the bucket.
#[tokio::test]
async fn the_bucket_rule_allows_put_only() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
            .expect("template.yaml");
    let rules = template
        .split("CorsRules:")
        .nth(1)
        .expect("the bucket has a CORS rule");
    assert!(
        rules.trim_start().starts_with("- AllowedMethods: [PUT]\n"),
        "template.yaml: {}",
        &rules[..rules.len().min(80)]
    );

    let stack = Stack::start(S3Server::Moto).await;
    let cors = stack
        .s3()
        .get_bucket_cors()
        .bucket(stack.bucket())
        .send()
        .await
        .expect("the local bucket has a CORS rule");
    let methods: Vec<Vec<&str>> = cors
        .cors_rules()
        .iter()
        .map(|rule| rule.allowed_methods().iter().map(String::as_str).collect())
        .collect();
    assert_eq!(methods, [["PUT"]]);
    assert!(cors.cors_rules()[0]
        .expose_headers()
        .contains(&"ETag".to_owned()));
}
