//! The client and its `upload` CLI against the local API and moto (S3 + DynamoDB): parallel upload,
//! kill and resume, injected faults retried, giving up, Ctrl-C, status and abort. Needs
//! TEST_MOTO_URL: run through `scripts/stack.sh -- cargo test -p upload-client`.

mod cli;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use cli::*;
use testkit::*;
use upload_client::{Api, Faults, Identity, Options, Silent, Uploader};

/// 30,000,000 bytes in parts of 5 MiB: six parts, the last 3,785,600 bytes.
const FILE_SIZE: usize = 30_000_000;
const PARTS: u64 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30_mb_file_goes_up_in_parallel_and_reads_back_identical() {
    let stack = Stack::start(S3Server::Moto).await;
    let scratch = Scratch::new();
    let bytes = file_bytes(FILE_SIZE, 1);
    let file = scratch.file("match.mp4", &bytes);

    let out = output(stack.cli(&[
        "upload",
        path(&file),
        "--concurrency",
        "4",
        "--meta",
        "album=summer 2026",
        "--meta",
        "shot-by=ana",
    ]))
    .await;
    assert!(out.status.success(), "upload failed: {}", stderr(&out));
    let result = stdout_json(&out);
    assert_eq!(result["completion"]["status"], "COMPLETED", "{result}");
    // --meta: the upload's metadata, shown by `status`.
    let id = result["uploadId"].as_str().expect("uploadId");
    let status = stdout_json(&output(stack.cli(&["status", id])).await);
    assert_eq!(
        status["metadata"],
        serde_json::json!({"album": "summer 2026", "shot-by": "ana"}),
        "{status}"
    );
    assert_eq!(result["stats"]["puts"], PARTS, "{result}");
    assert_eq!(result["stats"]["partsUploaded"], PARTS);
    assert_eq!(result["stats"]["retries"], 0);
    assert_eq!(
        result["sentEtags"], true,
        "moto answers ETags: complete sends them"
    );
    assert!(stderr(&out).contains("part 6 stored") || stderr(&out).contains("6/6 parts"));
    assert!(
        read_state(&file).is_none(),
        "the state file goes once completed"
    );

    let key = result["key"].as_str().expect("key");
    assert!(key.starts_with("uploads/alice/") && key.ends_with("/match.mp4"));
    stack.assert_stored(key, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_sigv4_storage_accepts_the_client_s_signed_puts() {
    // s3s-fs refuses a PUT whose signature, Content-Length or headers do not match the URL.
    let Some(stack) = Stack::start_if_running(S3Server::S3sFs).await else {
        return;
    };
    let scratch = Scratch::new();
    let bytes = file_bytes(12 * MIB + 17, 7);
    let file = scratch.file("strict.bin", &bytes);
    let out = output(stack.cli(&["upload", path(&file)])).await;
    assert!(out.status.success(), "upload failed: {}", stderr(&out));
    let result = stdout_json(&out);
    assert_eq!(result["stats"]["puts"], 3, "{result}");
    let key = result["key"].as_str().expect("key");
    stack.assert_stored(key, &bytes).await;
}

/// `upload --checksum`: every part goes up with its SHA-256 signed into its URL. s3s-fs refuses a
/// PUT whose signed headers do not match; LocalStack also compares each part's bytes with its
/// x-amz-checksum-sha256 (400 BadDigest if they differ): the CLI's hashes and signed headers must
/// be right.
async fn checksummed_upload_completes(server: S3Server) {
    let Some(stack) = Stack::start_if_running(server).await else {
        return;
    };
    let scratch = Scratch::new();
    let (seed, name) = match server {
        S3Server::LocalStack => (12, "digest.mov"),
        _ => (11, "verified.mov"),
    };
    let bytes = file_bytes(11 * MIB + 5, seed);
    let file = scratch.file(name, &bytes);
    let out = output(stack.cli(&["upload", path(&file), "--checksum"])).await;
    assert!(out.status.success(), "upload failed: {}", stderr(&out));
    let result = stdout_json(&out);
    assert_eq!(result["completion"]["status"], "COMPLETED", "{result}");
    assert_eq!(result["stats"]["puts"], 3, "{result}");
    if server == S3Server::LocalStack {
        assert_eq!(result["stats"]["retries"], 0, "{result}");
        assert!(
            result["completion"]["checksum"]
                .as_str()
                .is_some_and(|c| c.ends_with("-3")),
            "the object's composite SHA-256 over 3 parts: {result}"
        );
    } else {
        let id = result["uploadId"].as_str().expect("uploadId");
        let status = stdout_json(&output(stack.cli(&["status", id])).await);
        assert_eq!(status["checksumAlgorithm"], "SHA256", "{status}");
    }
    let key = result["key"].as_str().expect("key");
    stack.assert_stored(key, &bytes).await;
}

per_server!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    checksummed_upload_completes:
    checksummed_upload_signs_each_part_s_sha256_and_strict_storage_takes_it => S3sFs,
    checksummed_upload_completes_on_storage_that_verifies_each_part_s_digest => LocalStack,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upload_resumes_with_only_the_missing_parts() {
    let stack = Stack::start(S3Server::Moto).await;
    let scratch = Scratch::new();
    let bytes = file_bytes(FILE_SIZE, 2);
    let file = scratch.file("killed.mp4", &bytes);

    let upload_id = kill_after_two_parts(&stack, &file).await;
    let saved = read_state(&file).expect("a killed run leaves its state file");
    assert_eq!(saved["totalParts"], PARTS);
    assert_eq!(saved["chunkSize"], 5 * MIB);
    assert_eq!(saved["fileSize"], FILE_SIZE);
    assert!(saved["key"]
        .as_str()
        .is_some_and(|k| k.ends_with("/killed.mp4")));

    let out = output(stack.cli(&["resume", &upload_id, path(&file)])).await;
    assert!(out.status.success(), "resume failed: {}", stderr(&out));
    let result = stdout_json(&out);
    let stats = &result["stats"];
    let already = stats["partsAlreadyStored"].as_u64().expect("count");
    let puts = stats["puts"].as_u64().expect("count");
    assert!(already >= 2, "{result}");
    assert_eq!(puts, PARTS - already, "only the missing parts: {result}");
    assert!(puts < PARTS);
    assert_eq!(result["completion"]["status"], "COMPLETED");
    assert!(read_state(&file).is_none());
    let key = result["key"].as_str().expect("key");
    stack.assert_stored(key, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upload_whose_state_file_is_lost_resumes_by_fingerprint() {
    let stack = Stack::start(S3Server::Moto).await;
    let scratch = Scratch::new();
    let bytes = file_bytes(FILE_SIZE, 9);
    let file = scratch.file("reinstalled.mp4", &bytes);
    let upload_id = kill_after_two_parts(&stack, &file).await;
    // The app was reinstalled: nothing but the file is left.
    std::fs::remove_file(state_file(&file)).expect("state file removed");

    let out = output(stack.cli(&["upload", path(&file)])).await;
    assert!(out.status.success(), "upload failed: {}", stderr(&out));
    let result = stdout_json(&out);
    assert_eq!(result["uploadId"], upload_id.as_str(), "the same upload");
    let stats = &result["stats"];
    let already = stats["partsAlreadyStored"].as_u64().expect("count");
    let puts = stats["puts"].as_u64().expect("count");
    assert!(already >= 2, "{result}");
    assert_eq!(puts, PARTS - already, "only the missing parts: {result}");
    assert_eq!(result["completion"]["status"], "COMPLETED");
    let key = result["key"].as_str().expect("key");
    stack.assert_stored(key, &bytes).await;
}

/// The issue's reproduction: parts stored, the journal lost, 4 KiB in the middle of part 2 changed
/// (same size, same first and last MiB, so the same fingerprint). The resume must compare the
/// stored parts with the file and send part 2 again: the object is the edited file, never a mix.
/// moto keeps no part checksums: the client compares each stored part's ETag (its MD5). LocalStack
/// reports each part's stored CRC64NVME, and checks the whole file's at complete.
async fn edited_file_resumed_by_fingerprint(server: S3Server) {
    let Some(stack) = Stack::start_if_running(server).await else {
        return;
    };
    let stack = &stack;
    let scratch = Scratch::new();
    let bytes = file_bytes(FILE_SIZE, 21);
    let file = scratch.file("edited.mp4", &bytes);
    let upload_id = kill_after_two_parts(stack, &file).await;
    std::fs::remove_file(state_file(&file)).expect("state file removed");
    let mut edited = bytes.clone();
    for b in &mut edited[5 * MIB + 2 * MIB..5 * MIB + 2 * MIB + 4096] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &edited).expect("file edited");

    let out = output(stack.cli(&["upload", path(&file)])).await;
    assert!(out.status.success(), "upload failed: {}", stderr(&out));
    let result = stdout_json(&out);
    assert_eq!(
        result["uploadId"],
        upload_id.as_str(),
        "resumed by fingerprint"
    );
    let stats = &result["stats"];
    assert!(
        stats["partsDiffering"].as_u64() >= Some(1),
        "part 2 differs: {result}"
    );
    let already = stats["partsAlreadyStored"].as_u64().expect("count");
    assert!(already >= 1, "part 1 is kept: {result}");
    assert_eq!(stats["puts"].as_u64(), Some(PARTS - already), "{result}");
    let key = result["key"].as_str().expect("key");
    // The stored object is the edited file.
    stack.assert_stored(key, &edited).await;
}

per_server!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    edited_file_resumed_by_fingerprint:
    an_edited_file_resumed_by_fingerprint_is_stored_as_it_is_now_on_moto => Moto,
    an_edited_file_resumed_by_fingerprint_is_stored_as_it_is_now_on_localstack => LocalStack,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_upload_hands_storage_the_whole_file_crc64nvme_and_the_object_carries_it() {
    let Some(stack) = Stack::start_if_running(S3Server::LocalStack).await else {
        return;
    };
    let scratch = Scratch::new();
    let bytes = file_bytes(11 * MIB + 5, 22);
    let file = scratch.file("default.mov", &bytes);
    let out = output(stack.cli(&["upload", path(&file)])).await;
    assert!(out.status.success(), "upload failed: {}", stderr(&out));
    let result = stdout_json(&out);
    let whole = upload_client::digest::crc64nvme_base64(upload_client::digest::crc64nvme(&bytes));
    let completion = &result["completion"];
    assert_eq!(completion["checksumAlgorithm"], "CRC64NVME", "{result}");
    assert_eq!(completion["checksumType"], "FULL_OBJECT", "{result}");
    assert_eq!(completion["checksum"], whole.as_str(), "{result}");
    let key = result["key"].as_str().expect("key");
    let head = stack.head_object_checksum(key).await;
    assert_eq!(head.checksum_crc64_nvme.as_deref(), Some(whole.as_str()));
    stack.assert_stored(key, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_list_shows_the_caller_s_uploads_with_the_parts_held() {
    let stack = Stack::start(S3Server::Moto).await;
    let scratch = Scratch::new();
    let file = scratch.file("listed.mp4", &file_bytes(FILE_SIZE, 12));
    let upload_id = kill_after_two_parts(&stack, &file).await;
    // Somebody else's upload, which the list must never show.
    let bob = Api::new(&stack.base, Identity::User("list-bob".into())).expect("API");
    bob.initialize(
        "bob.mp4",
        "video/mp4",
        1000,
        None,
        None,
        &Default::default(),
    )
    .await
    .expect("bob's upload");

    let out = output(stack.cli(&["list"])).await;
    assert!(out.status.success(), "list failed: {}", stderr(&out));
    let listed = stdout_json(&out);
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 1, "only alice's upload: {listed:?}");
    assert_eq!(listed[0]["uploadId"], upload_id.as_str());
    assert_eq!(listed[0]["status"], "INITIATED");
    assert_eq!(listed[0]["fileName"], "listed.mp4");
    assert!(listed[0]["uploadedParts"].as_u64().expect("parts held") >= 2);

    let out = output(stack.cli(&["list", "--status", "completed"])).await;
    assert!(out.status.success(), "list failed: {}", stderr(&out));
    assert_eq!(stdout_json(&out), serde_json::json!([]));
    let out = output(stack.cli(&["list", "--status", "done"])).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--status done"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_and_expired_urls_are_retried_and_the_upload_completes() {
    let stack = Stack::start(S3Server::Moto).await;
    let scratch = Scratch::new();
    let bytes = file_bytes(FILE_SIZE, 3);
    let file = scratch.file("faulty.mp4", &bytes);

    let mut command = stack.cli(&["upload", path(&file)]);
    command
        .env("UPLOAD_FAIL_PUTS", "2,5")
        .env("UPLOAD_EXPIRE_PUTS", "3");
    let out = output(command).await;
    let log = stderr(&out);
    assert!(out.status.success(), "upload failed: {log}");
    let result = stdout_json(&out);
    assert_eq!(result["stats"]["puts"], PARTS + 3, "{result}");
    assert_eq!(result["stats"]["retries"], 3);
    assert_eq!(result["stats"]["urlRefreshes"], 1);
    assert!(log.contains("part 2: injected failure"), "{log}");
    assert!(log.contains("part 5: injected failure"), "{log}");
    assert!(log.contains("part 3: 403 injected"), "{log}");
    let key = result["key"].as_str().expect("key");
    stack.assert_stored(key, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_that_keeps_failing_gives_up_clearly_and_resumes_without_the_state_file() {
    let stack = Stack::start(S3Server::Moto).await;
    let scratch = Scratch::new();
    let bytes = file_bytes(16 * MIB, 4);
    let file = scratch.file("stubborn.bin", &bytes);

    let mut command = stack.cli(&["upload", path(&file), "--max-retries", "2"]);
    command.env("UPLOAD_FAIL_PUTS", "2:10");
    let out = output(command).await;
    let log = stderr(&out);
    assert!(!out.status.success());
    assert!(
        log.contains("part 2 failed after 3 tries, giving up: injected failure"),
        "{log}"
    );
    assert!(log.contains("the upload stays resumable"), "{log}");
    let saved = read_state(&file).expect("the state file is kept");
    let upload_id = saved["uploadId"].as_str().expect("uploadId").to_owned();
    assert!(saved["done"].get("2").is_none());

    // Without the state file, GET /parts alone says what is missing.
    std::fs::remove_file(state_file(&file)).expect("state file removed");
    let out = output(stack.cli(&["resume", &upload_id, path(&file)])).await;
    assert!(out.status.success(), "resume failed: {}", stderr(&out));
    let result = stdout_json(&out);
    let stats = &result["stats"];
    assert_eq!(
        stats["puts"].as_u64().unwrap_or(0) + stats["partsAlreadyStored"].as_u64().unwrap_or(0),
        4,
        "{result}"
    );
    assert!(stats["partsAlreadyStored"].as_u64().unwrap_or(0) <= 3);
    let key = result["key"].as_str().expect("key");
    stack.assert_stored(key, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_keeps_the_upload_resumable_then_status_and_abort() {
    let stack = Stack::start(S3Server::Moto).await;
    let scratch = Scratch::new();
    let bytes = file_bytes(16 * MIB, 5);
    let file = scratch.file("interrupted.bin", &bytes);
    let log_path = scratch.0.join("stderr.log");

    let mut command = stack.cli(&["upload", path(&file), "--concurrency", "1"]);
    command
        .env("UPLOAD_PART_DELAY_MS", "700")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"));
    let mut child = command.spawn().expect("the CLI starts");
    wait_for_parts(&file, 1, Duration::from_secs(60)).await;
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("joined")
        .expect("exit status");
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(log.contains("interrupted"), "{log}");
    let saved = read_state(&file).expect("Ctrl-C keeps the state file");
    let upload_id = saved["uploadId"].as_str().expect("uploadId").to_owned();
    assert!(log.contains(&format!("upload resume {upload_id}")), "{log}");

    let out = output(stack.cli(&["status", &upload_id])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let status = stdout_json(&out);
    assert_eq!(status["status"], "INITIATED");
    assert!(
        status["uploadedParts"].as_u64().unwrap_or(0) >= 1,
        "{status}"
    );

    let out = output(stack.cli(&["abort", &upload_id, path(&file)])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["status"], "ABORTED");
    assert!(
        read_state(&file).is_none(),
        "abort with FILE removes the state"
    );

    let out = output(stack.cli(&["resume", &upload_id, path(&file)])).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("ABORTED: it cannot be resumed"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_uploads_with_small_url_batches_and_refuses_a_second_upload_of_a_file() {
    let stack = Stack::start(S3Server::Moto).await;
    let scratch = Scratch::new();
    let bytes = file_bytes(21 * MIB, 6);
    let file = scratch.file("library.bin", &bytes);
    let api = Api::new(&stack.base, Identity::User(USER.into())).expect("API client");
    let options = Options {
        concurrency: 2,
        urls_per_batch: 2,
        retry_base: Duration::from_millis(10),
        faults: Faults::parse("", "4").expect("faults"),
        ..Options::default()
    };
    let uploader = Uploader::new(api, options);
    let outcome = uploader
        .upload(&file, Arc::new(Silent))
        .await
        .expect("upload completes");
    assert_eq!(outcome.stats.parts_uploaded, 5);
    assert_eq!(outcome.stats.url_batches, 3, "parts 1-2, 3-4, 5");
    assert_eq!(outcome.stats.url_refreshes, 1);
    assert_eq!(outcome.stats.bytes_uploaded, 21 * MIB as u64);
    stack.assert_stored(outcome.key.as_str(), &bytes).await;

    // A state file left by an unfinished upload stops a second, accidental upload of the file.
    std::fs::write(
        state_file(&file),
        format!(
            r#"{{"uploadId":"{}","key":"k","chunkSize":1,"totalParts":1,"fileSize":1}}"#,
            outcome.upload_id
        ),
    )
    .expect("state file");
    let err = uploader
        .upload(&file, Arc::new(Silent))
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("upload resume"),
        "the refusal says how to go on: {err}"
    );
    // Resuming a completed upload just reports it and tidies up.
    let again = uploader
        .resume(&outcome.upload_id, &file, Arc::new(Silent))
        .await
        .expect("already completed");
    assert_eq!(again.completion["status"], "COMPLETED");
    assert_eq!(again.stats.puts, 0);
    assert!(read_state(&file).is_none());
}

/// Starts `upload FILE` one part at a time, slowly, and kills it (SIGKILL) once its state file
/// records two stored parts; the upload's id.
async fn kill_after_two_parts(stack: &Stack, file: &std::path::Path) -> String {
    let mut command = stack.cli(&["upload", path(file), "--concurrency", "1"]);
    command
        .env("UPLOAD_PART_DELAY_MS", "700")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("the CLI starts");
    let state = wait_for_parts(file, 2, Duration::from_secs(60)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    state["uploadId"].as_str().expect("uploadId").to_owned()
}

fn path(file: &std::path::Path) -> &str {
    file.to_str().expect("UTF-8 scratch path")
}
