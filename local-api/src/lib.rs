//! The local API: serves every route of `template.yaml` on 127.0.0.1 through the very handlers the
//! Lambda functions run. Each HTTP request becomes the API Gateway HTTP API (payload v2) event that
//! API Gateway would send, with the JWT authorizer's claims taken from the `x-user-id` header: that
//! header is honoured here only, never by the functions. Browsers on other origins get CORS answers
//! like the deployed API's `CorsConfiguration`, for the origins `CORS_ALLOWED_ORIGINS` lists.
//!
//! Since `x-user-id` lets any caller act as any user, only this machine may send it: connections from
//! other addresses are refused, and so is every request whose `Host` is not a loopback name
//! ([`is_loopback_host`]). A page on another site that rebinds its own DNS name to 127.0.0.1 (DNS
//! rebinding) still sends its own name as `Host`, and gets 403 HOST_NOT_ALLOWED.

use shared::{ApiError, Deps};

mod cors;
mod demo_page;
mod gateway_event;
mod host_check;
mod routes;
mod server;

pub use cors::{Cors, CORS_ORIGINS_VAR, DEFAULT_CORS_ORIGINS};
pub use gateway_event::IDENTITY_HEADER;
pub use host_check::is_loopback_host;
pub use routes::{match_route, Matched};
pub use server::{serve, serve_with_cors};

pub mod bootstrap;

/// Creates the bucket and table the configuration names, as the template would.
pub async fn bootstrap(deps: &Deps) -> Result<(), ApiError> {
    bootstrap::create_bucket(&deps.aws.s3, &deps.config.bucket).await?;
    bootstrap::create_table(&deps.aws.dynamodb, &deps.config.table).await
}
