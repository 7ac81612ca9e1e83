//! The demo page: `GET /` and `GET /app.js` come from the local API itself (same origin as the API),
//! and storage answers the page's cross-origin part PUTs' preflight with the template's CORS rule.

use testkit::{S3Server, Stack};

#[tokio::test]
async fn the_demo_page_and_its_script_are_served() {
    let stack = Stack::start(S3Server::Moto).await;
    let origin = stack.origin();

    let page = stack
        .http
        .get(format!("{origin}/"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-type"].to_str().ok(),
        Some("text/html; charset=utf-8")
    );
    let html = page.text().await.expect("html");
    assert!(html.contains(r#"<script src="/app.js"></script>"#));
    assert!(html.contains(r#"id="file""#) && html.contains(r#"id="user""#));

    let script = stack
        .http
        .get(format!("{origin}/app.js"))
        .send()
        .await
        .expect("script");
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"].to_str().ok(),
        Some("text/javascript; charset=utf-8")
    );
    let js = script.text().await.expect("js");
    for needle in [
        "/initialize",
        "/batch-presigned-urls",
        "/presigned-url",
        "/complete\", { uploadId: plan.uploadId }",
        "/status/",
        "x-user-id",
    ] {
        assert!(js.contains(needle), "app.js uses {needle}");
    }

    // Only GET; everything else still goes through the route table.
    let (status, _) = stack.post_raw(Some("alice"), "/../../../", "{}").await;
    assert_eq!(status, 404);
    let post = stack
        .http
        .post(format!("{origin}/app.js"))
        .send()
        .await
        .expect("answer");
    assert_eq!(post.status(), 404);
}

/// The page's origin differs from storage's: a PUT of a part needs the bucket's CORS rule, including
/// ExposeHeaders ETag so the page can read each part's ETag. On LocalStack the answer comes from the
/// rule itself, not from a blanket allow: methods outside it are refused.
async fn storage_allows_the_demo_page_s_part_puts(server: S3Server) {
    let stack = Stack::start(server).await;
    let origin = stack.origin();
    let headers = match server {
        S3Server::LocalStack => "content-type,x-amz-checksum-sha256",
        _ => "content-type",
    };
    let answer = stack.storage_preflight("PUT", headers).await;
    assert_eq!(answer.status(), 200);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert!(header("access-control-allow-origin").is_some_and(|o| o == "*" || o == origin));
    assert!(header("access-control-allow-methods").is_some_and(|m| m.contains("PUT")));
    assert_eq!(
        header("access-control-expose-headers").as_deref(),
        Some("ETag"),
        "the page reads each part's ETag"
    );
    if server == S3Server::LocalStack {
        // The rule allows PUT only.
        for method in ["DELETE", "GET"] {
            let refused = stack.storage_preflight(method, headers).await;
            assert_eq!(
                refused.status(),
                403,
                "{method} is not in the bucket's rule"
            );
        }
    }
}

testkit::per_server!(
    storage_allows_the_demo_page_s_part_puts:
    moto_allows_the_demo_page_s_part_puts => Moto,
    localstack_answers_the_demo_page_s_preflight_by_the_bucket_rule => LocalStack,
);
