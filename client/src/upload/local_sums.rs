//! The local parts' checksums an upload needs: the one each part's URL is signed with, and the
//! whole file's CRC64NVME that complete sends, combined from the parts' without a second pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::digest::{self, PartDigests, Verify, Wanted};
use crate::error::Error;

use super::plan::Plan;

/// The checksums of one upload's local parts.
pub(super) struct LocalSums {
    file: PathBuf,
    plan: Plan,
    /// Each part's CRC64NVME of the local bytes, computed once: before its URL is asked for, or
    /// when its stored copy was checked. Complete combines them into the whole file's.
    crcs: Mutex<BTreeMap<u32, u64>>,
}

impl LocalSums {
    pub fn new(file: &Path, plan: &Plan) -> Self {
        Self {
            file: file.to_owned(),
            plan: plan.clone(),
            crcs: Mutex::new(BTreeMap::new()),
        }
    }

    /// Part `part`'s checksum in the upload's algorithm, as its URL is signed with it: computed
    /// from the local bytes, or (CRC64NVME) the value computed earlier, so the part that goes out
    /// is the one the whole file's value is combined from.
    pub async fn for_url(&self, part: u32) -> Result<String, Error> {
        if let (Verify::Crc64Nvme, Some(crc)) = (self.plan.verify, self.known(part)) {
            return Ok(digest::crc64nvme_base64(crc));
        }
        let wanted = Wanted {
            sha256: self.plan.verify == Verify::Sha256,
            md5: false,
        };
        let digests = self.digests(part, wanted).await?;
        Ok(match self.plan.verify {
            Verify::Sha256 => digests.sha256.unwrap_or_default(),
            _ => digest::crc64nvme_base64(digests.crc64nvme),
        })
    }

    /// The digests of part `part`'s local bytes; remembers its CRC64NVME.
    async fn digests(&self, part: u32, wanted: Wanted) -> Result<PartDigests, Error> {
        let (offset, len) = self.plan.range(part);
        let digests = digest::part_digests(&self.file, offset, len, wanted).await?;
        if let Ok(mut crcs) = self.crcs.lock() {
            crcs.insert(part, digests.crc64nvme);
        }
        Ok(digests)
    }

    /// Part `part`'s CRC64NVME, if computed already.
    pub fn known(&self, part: u32) -> Option<u64> {
        self.crcs.lock().ok().and_then(|c| c.get(&part).copied())
    }

    /// Takes over CRCs computed elsewhere (by a check of the stored parts).
    pub fn learn(&self, crcs: &BTreeMap<u32, u64>) {
        if let Ok(mut known) = self.crcs.lock() {
            known.extend(crcs.iter().map(|(n, c)| (*n, *c)));
        }
    }

    /// Forgets every CRC, so the next ones are of the bytes as they are now.
    pub fn forget(&self) {
        if let Ok(mut crcs) = self.crcs.lock() {
            crcs.clear();
        }
    }

    /// The whole file's CRC64NVME, combined from its parts' (computing any not known yet, e.g.
    /// when this run joins a complete another one started).
    pub async fn whole_file(&self) -> Result<u64, Error> {
        let mut parts = Vec::with_capacity(self.plan.total_parts as usize);
        for n in 1..=self.plan.total_parts {
            let crc = match self.known(n) {
                Some(crc) => crc,
                None => self.digests(n, Wanted::default()).await?.crc64nvme,
            };
            parts.push((crc, self.plan.range(n).1));
        }
        digest::combine(parts).ok_or_else(|| Error::State("an upload has at least one part".into()))
    }
}
