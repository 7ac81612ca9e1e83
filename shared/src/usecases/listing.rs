//! `GET /uploads`: the caller's uploads, newest first, with the parts storage holds of each
//! unfinished one. Read-only: it never changes a record.

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::parts::{progress, Progress};
use crate::domain::listing::Position;
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::Ports;

/// ListParts calls in flight at once for one page.
const CONCURRENT_LISTINGS: usize = 8;

/// An upload on a page, with its status as of now and what storage holds of it.
#[derive(Clone, Debug)]
pub struct Listed {
    pub record: UploadRecord,
    pub progress: Progress,
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
    let listed = stream::iter(records.into_iter().filter(|r| r.owner == owner))
        .map(|record| async move {
            let progress = progress(ports, &record).await?;
            Ok::<_, UploadError>(Listed { record, progress })
        })
        .buffered(CONCURRENT_LISTINGS)
        .try_collect()
        .await?;
    Ok((listed, next))
}
