//! Storage-call budgets against the local stack (docs/scale.md, "Bounded cost per request"): the
//! real adapters behind a counting wrapper, so the figures are those of moto's S3, not a fake's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use shared::domain::checksum::ChecksumAlgorithm;
use shared::domain::ids::{ObjectKey, S3UploadId};
use shared::domain::metadata::Metadata;
use shared::ports::{
    BoxFuture, CompleteError, CompletedObject, Expected, MultipartListing, ObjectHead, ObjectStore,
    PageToken, Paged, PartRef, PortError, Ports, StoredPart,
};
use shared::usecases;

use testkit::*;

/// The stack's S3 adapter, counting every call.
struct Counting {
    inner: Arc<dyn ObjectStore>,
    calls: AtomicU64,
}

impl Counting {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl ObjectStore for Counting {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }

    fn create_multipart<'a>(
        &'a self, key: &'a ObjectKey, content_type: &'a str, disposition: &'a str,
        checksum: Option<ChecksumAlgorithm>, metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<S3UploadId, PortError>> {
        self.count();
        self.inner
            .create_multipart(key, content_type, disposition, checksum, metadata)
    }

    fn list_parts<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<Option<Vec<StoredPart>>, PortError>> {
        self.count();
        self.inner.list_parts(key, s3_upload_id)
    }

    fn complete<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId, parts: &'a [PartRef],
        expected: Expected<'a>,
    ) -> BoxFuture<'a, Result<CompletedObject, CompleteError>> {
        self.count();
        self.inner.complete(key, s3_upload_id, parts, expected)
    }

    fn abort<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        self.count();
        self.inner.abort(key, s3_upload_id)
    }

    fn head<'a>(
        &'a self, key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<ObjectHead>, PortError>> {
        self.count();
        self.inner.head(key)
    }

    fn multipart_uploads<'a>(
        &'a self, prefix: &'a str, start: Option<PageToken>,
    ) -> BoxFuture<'a, Result<Paged<MultipartListing>, PortError>> {
        self.count();
        self.inner.multipart_uploads(prefix, start)
    }
}

fn counting(stack: &Stack) -> Counting {
    Counting {
        inner: stack.deps.objects.clone(),
        calls: AtomicU64::new(0),
    }
}

fn ports<'a>(stack: &'a Stack, objects: &'a Counting) -> Ports<'a> {
    Ports {
        records: stack.deps.records.as_ref(),
        objects,
        time: &stack.deps.clock,
        metrics: &stack.deps.metrics,
    }
}

#[tokio::test]
async fn a_listing_page_makes_a_bounded_number_of_storage_calls() {
    let stack = Stack::start(S3Server::Moto).await;
    let user = "lena";
    for i in 0..40 {
        stack.begin(user, &format!("f{i}.mp4"), 100).await;
    }
    let objects = counting(&stack);
    let query = usecases::listing::PageQuery {
        owner: user.into(),
        filter: None,
        after: None,
        limit: 100,
    };
    let (listed, _) = usecases::listing::list(ports(&stack, &objects), &query, None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 40);
    let calls = objects.calls.load(Ordering::SeqCst);
    assert_eq!(
        calls,
        usecases::listing::PARTS_SHOWN as u64,
        "one page, 40 unfinished uploads"
    );
    assert_eq!(
        listed.iter().filter(|l| l.parts_shown).count() as u64,
        calls
    );

    // Over HTTP: the first 8 unfinished uploads show their parts, the others omit the fields (raw:
    // the typed answer cannot tell an omitted field from a null one).
    let (status, body) = stack.get(Some(user), "/uploads?limit=100").await;
    assert_eq!(status, 200, "{body}");
    let uploads = body["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 40);
    let shown = uploads
        .iter()
        .filter(|u| u.get("uploadedParts").is_some())
        .count();
    assert_eq!(shown, usecases::listing::PARTS_SHOWN);
}

#[tokio::test]
async fn a_complete_with_etags_stays_within_its_storage_calls() {
    let stack = Stack::start(S3Server::Moto).await;
    let user = "lena";
    let file = file_bytes(100, 7);
    let init = stack.begin(user, "one.mp4", file.len()).await;
    let id = &init.upload_id;
    let urls = stack.urls(user, id, 1, 1).await;
    let etags = stack.upload_parts(&urls, &file, file.len(), &[1]).await;
    let parts = part_refs(etags);
    let objects = counting(&stack);
    let holding = usecases::complete::begin(
        ports(&stack, &objects),
        &stack.deps.config,
        &id.to_string().into(),
        &user.into(),
    )
    .await
    .unwrap();
    let done = usecases::complete::complete(
        ports(&stack, &objects),
        &stack.deps.config,
        holding,
        Some(&parts),
        None,
    )
    .await
    .unwrap();
    assert_eq!(done.status, shared::domain::Status::Completed);
    // CompleteMultipartUpload alone: it checks the ETags (each part's size was signed into its URL).
    assert_eq!(objects.calls.load(Ordering::SeqCst), 1);
    assert_eq!(stack.read_object(&done.key).await, file);
}
