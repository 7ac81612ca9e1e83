//! The command line: global options and what they mean (the API, the caller, how uploads run),
//! the subcommands and their arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use upload_client::{Api, Error, Identity, Options};
use upload_contract::UploadId;

/// Uploads large files through the multipart upload API: parts in parallel, failed parts retried
/// alone, resumable after Ctrl-C or a crash.
#[derive(Parser)]
#[command(name = "upload", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// The API base URL, e.g. http://127.0.0.1:3000/api/v1/multipart-upload
    #[arg(long, env = "UPLOAD_API_URL", global = true)]
    pub api: Option<String>,
    /// Your user id, sent as x-user-id (the local API only)
    #[arg(long, env = "UPLOAD_USER", global = true)]
    pub user: Option<String>,
    /// A JWT, sent as Authorization: Bearer (the deployed API)
    #[arg(long, env = "UPLOAD_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Parts in flight at once (memory: about this many parts)
    #[arg(long, default_value_t = 4, global = true,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Further tries of a failed part before giving up
    #[arg(long, default_value_t = 5, global = true)]
    pub max_retries: u32,
    /// Plain progress lines even on a terminal
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// First retry pause in milliseconds (tests shorten it)
    #[arg(
        long,
        env = "UPLOAD_RETRY_BASE_MS",
        default_value_t = 500,
        global = true,
        hide = true
    )]
    pub retry_base_ms: u64,
    /// Pause before each part in milliseconds (tests slow runs down to interrupt them)
    #[arg(
        long,
        env = "UPLOAD_PART_DELAY_MS",
        default_value_t = 0,
        global = true,
        hide = true
    )]
    pub part_delay_ms: u64,
}

#[derive(Subcommand)]
pub enum Command {
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

impl Cli {
    /// The API client the global options name: which API, and who calls it.
    pub fn api_client(&self) -> Result<Api, Error> {
        let identity = match (self.user.as_deref(), self.token.as_deref()) {
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
        let base = self.api.as_deref().ok_or_else(|| {
            Error::Usage(
                "which API? give --api or UPLOAD_API_URL, e.g. http://127.0.0.1:3000/api/v1/multipart-upload".into(),
            )
        })?;
        Api::new(base, identity)
    }

    /// How uploads run, from the global options.
    pub fn options(&self, content_type: Option<String>) -> Result<Options, Error> {
        Ok(Options {
            concurrency: self.concurrency as usize,
            max_retries: self.max_retries,
            retry_base: Duration::from_millis(self.retry_base_ms.max(1)),
            content_type,
            part_delay: Duration::from_millis(self.part_delay_ms),
            #[cfg(feature = "fault-injection")]
            faults: upload_client::Faults::from_env()?,
            ..Options::default()
        })
    }
}

/// `--meta KEY=VALUE`; the server checks keys and values.
fn parse_meta(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{raw:?}: give KEY=VALUE"))
}
