//! What the stack holds, read (or set up) past the API, straight through its adapters: stored
//! objects, open multipart uploads, upload records.

use shared::domain::ids::PartNumber;
use shared::domain::UploadRecord;
use shared::ports::PartRef;
use upload_contract::UploadId;

use crate::bytes::sha256;
use crate::stack::Stack;

impl Stack {
    /// The stack's S3 client (the SDK's, for calls the adapters do not make).
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.deps.aws.s3
    }

    /// The stack's bucket.
    pub fn bucket(&self) -> &str {
        &self.deps.config.bucket
    }

    /// The stored object, read back from S3.
    pub async fn read_object(&self, key: &str) -> Vec<u8> {
        let object = self
            .s3()
            .get_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
            .expect("object exists");
        object
            .body
            .collect()
            .await
            .expect("object body")
            .into_bytes()
            .to_vec()
    }

    /// Asserts that the object at `key` holds `expected`, byte for byte (compared by SHA-256).
    pub async fn assert_stored(&self, key: &str, expected: &[u8]) {
        let stored = self.read_object(key).await;
        assert_eq!(sha256(&stored), sha256(expected), "the object at {key}");
    }

    /// The stored object's headers (content type, disposition, user metadata), read back from S3.
    pub async fn head_object(
        &self, key: &str,
    ) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
        self.head(key, false).await
    }

    /// [`Stack::head_object`] with the object's checksum and checksum type.
    pub async fn head_object_checksum(
        &self, key: &str,
    ) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
        self.head(key, true).await
    }

    async fn head(
        &self, key: &str, checksum: bool,
    ) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
        let mut request = self.s3().head_object().bucket(self.bucket()).key(key);
        if checksum {
            request = request.checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled);
        }
        request.send().await.expect("object exists")
    }

    /// The keys of the stored objects under `prefix` (one page).
    pub async fn object_keys(&self, prefix: &str) -> Vec<String> {
        let listed = self
            .s3()
            .list_objects_v2()
            .bucket(self.bucket())
            .prefix(prefix)
            .send()
            .await
            .expect("ListObjectsV2");
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    /// The keys of the multipart uploads storage holds open under `uploads/` (one page).
    pub async fn open_multiparts(&self) -> Vec<String> {
        let (uploads, next) = self
            .deps
            .objects
            .multipart_uploads("uploads/", None)
            .await
            .expect("ListMultipartUploads");
        assert!(next.is_none(), "one page holds them all");
        uploads.into_iter().map(|u| u.key.into_string()).collect()
    }

    /// A multipart upload at `key` with no record: what a function that died between the two
    /// leaves behind.
    pub async fn orphan_multipart(&self, key: &str) {
        self.deps
            .objects
            .create_multipart(
                &key.into(),
                "video/mp4",
                "attachment",
                None,
                &Default::default(),
            )
            .await
            .expect("CreateMultipartUpload");
    }

    /// The upload's record as the store holds it.
    pub async fn record(&self, id: &UploadId) -> UploadRecord {
        self.deps
            .records
            .get(&id.to_string().into())
            .await
            .expect("the record store answers")
            .expect("the record exists")
    }
}

/// `(number, ETag)` pairs as the use cases' part references (no checksums).
pub fn part_refs(etags: Vec<(u32, String)>) -> Vec<PartRef> {
    etags
        .into_iter()
        .map(|(number, etag)| PartRef {
            number: PartNumber::new(number).expect("a part number"),
            etag,
            checksum: None,
        })
        .collect()
}
