//! The fault plan: which call of which operation fails, and how; and the seeded generator that
//! orders racing calls.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use shared::ports::PortError;

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// An error answer; nothing applied.
    Error,
    /// No answer in time; nothing applied, and time has passed.
    Timeout,
    /// Applied, but the answer was lost: the caller sees an error.
    AppliedLost,
    /// Applied and answered, then the function died: the use case is dropped right there.
    Death,
}

pub const FAULT_KINDS: [FaultKind; 4] = [
    FaultKind::Error,
    FaultKind::Timeout,
    FaultKind::AppliedLost,
    FaultKind::Death,
];

#[derive(Clone, Debug)]
pub struct Fault {
    /// The index of the call (0-based, counting every call of the invocation).
    pub call: usize,
    pub kind: FaultKind,
}

/// A small deterministic generator (xorshift64*), so a seed replays an interleaving exactly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The fault plan and the log of calls, shared by both fakes.
#[derive(Default)]
pub struct Faults {
    pub(crate) plan: Mutex<Option<Fault>>,
    pub(crate) calls: Mutex<Vec<&'static str>>,
    /// Set when the planned death happened: every later call of the dead invocation hangs.
    pub dead: AtomicBool,
    pub died: tokio::sync::Notify,
    /// Random extra yields per call, for interleavings.
    pub(crate) rng: Mutex<Option<Rng>>,
    /// The function whose calls are being made, and every operation seen per function.
    pub function: Mutex<Option<&'static str>>,
    pub observed: Mutex<BTreeMap<&'static str, std::collections::BTreeSet<&'static str>>>,
}

/// What the fake does with one call.
pub(crate) enum Verdict {
    Normal,
    Fail { apply: bool },
    Die,
}

impl Faults {
    pub fn arm(&self, fault: Option<Fault>) {
        *self.plan.lock().unwrap() = fault;
        self.calls.lock().unwrap().clear();
        self.dead.store(false, Ordering::SeqCst);
    }

    pub fn interleave(&self, seed: Option<u64>) {
        *self.rng.lock().unwrap() = seed.map(Rng::new);
    }

    /// The calls made since the last `arm`.
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }

    /// Yields (as a network call would), then decides this call's fate.
    pub(crate) async fn enter(&self, time: &FakeTime, op: &'static str) -> Verdict {
        let yields = self
            .rng
            .lock()
            .unwrap()
            .as_mut()
            .map_or(1, |rng| 1 + rng.below(3));
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        if self.dead.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if let Some(function) = *self.function.lock().unwrap() {
            self.observed
                .lock()
                .unwrap()
                .entry(function)
                .or_default()
                .insert(op);
        }
        let index = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(op);
            calls.len() - 1
        };
        let fault = self.plan.lock().unwrap().clone();
        match fault {
            Some(Fault { call, kind }) if call == index => match kind {
                FaultKind::Error => Verdict::Fail { apply: false },
                FaultKind::Timeout => {
                    time.advance(30);
                    Verdict::Fail { apply: false }
                }
                FaultKind::AppliedLost => Verdict::Fail { apply: true },
                FaultKind::Death => Verdict::Die,
            },
            _ => Verdict::Normal,
        }
    }

    pub(crate) fn die(&self) {
        self.dead.store(true, Ordering::SeqCst);
        self.died.notify_one();
    }
}

pub(crate) fn injected(op: &'static str) -> PortError {
    PortError::new(op, "injected fault")
}
