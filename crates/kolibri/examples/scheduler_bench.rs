//! Benchmark of the scheduler in `kolibri server` (not a test: it measures and prints).
//!
//! Runs a real (release) binary on loopback, registers `--nodes` Node objects (3 zones,
//! 32 CPUs, 128 GiB, 110 pods, a few images each; no agent), then creates `--pods` pods
//! (32 creates in flight; 10 apps with a soft hostname spread constraint, varied requests,
//! one in ten with a preferred zone) and measures, with a watch on the pods:
//! 1. pods bound per second: pods / (first create → last pod seen bound);
//! 2. the server's VmRSS before the pods and after they are bound (peak VmHWM), and the
//!    same load on a server started with `--disable-scheduler` (pods created, never bound):
//!    the difference bounds what the scheduler (its cache, queue, Events) holds;
//! 3. idle CPU of the server over `--idle-secs` once everything is bound;
//! 4. a backlog of `--backlog` more pods, created while no node matches their nodeSelector
//!    (each gets its FailedScheduling), then all nodes labelled to match: first label → all
//!    bound, the scheduler's pace with no creates competing for the CPU;
//! 5. at shutdown the scheduler logs its estimate of its cache (`cache_bytes`), printed
//!    here for the whole cluster (first and backlog pods).
//!
//! Usage: `cargo build --release -p kolibri --bin kolibri --example scheduler_bench &&
//! target/release/examples/scheduler_bench --kolibri target/release/kolibri`.
//! Every wait is bounded; the servers are stopped by their PID.

#[path = "support/server.rs"]
mod server;

use server::ServerProc;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Benchmark of kolibri's scheduler")]
struct Args {
    /// The kolibri binary (a release build).
    #[arg(long, default_value = "target/release/kolibri")]
    kolibri: PathBuf,
    /// Folder for the servers' data dirs (temporary folders under it are used and removed).
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
    #[arg(long, default_value_t = 500)]
    nodes: usize,
    #[arg(long, default_value_t = 5000)]
    pods: usize,
    /// Seconds of the idle-CPU reading after the pods are bound.
    #[arg(long, default_value_t = 10)]
    idle_secs: u64,
    /// Pods of the backlog run (0: none).
    #[arg(long, default_value_t = 5000)]
    backlog: usize,
    /// Skip the run with `--disable-scheduler`.
    #[arg(long)]
    no_baseline: bool,
}

fn start(bin: &Path, dir: &Path, scheduler: bool) -> anyhow::Result<ServerProc> {
    // No agent renews the nodes' leases; keep them reachable for the whole run.
    let mut extra = vec!["--node-monitor-grace-period", "600"];
    if !scheduler {
        extra.push("--disable-scheduler");
    }
    ServerProc::start(bin, dir, &extra, if scheduler { "scheduler started" } else { "is ready" })
}

async fn client(dir: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(dir.join("kubeconfig.yaml"))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// Creates `n` objects from `make(i)` with 32 requests in flight.
async fn create_all<K>(api: &Api<K>, n: usize, make: impl Fn(usize) -> serde_json::Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let objects: Vec<K> = (0..n).map(|i| serde_json::from_value(make(i))).collect::<Result<_, _>>()?;
    futures::stream::iter(objects)
        .map(|o| async move { api.create(&PostParams::default(), &o).await.map(|_| ()) })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

fn node(i: usize) -> serde_json::Value {
    let name = format!("node-{i:04}");
    let images: Vec<serde_json::Value> = (0..5)
        .map(|k| json!({"names": [format!("registry.example/app-{}:1.0", (i + k) % 20)], "sizeBytes": 50_000_000 + k * 10_000_000}))
        .collect();
    json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "topology.kubernetes.io/zone": format!("zone-{}", i % 3)}},
        "status": {
            "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"},
            "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "bench"}],
            "images": images,
        },
    })
}

fn pod(i: usize) -> serde_json::Value {
    let app = format!("app-{}", i % 10);
    let mut spec = json!({
        "containers": [{"name": "c", "image": format!("registry.example/app-{}:1.0", i % 20),
            "resources": {"requests": {"cpu": format!("{}m", 100 + (i % 5) * 100), "memory": format!("{}Mi", 128 * (1 + i % 4))}}}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": app}}}],
    });
    if i.checked_rem(10) == Some(0) {
        spec["affinity"] = json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10,
            "preference": {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-1"]}]}}]}});
    }
    json!({"metadata": {"name": format!("pod-{i:05}"), "labels": {"app": app}}, "spec": spec})
}

struct Run {
    rss_nodes: f64,
    rss_after: f64,
    hwm_after: f64,
    created_in: Duration,
    bound_in: Option<Duration>,
    idle_cpu: Option<f64>,
    /// The scheduler's own estimate of its cache, logged when it stops.
    cache_bytes: Option<u64>,
}

/// Waits (watching) until `want` pods of `pods` are bound; returns when.
fn watch_bound(pods: Api<Pod>, want: usize) -> (tokio::task::JoinHandle<()>, tokio::sync::oneshot::Receiver<Instant>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<Instant>();
    let task = tokio::spawn(async move {
        let mut bound = HashSet::new();
        let mut tx = Some(tx);
        let mut stream = std::pin::pin!(watcher(pods, watcher::Config::default()));
        while let Some(event) = stream.next().await {
            let pod = match event {
                Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => p,
                _ => continue,
            };
            if pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                bound.insert(pod.metadata.name.unwrap_or_default());
                if bound.len() == want {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Instant::now());
                    }
                }
            }
        }
    });
    (task, rx)
}

