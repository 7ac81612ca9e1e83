//! The object store: S3's multipart rules in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use shared::domain::checksum::ChecksumAlgorithm;
use shared::domain::ids::{ObjectKey, PartNumber, S3UploadId};
use shared::domain::metadata::Metadata;
use shared::ports::{
    BoxFuture, CompleteError, CompletedObject, Expected, MultipartListing, ObjectHead, ObjectStore,
    PageToken, Paged, PartRef, PortError, StoredPart, Time,
};

use super::*;

#[derive(Clone, Debug)]
pub struct FakeUpload {
    pub key: String,
    pub parts: BTreeMap<u32, (String, u64)>,
    pub initiated: i64,
}

#[derive(Default)]
pub(crate) struct ObjectState {
    pub(crate) uploads: BTreeMap<String, FakeUpload>,
    pub(crate) objects: HashMap<String, ObjectHead>,
    pub(crate) next: u64,
}

pub struct FakeObjects {
    pub(crate) state: Mutex<ObjectState>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) time: Arc<FakeTime>,
    /// Page size of ListMultipartUploads (S3's is 1,000).
    pub listing_page: usize,
    pub(crate) puts: AtomicU64,
}

impl FakeObjects {
    pub fn new(faults: Arc<Faults>, time: Arc<FakeTime>) -> Self {
        Self {
            state: Mutex::default(),
            faults,
            time,
            listing_page: 1000,
            puts: AtomicU64::new(0),
        }
    }

    /// A phone's PUT of a part to its presigned URL; `false` if the upload is gone.
    pub fn put_part(&self, s3_upload_id: &str, number: u32, size: u64, content: u64) -> bool {
        self.puts.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        let Some(upload) = state.uploads.get_mut(s3_upload_id) else {
            return false;
        };
        let etag = format!(
            "\"{:016x}\"",
            content.wrapping_mul(31).wrapping_add(size) ^ u64::from(number)
        );
        upload.parts.insert(number, (etag, size));
        true
    }

    pub fn uploads(&self) -> Vec<(String, FakeUpload)> {
        let state = self.state.lock().unwrap();
        state
            .uploads
            .iter()
            .map(|(id, u)| (id.clone(), u.clone()))
            .collect()
    }

    /// The parts a multipart upload holds, with their ETags (what a phone collects from its PUTs).
    pub fn etags(&self, s3_upload_id: &str) -> Vec<(u32, String)> {
        let state = self.state.lock().unwrap();
        state.uploads.get(s3_upload_id).map_or_else(Vec::new, |u| {
            u.parts
                .iter()
                .map(|(n, (etag, _))| (*n, etag.clone()))
                .collect()
        })
    }

    pub fn object(&self, key: &str) -> Option<ObjectHead> {
        self.state.lock().unwrap().objects.get(key).cloned()
    }

    pub fn object_count(&self) -> usize {
        self.state.lock().unwrap().objects.len()
    }

    /// Starts a multipart upload outside any use case (test set-up only).
    pub fn create_raw(&self, key: &str) -> String {
        let mut state = self.state.lock().unwrap();
        state.next += 1;
        let id = format!("mpu-{}", state.next);
        state.uploads.insert(
            id.clone(),
            FakeUpload {
                key: key.to_owned(),
                parts: BTreeMap::new(),
                initiated: self.time.now(),
            },
        );
        id
    }

    /// Completes in storage outside any use case (what a dead function did before it died).
    pub fn complete_raw(&self, s3_upload_id: &str) {
        let mut state = self.state.lock().unwrap();
        let upload = state.uploads.remove(s3_upload_id).expect("upload exists");
        let size = upload.parts.values().map(|(_, s)| s).sum();
        state.objects.insert(
            upload.key,
            ObjectHead {
                etag: format!("\"raw-{}\"", upload.parts.len()),
                size,
            },
        );
    }

    /// Drops a multipart upload as a lifecycle rule would.
    pub fn lose(&self, s3_upload_id: &str) {
        self.state.lock().unwrap().uploads.remove(s3_upload_id);
    }

    pub(crate) fn complete_now(
        &self, key: &str, id: &str, parts: &[PartRef], expected_size: Option<u64>,
    ) -> Result<CompletedObject, CompleteError> {
        let mut state = self.state.lock().unwrap();
        let Some(upload) = state.uploads.get(id).filter(|u| u.key == key) else {
            return Err(CompleteError::NoSuchUpload);
        };
        if state.objects.contains_key(key) {
            return Err(CompleteError::KeyExists);
        }
        let refused = |code: &str| CompleteError::Refused {
            code: code.to_owned(),
            message: "refused".into(),
        };
        let mut size = 0;
        for (i, part) in parts.iter().enumerate() {
            if i > 0 && parts[i - 1].number >= part.number {
                return Err(refused("InvalidPartOrder"));
            }
            let Some((etag, part_size)) = upload.parts.get(&part.number.get()) else {
                return Err(refused("InvalidPart"));
            };
            if etag.trim_matches('"') != part.etag.trim_matches('"') {
                return Err(refused("InvalidPart"));
            }
            if i + 1 < parts.len() && *part_size < 5 * MIB {
                return Err(refused("EntityTooSmall"));
            }
            size += part_size;
        }
        if expected_size.is_some_and(|expected| expected != size) {
            return Err(refused("InvalidRequest"));
        }
        let head = ObjectHead {
            etag: format!("\"{:x}-{}\"", size, parts.len()),
            size,
        };
        state.uploads.remove(id);
        state.objects.insert(key.to_owned(), head.clone());
        Ok(CompletedObject {
            etag: head.etag,
            location: format!("http://fake/{key}"),
            checksum: None,
        })
    }
}

