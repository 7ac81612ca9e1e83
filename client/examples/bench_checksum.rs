//! What the default checksum costs the CLI: MB/s of one core for each digest it may compute over a
//! part (CRC64NVME with `crc-fast`, SHA-256 with `sha2` for `--checksum`, MD5 with `md-5` to compare a
//! stored part with its ETag on resume), and what combining 10,000 part CRCs into the whole file's
//! costs (no second pass over the file).
//!
//! `cargo run --release -p upload-client --example bench_checksum` (BENCHMARKS.md, "Integrity:
//! checksum cost").

use std::time::Instant;

use upload_client::digest;

const PART: usize = 64 << 20;
const ROUNDS: usize = 4;

fn rate(name: &str, mut f: impl FnMut(&[u8]) -> u64, data: &[u8]) {
    let mut sink = f(data); // warm up
    let started = Instant::now();
    for _ in 0..ROUNDS {
        sink ^= f(data);
    }
    let secs = started.elapsed().as_secs_f64();
    let mbps = (ROUNDS * data.len()) as f64 / secs / 1e6;
    println!("| {name} | {mbps:.0} MB/s | {sink:016x} |");
}

fn main() {
    use md5::Digest as _;
    let data: Vec<u8> = (0..PART as u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    println!(
        "one core, {} MiB buffer in memory, {ROUNDS} rounds\n",
        PART >> 20
    );
    println!("| digest | throughput | (value, so nothing is optimised away) |");
    println!("|---|---:|---|");
    rate("CRC64NVME, crc-fast (default)", digest::crc64nvme, &data);
    rate(
        "SHA-256, sha2 (--checksum)",
        |d| u64::from_be_bytes(sha2::Sha256::digest(d)[..8].try_into().expect("8 bytes")),
        &data,
    );
    rate(
        "MD5, md-5 (resume: ETag check where no checksum is stored)",
        |d| u64::from_be_bytes(md5::Md5::digest(d)[..8].try_into().expect("8 bytes")),
        &data,
    );
    let parts: Vec<(u64, u64)> = (0..10_000u64).map(|i| (i * 0x9E37_79B9, 8 << 20)).collect();
    let started = Instant::now();
    let whole = digest::combine(parts.iter().copied());
    println!(
        "\ncombining 10,000 part CRCs into the whole file's: {:.2} ms ({whole:?})",
        started.elapsed().as_secs_f64() * 1e3
    );
}
