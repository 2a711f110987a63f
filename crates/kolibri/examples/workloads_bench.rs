//! Benchmark of the workload controllers in `kolibri server` (not a test: it measures and
//! prints).
//!
//! Runs a real (release) binary on loopback, `--disable-scheduler` and no agent, and measures:
//! 1. a Deployment of 1,000 replicas created → 1,000 pods exist (counted on a pod watch
//!    opened before the create), three runs in fresh namespaces;
//! 2. idle CPU (utime + stime from /proc/PID/stat) over 30 s and VmRSS with 10,000 objects:
//!    the pods, ReplicaSets and Deployments of step 1 plus 500 Deployments of 2 replicas
//!    (500 ReplicaSets, 1,000 pods), the rest ConfigMaps of 1 KB.
//!
//! Usage: `cargo build --release -p kolibri --bin kolibri --example workloads_bench &&
//! target/release/examples/workloads_bench --kolibri target/release/kolibri`.
//! Every wait is bounded; the server is stopped by its PID.

#[path = "support/server.rs"]
mod server;

use server::ServerProc;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Benchmark of kolibri's workload controllers")]
struct Args {
    /// The kolibri binary (a release build).
    #[arg(long, default_value = "target/release/kolibri")]
    kolibri: PathBuf,
    /// Folder for the server's data dir (a temporary folder under it is used and removed).
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
    /// Replicas of the large Deployment.
    #[arg(long, default_value_t = 1000)]
    replicas: usize,
    /// Runs of the large Deployment.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Objects present during the idle reading.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Seconds of the idle-CPU reading.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
    /// Passed to the server's `--disable-controllers` (to see what other controllers cost).
    #[arg(long)]
    disable_controllers: Option<String>,
}

fn start(bin: &Path, dir: &Path, disable: Option<&str>) -> anyhow::Result<ServerProc> {
    let mut extra = vec!["--disable-scheduler"];
    if let Some(d) = disable {
        extra.extend(["--disable-controllers", d]);
    }
    ServerProc::start(bin, dir, &extra, "controller started controller=\"deployment\"")
}

async fn client(dir: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(dir.join("kubeconfig.yaml"))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let mut config = config;
    config.read_timeout = Some(Duration::from_secs(120));
    Ok(kube::Client::try_from(config)?)
}

fn deployment(name: &str, replicas: usize) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": { "replicas": replicas, "selector": { "matchLabels": { "app": name } },
                  "template": { "metadata": { "labels": { "app": name } },
                                "spec": { "containers": [{ "name": "c", "image": "busybox" }] } } },
    }))?)
}

async fn create_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
    Ok(())
}

/// Creates the Deployment and counts distinct pods on a watch opened before; returns the
/// time from the create request to the last pod.
async fn time_to_pods(client: &kube::Client, ns: &str, replicas: usize) -> anyhow::Result<Duration> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut stream = Box::pin(watcher(pods, watcher::Config::default()));
    // The watch is established once its initial (empty) list is done.
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await? {
            Some(Ok(watcher::Event::InitDone)) => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => bail!("pod watch: {e}"),
            None => bail!("pod watch ended"),
        }
    }
    let t = Instant::now();
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &deployment("big", replicas)?)
        .await?;
    let mut seen = HashSet::new();
    while seen.len() < replicas {
        let left = Duration::from_secs(60).saturating_sub(t.elapsed());
        match tokio::time::timeout(left, stream.next()).await {
            Err(_) => bail!("only {} of {replicas} pods after 60 s", seen.len()),
            Ok(Some(Ok(watcher::Event::Apply(p)))) => {
                seen.insert(p.metadata.name.unwrap_or_default());
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => bail!("pod watch: {e}"),
            Ok(None) => bail!("pod watch ended"),
        }
    }
    Ok(t.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::Builder::new().prefix("kolibri-workloads-bench-").tempdir_in(&args.work_dir)?;
    let server = start(&args.kolibri, dir.path(), args.disable_controllers.as_deref())?;
    let client = client(dir.path()).await?;
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let rss_start = server.rss_mb();
    let mut report: Vec<(String, String)> = Vec::new();

    // 1. A Deployment of 1,000 replicas → 1,000 pods.
    let mut times = Vec::new();
    for run in 0..args.runs {
        let ns = format!("big-{run}");
        create_namespace(&client, &ns).await?;
        times.push(time_to_pods(&client, &ns, args.replicas).await?);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let all: Vec<String> = times.iter().map(|d| ms(*d)).collect();
    times.sort();
    report.push((
        format!("Deployment of {} replicas → all its pods exist (watch), median ({} runs)", args.replicas, args.runs),
        format!("{} ({})", ms(times[times.len() / 2]), all.join(", ")),
    ));

    report.push((
        format!("VmRSS: at start → after the {} pods of step 1", args.runs * args.replicas),
        format!("{rss_start:.1} MB → {:.1} MB", server.rss_mb()),
    ));

    // 2. Idle with 10,000 objects.
    let t = Instant::now();
    create_namespace(&client, "small").await?;
    let small: Api<Deployment> = Api::namespaced(client.clone(), "small");
    let deployments: Vec<Deployment> =
        (0..500).map(|i| deployment(&format!("d{i:03}"), 2)).collect::<anyhow::Result<_>>()?;
    futures::stream::iter(deployments)
        .map(|d| {
            let small = small.clone();
            async move { small.create(&PostParams::default(), &d).await.map(|_| ()) }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    let pods: Api<Pod> = Api::all(client.clone());
    let t_pods = Instant::now();
    loop {
        let n = pods.list_metadata(&ListParams::default()).await?.items.len();
        if n >= args.runs * args.replicas + 1000 {
            break;
        }
        if t_pods.elapsed() > Duration::from_secs(120) {
            bail!("only {n} pods after 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let workload_objects = args.runs * (args.replicas + 2) + 500 * 4;
    let maps = args.objects.saturating_sub(workload_objects);
    let filler = "x".repeat(1000);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "small");
    futures::stream::iter(0..maps)
        .map(|i| {
            let cms = cms.clone();
            let cm: ConfigMap = serde_json::from_value(
                json!({ "metadata": { "name": format!("cm-{i:05}") }, "data": { "payload": filler } }),
            )
            .unwrap_or_default();
            async move { cms.create(&PostParams::default(), &cm).await.map(|_| ()) }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    report.push((
        format!(
            "set-up: 500 Deployments × 2 replicas + {maps} ConfigMaps (≈{} objects with the big Deployments)",
            workload_objects + maps
        ),
        ms(t.elapsed()),
    ));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let c0 = server.ticks().context("/proc/PID/stat")?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let c1 = server.ticks().context("/proc/PID/stat")?;
    let cpu = (c1 - c0) as f64 / ticks_per_s / t0.elapsed().as_secs_f64() * 100.0;
    report.push((
        format!("idle CPU of the server over {} s with those objects (all controllers running)", args.idle_secs),
        format!("{cpu:.2} % of one core ({} ticks)", c1 - c0),
    ));
    report.push((
        "VmRSS: at start → idle with the objects".into(),
        format!("{rss_start:.1} MB → {:.1} MB", server.rss_mb()),
    ));

    let width = report.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    println!();
    for (k, v) in &report {
        println!("{k:width$}  {v}");
    }
    drop(server);
    Ok(())
}
