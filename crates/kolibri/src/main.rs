//! `kolibri`: a lightweight Kubernetes distribution in one binary.

mod cmd;
mod config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start: one arena (the server has few threads; more
/// arenas only fragment), and freed pages go back to the system at once, so the resident
/// size follows the live objects (no purging thread, nothing runs while idle).
#[cfg(feature = "jemalloc")]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"narenas:1,dirty_decay_ms:0,muzzy_decay_ms:0\0";

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
