//! Test-only fault injection, built with the `fault-injection` feature alone: `cargo build` and
//! `cargo install` leave it out; building this crate's tests or examples turns it on (through its
//! dev-dependency on itself), for the library and the CLI they run. `UPLOAD_FAIL_PUTS=2,5` makes
//! the first `PUT` of parts 2 and 5 fail as a dropped connection would; `2:3` makes part 2's first
//! three fail. `UPLOAD_EXPIRE_PUTS` (same syntax) answers `403` as an expired URL would, so the
//! client must fetch a fresh one.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::Error;

use super::put::{FailureKind, PutFailure};

/// The `PUT` failures still to inject, per part.
#[derive(Debug, Default)]
pub struct Faults {
    fail: Mutex<HashMap<u32, u32>>,
    expire: Mutex<HashMap<u32, u32>>,
}

impl Faults {
    pub fn parse(fail: &str, expire: &str) -> Result<Self, Error> {
        Ok(Self {
            fail: Mutex::new(parse_faults("UPLOAD_FAIL_PUTS", fail)?),
            expire: Mutex::new(parse_faults("UPLOAD_EXPIRE_PUTS", expire)?),
        })
    }

    /// From `UPLOAD_FAIL_PUTS` and `UPLOAD_EXPIRE_PUTS`; none when unset.
    pub fn from_env() -> Result<Self, Error> {
        let var = |name| std::env::var(name).unwrap_or_default();
        Self::parse(&var("UPLOAD_FAIL_PUTS"), &var("UPLOAD_EXPIRE_PUTS"))
    }

    pub fn is_empty(&self) -> bool {
        let empty = |m: &Mutex<HashMap<u32, u32>>| m.lock().map(|m| m.is_empty()).unwrap_or(true);
        empty(&self.fail) && empty(&self.expire)
    }

    /// The failure staged for this `PUT` of `part`, if any (and one fewer left).
    pub(super) fn inject(&self, part: u32) -> Option<PutFailure> {
        if Self::take(&self.fail, part) {
            return Some(PutFailure {
                message: "injected failure (UPLOAD_FAIL_PUTS)".into(),
                kind: FailureKind::Transient,
            });
        }
        if Self::take(&self.expire, part) {
            return Some(PutFailure {
                message: "403 injected (UPLOAD_EXPIRE_PUTS): the URL counts as expired".into(),
                kind: FailureKind::Refused,
            });
        }
        None
    }

    fn take(map: &Mutex<HashMap<u32, u32>>, part: u32) -> bool {
        let Ok(mut map) = map.lock() else {
            return false;
        };
        match map.get_mut(&part) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }
}

fn parse_faults(name: &str, text: &str) -> Result<HashMap<u32, u32>, Error> {
    let mut faults = HashMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (part, times) = item.split_once(':').unwrap_or((item, "1"));
        match (part.trim().parse::<u32>(), times.trim().parse::<u32>()) {
            (Ok(part), Ok(times)) if part >= 1 => {
                faults.insert(part, times);
            }
            _ => {
                return Err(Error::Usage(format!(
                    "{name}: expected part numbers like 2,5 or 2:3, got {item:?}"
                )))
            }
        }
    }
    Ok(faults)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse() -> Result<(), Error> {
        let faults = Faults::parse("2, 5:2", "3")?;
        assert!(Faults::take(&faults.fail, 2));
        assert!(!Faults::take(&faults.fail, 2));
        assert!(Faults::take(&faults.fail, 5));
        assert!(Faults::take(&faults.fail, 5));
        assert!(!Faults::take(&faults.fail, 5));
        assert!(!Faults::take(&faults.fail, 3));
        assert!(Faults::take(&faults.expire, 3));
        assert!(Faults::parse("", "")?.is_empty());
        assert!(Faults::parse("0", "").is_err());
        assert!(Faults::parse("two", "").is_err());
        Ok(())
    }
}
