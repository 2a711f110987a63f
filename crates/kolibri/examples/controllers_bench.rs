//! Benchmark of the controllers in `kolibri server` (not a test: it measures and prints).
//!
//! Runs a real (release) binary on loopback with all controllers and measures:
//! 1. new namespace → its `default` ServiceAccount and `kube-root-ca.crt` exist (5 runs);
//! 2. idle CPU (utime + stime from /proc/PID/stat) and VmRSS with 10,000 ConfigMaps of 1 KB
//!    in 10 namespaces, one in ten owned by another (so the garbage collector's graph holds
//!    them), after the controllers have settled;
//! 3. `DELETE` of a namespace holding 500 objects of mixed kinds (150 ConfigMaps, 150
//!    Secrets, 80 Services, 80 Pods, 40 Deployments) → the namespace is gone (3 runs);
//! 4. background deletion of an owner of 1,000 ConfigMaps → all of them gone.
//!
//! Usage: `cargo build --release -p kolibri --bin kolibri --example controllers_bench &&
//! target/release/examples/controllers_bench --kolibri target/release/kolibri`.
//! Every wait is bounded; the server is stopped by its PID.

#[path = "support/server.rs"]
mod server;

use server::ServerProc;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Benchmark of kolibri's controllers")]
struct Args {
    /// The kolibri binary (a release build).
    #[arg(long, default_value = "target/release/kolibri")]
    kolibri: PathBuf,
    /// Folder for the server's data dir (a temporary folder under it is used and removed).
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
    /// ConfigMaps of 1 KB created before the idle reading.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Seconds of the idle-CPU reading.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
    /// Runs of the namespace deletion.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Baseline: the same server with every controller disabled; measures only the idle
    /// figures (step 2).
    #[arg(long)]
    baseline: bool,
}

fn start(bin: &Path, dir: &Path, baseline: bool) -> anyhow::Result<ServerProc> {
    if baseline {
        let all = kolibri_controllers::NAMES.join(",");
        ServerProc::start(bin, dir, &["--disable-controllers", &all], "every controller is disabled")
    } else {
        ServerProc::start(bin, dir, &[], "controller started controller=\"garbage-collector\"")
    }
}

