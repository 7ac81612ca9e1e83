//! The Lambda entry points: [`serve`], which every endpoint's binary calls (tracing, dependencies
//! built once at cold start, then the runtime loop), and the scheduled [`cleanup`]'s.

pub mod cleanup;

use lambda_http::{service_fn, Request};

use crate::api::Endpoint;
use crate::app::Deps;

/// Serves `endpoint` as a Lambda function behind API Gateway (HTTP API, payload v2).
pub async fn serve(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    init_tracing();
    // Lives as long as the sandbox; leaking it lets every invocation borrow it without an Arc.
    let deps: &'static Deps = Box::leak(Box::new(Deps::from_env().await?));
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, lambda_http::Error>(endpoint.handle(deps, req).await)
    }))
    .await
}

/// JSON lines in Lambda (CloudWatch adds the timestamp), readable text elsewhere. Level from
/// `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else info.
pub fn init_tracing() {
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_lowercase()))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .with_ansi(false)
            .try_init()
    } else {
        builder.try_init()
    };
}
