//! What each subcommand does: the calls it makes, what it prints (JSON on stdout, messages on
//! stderr) and its exit code.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use indicatif::HumanBytes;
use upload_client::state::{self, state_path};
use upload_client::{Api, Error, Finished, Uploader, Verify};
use upload_contract::{UploadStatus, UploadSummary};

use crate::args::{Cli, Command};
use crate::reporter::{reporter, Reporter};

pub async fn run(cli: Cli) -> Result<ExitCode, Error> {
    let api = cli.api_client()?;
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
            let mut options = cli.options(content_type.clone())?;
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
            let options = cli.options(None)?;
            let uploader = Uploader::new(api, options);
            let progress = reporter(cli.no_progress, file);
            let work = uploader.resume(id, file, progress.clone());
            transfer(work, progress, file).await
        }
    }
}

/// Runs an upload or resume until it ends or Ctrl-C; either way says how to go on.
async fn transfer(
    work: impl std::future::Future<Output = Result<Finished, Error>>, progress: Arc<Reporter>,
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
        Ok(finished) => {
            let s = &finished.stats;
            eprintln!(
                "completed {}: {} parts sent in {} PUTs ({} retries, {} URLs refreshed), {} stored already; complete {} ETags",
                finished.key,
                s.parts_uploaded,
                s.puts,
                s.retries,
                s.url_refreshes,
                s.parts_already_stored,
                if finished.sent_etags { "with the client's" } else { "read the" },
            );
            print_json(&finished);
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
    api: &Api, status: Option<&UploadStatus>, limit: Option<u32>,
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
