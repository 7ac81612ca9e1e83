//! The server's plan for a file: its parts, their size, and how storage verifies them.

use serde::Serialize;
use upload_contract::{ObjectKey, UploadId};

use crate::digest::Verify;
use crate::error::Error;
use crate::state::UploadState;

/// The server's plan for the file.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub upload_id: UploadId,
    pub key: ObjectKey,
    pub chunk_size: u64,
    pub total_parts: u32,
    pub file_size: u64,
    /// What parts carry, signed into their URLs (and, for CRC64NVME, what complete checks).
    pub verify: Verify,
}

impl Plan {
    /// Offset and length of part `part` (1-based) in the file.
    pub fn range(&self, part: u32) -> (u64, u64) {
        let offset = u64::from(part.saturating_sub(1)) * self.chunk_size;
        let len = self.chunk_size.min(self.file_size.saturating_sub(offset));
        (offset, len)
    }

    pub(super) fn check(&self) -> Result<(), Error> {
        let parts = u64::from(self.total_parts);
        let fits = self.chunk_size > 0
            && parts > 0
            && (parts - 1) * self.chunk_size < self.file_size
            && parts * self.chunk_size >= self.file_size;
        if fits {
            Ok(())
        } else {
            Err(Error::Protocol {
                what: "the upload plan".into(),
                detail: format!(
                    "{} parts of {} bytes do not cover {} bytes",
                    self.total_parts, self.chunk_size, self.file_size
                ),
            })
        }
    }

    /// The state file of this upload against API `api`, before any part is recorded.
    pub(super) fn new_state(&self, api: &str) -> UploadState {
        UploadState {
            upload_id: self.upload_id,
            key: self.key.clone(),
            chunk_size: self.chunk_size,
            total_parts: self.total_parts,
            file_size: self.file_size,
            api: api.to_owned(),
            done: Default::default(),
            puts: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_the_file() {
        let plan = Plan {
            upload_id: upload_contract::UploadId::new_v4(),
            key: "k".into(),
            chunk_size: 10,
            total_parts: 3,
            file_size: 25,
            verify: Verify::Unverified,
        };
        assert!(plan.check().is_ok());
        assert_eq!(plan.range(1), (0, 10));
        assert_eq!(plan.range(3), (20, 5));
        assert!(Plan {
            total_parts: 2,
            ..plan.clone()
        }
        .check()
        .is_err());
        assert!(Plan {
            total_parts: 4,
            ..plan
        }
        .check()
        .is_err());
    }
}
