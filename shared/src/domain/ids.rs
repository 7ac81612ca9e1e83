//! The names storage gives an upload, as types of their own: the object key the server chose and
//! the multipart upload id storage issued. Both are strings underneath, but one cannot be passed
//! where the other is wanted (`complete(&record.key, &record.s3_upload_id, ...)` cannot swap them).

use std::fmt;
use std::ops::Deref;

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
    /// The S3 object key of an upload (`uploads/{owner}/{uploadId}/{name}`), chosen by the server.
    ObjectKey
}

name! {
    /// Storage's id of an upload's multipart upload; it never leaves the server.
    S3UploadId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_their_text() {
        let key = ObjectKey::from("uploads/u/1/a.mp4");
        assert_eq!(key, "uploads/u/1/a.mp4");
        assert!(key.starts_with("uploads/"));
        assert_eq!(S3UploadId::from("s3-1".to_owned()).to_string(), "s3-1");
    }
}