/// A backlog on a server of its own: pods created while no node matches their selector
/// (each gets its FailedScheduling), then every node labelled to match; returns the time to
/// create them and the time from the first label to the last pod bound, the scheduler's own
/// pace without creates competing.
async fn backlog(args: &Args) -> anyhow::Result<(Duration, Duration)> {
    let dir = tempfile::Builder::new().prefix("kolibri-scheduler-bench-").tempdir_in(&args.work_dir)?;
    let _server = start(&args.kolibri, dir.path(), true)?;
    let client = &client(dir.path()).await?;
    create_all(&Api::<Node>::all(client.clone()), args.nodes, node).await?;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "backlog"}}))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "backlog");
    let (watch, all_bound) = watch_bound(pods.clone(), args.backlog);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    create_all(&pods, args.backlog, |i| {
        let mut p = pod(i);
        p["spec"]["nodeSelector"] = json!({"bench": "backlog"});
        p
    })
    .await?;
    let created = t.elapsed();
    // Let the first attempts (and their Events) settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let nodes = Api::<Node>::all(client.clone());
    let t = Instant::now();
    futures::stream::iter(0..args.nodes)
        .map(|i| {
            let nodes = nodes.clone();
            async move {
                let patch = json!({"metadata": {"labels": {"bench": "backlog"}}});
                nodes.patch(&format!("node-{i:04}"), &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    let done = tokio::time::timeout(Duration::from_secs(300), all_bound)
        .await
        .context("not all backlog pods were bound within 300 s")??;
    watch.abort();
    Ok((created, done - t))
}

async fn run(args: &Args, scheduler: bool) -> anyhow::Result<Run> {
    let dir = tempfile::Builder::new().prefix("kolibri-scheduler-bench-").tempdir_in(&args.work_dir)?;
    let server = start(&args.kolibri, dir.path(), scheduler)?;
    let client = client(dir.path()).await?;
    create_all(&Api::<Node>::all(client.clone()), args.nodes, node).await?;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "bench"}}))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_nodes = server.rss_mb();

    let pods: Api<Pod> = Api::namespaced(client.clone(), "bench");
    // Watch first, so no binding is missed.
    let (watch, all_bound_rx) = watch_bound(pods.clone(), args.pods);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    create_all(&pods, args.pods, pod).await?;
    let created_in = t0.elapsed();
    let bound_in = if scheduler {
        let done = tokio::time::timeout(Duration::from_secs(300), all_bound_rx)
            .await
            .context("not all pods were bound within 300 s")??;
        Some(done - t0)
    } else {
        tokio::time::sleep(Duration::from_secs(2)).await;
        None
    };
    watch.abort();
    // Let the Events of the last bindings land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = server.rss_mb();
    let hwm_after = server.status_mb("VmHWM:");
    let idle_cpu = if scheduler {
        let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let c0 = server.ticks().context("/proc/PID/stat")?;
        let t = Instant::now();
        tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
        let c1 = server.ticks().context("/proc/PID/stat")?;
        Some((c1 - c0) as f64 / ticks_per_s / t.elapsed().as_secs_f64() * 100.0)
    } else {
        None
    };
    // Stop the server (SIGTERM, waited for): the scheduler logs its cache's size.
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("server.log"))?;
    let cache_bytes = log
        .lines()
        .filter(|l| l.contains("scheduler stopped"))
        .find_map(|l| l.split("cache_bytes=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    Ok(Run { rss_nodes, rss_after, hwm_after, created_in, bound_in, idle_cpu, cache_bytes })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("scheduler benchmark: {} nodes, {} pods (all default filters and scores)", args.nodes, args.pods);
    let with = run(&args, true).await?;
    let bound_in = with.bound_in.unwrap_or_default();
    let mut report = vec![
        ("pods created (32 in flight)".to_string(), format!("{:.2} s", with.created_in.as_secs_f64())),
        (
            "first create → all pods bound (watch)".into(),
            format!("{:.2} s = {:.0} pods/s", bound_in.as_secs_f64(), args.pods as f64 / bound_in.as_secs_f64()),
        ),
        ("VmRSS with the nodes, before the pods".into(), format!("{:.1} MB", with.rss_nodes)),
        (
            "VmRSS with all pods bound (peak VmHWM)".into(),
            format!("{:.1} MB ({:.1} MB)", with.rss_after, with.hwm_after),
        ),
        (
            "the scheduler's estimate of its cache at shutdown (nodes + pods)".into(),
            with.cache_bytes.map_or("not logged".into(), |b| format!("{:.1} MB", b as f64 / 1e6)),
        ),
        (
            format!("idle CPU over {} s after the run", args.idle_secs),
            format!("{:.2} % of one core", with.idle_cpu.unwrap_or_default()),
        ),
    ];
    if args.backlog > 0 {
        let (created, bound) = backlog(&args).await?;
        report.push((
            format!("backlog: {} pods created with no matching node (FailedScheduling each)", args.backlog),
            format!("{:.2} s", created.as_secs_f64()),
        ));
        report.push((
            format!("backlog: first of {} node labels → all bound", args.nodes),
            format!("{:.2} s = {:.0} pods/s", bound.as_secs_f64(), args.backlog as f64 / bound.as_secs_f64()),
        ));
    }
    if !args.no_baseline {
        let without = run(&args, false).await?;
        report.push((
            "same load with --disable-scheduler: VmRSS before → after the pods".into(),
            format!("{:.1} MB → {:.1} MB", without.rss_nodes, without.rss_after),
        ));
        report.push((
            "growth with the scheduler minus growth without (≥ the scheduler's share)".into(),
            format!("{:.1} MB", (with.rss_after - with.rss_nodes) - (without.rss_after - without.rss_nodes)),
        ));
    }
    let width = report.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    for (k, v) in report {
        println!("  {k:<width$}  {v}");
    }
    Ok(())
}
