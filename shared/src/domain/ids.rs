//! The names of an upload, as types of their own: the id this service issued, its owner, the
//! object key it chose, the multipart upload id storage issued, and its parts' numbers. All are strings underneath, but one cannot
//! be passed where another is wanted (`complete(&record.key, &record.s3_upload_id, ...)` cannot
//! swap them).

use std::fmt;
use std::ops::Deref;

use crate::domain::sizing::MAX_PARTS;
use crate::domain::UploadError;
use upload_contract::ErrorCode;

macro_rules! name {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<&$name> for $name {
            fn eq(&self, other: &&$name) -> bool {
                self == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

name! {
    /// The id this service gives an upload: a UUID, hyphenated and lower-case.
    UploadId
}

name! {
    /// The caller an upload belongs to: the `sub` claim the authorizer verified.
    Owner
}

name! {
    /// The S3 object key of an upload (`uploads/{owner}/{uploadId}/{name}`), chosen by the server.
    ObjectKey
}

name! {
    /// Storage's id of an upload's multipart upload; it never leaves the server.
    S3UploadId
}

/// A part's number, 1 to 10,000 as S3 numbers them: it cannot be out of range once made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartNumber(u32);

impl PartNumber {
    /// `n` as a part number, if S3 allows it.
    pub fn new(n: u32) -> Option<Self> {
        (1..=MAX_PARTS as u32).contains(&n).then_some(Self(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for PartNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq<u32> for PartNumber {
    fn eq(&self, other: &u32) -> bool {
        self.0 == *other
    }
}

impl From<PartNumber> for u32 {
    fn from(part: PartNumber) -> u32 {
        part.0
    }
}

impl UploadId {
    /// A new id, for a new upload.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// An upload id as the service issues them (a UUID, any spelling), in canonical form.
    pub fn parse(raw: &str) -> Result<Self, UploadError> {
        uuid::Uuid::try_parse(raw)
            .map(|id| Self(id.hyphenated().to_string()))
            .map_err(|_| {
                UploadError::invalid(
                    ErrorCode::InvalidUploadId,
                    "uploadId is not an id this service issued (expected a UUID)",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<UploadId, UploadError>) -> ErrorCode {
        match result.unwrap_err() {
            UploadError::Invalid { code, .. } => code,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn upload_ids_are_uuids() {
        let id = UploadId::parse("3F2C9D1E-8A4B-4C6D-9E0F-1A2B3C4D5E6F").unwrap();
        assert_eq!(id, "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f");
        for bad in [
            "",
            "abc",
            "../../etc",
            "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6",
            "3f2c9d1e\0",
        ] {
            assert_eq!(code(UploadId::parse(bad)), "INVALID_UPLOAD_ID", "{bad:?}");
        }
    }

    #[test]
    fn part_numbers_are_s3s() {
        assert_eq!(PartNumber::new(0), None);
        assert_eq!(PartNumber::new(1).map(PartNumber::get), Some(1));
        assert_eq!(PartNumber::new(10_000).map(u32::from), Some(10_000));
        assert_eq!(PartNumber::new(10_001), None);
    }

    #[test]
    fn names_read_as_their_text() {
        let key = ObjectKey::from("uploads/u/1/a.mp4");
        assert_eq!(key, "uploads/u/1/a.mp4");
        assert!(key.starts_with("uploads/"));
        assert_eq!(S3UploadId::from("s3-1".to_owned()).to_string(), "s3-1");
    }
}