impl ObjectStore for FakeObjects {
    fn bucket(&self) -> &str {
        "fake-bucket"
    }

    fn create_multipart<'a>(
        &'a self, key: &'a ObjectKey, _content_type: &'a str, _content_disposition: &'a str,
        _checksum: Option<ChecksumAlgorithm>, _metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<S3UploadId, PortError>> {
        let key = key.as_str();
        Box::pin(async move {
            match self.faults.enter(&self.time, "CreateMultipartUpload").await {
                Verdict::Normal => Ok(self.create_raw(key).into()),
                Verdict::Fail { apply } => {
                    if apply {
                        self.create_raw(key);
                    }
                    Err(injected("CreateMultipartUpload"))
                }
                Verdict::Die => {
                    let id = self.create_raw(key);
                    self.faults.die();
                    Ok(id.into())
                }
            }
        })
    }

    fn list_parts<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<Option<Vec<StoredPart>>, PortError>> {
        let key = key.as_str();
        let s3_upload_id = s3_upload_id.as_str();
        Box::pin(async move {
            let verdict = self.faults.enter(&self.time, "ListParts").await;
            let answer = {
                let state = self.state.lock().unwrap();
                state
                    .uploads
                    .get(s3_upload_id)
                    .filter(|u| u.key == key)
                    .map(|u| {
                        u.parts
                            .iter()
                            .map(|(n, (etag, size))| StoredPart {
                                number: PartNumber::new(*n).expect("a part number the fake stored"),
                                etag: Some(etag.clone()),
                                size: *size,
                                checksum: None,
                            })
                            .collect()
                    })
            };
            match verdict {
                Verdict::Normal => Ok(answer),
                Verdict::Fail { .. } => Err(injected("ListParts")),
                Verdict::Die => {
                    self.faults.die();
                    Ok(answer)
                }
            }
        })
    }

    fn complete<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId, parts: &'a [PartRef],
        expected: Expected<'a>,
    ) -> BoxFuture<'a, Result<CompletedObject, CompleteError>> {
        let key = key.as_str();
        let s3_upload_id = s3_upload_id.as_str();
        let size = Some(expected.size);
        Box::pin(async move {
            match self
                .faults
                .enter(&self.time, "CompleteMultipartUpload")
                .await
            {
                Verdict::Normal => self.complete_now(key, s3_upload_id, parts, size),
                Verdict::Fail { apply } => {
                    if apply {
                        let _ = self.complete_now(key, s3_upload_id, parts, size);
                    }
                    Err(CompleteError::Failed(injected("CompleteMultipartUpload")))
                }
                Verdict::Die => {
                    let answer = self.complete_now(key, s3_upload_id, parts, size);
                    self.faults.die();
                    answer
                }
            }
        })
    }

    fn abort<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        let key = key.as_str();
        let s3_upload_id = s3_upload_id.as_str();
        Box::pin(async move {
            let verdict = self.faults.enter(&self.time, "AbortMultipartUpload").await;
            let apply = || {
                let mut state = self.state.lock().unwrap();
                match state.uploads.get(s3_upload_id) {
                    Some(u) if u.key == key => state.uploads.remove(s3_upload_id).is_some(),
                    _ => false,
                }
            };
            match verdict {
                Verdict::Normal => Ok(apply()),
                Verdict::Fail { apply: applied } => {
                    if applied {
                        apply();
                    }
                    Err(injected("AbortMultipartUpload"))
                }
                Verdict::Die => {
                    let answer = apply();
                    self.faults.die();
                    Ok(answer)
                }
            }
        })
    }

    fn head<'a>(
        &'a self, key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<ObjectHead>, PortError>> {
        let key = key.as_str();
        Box::pin(async move {
            let verdict = self.faults.enter(&self.time, "HeadObject").await;
            let answer = self.object(key);
            match verdict {
                Verdict::Normal => Ok(answer),
                Verdict::Fail { .. } => Err(injected("HeadObject")),
                Verdict::Die => {
                    self.faults.die();
                    Ok(answer)
                }
            }
        })
    }

    fn multipart_uploads<'a>(
        &'a self, prefix: &'a str, start: Option<PageToken>,
    ) -> BoxFuture<'a, Result<Paged<MultipartListing>, PortError>> {
        Box::pin(async move {
            let verdict = self.faults.enter(&self.time, "ListMultipartUploads").await;
            let answer = {
                let state = self.state.lock().unwrap();
                let mut all: Vec<MultipartListing> = state
                    .uploads
                    .iter()
                    .filter(|(_, u)| u.key.starts_with(prefix))
                    .map(|(id, u)| MultipartListing {
                        key: u.key.clone().into(),
                        s3_upload_id: id.clone().into(),
                        initiated: u.initiated,
                    })
                    .collect();
                all.sort_by(|a, b| (&a.key, &a.s3_upload_id).cmp(&(&b.key, &b.s3_upload_id)));
                let position = |l: &MultipartListing| format!("{}\0{}", l.key, l.s3_upload_id);
                let page: Vec<MultipartListing> = all
                    .into_iter()
                    .filter(|l| start.as_ref().is_none_or(|s| position(l) > s.0))
                    .take(self.listing_page)
                    .collect();
                let next = (page.len() == self.listing_page)
                    .then(|| page.last().map(|l| PageToken(position(l))))
                    .flatten();
                (page, next)
            };
            match verdict {
                Verdict::Normal => Ok(answer),
                Verdict::Fail { .. } => Err(injected("ListMultipartUploads")),
                Verdict::Die => {
                    self.faults.die();
                    Ok(answer)
                }
            }
        })
    }
}
