//! What the resume state costs for a 10,000-part upload: the journal (one synced line per part)
//! against rewriting the whole state file after every part, as the CLI did before.
//!
//! `cargo run --release -p upload-client --example bench_journal` (part of `make bench`).

use std::collections::BTreeMap;
use std::time::Instant;

use upload_client::state::{self, Journal, UploadState};

const PARTS: u32 = 10_000;
/// The old way is timed over this many parts (it grows quadratically), its bytes over all.
const OLD_TIMED: u32 = 1_000;

fn etag(n: u32) -> Option<String> {
    Some(format!(
        "\"{:032x}\"",
        u128::from(n) * 0x9E37_79B9_7F4A_7C15
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("bench-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("video.mp4.upload.json");
    let mut upload = UploadState {
        upload_id: "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"
            .parse()
            .expect("a UUID"),
        key: upload_contract::ObjectKey(
            "uploads/user-123/3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f/video.mp4".into(),
        ),
        chunk_size: 8 << 20,
        total_parts: PARTS,
        file_size: u64::from(PARTS) * (8 << 20),
        api: "https://api.example.com/api/v1/multipart-upload".into(),
        done: BTreeMap::new(),
        puts: 0,
    };

    // The journal: one save, then one synced append per part.
    state::save(&path, &upload)?;
    let started = Instant::now();
    let mut journal = Journal::open(&path)?;
    for n in 1..=PARTS {
        journal.stored(n, etag(n), u64::from(n))?;
    }
    let journal_time = started.elapsed();
    let journal_bytes = std::fs::metadata(&path)?.len();
    let loaded = state::load(&path)?.expect("the journal loads");
    assert_eq!(loaded.done.len(), PARTS as usize);

    // The old way: the whole pretty-printed state rewritten (and renamed) after every part.
    let mut old_bytes: u64 = 0;
    let mut old_timed = std::time::Duration::ZERO;
    for n in 1..=PARTS {
        upload.done.insert(n, etag(n));
        upload.puts = u64::from(n);
        let text = serde_json::to_string_pretty(&upload)?;
        old_bytes += text.len() as u64;
        if n <= OLD_TIMED {
            let started = Instant::now();
            let temp = dir.join("old.tmp");
            std::fs::write(&temp, &text)?;
            std::fs::rename(&temp, dir.join("old.json"))?;
            old_timed += started.elapsed();
        }
    }
    std::fs::remove_dir_all(&dir)?;
    println!("resume state for {PARTS} parts:");
    println!(
        "  journal (this CLI):  {:>13} bytes written, {:>8.2} s ({:.0} us a part, each line synced to disk)",
        journal_bytes,
        journal_time.as_secs_f64(),
        journal_time.as_secs_f64() * 1e6 / f64::from(PARTS)
    );
    println!(
        "  rewrite every part:  {old_bytes:>13} bytes written ({:.0}x), {:.2} s for the first {OLD_TIMED} parts alone (not synced)",
        old_bytes as f64 / journal_bytes as f64,
        old_timed.as_secs_f64()
    );
    Ok(())
}
