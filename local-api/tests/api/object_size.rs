//! Completion names the object's size (`x-amz-mp-object-size`), and storage that checks it, as S3
//! and LocalStack do, refuses a completion of any other total: the object is the declared file or
//! nothing, whatever parts were listed.

use shared::ports::{CompleteError, Expected};

use testkit::*;

#[tokio::test]
async fn storage_refuses_a_completion_whose_size_is_not_the_declared_one() {
    let stack = Stack::start(S3Server::LocalStack).await;
    let user = "sizes";
    let file = file_bytes(100, 21);
    let init = stack.begin(user, "a.mp4", file.len()).await;
    let id = &init.upload_id;
    let urls = stack.urls(user, id, 1, 1).await;
    let parts = part_refs(stack.upload_parts(&urls, &file, file.len(), &[1]).await);
    let record = stack.record(id).await;
    let expected = |size| Expected {
        size,
        checksum: None,
        whole_file: None,
    };
    let complete = |size| {
        stack
            .deps
            .objects
            .complete(&record.key, &record.s3_upload_id, &parts, expected(size))
    };
    match complete(file.len() as u64 + 1).await {
        Err(CompleteError::Refused { code, .. }) => assert_eq!(code, "InvalidRequest"),
        other => panic!(
            "a completion of another size must be refused: {:?}",
            other.map(|_| ())
        ),
    }
    // Nothing was created and the parts remain: the declared size completes.
    complete(file.len() as u64)
        .await
        .expect("the declared size completes");
    assert_eq!(stack.read_object(&record.key).await, file);
}
