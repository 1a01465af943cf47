//! The `silt` command: `silt dev` runs everything in one process; the other subcommands
//! are clients of a broker (`--broker`, default the local `silt dev`).

use std::process::ExitCode;

use clap::Parser;
use silt_broker::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    exit_code(runtime.block_on(run(cli)))
}

/// The multi-threaded runtime, or `None` after saying why it cannot start.
fn runtime() -> Option<tokio::runtime::Runtime> {
    let built = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    built
        .inspect_err(|error| eprintln!("error: cannot start the async runtime: {error}"))
        .ok()
}

/// Success, or failure after printing the error and its causes.
fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
