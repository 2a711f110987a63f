//! Benchmark of the whole server's memory with a cluster-sized load (not a test: it measures
//! and prints).
//!
//! Runs a real (release) `kolibri server` on loopback with every controller and the
//! scheduler, and no agent. The benchmark plays 500 kubelets: it registers 500 Nodes (with
//! status), creates Deployments for 10,000 pods, waits until the scheduler has bound them
//! all, then reports every pod Running and Ready with a container status, as a kubelet
//! would. After a settling time it reads VmRSS, VmHWM and the idle CPU of the server.
//!
//! Usage: `cargo build --release -p kolibri --bin kolibri --example cluster_memory_bench &&
//! target/release/examples/cluster_memory_bench --kolibri target/release/kolibri`.
//! Every wait is bounded; the server is stopped by its PID.

#[path = "support/server.rs"]
mod server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use server::ServerProc;

#[derive(Parser, Debug)]
#[command(about = "Memory of kolibri server with 500 nodes and 10,000 pods")]
struct Args {
    /// The kolibri binary (a release build).
    #[arg(long, default_value = "target/release/kolibri")]
    kolibri: PathBuf,
    /// Folder for the server's data dir (a temporary folder under it is used and removed).
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
    #[arg(long, default_value_t = 500)]
    nodes: usize,
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Replicas per Deployment (the pods are spread over `pods / replicas` Deployments).
    #[arg(long, default_value_t = 500)]
    replicas: usize,
    /// Seconds to wait after the last write before reading memory.
    #[arg(long, default_value_t = 15)]
    settle_secs: u64,
    /// Seconds of the idle-CPU reading.
    #[arg(long, default_value_t = 20)]
    idle_secs: u64,
    /// Extra flags for `kolibri server` (e.g. `--disable-controllers=...`).
    #[arg(long, allow_hyphen_values = true)]
    server_flag: Vec<String>,
}

async fn client(dir: &std::path::Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(dir.join("kubeconfig.yaml"))?;
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    config.read_timeout = Some(Duration::from_secs(120));
    Ok(kube::Client::try_from(config)?)
}

fn node(i: usize) -> anyhow::Result<Node> {
    let name = format!("node-{i:04}");
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/zone": format!("zone-{}", i % 3),
        }},
        "spec": { "podCIDR": format!("10.{}.{}.0/24", 42 + i / 256, i % 256) },
    }))?)
}

fn node_status(i: usize) -> serde_json::Value {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let condition = |type_: &str, status: &str, reason: &str| {
        json!({ "type": type_, "status": status, "reason": reason, "message": format!("kubelet reports {reason}"),
                "lastHeartbeatTime": now, "lastTransitionTime": now })
    };
    let resources = json!({ "cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi" });
    json!({ "status": {
        "capacity": resources, "allocatable": resources,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID"),
            condition("Ready", "True", "KubeletReady"),
        ],
        "addresses": [{ "type": "InternalIP", "address": format!("192.0.2.{}", i % 250 + 1) },
                      { "type": "Hostname", "address": format!("node-{i:04}") }],
        "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
        "nodeInfo": { "machineID": format!("{i:032x}"), "systemUUID": format!("{i:032x}"), "bootID": format!("{i:032x}"),
                      "kernelVersion": "6.1.0-28-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)",
                      "containerRuntimeVersion": "runc://1.1.5", "kubeletVersion": "v1.33.0",
                      "kubeProxyVersion": "v1.33.0", "operatingSystem": "linux", "architecture": "amd64" },
    }})
}

fn deployment(name: &str, replicas: usize) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": { "replicas": replicas, "selector": { "matchLabels": { "app": name } },
                  "template": { "metadata": { "labels": { "app": name } },
                                "spec": { "containers": [{ "name": "app", "image": "registry.local/app:1.0",
                                          "resources": { "requests": { "cpu": "10m", "memory": "16Mi" } },
                                          "ports": [{ "containerPort": 8080, "name": "http" }] }] } } },
    }))?)
}

/// What a kubelet writes once the pod's container runs.
fn running_status(pod: &Pod, ip: usize) -> serde_json::Value {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let condition = |type_: &str| json!({ "type": type_, "status": "True", "lastTransitionTime": now });
    let host = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    json!({ "status": {
        "phase": "Running",
        "conditions": [condition("PodReadyToStartContainers"), condition("Initialized"), condition("Ready"),
                       condition("ContainersReady"), condition("PodScheduled")],
        "hostIP": host.trim_start_matches("node-"),
        "podIP": format!("10.{}.{}.{}", 42 + ip / 65536, (ip / 256) % 256, ip % 256),
        "startTime": now,
        "containerStatuses": [{ "name": "app", "ready": true, "restartCount": 0, "started": true,
            "image": "registry.local/app:1.0",
            "imageID": "registry.local/app@sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741",
            "containerID": format!("kolibri://{:064x}", ip),
            "state": { "running": { "startedAt": now } } }],
        "qosClass": "Burstable",
    }})
}

