//! Progress on stderr: a bar on a terminal, plain lines otherwise (logs, CI, tests).

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};
use upload_client::{Plan, Progress};

pub fn reporter(plain: bool, file: &Path) -> Arc<Reporter> {
    let bar = (!plain && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    Arc::new(Reporter {
        bar,
        file: file.display().to_string(),
        started: Mutex::new(None),
        total_bytes: AtomicU64::new(0),
        stored_bytes: AtomicU64::new(0),
        total_parts: AtomicU32::new(0),
        stored_parts: AtomicU32::new(0),
    })
}

/// A progress bar on a terminal, plain lines otherwise (logs, CI, tests).
pub struct Reporter {
    bar: Option<ProgressBar>,
    file: String,
    /// When this run's parts started, and how many bytes storage held then.
    started: Mutex<Option<(Instant, u64)>>,
    total_bytes: AtomicU64,
    stored_bytes: AtomicU64,
    total_parts: AtomicU32,
    stored_parts: AtomicU32,
}

impl Reporter {
    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Leaves the bar where it stands, with `message`.
    pub fn stop(&self, message: &'static str) {
        if let Some(bar) = &self.bar {
            bar.abandon_with_message(message);
        }
    }
}

impl Progress for Reporter {
    fn started(&self, plan: &Plan, stored_bytes: u64, parts_to_send: u32) {
        self.total_bytes.store(plan.file_size, Ordering::Relaxed);
        self.stored_bytes.store(stored_bytes, Ordering::Relaxed);
        self.total_parts.store(plan.total_parts, Ordering::Relaxed);
        self.stored_parts
            .store(plan.total_parts - parts_to_send, Ordering::Relaxed);
        if let Ok(mut started) = self.started.lock() {
            *started = Some((Instant::now(), stored_bytes));
        }
        self.line(&format!(
            "upload {}: {} in {} parts of {}; {} to send (if interrupted: upload resume {} {})",
            plan.upload_id,
            HumanBytes(plan.file_size),
            plan.total_parts,
            HumanBytes(plan.chunk_size),
            parts_to_send,
            plan.upload_id,
            self.file,
        ));
        if let Some(bar) = &self.bar {
            bar.set_length(plan.file_size);
            bar.set_position(stored_bytes);
            bar.reset_eta();
            bar.set_message(format!(
                "{}/{} parts",
                plan.total_parts - parts_to_send,
                plan.total_parts
            ));
        }
    }

    fn sent(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn unsent(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.dec(bytes);
        }
    }

    fn part_stored(&self, part: u32, bytes: u64) {
        let stored = self.stored_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let parts = self.stored_parts.fetch_add(1, Ordering::Relaxed) + 1;
        let total_parts = self.total_parts.load(Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{parts}/{total_parts} parts"));
            return;
        }
        let total = self.total_bytes.load(Ordering::Relaxed).max(1);
        let (rate, eta) = match self.started.lock().ok().and_then(|s| *s) {
            Some((at, base)) => {
                let secs = at.elapsed().as_secs_f64().max(0.001);
                let rate = stored.saturating_sub(base) as f64 / secs;
                let eta = if rate > 0.0 {
                    Duration::from_secs_f64(total.saturating_sub(stored) as f64 / rate)
                } else {
                    Duration::ZERO
                };
                (rate, eta)
            }
            None => (0.0, Duration::ZERO),
        };
        eprintln!(
            "part {part} stored: {parts}/{total_parts} parts, {}/{} ({}%), {}/s, ETA {}",
            HumanBytes(stored),
            HumanBytes(total),
            stored * 100 / total,
            HumanBytes(rate as u64),
            HumanDuration(eta),
        );
    }

    fn retrying(&self, part: u32, failure: &str, next_try: u32, wait: Duration) {
        let what = if part == 0 {
            "API call".to_owned()
        } else {
            format!("part {part}")
        };
        self.line(&format!(
            "{what}: {failure}; try {next_try} in {:.1}s",
            wait.as_secs_f64()
        ));
    }

    fn completing(&self) {
        match &self.bar {
            Some(bar) => bar.set_message("completing"),
            None => eprintln!("all parts stored; completing"),
        }
    }
}
