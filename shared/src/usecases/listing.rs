//! `GET /uploads`: the caller's uploads, newest first, with the parts storage holds of the first
//! [`PARTS_SHOWN`] unfinished ones. Read-only: it never changes a record.
//!
//! The request is charged as one, so its cost is bounded whatever the page size: one Query and at
//! most [`PARTS_SHOWN`] ListParts. The other unfinished uploads on the page come without
//! `uploadedParts`/`uploadedBytes`; `GET /parts` or `GET /status` of one upload gives them.

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::parts::{progress, Progress};
use crate::domain::ids::Owner;
use crate::domain::listing::Position;
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::{OwnerPage, PortError, Ports};

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

/// Which page of whose uploads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageQuery {
    pub owner: Owner,
    pub filter: Option<Status>,
    pub after: Option<Position>,
    pub limit: u32,
}

/// The page's records from the owner index, as of `now`: the listing's one read, which the HTTP
/// layer sends alongside the rate write.
pub async fn read_page(
    ports: Ports<'_>, query: &PageQuery, now: i64,
) -> Result<OwnerPage, PortError> {
    let PageQuery {
        owner,
        filter,
        after,
        limit,
    } = query;
    ports
        .records
        .by_owner(owner, *filter, now, after.clone(), *limit)
        .await
}

/// One page of the caller's uploads, and the position the next page starts after. `first`: the
/// page already read ([`read_page`]) as of the time given with it, if any.
pub async fn list(
    ports: Ports<'_>, query: &PageQuery, first: Option<(i64, OwnerPage)>,
) -> Result<(Vec<Listed>, Option<Position>), UploadError> {
    let owner = query.owner.as_str();
    let (now, (records, next)) = match first {
        Some(read) => read,
        None => {
            let now = ports.time.now();
            (now, read_page(ports, query, now).await?)
        }
    };
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