/// Pods in the cluster, and how many of them are bound to a node.
async fn count(pods: &Api<Pod>) -> anyhow::Result<(usize, usize)> {
    let mut total = 0;
    let mut bound = 0;
    let mut params = ListParams::default().limit(1000);
    loop {
        let page = pods.list(&params).await?;
        total += page.items.len();
        bound += page.items.iter().filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()).count();
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => params = params.continue_token(&c),
            _ => return Ok((total, bound)),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::Builder::new().prefix("kolibri-memory-bench-").tempdir_in(&args.work_dir)?;
    let mut flags = vec!["--node-monitor-grace-period", "3600"];
    flags.extend(args.server_flag.iter().map(String::as_str));
    let server = ServerProc::start(&args.kolibri, dir.path(), &flags, "controller started controller=\"deployment\"")?;
    let client = client(dir.path()).await?;
    let rss_start = server.rss_mb();
    let mut report: Vec<(String, String)> = Vec::new();
    let t = Instant::now();

    let nodes: Api<Node> = Api::all(client.clone());
    futures::stream::iter(0..args.nodes)
        .map(|i| {
            let nodes = nodes.clone();
            async move {
                let n = node(i)?;
                let name = n.metadata.name.clone().unwrap_or_default();
                nodes.create(&PostParams::default(), &n).await?;
                nodes.patch_status(&name, &PatchParams::default(), &Patch::Merge(&node_status(i))).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    let rss_nodes = server.rss_mb();

    let ns = "load";
    let namespace: Namespace = serde_json::from_value(json!({ "metadata": { "name": ns } }))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    for d in 0..args.pods.div_ceil(args.replicas) {
        let replicas = args.replicas.min(args.pods - d * args.replicas);
        deployments.create(&PostParams::default(), &deployment(&format!("app-{d:03}"), replicas)?).await?;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    loop {
        let (total, bound) = count(&pods).await?;
        if total >= args.pods && bound >= args.pods {
            break;
        }
        if t.elapsed() > Duration::from_secs(600) {
            bail!("{total} pods, {bound} bound after 600 s");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let t_bound = t.elapsed();
    let rss_bound = server.rss_mb();

    // Every pod Running and Ready, as its kubelet would report.
    let all = pods.list(&ListParams::default()).await?.items;
    futures::stream::iter(all.into_iter().enumerate())
        .map(|(i, pod)| {
            let pods = pods.clone();
            async move {
                let name = pod.metadata.name.clone().unwrap_or_default();
                pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&running_status(&pod, i))).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    let t_running = t.elapsed();
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let rss_settled = server.rss_mb();

    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let c0 = server.ticks().context("/proc/PID/stat")?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let c1 = server.ticks().context("/proc/PID/stat")?;
    let cpu = (c1 - c0) as f64 / ticks_per_s / t0.elapsed().as_secs_f64() * 100.0;

    report.push((
        format!("{} nodes registered, {} pods created and bound", args.nodes, args.pods),
        format!("{:.1} s", t_bound.as_secs_f64()),
    ));
    report.push(("… and all reported Running and Ready".into(), format!("{:.1} s", t_running.as_secs_f64())));
    report.push((
        "VmRSS: start → nodes → pods bound".into(),
        format!("{rss_start:.1} → {rss_nodes:.1} → {rss_bound:.1} MB"),
    ));
    report.push((format!("VmRSS: pods running, {} s later", args.settle_secs), format!("{rss_settled:.1} MB")));
    report.push((
        "of which anonymous / file-backed / shared memory".into(),
        format!(
            "{:.1} / {:.1} / {:.1} MB",
            server.status_mb("RssAnon:"),
            server.status_mb("RssFile:"),
            server.status_mb("RssShmem:")
        ),
    ));
    report.push(("VmHWM (peak RSS)".into(), format!("{:.1} MB", server.status_mb("VmHWM:"))));
    report.push((format!("idle CPU over {} s", args.idle_secs), format!("{cpu:.2} % of one core ({} ticks)", c1 - c0)));
    let width = report.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    println!();
    for (k, v) in &report {
        println!("{k:width$}  {v}");
    }
    drop(server);
    Ok(())
}
