//! The DaemonSet controller.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::workloads::Informers;

/// The controller's name for `--disable-controllers`.
pub const NAME: &str = "daemonset";

pub(crate) fn start(_client: kube::Client, _informers: &Informers, _shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async {})
}
