//! The demo page: `GET /` and `GET /app.js` come from the local API itself (same origin as the API),
//! and storage answers the page's cross-origin part PUTs' preflight with the template's CORS rule.

use crate::harness::{S3Server, Stack};

#[tokio::test]
async fn the_demo_page_and_its_script_are_served_and_storage_allows_its_puts() {
    let stack = Stack::start(S3Server::Moto).await;
    let origin = stack
        .base
        .strip_suffix(shared::api::BASE_PATH)
        .expect("base ends with the API path")
        .to_owned();

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

    // The page's origin differs from storage's: a PUT of a part needs the bucket's CORS rule,
    // including ExposeHeaders ETag so the page can read each part's ETag.
    let preflight = stack
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!(
                "{}/{}/uploads/alice/x/f.bin?partNumber=1&uploadId=y",
                std::env::var("TEST_MOTO_URL").expect("TEST_MOTO_URL"),
                stack.deps.objects.bucket()
            ),
        )
        .header("origin", &origin)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.status(), 200);
    let header = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert!(header("access-control-allow-origin").is_some_and(|o| o == "*" || o == origin));
    assert!(header("access-control-allow-methods").is_some_and(|m| m.contains("PUT")));
    assert_eq!(
        header("access-control-expose-headers").as_deref(),
        Some("ETag")
    );
}
