//! What one path left behind, and the invariants it must satisfy.

use shared::domain::Status;
use shared::domain::UploadRecord;
use support::World;

use super::*;

/// What one path left behind, checked against the invariants.
pub(crate) struct Path {
    pub(crate) use_case: UseCase,
    /// What the client saw, in order.
    pub(crate) seen: Vec<String>,
    /// Uploads a complete answered 200 for.
    pub(crate) completed: Vec<UploadRecord>,
    pub(crate) failures: Vec<String>,
}

impl Path {
    pub(crate) fn fail(&mut self, what: String) {
        self.failures.push(what);
    }

    /// Notes what the client saw; a 5xx other than 503 is never right.
    pub(crate) fn saw(&mut self, seen: &Seen) {
        self.seen.push(seen.describe());
        if let Seen::Answer(Err(e)) = seen {
            if e.status().is_server_error() && e.status() != 503 {
                self.fail(format!("the client saw {}", seen.describe()));
            }
        }
    }
}

pub(crate) fn check(world: &World, path: &mut Path, target: Option<&UploadRecord>) {
    let records = world.records.all();
    // A complete that answered 200: the object exists with the planned size, and stays.
    for done in path.completed.clone() {
        match world.objects.object(&done.key) {
            Some(head) if head.size == done.file_size => {}
            other => path.fail(format!("complete answered 200 but storage holds {other:?}")),
        }
        let status = world.records.record(&done.upload_id).map(|r| r.status);
        if status != Some(Status::Completed) {
            path.fail(format!(
                "complete answered 200 but the record is {status:?}"
            ));
        }
    }
    // An object in storage means its record ends COMPLETED.
    for record in &records {
        if world.objects.object(&record.key).is_some() && record.status != Status::Completed {
            path.fail(format!(
                "an object exists but its record is {}",
                record.status.as_str()
            ));
        }
    }
    // The quota counts exactly the unfinished uploads.
    let unfinished: Vec<&UploadRecord> = records
        .iter()
        .filter(|r| r.owner == USER && matches!(r.status, Status::Initiated | Status::Completing))
        .collect();
    let usage = world.records.usage(USER);
    let expected = (
        unfinished.len() as i64,
        unfinished.iter().map(|r| r.file_size as i64).sum::<i64>(),
    );
    if (usage.active_uploads, usage.bytes_in_flight) != expected {
        path.fail(format!(
            "quota {usage:?} but unfinished uploads {expected:?}"
        ));
    }
    // After the cleanup, no multipart upload without a live record.
    for (s3_id, upload) in world.objects.uploads() {
        let live = records.iter().any(|r| {
            r.s3_upload_id == s3_id && matches!(r.status, Status::Initiated | Status::Completing)
        });
        if !live {
            path.fail(format!(
                "multipart upload {s3_id} at {} has no live record",
                upload.key
            ));
        }
    }
    // What each use case is for happened.
    let target_status = target
        .and_then(|t| world.records.record(&t.upload_id))
        .map(|r| r.status);
    match path.use_case {
        UseCase::Initialize
        | UseCase::InitializeFingerprint
        | UseCase::Complete
        | UseCase::CompleteWithParts
        | UseCase::CompleteTakeover => {
            if target_status != Some(Status::Completed) {
                path.fail(format!("the upload ended {target_status:?}, not COMPLETED"));
            }
            // With a fingerprint, the retries find the first attempt's upload instead of leaving
            // it to expire.
            let expired = records
                .iter()
                .filter(|r| r.status == Status::Expired)
                .count();
            if path.use_case == UseCase::InitializeFingerprint && expired != 0 {
                path.fail(format!(
                    "{expired} uploads of the same file were left to expire"
                ));
            }
        }
        UseCase::Abort | UseCase::AbortLost => {
            if target_status != Some(Status::Aborted) {
                path.fail(format!("the upload ended {target_status:?}, not ABORTED"));
            }
        }
        UseCase::Cleanup => {
            // Two stuck completions: the one storage completed is COMPLETED, the other EXPIRED;
            // nothing else is COMPLETED but the finished upload.
            let completed = records
                .iter()
                .filter(|r| r.status == Status::Completed)
                .count();
            if completed != 2 || world.objects.object_count() != 2 {
                path.fail(format!(
                    "{completed} completed records and {} objects, expected 2 and 2",
                    world.objects.object_count()
                ));
            }
        }
        UseCase::ListParts | UseCase::Status | UseCase::ListUploads => {}
    }
}
