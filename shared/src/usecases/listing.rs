//! `GET /uploads`: the caller's uploads, newest first, with the parts storage holds of the first
//! [`PARTS_SHOWN`] unfinished ones. Read-only: it never changes a record.
//!
//! The request is charged as one, so its cost is bounded whatever the page size: one Query and at
//! most [`PARTS_SHOWN`] ListParts. The other unfinished uploads on the page come without
//! `uploadedParts`/`uploadedBytes`; `GET /parts` or `GET /status` of one upload gives them.

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::parts::{progress, Progress};
use crate::domain::listing::Position;
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::Ports;

/// Unfinished uploads per page whose parts storage is asked for: the page's storage calls at most.
pub const PARTS_SHOWN: usize = 8;

/// An upload on a page, with its status as of now and what storage holds of it.
#[derive(Clone, Debug)]
pub struct Listed {
    pub record: UploadRecord,
    pub progress: Progress,
    /// Whether `progress` counts the parts storage holds (only for the first [`PARTS_SHOWN`]
    /// unfinished uploads of a page).
    pub parts_shown: bool,
}

/// One page of the caller's uploads, and the position the next page starts after.
pub async fn list(
    ports: Ports<'_>,
    owner: &str,
    filter: Option<Status>,
    after: Option<Position>,
    limit: u32,
) -> Result<(Vec<Listed>, Option<Position>), UploadError> {
    let now = ports.time.now();
    let (records, next) = ports
        .records
        .by_owner(owner, filter, now, after, limit)
        .await?;
    let mut asked = 0;
    let listed = stream::iter(records.into_iter().filter(|r| r.owner == owner))
        .map(|record| {
            let status = record.status_at(now);
            let unfinished = matches!(status, Status::Initiated | Status::Completing);
            let parts_shown = unfinished && asked < PARTS_SHOWN;
            asked += usize::from(parts_shown);
            async move {
                let progress = if parts_shown {
                    progress(ports, &record).await?
                } else {
                    Progress {
                        status,
                        uploaded_parts: 0,
                        uploaded_bytes: 0,
                    }
                };
                Ok::<_, UploadError>(Listed {
                    record,
                    progress,
                    parts_shown,
                })
            }
        })
        .buffered(PARTS_SHOWN)
        .try_collect()
        .await?;
    Ok((listed, next))
}
