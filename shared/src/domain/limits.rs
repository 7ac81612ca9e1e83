//! The per-user limits: the quota on unfinished uploads and the per-minute request and URL rates.

/// Per-user limits on uploads that are started but not finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub max_active_uploads: u64,
    pub max_bytes_in_flight: u64,
}

impl Quota {
    pub const UNLIMITED: Self = Self {
        max_active_uploads: u64::MAX,
        max_bytes_in_flight: u64::MAX,
    };
}

/// Requests and part URLs, as a rate counter adds them up or as a limit per window (`0`: no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateUse {
    pub requests: u64,
    pub urls: u64,
}
