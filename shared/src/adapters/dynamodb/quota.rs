//! The owner's counters: the quota item (unfinished uploads, bytes in flight) and the per-window
//! rate counter items.

use aws_sdk_dynamodb::error::SdkError;

use super::codec::{get_n, n, s};
use super::{failed, DynamoRecords, TTL_ATTRIBUTE};
use crate::domain::error::error_chain;
use crate::ports::{PortError, QuotaUsage, RateUse};

pub(super) fn quota_key(owner: &str) -> String {
    format!("quota#{owner}")
}

/// The rate counter item of `owner` for the window starting at `window`: `rate#{window}#{owner}`,
/// never a valid upload id; it expires by TTL shortly after its window.
pub(super) fn rate_key(owner: &str, window: i64) -> String {
    format!("rate#{window}#{owner}")
}

impl DynamoRecords {
    pub(super) async fn usage(&self, owner: &str) -> Result<QuotaUsage, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("uploadId", s(&quota_key(owner)))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed("GetItem"))?;
        let item = output.item.unwrap_or_default();
        Ok(QuotaUsage {
            active_uploads: get_n(&item, "activeUploads").unwrap_or(0),
            bytes_in_flight: get_n(&item, "bytesInFlight").unwrap_or(0),
        })
    }
}

impl DynamoRecords {
    pub(super) async fn rate(
        &self, owner: &str, window: i64, expires_at: i64, add: RateUse, limit: RateUse,
    ) -> Result<bool, PortError> {
        let mut conditions = Vec::new();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("uploadId", s(&rate_key(owner, window)))
            .update_expression("ADD requests :requests, urls :urls SET #ttl = :ttl")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":requests", n(add.requests as i64))
            .expression_attribute_values(":urls", n(add.urls as i64))
            .expression_attribute_values(":ttl", n(expires_at));
        for (name, added, limit) in [
            ("requests", add.requests, limit.requests),
            ("urls", add.urls, limit.urls),
        ] {
            if limit == 0 || added == 0 {
                continue;
            }
            if added > limit {
                return Ok(false);
            }
            // At most `limit - added` already counted, so the sum stays within the limit.
            let placeholder = format!(":max_{name}");
            conditions.push(format!(
                "(attribute_not_exists({name}) OR {name} <= {placeholder})"
            ));
            request = request.expression_attribute_values(placeholder, n((limit - added) as i64));
        }
        if !conditions.is_empty() {
            request = request.condition_expression(conditions.join(" AND "));
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            // Throttled after the SDK's retries: this one counter item takes over 1,000 writes/s,
            // so the user is far past any per-user limit. Refused like one, with no side effect.
            Err(SdkError::ServiceError(e))
                if e.err().is_provisioned_throughput_exceeded_exception()
                    || e.err().is_throttling_exception()
                    || e.err().is_request_limit_exceeded() =>
            {
                tracing::warn!(
                    "the rate counter is throttled; refusing the request as rate-limited"
                );
                Ok(false)
            }
            Err(e) => Err(PortError::new("UpdateItem", error_chain(&e))),
        }
    }
}
