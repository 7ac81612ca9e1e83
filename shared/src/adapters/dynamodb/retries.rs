//! Retries of conflicting or throttled writes, with bounded, jittered backoff, and the tokens
//! that make a retried transaction idempotent.

use crate::adapters::metrics::{dependency_cause, Dependency, Metrics};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder as TransactRequest;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use sha2::{Digest, Sha256};

/// Attempts of one write that keeps meeting a conflict or a throttle, before it is an error.
pub const MAX_ATTEMPTS: u32 = 10;

/// The wait before retry `attempt` (1-based): full jitter over an exponential ceiling of 10 ms
/// doubling to 1 s, so 10 attempts wait about 3.3 s in all at worst (1.6 s on average): long
/// enough to outlast a key's one-second throttle window, short against Lambda's timeout.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = (10u64 << attempt.saturating_sub(1).min(7)).min(1_000);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_millis(1 + random % ceiling_ms)
}

/// What one attempt of a retried call came to.
pub enum Attempt<T, E> {
    Done(Result<T, E>),
    /// Nothing was applied (a conflict, a throttle): worth another attempt.
    Retry(E),
}

/// Runs `attempt(0)`, `attempt(1)`, ... until one is done or [`MAX_ATTEMPTS`] were retried, with
/// [`backoff`] between them; the last retryable error is the answer then.
pub async fn retrying<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let mut n = 0;
    loop {
        match attempt(n).await {
            Attempt::Done(result) => return result,
            Attempt::Retry(err) if n + 1 >= MAX_ATTEMPTS => return Err(err),
            Attempt::Retry(_) => {
                n += 1;
                tokio::time::sleep(backoff(n)).await;
            }
        }
    }
}

/// The token of attempt `attempt` of the write named `what`. A cancelled transaction applied
/// nothing, and DynamoDB keeps a token's outcome for ten minutes: the retry after a cancellation
/// gets a token of its own, so it is executed rather than answered from the cancelled attempt.
/// The SDK's own retries (a lost answer, a 5xx) resend the same token, so a write that was applied
/// is answered like the first time.
pub(super) fn attempt_token(what: &str, attempt: u32) -> String {
    match attempt {
        0 => request_token(what),
        n => request_token(&format!("{what} #{n}")),
    }
}

/// Whether a transaction failed without applying anything for a reason a retry can get past: a
/// conflict with another transaction on one of its items, a throttle, or the same token still in
/// progress (then the same token must be sent again, see [`attempt_token`]).
pub(super) fn transient(err: &TransactWriteItemsError) -> bool {
    match err {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            let codes: Vec<&str> = e
                .cancellation_reasons()
                .iter()
                .filter_map(|r| r.code())
                .collect();
            codes.iter().any(|c| {
                matches!(
                    *c,
                    "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            }) && !codes.contains(&"ConditionalCheckFailed")
        }
        TransactWriteItemsError::ProvisionedThroughputExceededException(_)
        | TransactWriteItemsError::ThrottlingException(_)
        | TransactWriteItemsError::RequestLimitExceeded(_)
        | TransactWriteItemsError::TransactionInProgressException(_) => true,
        _ => false,
    }
}

/// Whether a transaction failed past every retry without applying anything (conflicts or
/// throttles; not one still in progress, which may yet apply).
pub(super) fn contended(err: &SdkError<TransactWriteItemsError, HttpResponse>) -> bool {
    matches!(err, SdkError::ServiceError(e) if transient(e.err()) && !in_progress(e.err()))
}

/// Whether a transaction attempt should keep its token on retry (it may still be running).
pub(super) fn in_progress(err: &TransactWriteItemsError) -> bool {
    matches!(
        err,
        TransactWriteItemsError::TransactionInProgressException(_)
    )
}

/// A `TransactWriteItems` with [`MAX_ATTEMPTS`] attempts: `request` carries everything but the
/// token, which [`attempt_token`] gives each attempt.
pub(super) async fn transact(
    request: TransactRequest, what: &str, metrics: Option<&Metrics>,
) -> Result<(), SdkError<TransactWriteItemsError, HttpResponse>> {
    let (mut attempt, mut token_attempt) = (0, 0);
    loop {
        let sent = request
            .clone()
            .client_request_token(attempt_token(what, token_attempt))
            .send()
            .await;
        match sent {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(e)) if transient(e.err()) && attempt + 1 < MAX_ATTEMPTS => {
                if let Some(metrics) = metrics {
                    let cause = dependency_cause(&format!("{:?}", e.err()));
                    metrics.dependency_retry(Dependency::DynamoDb, cause);
                }
                attempt += 1;
                if !in_progress(e.err()) {
                    token_attempt = attempt;
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A `ClientRequestToken` (at most 36 characters) that names exactly this write: the same write
/// retried gets the same token, any other write another one.
pub fn request_token(what: &str) -> String {
    let digest = Sha256::digest(what.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a transaction was cancelled because the condition of its item `index` failed.
pub(super) fn condition_failed(err: &TransactWriteItemsError, index: usize) -> bool {
    match err {
        TransactWriteItemsError::TransactionCanceledException(e) => e
            .cancellation_reasons()
            .get(index)
            .and_then(|r| r.code())
            .is_some_and(|code| code == "ConditionalCheckFailed"),
        _ => false,
    }
}

/// Whether a transaction was cancelled because the condition of its first item failed.
pub(super) fn first_condition_failed(err: &TransactWriteItemsError) -> bool {
    condition_failed(err, 0)
}
