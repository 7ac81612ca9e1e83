//! The file on disk: its size, one part's bytes, the fingerprint that finds its upload again, and a
//! media type guessed from its name. Reads run on blocking threads, off the async ones.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use bytes::Bytes;

use crate::digest::{self, Verify};
use crate::error::Error;

/// The size of `file`, which must be a non-empty regular file.
pub(super) fn file_size(file: &Path) -> Result<u64, Error> {
    let meta = std::fs::metadata(file).map_err(|e| Error::io(file, e))?;
    if !meta.is_file() {
        return Err(Error::Usage(format!("{} is not a file", file.display())));
    }
    if meta.len() == 0 {
        return Err(Error::Usage(format!(
            "{} is empty: there is nothing to upload",
            file.display()
        )));
    }
    Ok(meta.len())
}

/// `len` bytes of `path` from `offset` into a buffer of their own (blocking).
fn read_range(path: &Path, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut handle = std::fs::File::open(path)?;
    handle.seek(SeekFrom::Start(offset))?;
    let mut buffer = vec![0; len as usize];
    handle.read_exact(&mut buffer)?;
    Ok(buffer)
}

/// One part's bytes: seek and read into a buffer of its own, off the async threads.
pub(super) async fn read_part(file: &Path, offset: u64, len: u64) -> Result<Bytes, Error> {
    let path = file.to_owned();
    let read = tokio::task::spawn_blocking(move || read_range(&path, offset, len))
        .await
        .map_err(|e| Error::State(format!("reading a part stopped unexpectedly: {e}")))?;
    match read {
        Ok(buffer) => Ok(Bytes::from(buffer)),
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::State(format!(
            "{} is shorter than when the upload started: it changed, and cannot be resumed",
            file.display()
        ))),
        Err(err) => Err(Error::io(file, err)),
    }
}

/// What identifies `file` across runs, reinstalls and renames: a SHA-256 of its size, whether the
/// upload is verified and how, and its first and last MiB (read on a blocking thread). The
/// TypeScript client computes the same value (clients/js/src/checksum.ts).
pub(super) async fn file_fingerprint(
    file: &Path, size: u64, verify: Verify,
) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    const EDGE: u64 = 1024 * 1024;
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || {
        let edge = EDGE.min(size);
        let mut hasher = Sha256::new();
        let word = verify.fingerprint_word();
        hasher.update(format!("upload-fingerprint-v1|{size}|{word}|").as_bytes());
        hasher.update(read_range(&path, 0, edge)?);
        hasher.update(read_range(&path, size - edge, edge)?);
        Ok::<_, std::io::Error>(digest::hex(&hasher.finalize()))
    })
    .await
    .map_err(|e| Error::State(format!("fingerprinting the file stopped unexpectedly: {e}")))?
    .map_err(|e| Error::io(file, e))
}

/// A media type for `initialize` from the file's extension.
pub fn guess_content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "avi" => "video/x-msvideo",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "heic" => "image/heic",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "json" => "application/json",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_guessed() {
        assert_eq!(guess_content_type("Match.MP4"), "video/mp4");
        assert_eq!(guess_content_type("noext"), "application/octet-stream");
    }
}
