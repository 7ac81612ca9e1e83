//! Test support shared by the local API's tests, the client's tests and the cleanup benchmark:
//! the local API started in-process on the servers `scripts/stack.sh` started ([`Stack`], one per
//! [`S3Server`]), typed calls through the contract's request and answer types ([`calls`]), what
//! storage and the record store hold ([`storage`]), and the digests and test bytes the checks
//! compare ([`bytes`]).

pub mod bytes;
pub mod calls;
pub mod config;
pub mod logs;
pub mod scratch;
pub mod stack;
pub mod storage;

pub use bytes::{base64, file_bytes, hex, sha256, sha256_base64, MIB};
pub use calls::{
    batch_request, code, completed, presign_request, put_refused, video, Answer, Refusal, Refused,
};
pub use config::vars;
pub use logs::logs;
pub use scratch::Scratch;
pub use stack::{S3Server, Stack};
pub use storage::part_refs;

/// One test per S3 server for a test body that takes the server as its parameter:
/// `per_server!(full_upload: full_upload_on_moto => Moto, full_upload_on_strict_s3 => S3sFs);`
/// makes two `#[tokio::test]`s; a test attribute first (`per_server!(#[tokio::test(flavor =
/// "multi_thread")] body: ...)`) replaces `#[tokio::test]`.
#[macro_export]
macro_rules! per_server {
    (#[$attr:meta] $body:ident: $($test:ident => $server:ident),+ $(,)?) => {
        $(
            #[$attr]
            async fn $test() {
                $body($crate::S3Server::$server).await;
            }
        )+
    };
    ($body:ident: $($test:ident => $server:ident),+ $(,)?) => {
        $crate::per_server!(#[tokio::test] $body: $($test => $server),+);
    };
}
