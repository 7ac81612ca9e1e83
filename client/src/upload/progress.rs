//! What the caller sees of a running upload: the [`Progress`] callbacks the engine and the part
//! bodies report to.

use std::time::Duration;

use super::plan::Plan;

/// What the caller sees of a running upload. Every method has a do-nothing default.
pub trait Progress: Send + Sync {
    /// Parts are about to go out; `stored_bytes` of the file are in storage already.
    fn started(&self, _plan: &Plan, _stored_bytes: u64, _parts_to_send: u32) {}
    /// Bytes of a part went out on the wire.
    fn sent(&self, _bytes: u64) {}
    /// A failed attempt's bytes, to take back off.
    fn unsent(&self, _bytes: u64) {}
    /// Storage accepted a part.
    fn part_stored(&self, _part: u32, _bytes: u64) {}
    /// A part (or, with `part` 0, an API call) failed and will be tried again after `wait`.
    fn retrying(&self, _part: u32, _failure: &str, _next_try: u32, _wait: Duration) {}
    /// Every part is stored; `complete` is running.
    fn completing(&self) {}
}

/// No progress reporting.
pub struct Silent;

impl Progress for Silent {}
