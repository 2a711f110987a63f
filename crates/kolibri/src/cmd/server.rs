//! `kolibri server`: certificates, datastore and API server on one port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use kolibri_apiserver::ApiServer;
use kolibri_store::Store;

/// How long the controllers may take to finish the work they hold on shutdown.
const CONTROLLERS_STOP_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Folder holding the state of the server (certificates, database).
    #[arg(long, env = "KOLIBRI_DATA_DIR", default_value = "/var/lib/kolibri")]
    pub data_dir: PathBuf,
    /// Address the API server listens on.
    #[arg(long, env = "KOLIBRI_BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Port of the API server (and, later, of agents joining).
    #[arg(long, env = "KOLIBRI_HTTPS_LISTEN_PORT", default_value_t = 6443)]
    pub https_listen_port: u16,
    /// Address other hosts reach the server at; defaults to the bind address, or the
    /// loopback address when binding to all addresses.
    #[arg(long, env = "KOLIBRI_ADVERTISE_ADDRESS")]
    pub advertise_address: Option<IpAddr>,
    /// Where the admin kubeconfig is written (mode 0600).
    #[arg(long, env = "KOLIBRI_WRITE_KUBECONFIG", default_value = "/etc/kolibri/kolibri.yaml")]
    pub write_kubeconfig: PathBuf,
    /// Extra host names or IP addresses for the serving certificate (repeatable).
    #[arg(long = "tls-san", env = "KOLIBRI_TLS_SAN", value_delimiter = ',')]
    pub tls_san: Vec<String>,
    /// Run no node agent on this host (control plane only).
    #[arg(long, env = "KOLIBRI_DISABLE_AGENT")]
    pub disable_agent: bool,
    /// Configuration file (flags as YAML keys); drop-ins in `<file>.d/*.yaml`.
    #[arg(long, env = "KOLIBRI_CONFIG", default_value = "/etc/kolibri/config.yaml")]
    pub config: PathBuf,
    /// Seconds of history the datastore keeps for watches to resume from.
    #[arg(long, env = "KOLIBRI_DATASTORE_RETENTION", default_value_t = 300)]
    pub datastore_retention: u64,
    /// Seconds between compactions of the datastore.
    #[arg(long, env = "KOLIBRI_DATASTORE_COMPACT_INTERVAL", default_value_t = 300)]
    pub datastore_compact_interval: u64,
    /// The newest this-many revisions are never compacted.
    #[arg(long, env = "KOLIBRI_DATASTORE_KEEP_REVISIONS", default_value_t = 1000)]
    pub datastore_keep_revisions: i64,
    /// Controllers not to run in this process (comma-separated or repeated), by kolibri's or
    /// upstream's name (e.g. garbage-collector, namespace); an unknown name is refused with
    /// the list of known ones.
    #[arg(long, env = "KOLIBRI_DISABLE_CONTROLLERS", value_delimiter = ',')]
    pub disable_controllers: Vec<String>,
    /// Seconds a node may go without renewing its lease before it is marked unreachable
    /// (its pods are then evicted after their tolerationSeconds, 300 by default).
    #[arg(long, env = "KOLIBRI_NODE_MONITOR_GRACE_PERIOD", default_value_t = 40)]
    pub node_monitor_grace_period: u64,
    /// Finished pods kept before the oldest are deleted.
    #[arg(long, env = "KOLIBRI_TERMINATED_POD_GC_THRESHOLD", default_value_t = 12_500)]
    pub terminated_pod_gc_threshold: usize,
    /// Run no scheduler in this process (pods stay pending unless another scheduler binds them).
    #[arg(long, env = "KOLIBRI_DISABLE_SCHEDULER")]
    pub disable_scheduler: bool,
    /// Log filter, as `RUST_LOG` (e.g. `info`, `kolibri_apiserver=debug`).
    #[arg(long, env = "KOLIBRI_LOG", default_value = "info")]
    pub log: String,
}

pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log).unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kolibri")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args, started))
}

