//! `GET /uploads`: the caller's uploads, newest first, paged with a cursor bound to the caller and
//! the filter; other users' uploads never appear, and a forged cursor is refused.

use std::collections::HashSet;

use serde_json::Value;

use testkit::*;

/// Every upload the listing shows (raw: the tests check which fields an entry leaves out) `user` with `query`, following `nextCursor` page by page.
async fn list_all(stack: &Stack, user: &str, query: &str) -> (Vec<Value>, usize) {
    let mut uploads = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/uploads?{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = stack.get(Some(user), &path).await;
        assert_eq!(status, 200, "{path}: {page}");
        pages += 1;
        uploads.extend(page["uploads"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 50, "the listing does not end");
    }
    (uploads, pages)
}

fn ids(uploads: &[Value]) -> Vec<String> {
    uploads
        .iter()
        .map(|u| u["uploadId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_caller_sees_exactly_their_uploads_newest_first_page_by_page() {
    let stack = Stack::start(S3Server::Moto).await;
    let alice = "list-alice";
    // Seven uploads of Alice's, over three seconds so creation times differ; two of Bob's.
    let mut started = Vec::new();
    for i in 0..7 {
        let init = stack
            .begin(alice, &format!("clip-{i}.mp4"), (10 + i) * MIB)
            .await;
        started.push(init);
        if i % 3 == 2 {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
    }
    for i in 0..2 {
        stack.begin("list-bob", &format!("bob-{i}.mp4"), MIB).await;
    }
    let id = |i: usize| started[i].upload_id.to_string();
    // One part of upload 1 held; upload 2 completed (a one-part file); upload 3 aborted.
    let chunk = started[1].chunk_size as usize;
    let file = file_bytes(11 * MIB, 5);
    let urls = stack.urls(alice, &started[1].upload_id, 1, 1).await;
    stack.upload_parts(&urls, &file, chunk, &[1]).await;
    // Creation times are whole seconds: the newest is a second younger than the rest.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let small = stack.begin(alice, "small.bin", 1000).await;
    let urls = stack.urls(alice, &small.upload_id, 1, 1).await;
    stack
        .upload_parts(&urls, &file_bytes(1000, 6), 1000, &[1])
        .await;
    stack.complete(alice, &small.upload_id, None).await.unwrap();
    stack.abort(alice, &started[3].upload_id).await.unwrap();
    let small_id = small.upload_id.to_string();

    let (all, pages) = list_all(&stack, alice, "limit=3").await;
    assert!(pages >= 3, "8 uploads at 3 a page take at least 3 pages");
    let listed = ids(&all);
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "an upload shown twice: {listed:?}"
    );
    let mut expected: HashSet<String> = (0..7).map(id).collect();
    expected.insert(small_id.clone());
    assert_eq!(
        unique.into_iter().cloned().collect::<HashSet<_>>(),
        expected
    );
    let created: Vec<&str> = all
        .iter()
        .map(|u| u["createdAt"].as_str().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {created:?}"
    );
    assert_eq!(listed[0], small_id, "the newest comes first");

    let find = |wanted: &str| {
        all.iter()
            .find(|u| u["uploadId"] == wanted)
            .unwrap()
            .clone()
    };
    let held = find(&id(1));
    assert_eq!(held["status"], "INITIATED");
    assert_eq!(held["uploadedParts"], 1);
    assert_eq!(held["uploadedBytes"], chunk as u64);
    assert_eq!(held["fileName"], "clip-1.mp4");
    assert_eq!(held["fileSize"], 11 * MIB as u64);
    assert_eq!(find(&id(0))["uploadedParts"], 0);
    let done = find(&small_id);
    assert_eq!(done["status"], "COMPLETED");
    assert!(done.get("uploadedParts").is_none(), "{done}");
    assert!(done["completedAt"].is_string(), "{done}");
    assert_eq!(find(&id(3))["status"], "ABORTED");

    // Filters, paged too.
    let (initiated, _) = list_all(&stack, alice, "status=INITIATED&limit=2").await;
    let initiated: HashSet<String> = ids(&initiated).into_iter().collect();
    let expected: HashSet<String> = [0, 1, 2, 4, 5, 6].into_iter().map(id).collect();
    assert_eq!(initiated, expected);
    let (completed, _) = list_all(&stack, alice, "status=COMPLETED").await;
    assert_eq!(ids(&completed), vec![small_id.clone()]);

    // Bob sees his two, none of Alice's.
    let (bobs, _) = list_all(&stack, "list-bob", "limit=1").await;
    assert_eq!(bobs.len(), 2);
    assert!(bobs
        .iter()
        .all(|u| u["fileName"].as_str().unwrap().starts_with("bob-")));
}

#[tokio::test]
async fn a_cursor_works_only_for_its_caller_and_filter() {
    let stack = Stack::start(S3Server::Moto).await;
    for i in 0..3 {
        stack
            .begin("cursor-alice", &format!("a-{i}.mp4"), MIB)
            .await;
    }
    stack.begin("cursor-bob", "b.mp4", MIB).await;
    let page = stack.uploads("cursor-alice", "limit=1").await.unwrap();
    let cursor = page.next_cursor.clone().expect("a next page");

    // Bob replays Alice's cursor: refused, and nothing of Alice's shows.
    let refused = stack
        .uploads("cursor-bob", &format!("cursor={cursor}"))
        .await
        .refused();
    assert_eq!(refused, (400, "INVALID_CURSOR"), "{refused:?}");
    // Alice with another filter, or an edited cursor: refused.
    let refused = stack
        .uploads("cursor-alice", &format!("status=COMPLETED&cursor={cursor}"))
        .await
        .refused();
    assert_eq!(refused, (400, "INVALID_CURSOR"), "{refused:?}");
    let mut forged = cursor.clone().into_bytes();
    let at = forged.len() - 1;
    forged[at] = if forged[at] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [forged.as_str(), "c1.0.0.0", "garbage", &"c".repeat(400)] {
        let refused = stack
            .uploads("cursor-alice", &format!("cursor={bad}"))
            .await
            .refused();
        assert_eq!(refused, (400, "INVALID_CURSOR"), "{bad}: {refused:?}");
    }
    // Other bad parameters, and no identity.
    for (query, expected) in [
        ("limit=0", "INVALID_FIELD"),
        ("limit=101", "INVALID_FIELD"),
        ("limit=x", "INVALID_FIELD"),
        ("status=done", "INVALID_FIELD"),
    ] {
        let refused = stack.uploads("cursor-alice", query).await.refused();
        assert_eq!(refused, (400, expected), "{query}: {refused:?}");
    }
    // No identity: sent raw, since the typed calls always name a user.
    let (status, body) = stack.get(None, "/uploads").await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body}");

    // Alice's own cursor goes on where the first page ended.
    let next = stack
        .uploads("cursor-alice", &format!("limit=5&cursor={cursor}"))
        .await
        .unwrap();
    assert_eq!(next.uploads.len(), 2, "{next:?}");
    let first = &page.uploads[0].upload_id;
    assert!(!next.uploads.iter().any(|u| &u.upload_id == first));
}

#[tokio::test]
async fn an_upload_past_its_expiry_is_listed_as_expired() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("UPLOAD_TTL_SECONDS".into(), "2".into());
    })
    .await;
    let user = "list-expiry";
    let old = stack.begin(user, "old.mp4", MIB).await;
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let new = stack.begin(user, "new.mp4", MIB).await;
    let (expired, _) = list_all(&stack, user, "status=EXPIRED").await;
    assert_eq!(ids(&expired), vec![old.upload_id.to_string()]);
    assert!(expired[0].get("uploadedParts").is_none());
    let (initiated, _) = list_all(&stack, user, "status=INITIATED").await;
    assert_eq!(ids(&initiated), vec![new.upload_id.to_string()]);
}
