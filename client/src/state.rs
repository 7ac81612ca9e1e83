//! The resume file kept next to the file being uploaded (`FILE.upload.json`): enough to pick the
//! upload up again after the process was killed, written atomically after every stored part.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UploadState {
    pub upload_id: contract::UploadId,
    pub key: contract::ObjectKey,
    pub chunk_size: u64,
    pub total_parts: u32,
    pub file_size: u64,
    /// The API base URL the upload was started against.
    #[serde(default)]
    pub api: String,
    /// Parts storage has accepted, with the ETag it answered (`null` when not known).
    #[serde(default)]
    pub done: BTreeMap<u32, Option<String>>,
    /// Part `PUT` requests sent for this upload, over every run.
    #[serde(default)]
    pub puts: u64,
}

/// `FILE.upload.json` beside `file`.
pub fn state_path(file: &Path) -> PathBuf {
    let mut name = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".upload.json");
    file.with_file_name(name)
}

/// The state file, if there is one.
pub fn load(path: &Path) -> Result<Option<UploadState>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(Error::io(path, err)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::State(format!(
            "{} is not an upload state file ({e}); delete it to start over",
            path.display()
        ))
    })
}

/// Writes the state beside the target and renames it over, so a kill never leaves half a file.
pub fn save(path: &Path, state: &UploadState) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| Error::State(format!("encoding the upload state: {e}")))?;
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, text).map_err(|e| Error::io(&temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| Error::io(path, e))
}

/// Removes the state file; a missing one is fine.
pub fn remove(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(Error::io(path, err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_sits_next_to_the_file() {
        assert_eq!(
            state_path(Path::new("/data/match.mp4")),
            PathBuf::from("/data/match.mp4.upload.json")
        );
        assert_eq!(
            state_path(Path::new("match.mp4")),
            PathBuf::from("match.mp4.upload.json")
        );
    }

    #[test]
    fn state_round_trips() -> Result<(), Error> {
        let dir = std::env::temp_dir().join(format!("upload-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join("f.bin.upload.json");
        assert_eq!(load(&path)?, None);
        let state = UploadState {
            upload_id: contract::UploadId::new_v4(),
            key: "uploads/a/u/f.bin".into(),
            chunk_size: 5,
            total_parts: 3,
            file_size: 12,
            api: "http://x".into(),
            done: [(1, Some("\"e1\"".to_owned())), (3, None)].into(),
            puts: 2,
        };
        save(&path, &state)?;
        assert_eq!(load(&path)?, Some(state));
        remove(&path)?;
        remove(&path)?;
        assert_eq!(load(&path)?, None);
        std::fs::write(&path, "nope").map_err(|e| Error::io(&path, e))?;
        assert!(matches!(load(&path), Err(Error::State(_))));
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))
    }
}
