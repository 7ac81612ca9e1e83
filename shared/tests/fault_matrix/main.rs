//! The fault matrix: every use case, every external call it makes, each of four faults (an error
//! answer, a timeout, applied-but-answer-lost, death of the function right after the call). After
//! each fault the client does what a phone does (retries with backoff, reads the status, completes
//! again) and the scheduled cleanup runs past every stale window; then the invariants must hold.
//! Then seeded random interleavings of racing requests. `FAULT_SEED=N` replays one interleaving.
//!
//! A plain binary (`harness = false`) so that `make test` shows the matrix size and its count.

#[path = "../support/mod.rs"]
mod support;

use support::{FAULT_KINDS, MIB};

const USER: &str = "user-1";
const FILE_SIZE: u64 = 12 * MIB;
const PART_SIZE: u64 = 5 * MIB;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let started = std::time::Instant::now();
    let (paths, paths_passed, cells) = runtime.block_on(matrix());
    println!(
        "matrix: {} use cases x their calls x {} fault kinds = {cells} fault paths (+{} fault-free)",
        USE_CASES.len(),
        FAULT_KINDS.len(),
        USE_CASES.len()
    );
    let (raced, races_passed) = runtime.block_on(races());
    let total = paths + raced;
    let passed = paths_passed + races_passed;
    println!("in {:.1} s", started.elapsed().as_secs_f64());
    println!("fault-matrix: {passed} passed, {} failed", total - passed);
    if passed != total {
        std::process::exit(1);
    }
}

mod calls;
mod invariants;
mod paths;
mod races;
use calls::*;
use invariants::*;
use paths::*;
use races::*;
