//! A part URL is bound to its signature, its part number and its lifetime: storage that checks
//! presigned URLs (s3s-fs, LocalStack) refuses a URL changed in any of them with 403, stores
//! nothing, and the URLs as issued still complete the upload.

use testkit::*;

const USER: &str = "lena";

/// `url` with the value of query parameter `name` replaced.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').expect("a query");
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    assert_ne!(
        format!("{base}?{}", query.join("&")),
        url,
        "{name} is in {url}"
    );
    format!("{base}?{}", query.join("&"))
}

fn param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .expect("a query")
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{name} is in {url}"))
}

async fn tampered_renumbered_and_expired_part_urls_are_refused(server: S3Server) {
    let stack = Stack::start_with(server, |v| {
        v.insert("PRESIGNED_URL_TTL_SECONDS".into(), "60".into());
    })
    .await;
    // LocalStack names the reason in S3's error code; s3s-fs is held to the status.
    let says = |code: &str, expected: &str| server != S3Server::LocalStack || code == expected;
    let file = file_bytes(1000, 32);
    let init = stack.begin(USER, "urls.mp4", file.len()).await;
    let id = &init.upload_id;
    let urls = stack.urls(USER, id, 1, 1).await;
    let url = &urls[&1];

    let signature = param(url, "X-Amz-Signature");
    let last = signature.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &signature[..signature.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let tampered = with_param(url, "X-Amz-Signature", &flipped);
    let (status, _, code) = stack.put_for_code(&tampered, &file, &[]).await;
    assert_eq!(status, 403, "tampered signature: {code}");
    assert!(
        says(&code, "SignatureDoesNotMatch"),
        "tampered signature: {code}"
    );

    // Part 1's URL used for part 2: the part number is signed.
    let renumbered = with_param(url, "partNumber", "2");
    let (status, _, code) = stack.put_for_code(&renumbered, &file, &[]).await;
    assert_eq!(status, 403, "changed partNumber: {code}");
    assert!(
        says(&code, "SignatureDoesNotMatch"),
        "changed partNumber: {code}"
    );
    let longer = with_param(url, "X-Amz-Expires", "3600");
    let (status, _, _) = stack.put_for_code(&longer, &file, &[]).await;
    assert_eq!(status, 403, "lifetime stretched in the URL");

    // Signed two minutes ago with a one-minute lifetime: expired when used.
    stack.deps.clock.advance(-120);
    let expired = stack.presign(USER, id, 1).await;
    stack.deps.clock.advance(120);
    let expired = expired.unwrap().url.presigned_url;
    let (status, _, code) = stack.put_for_code(&expired, &file, &[]).await;
    assert_eq!(status, 403, "expired URL: {code}");
    assert!(says(&code, "AccessDenied"), "expired URL: {code}");

    // None of that stored anything; the URL as issued works and the upload completes.
    let status = stack.status(USER, id).await.unwrap();
    assert_eq!(status.uploaded_parts, 0, "{status:?}");
    let etags = stack.upload_parts(&urls, &file, file.len(), &[1]).await;
    stack.complete(USER, id, Some(&etags)).await.unwrap();
    stack.assert_stored(init.key.as_str(), &file).await;
}

per_server!(
    tampered_renumbered_and_expired_part_urls_are_refused:
    strict_s3_refuses_tampered_renumbered_and_expired_part_urls => S3sFs,
    localstack_refuses_tampered_renumbered_and_expired_part_urls => LocalStack,
);
