//! The endpoints' first calls, made alongside the rate write: admission (the rate write itself),
//! and the record read, complete's claim or initialize's lookups, kept for the handler to take.

use std::cell::RefCell;

use lambda_http::Request;

use super::error::ApiError;
use super::{caller, file, listing, path_upload_id, Deps, Endpoint, Parsed};
use crate::domain::ids::{Owner, UploadId};
use crate::domain::sizing::MAX_PARTS;
use crate::domain::UploadRecord;
use crate::ports::{Holding, OwnerPage};
use crate::usecases;

tokio::task_local! {
    /// What the endpoint's first call answered, made alongside the rate write.
    pub(super) static PREFETCHED: RefCell<Option<Prefetched>>;
}

/// An endpoint's first call, made alongside the rate write, for its handler to take.
pub(super) enum Prefetched {
    /// The upload record read, for [`owned`]: (upload id, what was read).
    Record(UploadId, Option<UploadRecord>),
    /// Complete's claim on the upload ([`usecases::complete::begin`]): (upload id, the claim).
    Claim(UploadId, Holding),
    /// Initialize's reads ([`usecases::initialize::look_up`]): (owner, fingerprint, what they found).
    Lookups(Owner, Option<String>, usecases::initialize::Lookups),
    /// The listing's page ([`usecases::listing::read_page`]): what was asked, when, what was read.
    Page(usecases::listing::PageQuery, i64, OwnerPage),
}

impl Endpoint {
    /// Reads the upload record the request names (path or body `uploadId`), if it names one, so
    /// that this read runs concurrently with the rate write. Any failure leaves it to the handler.
    pub(super) async fn prefetch(
        self, deps: &Deps, req: &Request, body: &Parsed,
    ) -> Option<Prefetched> {
        let upload_id = match self {
            Self::ListParts | Self::Status => path_upload_id(req).ok()?,
            Self::PresignedUrl | Self::BatchPresignedUrls | Self::Complete | Self::Abort => {
                let body = body.as_ref().ok()?;
                UploadId::parse(body.string("uploadId").ok()?).ok()?
            }
            Self::Initialize => {
                // Initialize's first calls are reads of the owner's items.
                let owner = caller(req).ok()?;
                let body = body.as_ref().ok()?;
                let fingerprint = file::fingerprint(body.opt_string("fingerprint").ok()?).ok()?;
                let lookups =
                    usecases::initialize::look_up(deps.ports(), &owner, fingerprint.as_deref())
                        .await
                        .ok()?;
                return Some(Prefetched::Lookups(owner, fingerprint, lookups));
            }
            Self::ListUploads => {
                // The listing's first call is its page's read.
                let query = listing::page_query(req).ok()?;
                let now = deps.clock.epoch_secs();
                let page = usecases::listing::read_page(deps.ports(), &query, now)
                    .await
                    .ok()?;
                return Some(Prefetched::Page(query, now, page));
            }
        };
        let owner = caller(req).ok()?;
        if self == Self::Complete {
            // Complete's first call is its claim, which answers with the record.
            let claim = usecases::complete::begin(deps.ports(), &deps.config, &upload_id, &owner)
                .await
                .ok()?;
            return Some(Prefetched::Claim(upload_id, claim));
        }
        let record = deps.records.get(&upload_id).await.ok()?;
        Some(Prefetched::Record(upload_id, record))
    }

    /// Counts the request, and the part URLs it asks for, against the caller's per-minute limits
    /// (one conditional DynamoDB write). Requests without identity are left to the handler's 401.
    pub(super) async fn admit(
        self, deps: &Deps, req: &Request, body: &Parsed,
    ) -> Result<(), ApiError> {
        let Ok(owner) = caller(req) else {
            return Ok(());
        };
        let urls = match self {
            Self::PresignedUrl => 1,
            // The range asked for; a malformed body counts as one and is refused by the handler.
            Self::BatchPresignedUrls => body
                .as_ref()
                .ok()
                .and_then(|body| {
                    let start = body.integer("startPart", 1, MAX_PARTS).ok()?;
                    let end = body.integer("endPart", 1, MAX_PARTS).ok()?;
                    Some(end.saturating_sub(start) + 1)
                })
                .unwrap_or(1),
            _ => 0,
        };
        usecases::rate::admit(deps.ports(), &deps.config, &owner, urls).await?;
        Ok(())
    }
}

/// The caller's upload `upload_id`, with the span naming it.
pub(super) async fn owned(
    deps: &Deps, owner: &Owner, upload_id: &UploadId,
) -> Result<UploadRecord, ApiError> {
    let prefetched = take_prefetched(|p| matches!(p, Prefetched::Record(id, _) if id == upload_id));
    let record = match prefetched {
        Some(Prefetched::Record(_, Some(record))) if record.owner == owner => record,
        // A missing id and somebody else's look exactly alike.
        Some(_) => return Err(crate::domain::UploadError::NotFound.into()),
        None => usecases::owned(deps.ports(), upload_id, owner).await?,
    };
    tracing::Span::current().record("upload_id", record.upload_id.as_str());
    Ok(record)
}

/// Gives back a completion claim made alongside the rate write that no handler took (the rate
/// limit or the handler refused the request first): the upload is as it was.
pub(super) async fn give_back_untaken(deps: &Deps, untaken: Option<Prefetched>) {
    if let Some(Prefetched::Claim(_, holding)) = &untaken {
        usecases::complete::let_go(deps.ports(), holding).await;
    }
}

/// What the endpoint's first call answered, if `wanted` says it is the one this handler needs.
fn take_prefetched(wanted: impl Fn(&Prefetched) -> bool) -> Option<Prefetched> {
    PREFETCHED
        .try_with(|cell| {
            let mut cell = cell.borrow_mut();
            cell.as_ref()
                .is_some_and(&wanted)
                .then(|| cell.take())
                .flatten()
        })
        .ok()
        .flatten()
}

/// Initialize's reads for `owner` and `fingerprint`, if they were made alongside the rate write.
pub(super) fn lookups(
    owner: &Owner, fingerprint: Option<&str>,
) -> Option<usecases::initialize::Lookups> {
    match take_prefetched(
        |p| matches!(p, Prefetched::Lookups(o, f, _) if o == owner && f.as_deref() == fingerprint),
    ) {
        Some(Prefetched::Lookups(_, _, lookups)) => Some(lookups),
        _ => None,
    }
}

/// The listing's page for `query`, if it was read alongside the rate write (and when).
pub(super) fn page(query: &usecases::listing::PageQuery) -> Option<(i64, OwnerPage)> {
    match take_prefetched(|p| matches!(p, Prefetched::Page(q, ..) if q == query)) {
        Some(Prefetched::Page(_, now, page)) => Some((now, page)),
        _ => None,
    }
}

/// Complete's claim on the caller's upload `upload_id`: the one made alongside the rate write, or
/// a new one.
pub(super) async fn claim(
    deps: &Deps, owner: &Owner, upload_id: &UploadId,
) -> Result<Holding, ApiError> {
    let prefetched = take_prefetched(|p| matches!(p, Prefetched::Claim(id, _) if id == upload_id));
    let holding = match prefetched {
        Some(Prefetched::Claim(_, holding)) => holding,
        _ => usecases::complete::begin(deps.ports(), &deps.config, upload_id, owner).await?,
    };
    if let Some(record) = holding.record() {
        tracing::Span::current().record("upload_id", record.upload_id.as_str());
    }
    Ok(holding)
}
