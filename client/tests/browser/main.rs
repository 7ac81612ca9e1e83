//! The demo page in headless Chromium (Debian's `chromium` + `chromium-driver`, over WebDriver): it
//! uploads a generated file straight to storage, reports COMPLETED, and the object reads back
//! identical. With a bucket CORS rule that does not expose `ETag`, the same upload fails.
//!
//! Runs when TEST_BROWSER=1 (scripts/test.sh sets it after scripts/tools.sh installed Chromium);
//! otherwise it says so and passes without a browser. UPDATE_SCREENSHOT=1 also refreshes
//! docs/demo-page.png.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use testkit::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{CHROMEDRIVER} starts ({e}): run scripts/tools.sh all"));
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { child, url }
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1000,1500",
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Loads the page, uploads `file` as `user`, waits for the outcome; returns (outcome, status text).
async fn upload_in_page(page: &Client, origin: &str, user: &str, file: &str) -> (String, String) {
    page.goto(&format!("{origin}/")).await.expect("page loads");
    let user_field = page.find(Locator::Id("user")).await.expect("user field");
    user_field.clear().await.expect("clear");
    user_field.send_keys(user).await.expect("type user");
    let picker = page.find(Locator::Id("file")).await.expect("file input");
    picker.send_keys(file).await.expect("pick file");
    page.find(Locator::Id("start"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let started = Instant::now();
    loop {
        let outcome = page
            .execute(
                "return document.getElementById('outcome').dataset.status || ''",
                vec![],
            )
            .await
            .expect("script runs");
        let outcome = outcome.as_str().unwrap_or_default().to_owned();
        if outcome == "COMPLETED" || outcome == "FAILED" {
            let text = |id: &'static str| async move {
                page.find(Locator::Id(id))
                    .await
                    .expect("element")
                    .text()
                    .await
                    .expect("text")
            };
            let detail = format!(
                "{}\n{}\n{}",
                text("outcome").await,
                text("status").await,
                text("log").await
            );
            return (outcome, detail);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the page did not finish: {outcome}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_uploads_from_chromium_and_needs_the_etag_exposed() {
    if !browser_enabled() {
        return;
    }
    let stack = Stack::start(S3Server::Moto).await;
    let origin = stack.origin().to_owned();
    let scratch = Scratch::new();
    let bytes = file_bytes(12 * MIB + 321, 11);
    let file = scratch.file("browser-demo.mp4", &bytes);
    let driver = start_driver().await;
    let page = browser(&driver).await;

    let (outcome, detail) = upload_in_page(&page, &origin, "alice", &path(&file)).await;
    assert_eq!(outcome, "COMPLETED", "{detail}");
    let png = page.screenshot().await.expect("screenshot");
    // docs/demo-page.png is refreshed on request only, so test runs leave the tree clean.
    let shot = if std::env::var("UPDATE_SCREENSHOT").ok().as_deref() == Some("1") {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/demo-page.png")
    } else {
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-page.png")
    };
    std::fs::write(&shot, png).expect("screenshot saved");
    let status = status_panel(&page).await;
    assert_eq!(status["status"], "COMPLETED");
    assert_eq!(status["uploadedParts"], 3);
    let key = status["key"].as_str().expect("key");
    stack.assert_stored(key, &bytes).await;

    // The same upload against a CORS rule without ExposeHeaders ETag: the PUTs work, but the page
    // cannot read their ETags, and says why.
    let rule = CorsRule::builder()
        .allowed_methods("PUT")
        .allowed_methods("GET")
        .allowed_methods("HEAD")
        .allowed_origins("*")
        .allowed_headers("*")
        .max_age_seconds(3600)
        .build()
        .expect("rule");
    stack
        .s3()
        .put_bucket_cors()
        .bucket(stack.bucket())
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule)
                .build()
                .expect("cors"),
        )
        .send()
        .await
        .expect("CORS rule replaced");
    let other = scratch.file("second.mp4", &bytes[..6 * MIB]);
    let (outcome, detail) = upload_in_page(&page, &origin, "bob", &path(&other)).await;
    assert_eq!(outcome, "FAILED", "{detail}");
    assert!(detail.contains("ExposeHeaders: ETag"), "{detail}");
    page.close().await.expect("session closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_uploads_to_localstack_through_its_bucket_rule() {
    // LocalStack answers the page's preflights by the bucket's CORS rule and checks every part
    // URL's signature: the page's PUTs from another origin go through both.
    if !browser_enabled() {
        return;
    }
    let Some(stack) = Stack::start_if_running(S3Server::LocalStack).await else {
        return;
    };
    let origin = stack.origin().to_owned();
    let scratch = Scratch::new();
    let bytes = file_bytes(6 * MIB + 99, 13);
    let file = scratch.file("localstack-demo.mp4", &bytes);
    let driver = start_driver().await;
    let page = browser(&driver).await;
    let (outcome, detail) = upload_in_page(&page, &origin, "carol", &path(&file)).await;
    assert_eq!(outcome, "COMPLETED", "{detail}");
    let status = status_panel(&page).await;
    let key = status["key"].as_str().expect("key");
    stack.assert_stored(key, &bytes).await;
    page.close().await.expect("session closed");
}

/// Whether to run the browser tests (scripts/test.sh sets TEST_BROWSER=1); says so when not.
fn browser_enabled() -> bool {
    let enabled = std::env::var("TEST_BROWSER").ok().as_deref() == Some("1");
    if !enabled {
        eprintln!("TEST_BROWSER is not 1: the browser test is skipped (scripts/test.sh runs it)");
    }
    enabled
}

/// The page's status panel: the upload's status as JSON.
async fn status_panel(page: &Client) -> Value {
    let text = page
        .find(Locator::Id("status"))
        .await
        .expect("status")
        .text()
        .await
        .expect("text");
    serde_json::from_str(&text).expect("status JSON")
}

fn path(file: &std::path::Path) -> String {
    file.to_str().expect("UTF-8 path").to_owned()
}
