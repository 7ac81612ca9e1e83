//! Lambda function `cleanup-stale-uploads`, run by an EventBridge schedule: wiring only; the sweep
//! lives in `shared::cleanup`.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::init_tracing();
    let deps: &'static shared::Deps = Box::leak(Box::new(shared::Deps::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        shared::cleanup::handle(deps, event)
    }))
    .await
}