async fn serve(args: ServerArgs, started: Instant) -> anyhow::Result<()> {
    let tls_dir = args.data_dir.join("server").join("tls");
    let db_dir = args.data_dir.join("server").join("db");
    std::fs::create_dir_all(&db_dir).with_context(|| format!("creating {}", db_dir.display()))?;

    let pki = kolibri_pki::Pki::load_or_create(&tls_dir, &kolibri_pki::PkiOptions::detect(args.tls_san.clone()))
        .context("preparing certificates")?;
    let tls = pki.server_config(vec![b"h2".to_vec(), b"http/1.1".to_vec()]).context("TLS configuration")?;

    let store_path = db_dir.join("state.db");
    let store_options = kolibri_store::SqliteOptions {
        retention: Duration::from_secs(args.datastore_retention),
        compact_interval: Duration::from_secs(args.datastore_compact_interval.max(1)),
        keep_revisions: args.datastore_keep_revisions.max(0),
        // Older history is replayed from the database; memory stays bounded under churn.
        // 8 MiB holds the last ~1,500 writes of pods: enough for watches that reconnect at
        // once, without holding tens of MB of superseded objects under churn.
        history_max_bytes: 8 << 20,
        ..Default::default()
    };
    let store: Arc<dyn Store> = kolibri_store::SqliteStore::open(&store_path, store_options)
        .await
        .with_context(|| format!("opening the datastore {}", store_path.display()))?;

    let advertise = args.advertise_address.unwrap_or(if args.bind_address.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        args.bind_address
    });
    let config = kolibri_apiserver::Config {
        advertise_address: advertise,
        advertise_port: args.https_listen_port,
        service_account_key_pem: Some(pki.service_account_key_pem().to_string()),
        cluster_ca_pem: Some(pki.ca_cert_pem().to_string()),
        ..Default::default()
    };
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let api = ApiServer::new(store.clone(), config, shutdown_rx.clone());
    api.bootstrap().await.context("creating the system objects")?;
    // Each controller calls the API server in process, as `system:kolibri:<controller>`.
    let controllers = kolibri_controllers::Controllers::new({
        let api = api.clone();
        move |name| kube::Client::new(api.in_process(name), "default")
    })
    .disable(&args.disable_controllers)
    .context("--disable-controllers")?
    .node_monitor_grace_period(Duration::from_secs(args.node_monitor_grace_period.max(1)))
    .terminated_pod_gc_threshold(args.terminated_pod_gc_threshold)
    .root_ca(pki.ca_cert_pem())
    .signing_ca(pki.ca_cert_pem(), pki.ca_key_pem());

    let addr = SocketAddr::new(args.bind_address, args.https_listen_port);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    let host = if args.bind_address.is_unspecified() { "127.0.0.1".to_string() } else { url_host(args.bind_address) };
    let url = format!("https://{host}:{}", args.https_listen_port);
    let kubeconfig = kolibri_pki::kubeconfig::admin(&url, &pki);
    let admin_copy = args.data_dir.join("server").join("admin.kubeconfig");
    for path in [&args.write_kubeconfig, &admin_copy] {
        kolibri_pki::kubeconfig::write_kubeconfig(path, &kubeconfig)
            .with_context(|| format!("writing the kubeconfig {}", path.display()))?;
    }

    let serving = tokio::spawn(kolibri_apiserver::serve(api.clone(), listener, tls, shutdown_rx));
    tracing::info!(
        address = %addr,
        kubeconfig = %args.write_kubeconfig.display(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "kolibri API server is ready (/readyz answers 200)"
    );
    if !args.disable_agent {
        tracing::info!("no node agent is built into this version yet; running the control plane only");
    }
    let (controllers_tx, controllers_rx) = tokio::sync::watch::channel(false);
    let mut controllers = tokio::spawn(controllers.run(controllers_rx.clone()));
    // The scheduler is an API client as well, as `system:kolibri:scheduler`; it stops with the controllers.
    let mut scheduler = (!args.disable_scheduler).then(|| {
        let client = kube::Client::new(api.in_process("scheduler"), "default");
        tokio::spawn(kolibri_scheduler::Scheduler::new(client, Default::default()).run(controllers_rx))
    });

    wait_for_signal().await;
    tracing::info!("shutting down");
    let stopping = Instant::now();
    // Controllers first, while the API server still answers their last requests.
    let _ = controllers_tx.send(true);
    if tokio::time::timeout(CONTROLLERS_STOP_TIMEOUT, &mut controllers).await.is_err() {
        tracing::info!("controllers did not stop in time; stopping them");
        controllers.abort();
    }
    if let Some(scheduler) = scheduler.as_mut() {
        if tokio::time::timeout(CONTROLLERS_STOP_TIMEOUT, &mut *scheduler).await.is_err() {
            scheduler.abort();
        }
    }
    let _ = shutdown_tx.send(true);
    match serving.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "API server stopped with an error"),
        Err(e) => tracing::warn!(error = %e, "API server task failed"),
        Ok(Ok(())) => {}
    }
    store.close().await;
    tracing::info!(elapsed_ms = stopping.elapsed().as_millis() as u64, "stopped");
    Ok(())
}

fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        // Without signal handlers the process can only be killed; wait forever.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
