//! `kolibri kubectl`: the host's kubectl with the cluster's admin kubeconfig.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use anyhow::Context;
use clap::Args;

#[derive(Args, Debug)]
pub struct KubectlArgs {
    /// Arguments passed to kubectl as they are.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

pub fn run(args: KubectlArgs) -> anyhow::Result<()> {
    let mut command = std::process::Command::new("kubectl");
    if std::env::var_os("KUBECONFIG").is_none() {
        command.env("KUBECONFIG", "/etc/kolibri/kolibri.yaml");
    }
    let err = command.args(&args.args).exec();
    Err(err).context("running kubectl")
}
