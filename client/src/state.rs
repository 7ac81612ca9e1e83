//! The resume file kept next to the file being uploaded (`FILE.upload.json`): enough to pick the
//! upload up again after the process was killed.
//!
//! It is a journal, so a part costs O(1) whatever the upload's size: the first line is the upload
//! (a JSON object), then one line is appended, and synced to disk, per stored part
//! (`{"part":3,"etag":"\"…\"","puts":4}`). A 10,000-part upload writes about 600 KB instead of
//! rewriting the whole state after every part. [`save`] writes a compacted journal atomically; a
//! line cut short by a kill is ignored on load. The older single-object file still loads.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UploadState {
    pub upload_id: upload_contract::UploadId,
    pub key: upload_contract::ObjectKey,
    pub chunk_size: u64,
    pub total_parts: u32,
    pub file_size: u64,
    /// The API base URL the upload was started against.
    #[serde(default)]
    pub api: String,
    /// Parts storage has accepted, with the ETag it answered (`null` when not known).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
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

/// One journal line after the first: a stored part, or the `PUT` count after a failure.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    part: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    puts: u64,
}

/// The state file, if there is one.
pub fn load(path: &Path) -> Result<Option<UploadState>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(Error::io(path, err)),
    };
    let invalid = |e: &dyn std::fmt::Display| {
        Error::State(format!(
            "{} is not an upload state file ({e}); delete it to start over",
            path.display()
        ))
    };
    // The older format: one (pretty-printed) object.
    if let Ok(state) = serde_json::from_str::<UploadState>(&text) {
        return Ok(Some(state));
    }
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let mut state: UploadState = serde_json::from_str(header).map_err(|e| invalid(&e))?;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        // Only the last line can be cut short (a kill mid-append); it is as if never written.
        let Ok(entry) = serde_json::from_str::<Entry>(line) else {
            break;
        };
        state.puts = state.puts.max(entry.puts);
        if let Some(part) = entry.part {
            state.done.insert(part, entry.etag);
        }
    }
    Ok(Some(state))
}

/// Writes a compacted journal beside the target, syncs it and renames it over, so a kill never
/// leaves half a file.
pub fn save(path: &Path, state: &UploadState) -> Result<(), Error> {
    let header = UploadState {
        done: BTreeMap::new(),
        ..state.clone()
    };
    let mut text = encode(&header)?;
    text.push('\n');
    for (part, etag) in &state.done {
        text.push_str(&encode(&Entry {
            part: Some(*part),
            etag: etag.clone(),
            puts: state.puts,
        })?);
        text.push('\n');
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    let mut file = std::fs::File::create(&temp).map_err(|e| Error::io(&temp, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io(&temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| Error::io(path, e))
}

fn encode<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value)
        .map_err(|e| Error::State(format!("encoding the upload state: {e}")))
}

/// The open journal of one upload: appends one synced line per event.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
}

impl Journal {
    /// Opens the journal [`save`] wrote at `path` for appending.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// Records that storage holds `part` (with its ETag), and the `PUT` count so far.
    pub fn stored(&mut self, part: u32, etag: Option<String>, puts: u64) -> Result<(), Error> {
        self.append(&Entry {
            part: Some(part),
            etag,
            puts,
        })
    }

    /// Records the `PUT` count (after a failure).
    pub fn puts(&mut self, puts: u64) -> Result<(), Error> {
        self.append(&Entry {
            part: None,
            etag: None,
            puts,
        })
    }

    fn append(&mut self, entry: &Entry) -> Result<(), Error> {
        let mut line = encode(entry)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(&self.path, e))
    }
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
            upload_id: upload_contract::UploadId::new_v4(),
            key: "uploads/a/u/f.bin".into(),
            chunk_size: 5,
            total_parts: 3,
            file_size: 12,
            api: "http://x".into(),
            done: [(1, Some("\"e1\"".to_owned())), (3, None)].into(),
            puts: 2,
        };
        save(&path, &state)?;
        assert_eq!(load(&path)?, Some(state.clone()));
        remove(&path)?;
        remove(&path)?;
        assert_eq!(load(&path)?, None);
        std::fs::write(&path, "nope").map_err(|e| Error::io(&path, e))?;
        assert!(matches!(load(&path), Err(Error::State(_))));

        // The journal: appends after a compacted save, and a last line cut short by a kill.
        let mut expected = UploadState {
            done: BTreeMap::new(),
            puts: 0,
            ..state.clone()
        };
        save(&path, &expected)?;
        let mut journal = Journal::open(&path)?;
        journal.stored(2, Some("\"e2\"".into()), 1)?;
        journal.puts(3)?;
        journal.stored(1, None, 4)?;
        drop(journal);
        expected.done = [(1, None), (2, Some("\"e2\"".to_owned()))].into();
        expected.puts = 4;
        assert_eq!(load(&path)?, Some(expected.clone()));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.write_all(b"{\"part\":3,\"et")
            .map_err(|e| Error::io(&path, e))?;
        assert_eq!(load(&path)?, Some(expected.clone()));
        // A compacted save keeps everything, in one line per part.
        save(&path, &expected)?;
        assert_eq!(load(&path)?, Some(expected));
        // The older single-object format still loads.
        std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap())
            .map_err(|e| Error::io(&path, e))?;
        assert_eq!(load(&path)?, Some(state.clone()));
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))
    }
}
