//! Listing the caller's uploads, newest first: the page size, the status filter and the cursor.
//!
//! The cursor is the position after which the next page starts (the last upload shown: its creation
//! time and id), bound to the caller and to the filter it was issued for: it carries a digest of
//! both with the position, and a cursor whose digest does not match is refused. The listing is a
//! query keyed on the caller, so even a cursor forged with a matching digest can only move within
//! the caller's own uploads: it can never reveal another user's.

use sha2::{Digest, Sha256};

use crate::domain::{Status, UploadError};
use upload_contract::ErrorCode;

/// Uploads per page unless the client asks for another number.
pub const DEFAULT_PAGE: u32 = 20;
/// The most uploads a page may hold (each unfinished one costs a ListParts).
pub const MAX_PAGE: u32 = 100;
/// Cursors this service issues are far shorter; anything longer is refused unread.
const MAX_CURSOR_CHARS: usize = 256;
const VERSION: &str = "c1";

/// Where a page ends: the last upload shown, in listing order (newest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// Epoch seconds.
    pub created_at: i64,
    pub upload_id: String,
}

/// The digest binding a position to its owner and filter (96 bits, hex).
fn tag(owner: &str, filter: Option<Status>, position: &Position) -> String {
    let digest = Sha256::new()
        .chain_update(b"upload-list-cursor\0")
        .chain_update(owner.as_bytes())
        .chain_update(b"\0")
        .chain_update(filter.map_or("*", Status::as_str).as_bytes())
        .chain_update(b"\0")
        .chain_update(position.created_at.to_string().as_bytes())
        .chain_update(b"\0")
        .chain_update(position.upload_id.as_bytes())
        .finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// The opaque cursor of the page after `position`, for `owner` listing with `filter`.
pub fn cursor(owner: &str, filter: Option<Status>, position: &Position) -> String {
    format!(
        "{VERSION}.{}.{}.{}",
        position.created_at,
        position.upload_id.replace('-', ""),
        tag(owner, filter, position)
    )
}

fn invalid_cursor() -> UploadError {
    UploadError::invalid(
        ErrorCode::InvalidCursor,
        "cursor is not one this listing issued to the caller with this status filter; \
         start again without it",
    )
}

/// The position a cursor names, if `owner` was issued it for `filter`.
pub fn parse_cursor(
    owner: &str, filter: Option<Status>, raw: &str,
) -> Result<Position, UploadError> {
    if raw.len() > MAX_CURSOR_CHARS {
        return Err(invalid_cursor());
    }
    let mut fields = raw.split('.');
    let (Some(VERSION), Some(at), Some(id), Some(digest), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(invalid_cursor());
    };
    let created_at = at
        .parse::<i64>()
        .ok()
        .filter(|created_at| *created_at >= 0 && created_at.to_string() == at)
        .ok_or_else(invalid_cursor)?;
    let upload_id = (id.len() == 32)
        .then(|| uuid::Uuid::try_parse(id).ok())
        .flatten()
        .ok_or_else(invalid_cursor)?
        .hyphenated()
        .to_string();
    let position = Position {
        created_at,
        upload_id,
    };
    if digest != tag(owner, filter, &position) {
        return Err(invalid_cursor());
    }
    Ok(position)
}

/// The page size a client asked for (`limit`), or the default.
pub fn page_size(raw: Option<&str>) -> Result<u32, UploadError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_PAGE);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            UploadError::invalid(
                ErrorCode::InvalidField,
                format!("limit must be a whole number from 1 to {MAX_PAGE}"),
            )
        })
}

/// The status filter a client asked for (`status`), as the wire spells statuses.
pub fn status_filter(raw: Option<&str>) -> Result<Option<Status>, UploadError> {
    raw.map(|raw| {
        Status::parse(raw).ok_or_else(|| {
            UploadError::invalid(
                ErrorCode::InvalidField,
                "status must be one of INITIATED, COMPLETING, COMPLETED, ABORTED, EXPIRED",
            )
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> Position {
        Position {
            created_at: 1_764_000_000,
            upload_id: "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f".into(),
        }
    }

    fn code(err: UploadError) -> ErrorCode {
        match err {
            UploadError::Invalid { code, .. } => code,
            other => panic!("not a client error: {other:?}"),
        }
    }

    #[test]
    fn a_cursor_names_its_position_for_its_owner_and_filter() {
        for filter in [None, Some(Status::Initiated), Some(Status::Expired)] {
            let cursor = cursor("alice", filter, &position());
            assert_eq!(parse_cursor("alice", filter, &cursor).unwrap(), position());
        }
    }

    #[test]
    fn another_owner_another_filter_or_an_edit_is_refused() {
        let issued = cursor("alice", None, &position());
        assert_eq!(
            code(parse_cursor("bob", None, &issued).unwrap_err()),
            "INVALID_CURSOR"
        );
        assert_eq!(
            code(parse_cursor("alice", Some(Status::Completed), &issued).unwrap_err()),
            "INVALID_CURSOR"
        );
        // Every single-character edit is refused (or names the very same position).
        for i in 0..issued.len() {
            for replacement in ['0', '7', 'f', '.', '-', 'x'] {
                let mut forged = issued.clone().into_bytes();
                forged[i] = replacement as u8;
                let forged = String::from_utf8(forged).unwrap();
                if forged == issued {
                    continue;
                }
                assert!(
                    parse_cursor("alice", None, &forged).is_err(),
                    "accepted {forged:?}"
                );
            }
        }
        for garbage in ["", "c1", "c1...", "c2.1.2.3", &"x".repeat(300), "c1.-5.a.b"] {
            assert!(parse_cursor("alice", None, garbage).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn page_sizes_and_filters_are_checked() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "", "1.5"] {
            assert_eq!(
                code(page_size(Some(bad)).unwrap_err()),
                "INVALID_FIELD",
                "{bad}"
            );
        }
        assert_eq!(status_filter(None).unwrap(), None);
        assert_eq!(
            status_filter(Some("EXPIRED")).unwrap(),
            Some(Status::Expired)
        );
        assert_eq!(
            code(status_filter(Some("expired")).unwrap_err()),
            "INVALID_FIELD"
        );
    }
}
