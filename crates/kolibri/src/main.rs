//! `kolibri`: a lightweight Kubernetes distribution in one binary.

mod cmd;
mod config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "kolibri", version, about = "A lightweight Kubernetes in one binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the control plane (API server and datastore).
    Server(cmd::server::ServerArgs),
    /// Run the host's kubectl against this cluster with the admin kubeconfig.
    Kubectl(cmd::kubectl::KubectlArgs),
}

fn main() -> ExitCode {
    let args = match config::merged_args(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("kolibri: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    let result = match cli.command {
        Command::Server(args) => cmd::server::run(args),
        Command::Kubectl(args) => cmd::kubectl::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kolibri: {e:#}");
            ExitCode::FAILURE
        }
    }
}
