//! `upload`: the command-line client. Results go to stdout as JSON, progress and messages to stderr.

mod args;
mod commands;
mod reporter;

use std::process::ExitCode;

use clap::Parser;

use args::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
