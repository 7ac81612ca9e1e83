use std::path::PathBuf;

/// Everything that can stop an upload, each with the message a person needs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered an error (`{"error": {"code", "message"}}`).
    #[error("{status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// No answer at all: connection refused, reset, timed out.
    #[error("{what}: {}", error_chain(source))]
    Http {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not what the API documents.
    #[error("unexpected answer to {what}: {detail}")]
    Protocol { what: String, detail: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The state file or the file does not fit the upload.
    #[error("{0}")]
    State(String),
    /// One part could not be stored within the allowed tries; the upload stays resumable.
    #[error("part {part} failed after {tries} tries, giving up: {last}")]
    PartFailed { part: u32, tries: u32, last: String },
    /// The upload can no longer take parts (aborted, expired).
    #[error("upload {upload_id} is {status}: it cannot be resumed")]
    NotResumable { upload_id: String, status: String },
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Worth another try after a pause: no answer, a server fault, throttling, or a complete that
    /// another caller is still running.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Http { .. } => true,
            Error::Api { status, code, .. } => {
                *status >= 500
                    || (*status == 429 && code != "QUOTA_EXCEEDED")
                    || code == "COMPLETION_IN_PROGRESS"
            }
            _ => false,
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// An error and its causes on one line (reqwest's own message rarely says what went wrong).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
