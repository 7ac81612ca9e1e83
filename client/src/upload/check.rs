//! Which of the parts storage holds are the local bytes: checked before a resumed upload sends
//! the rest, and after storage refused the whole file's checksum.

use std::collections::BTreeMap;
use std::path::Path;

use upload_contract::ListedPart;

use crate::digest;
use crate::error::Error;

use super::plan::Plan;

/// The stored parts whose bytes are the local ones, with what checking them learnt.
pub(super) struct Checked {
    /// Part number to its ETag, as storage reports it.
    pub held: BTreeMap<u32, Option<String>>,
    pub held_bytes: u64,
    /// The local bytes' CRC64NVME of every part read.
    pub crcs: BTreeMap<u32, u64>,
    /// Parts storage holds that differ from the local bytes or could not be checked.
    pub differing: u64,
}

/// Compares every part storage holds (`listed`) with the local bytes: by its stored checksum where
/// there is one, else by its ETag as an MD5; a part of the wrong size, or one that cannot be
/// checked, is not kept. Reads each listed part once, one at a time (memory stays at 1 MiB).
pub(super) async fn check_stored(
    file: &Path, plan: &Plan, listed: &[ListedPart],
) -> Result<Checked, Error> {
    let mut checked = Checked {
        held: BTreeMap::new(),
        held_bytes: 0,
        crcs: BTreeMap::new(),
        differing: 0,
    };
    for part in listed {
        let n = part.part_number;
        let (offset, len) = plan.range(n);
        if n < 1 || n > plan.total_parts || checked.held.contains_key(&n) {
            continue;
        }
        if part.size != len {
            checked.differing += 1;
            continue;
        }
        let wanted = digest::wanted_for(part, plan.verify);
        let local = digest::part_digests(file, offset, len, wanted).await?;
        checked.crcs.insert(n, local.crc64nvme);
        if digest::same_bytes(part, &local, plan.verify) {
            checked.held.insert(n, part.etag.clone());
            checked.held_bytes += len;
        } else {
            checked.differing += 1;
        }
    }
    Ok(checked)
}

impl Checked {
    /// The parts still to send: those not held.
    pub fn missing(&self, plan: &Plan) -> Vec<u32> {
        (1..=plan.total_parts)
            .filter(|n| !self.held.contains_key(n))
            .collect()
    }
}