async fn client(dir: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(dir.join("kubeconfig.yaml"))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// Polls `check` every 2 ms until it is true; fails after `within`.
async fn until<F, Fut>(within: Duration, what: &str, mut check: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let t = Instant::now();
    while !check().await? {
        if t.elapsed() > within {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(t.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn create_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
    Ok(())
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

async fn fill_namespace(client: &kube::Client, ns: &str) -> anyhow::Result<()> {
    let c = client.clone();
    create_all(
        &Api::<ConfigMap>::namespaced(c.clone(), ns),
        150,
        |i| json!({ "metadata": { "name": format!("cm-{i}") }, "data": { "k": "v" } }),
    )
    .await?;
    create_all(
        &Api::<Secret>::namespaced(c.clone(), ns),
        150,
        |i| json!({ "metadata": { "name": format!("secret-{i}") }, "stringData": { "k": "v" } }),
    )
    .await?;
    create_all(
        &Api::<Service>::namespaced(c.clone(), ns),
        80,
        |i| json!({ "metadata": { "name": format!("svc-{i}") }, "spec": { "ports": [{ "port": 80 }] } }),
    )
    .await?;
    create_all(&Api::<Pod>::namespaced(c.clone(), ns), 80, |i| json!({ "metadata": { "name": format!("pod-{i}") }, "spec": { "containers": [{ "name": "c", "image": "busybox" }] } })).await?;
    create_all(&Api::<Deployment>::namespaced(c, ns), 40, |i| {
        json!({
            "metadata": { "name": format!("deploy-{i}") },
            "spec": { "selector": { "matchLabels": { "app": format!("d{i}") } },
                      "template": { "metadata": { "labels": { "app": format!("d{i}") } },
                                    "spec": { "containers": [{ "name": "c", "image": "busybox" }] } } },
        })
    })
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::Builder::new().prefix("kolibri-controllers-bench-").tempdir_in(&args.work_dir)?;
    let server = start(&args.kolibri, dir.path(), args.baseline)?;
    let client = client(dir.path()).await?;
    let mut report: Vec<(String, String)> = Vec::new();
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;

    // 1. A new namespace gets its account and CA.
    let mut times = Vec::new();
    for i in 0..if args.baseline { 0 } else { 5 } {
        let ns = format!("probe-{i}");
        let t = Instant::now();
        create_namespace(&client, &ns).await?;
        let (sa, cm) =
            (Api::<ServiceAccount>::namespaced(client.clone(), &ns), Api::<ConfigMap>::namespaced(client.clone(), &ns));
        until(Duration::from_secs(10), "default account and root CA", || {
            let (sa, cm) = (sa.clone(), cm.clone());
            async move { Ok(sa.get_opt("default").await?.is_some() && cm.get_opt("kube-root-ca.crt").await?.is_some()) }
        })
        .await?;
        times.push(t.elapsed());
    }
    if !times.is_empty() {
        report.push((
            "new namespace → default ServiceAccount and kube-root-ca.crt, median of 5 (incl. the create)".into(),
            ms(median(times)),
        ));
    }

    // 2. Idle with 10,000 objects.
    let rss_empty = server.rss_mb();
    let per_ns = args.objects.div_ceil(10);
    let filler = "x".repeat(1000);
    let t = Instant::now();
    for n in 0..10 {
        let ns = format!("load-{n}");
        create_namespace(&client, &ns).await?;
        let api = Api::<ConfigMap>::namespaced(client.clone(), &ns);
        let owner = api
            .create(&PostParams::default(), &serde_json::from_value(json!({ "metadata": { "name": "owner" } }))?)
            .await?;
        let owner_ref = json!({ "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid });
        let filler = filler.clone();
        create_all(&api, per_ns - 1, move |i| {
            let mut meta = json!({ "name": format!("cm-{i:05}") });
            if i % 10 == 0 {
                meta["ownerReferences"] = json!([owner_ref.clone()]);
            }
            json!({ "metadata": meta, "data": { "payload": filler } })
        })
        .await?;
    }
    report.push((format!("created {} ConfigMaps of 1 KB (10 namespaces, 32 in flight)", per_ns * 10), ms(t.elapsed())));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let c0 = server.ticks().context("/proc/PID/stat")?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let c1 = server.ticks().context("/proc/PID/stat")?;
    let cpu = (c1 - c0) as f64 / ticks_per_s / t0.elapsed().as_secs_f64() * 100.0;
    report.push((
        format!(
            "idle CPU over {} s with {} ConfigMaps, {}",
            args.idle_secs,
            per_ns * 10,
            if args.baseline { "no controllers" } else { "all controllers running" }
        ),
        format!("{cpu:.2} % of one core ({} ticks)", c1 - c0),
    ));
    report.push((
        "VmRSS: empty store (after step 1) → with the objects, idle".into(),
        format!("{rss_empty:.1} MB → {:.1} MB", server.rss_mb()),
    ));

    if args.baseline {
        print_report(&report);
        return Ok(());
    }

    // 3. Namespace deletion.
    let namespaces = Api::<Namespace>::all(client.clone());
    let mut times = Vec::new();
    for run in 0..args.runs {
        let ns = format!("bulk-{run}");
        create_namespace(&client, &ns).await?;
        fill_namespace(&client, &ns).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = Instant::now();
        namespaces.delete(&ns, &DeleteParams::default()).await?;
        until(Duration::from_secs(60), "the namespace to be gone", || {
            let (namespaces, ns) = (namespaces.clone(), ns.clone());
            async move { Ok(namespaces.get_opt(&ns).await?.is_none()) }
        })
        .await?;
        times.push(t.elapsed());
    }
    let all: Vec<String> = times.iter().map(|d| ms(*d)).collect();
    report.push((
        "DELETE namespace with 500 objects (5 kinds) → namespace gone, median (runs)".into(),
        format!("{} ({})", ms(median(times)), all.join(", ")),
    ));

    // 4. Background deletion of an owner of 1,000 objects.
    create_namespace(&client, "gc").await?;
    let api = Api::<ConfigMap>::namespaced(client.clone(), "gc");
    let owner = api
        .create(&PostParams::default(), &serde_json::from_value(json!({ "metadata": { "name": "owner" } }))?)
        .await?;
    let owner_ref = json!({ "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid });
    create_all(&api, 1000, |i| json!({ "metadata": { "name": format!("dep-{i}"), "labels": { "dep": "yes" }, "ownerReferences": [owner_ref.clone()] } })).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    api.delete("owner", &DeleteParams::background()).await?;
    until(Duration::from_secs(60), "the dependents to be collected", || {
        let api = api.clone();
        async move { Ok(api.list_metadata(&ListParams::default().labels("dep=yes")).await?.items.is_empty()) }
    })
    .await?;
    report.push(("DELETE owner of 1,000 ConfigMaps (background) → all dependents gone".into(), ms(t.elapsed())));

    drop(server);
    print_report(&report);
    Ok(())
}

fn print_report(report: &[(String, String)]) {
    let width = report.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    println!("\n== controllers ==");
    for (k, v) in report {
        println!("{k:width$}  {v}");
    }
}
