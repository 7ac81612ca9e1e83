//! `make dev`: the whole API on http://127.0.0.1:$PORT (default 3000) against the local stack.

use std::sync::Arc;

use shared::{Clock, Config, Deps};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::lambda::init_tracing();
    let config = Config::from_env()?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let deps = Arc::new(Deps::new(config, Clock::system()).await);
    local_api::bootstrap(&deps).await?;
    if std::env::args().any(|arg| arg == "--bootstrap-only") {
        // Scripts that run the functions some other way (the Lambda emulator) only need the
        // bucket and table.
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "local API on http://127.0.0.1:{port}{} (identity: {} header)",
        shared::api::BASE_PATH,
        local_api::IDENTITY_HEADER
    );
    println!("demo page:  http://127.0.0.1:{port}/");
    println!(
        "CLI:        cargo run -p upload-client -- upload --api http://127.0.0.1:{port}{} --user alice FILE",
        shared::api::BASE_PATH
    );
    tokio::select! {
        served = local_api::serve(deps, listener) => served?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    Ok(())
}
