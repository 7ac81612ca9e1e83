//! `upload`: the command-line client. Results go to stdout as JSON, progress and messages to stderr.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};
use upload_client::state::{self, state_path};
use upload_contract::{UploadId, UploadStatus, UploadSummary};
use upload_client::{
    Api, Error, Faults, Identity, Options, Outcome, Plan, Progress, Uploader, Verify,
};

/// Uploads large files through the multipart upload API: parts in parallel, failed parts retried
/// alone, resumable after Ctrl-C or a crash.
#[derive(Parser)]
#[command(name = "upload", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The API base URL, e.g. http://127.0.0.1:3000/api/v1/multipart-upload
    #[arg(long, env = "UPLOAD_API_URL", global = true)]
    api: Option<String>,
    /// Your user id, sent as x-user-id (the local API only)
    #[arg(long, env = "UPLOAD_USER", global = true)]
    user: Option<String>,
    /// A JWT, sent as Authorization: Bearer (the deployed API)
    #[arg(long, env = "UPLOAD_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Parts in flight at once (memory: about this many parts)
    #[arg(long, default_value_t = 4, global = true,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    concurrency: u32,
    /// Further tries of a failed part before giving up
    #[arg(long, default_value_t = 5, global = true)]
    max_retries: u32,
    /// Plain progress lines even on a terminal
    #[arg(long, global = true)]
    no_progress: bool,
    /// First retry pause in milliseconds (tests shorten it)
    #[arg(
        long,
        env = "UPLOAD_RETRY_BASE_MS",
        default_value_t = 500,
        global = true,
        hide = true
    )]
    retry_base_ms: u64,
    /// Pause before each part in milliseconds (tests slow runs down to interrupt them)
    #[arg(
        long,
        env = "UPLOAD_PART_DELAY_MS",
        default_value_t = 0,
        global = true,
        hide = true
    )]
    part_delay_ms: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Starts a new upload of FILE and runs it to completion
    Upload {
        file: PathBuf,
        /// Media type (default: from the file's extension)
        #[arg(long = "type")]
        content_type: Option<String>,
        /// Verify with SHA-256 per part (composite) instead of the default CRC64NVME of every
        /// part and of the whole file, which storage checks at complete
        #[arg(long, conflicts_with = "no_checksum")]
        checksum: bool,
        /// Send no checksum: storage verifies nothing (as apps that predate checksums)
        #[arg(long)]
        no_checksum: bool,
        /// User metadata KEY=VALUE, stored on the object as x-amz-meta-KEY (repeatable; keys a-z,
        /// 0-9 and -)
        #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
        meta: Vec<(String, String)>,
    },
    /// Shows an upload's status
    Status { id: UploadId },
    /// Lists your uploads, newest first (a table on a terminal, else JSON)
    List {
        /// Only uploads in this status: INITIATED, COMPLETING, COMPLETED, ABORTED or EXPIRED
        #[arg(long)]
        status: Option<String>,
        /// At most this many uploads (default: all)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Aborts an upload; with FILE also removes FILE.upload.json
    Abort { id: UploadId, file: Option<PathBuf> },
    /// Continues upload ID of FILE: sends only the parts storage does not hold, then completes
    Resume { id: UploadId, file: PathBuf },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Error> {
    let identity = match (cli.user.as_deref(), cli.token.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "give either --user (UPLOAD_USER) or --token (UPLOAD_TOKEN), not both".into(),
            ))
        }
        (Some(user), None) => Identity::User(user.to_owned()),
        (None, Some(token)) => Identity::Token(token.to_owned()),
        (None, None) => {
            return Err(Error::Usage(
                "who is uploading? give --user (UPLOAD_USER) for the local API or --token (UPLOAD_TOKEN) for the deployed one".into(),
            ))
        }
    };
    let base = cli.api.as_deref().ok_or_else(|| {
        Error::Usage(
            "which API? give --api or UPLOAD_API_URL, e.g. http://127.0.0.1:3000/api/v1/multipart-upload".into(),
        )
    })?;
    let api = Api::new(base, identity)?;
    match &cli.command {
        Command::Status { id } => {
            print_json(&api.status(id).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::List { status, limit } => {
            let status = status
                .as_deref()
                .map(|raw| match UploadStatus::parse(&raw.to_ascii_uppercase()) {
                    UploadStatus::Unknown(_) => Err(Error::Usage(format!(
                        "--status {raw}: give INITIATED, COMPLETING, COMPLETED, ABORTED or EXPIRED"
                    ))),
                    known => Ok(known),
                })
                .transpose()?;
            let uploads = list_uploads(&api, status.as_ref(), *limit).await?;
            if std::io::stdout().is_terminal() {
                print_table(&uploads);
            } else {
                print_json(&uploads);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Abort { id, file } => {
            let answer = api.abort(id).await?;
            if let Some(file) = file {
                state::remove(&state_path(file))?;
            }
            print_json(&answer);
            Ok(ExitCode::SUCCESS)
        }
        Command::Upload {
            file,
            content_type,
            checksum,
            no_checksum,
            meta,
        } => {
            let mut options = options(&cli, content_type.clone())?;
            options.verify = match (checksum, no_checksum) {
                (true, _) => Verify::Sha256,
                (_, true) => Verify::Unverified,
                _ => Verify::Crc64Nvme,
            };
            options.metadata = meta.iter().cloned().collect();
            let uploader = Uploader::new(api, options);
            let progress = reporter(cli.no_progress, file);
            let work = uploader.upload(file, progress.clone());
            transfer(work, progress, file).await
        }
        Command::Resume { id, file } => {
            let options = options(&cli, None)?;
            let uploader = Uploader::new(api, options);
            let progress = reporter(cli.no_progress, file);
            let work = uploader.resume(id, file, progress.clone());
            transfer(work, progress, file).await
        }
    }
}

/// `--meta KEY=VALUE`; the server checks keys and values.
fn parse_meta(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{raw:?}: give KEY=VALUE"))
}

fn options(cli: &Cli, content_type: Option<String>) -> Result<Options, Error> {
    Ok(Options {
        concurrency: cli.concurrency as usize,
        max_retries: cli.max_retries,
        retry_base: Duration::from_millis(cli.retry_base_ms.max(1)),
        content_type,
        part_delay: Duration::from_millis(cli.part_delay_ms),
        faults: Faults::from_env()?,
        ..Options::default()
    })
}

/// Runs an upload or resume until it ends or Ctrl-C; either way says how to go on.
async fn transfer(
    work: impl std::future::Future<Output = Result<Outcome, Error>>,
    progress: Arc<Reporter>,
    file: &Path,
) -> Result<ExitCode, Error> {
    let result = tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => {
            progress.stop("interrupted");
            eprintln!("interrupted: what storage holds is kept.");
            resume_hint(file);
            return Ok(ExitCode::from(130));
        }
    };
    progress.stop(if result.is_ok() { "done" } else { "stopped" });
    match result {
        Ok(outcome) => {
            let s = &outcome.stats;
            eprintln!(
                "completed {}: {} parts sent in {} PUTs ({} retries, {} URLs refreshed), {} stored already; complete {} ETags",
                outcome.key,
                s.parts_uploaded,
                s.puts,
                s.retries,
                s.url_refreshes,
                s.parts_already_stored,
                if outcome.sent_etags { "with the client's" } else { "read the" },
            );
            print_json(&outcome);
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("error: {err}");
            resume_hint(file);
            Ok(ExitCode::FAILURE)
        }
    }
}

fn resume_hint(file: &Path) {
    let path = state_path(file);
    if let Ok(Some(saved)) = state::load(&path) {
        eprintln!(
            "the upload stays resumable ({} of {} parts recorded in {}): upload resume {} {}",
            saved.done.len(),
            saved.total_parts,
            path.display(),
            saved.upload_id,
            file.display()
        );
    }
}

/// The caller's uploads, following the listing's cursor until the end or `limit`.
async fn list_uploads(
    api: &Api,
    status: Option<&UploadStatus>,
    limit: Option<u32>,
) -> Result<Vec<UploadSummary>, Error> {
    const PAGE: u32 = 100;
    let mut uploads = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let wanted = limit.map(|l| l.saturating_sub(uploads.len() as u32));
        if wanted == Some(0) {
            break;
        }
        let page = api
            .list_uploads(
                status,
                Some(wanted.unwrap_or(PAGE).min(PAGE)),
                cursor.as_deref(),
            )
            .await?;
        uploads.extend(page.uploads);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(uploads)
}

fn print_table(uploads: &[UploadSummary]) {
    println!(
        "{:<36}  {:<10}  {:>10}  {:>13}  {:<20}  NAME",
        "UPLOAD ID", "STATUS", "SIZE", "PARTS HELD", "EXPIRES"
    );
    for u in uploads {
        let held = match u.uploaded_parts {
            Some(held) => format!("{held}/{}", u.total_parts),
            None => "-".into(),
        };
        println!(
            "{:<36}  {:<10}  {:>10}  {:>13}  {:<20}  {}",
            u.upload_id.to_string(),
            u.status.as_str(),
            HumanBytes(u.file_size).to_string(),
            held,
            u.expires_at,
            u.file_name
        );
    }
    eprintln!("{} uploads", uploads.len());
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("error: printing the answer: {err}"),
    }
}

fn reporter(plain: bool, file: &Path) -> Arc<Reporter> {
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
struct Reporter {
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
    fn stop(&self, message: &'static str) {
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
