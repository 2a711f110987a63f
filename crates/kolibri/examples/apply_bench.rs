//! Apply benchmark of `kolibri server` (not a test: it measures and prints).
//!
//! Runs a real release binary on loopback and measures:
//! 1. `kubectl apply -f` of one manifest of 500 objects (ConfigMaps, Services and
//!    Deployments; new objects, then the same file again, unchanged), wall time of the
//!    kubectl process, client-side apply and `--server-side`;
//! 2. server-side apply (`PATCH application/apply-patch+yaml`) of an unchanged Deployment:
//!    latency of sequential requests from one client, and of applies that change the
//!    Deployment (durable writes).
//!
//! The API client of part 2 is a plain hyper 1 connection over rustls with the admin
//! client certificate of the kubeconfig the server writes; bodies are encoded before the
//! clock starts.
//!
//! Usage: `scripts/bench` (builds release and runs this), or
//! `cargo run --release -p kolibri --example apply_bench -- --kolibri target/release/kolibri`.
//! Every loop is bounded; the server is stopped by its PID.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use clap::Parser;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use kube::client::ConfigExt;
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Parser, Debug)]
#[command(about = "Apply benchmark of kolibri server")]
struct Args {
    /// The kolibri binary (a release build).
    #[arg(long, default_value = "target/release/kolibri")]
    kolibri: PathBuf,
    /// The kubectl binary.
    #[arg(long, default_value = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33")]
    kubectl: PathBuf,
    /// Folder for the server's data dir (a temporary folder under it is used and removed).
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
    /// Objects in the applied manifest.
    #[arg(long, default_value_t = 500)]
    objects: usize,
    /// Sequential server-side applies of the unchanged Deployment.
    #[arg(long, default_value_t = 2_000)]
    requests: usize,
    /// Sequential server-side applies that change the Deployment.
    #[arg(long, default_value_t = 300)]
    changes: usize,
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(300);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(args))
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------------
// The server process

struct ServerProc {
    child: Option<Child>,
    pid: u32,
    log: PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn_server(bin: &Path, dir: &Path, port: u16) -> anyhow::Result<ServerProc> {
    let log = dir.join("server.log");
    let stderr = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    std::fs::write(dir.join("config.yaml"), "{}\n")?;
    let child = Command::new(bin)
        .arg("server")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--bind-address", "127.0.0.1", "--https-listen-port", &port.to_string()])
        .arg("--write-kubeconfig")
        .arg(dir.join("kubeconfig.yaml"))
        .arg("--config")
        .arg(dir.join("config.yaml"))
        .arg("--disable-agent")
        .env("KOLIBRI_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::from(stderr.try_clone()?))
        .stderr(Stdio::from(stderr))
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id();
    Ok(ServerProc { child: Some(child), pid, log })
}

impl ServerProc {
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// One HTTP/1.1 keep-alive connection with the admin identity

struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
}

impl Conn {
    async fn open(port: u16, tls: Arc<rustls::ClientConfig>) -> anyhow::Result<Conn> {
        let tcp = TcpStream::connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)).await?;
        tcp.set_nodelay(true)?;
        let stream = TlsConnector::from(tls).connect(ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()), tcp).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn { sender, authority: format!("127.0.0.1:{port}") })
    }

    async fn call(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority)
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(body))?;
        let fut = async {
            self.sender.ready().await?;
            let resp = self.sender.send_request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut).await.map_err(|_| anyhow!("request timed out"))?
    }
}

async fn admin_tls(kubeconfig: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).context("reading the kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.context("kubeconfig")?;
    let mut tls = config.rustls_client_config().context("TLS client configuration")?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

/// Waits for the kubeconfig and a 200 from `/readyz`.
async fn wait_ready(
    server: &mut ServerProc,
    port: u16,
    kubeconfig: &Path,
) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let started = Instant::now();
    loop {
        if kubeconfig.exists() {
            if let Ok(tls) = admin_tls(kubeconfig).await {
                let attempt = async {
                    let mut conn = Conn::open(port, tls.clone()).await?;
                    conn.call(Method::GET, "/readyz", "application/json", Bytes::new()).await
                };
                if let Ok(Ok((StatusCode::OK, _))) = tokio::time::timeout(Duration::from_secs(2), attempt).await {
                    return Ok(tls);
                }
            }
        }
        if !server.alive() {
            bail!("the server exited; log:\n{}", std::fs::read_to_string(&server.log).unwrap_or_default());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server was not ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// kubectl

struct Kubectl<'a> {
    bin: &'a Path,
    kubeconfig: PathBuf,
    home: PathBuf,
}

impl Kubectl<'_> {
    /// Runs kubectl to completion (bounded) and returns its wall time.
    fn run(&self, args: &[&str]) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut child = Command::new(self.bin)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", &self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        loop {
            if let Some(status) = child.try_wait()? {
                let wall = started.elapsed();
                if !status.success() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut err);
                    }
                    bail!("kubectl {args:?} failed: {status}\n{err}");
                }
                return Ok(wall);
            }
            if started.elapsed() > KUBECTL_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("kubectl {args:?} did not finish within {KUBECTL_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// A manifest of `n` objects: 40 % ConfigMaps, 30 % Services, 30 % Deployments.
fn manifest(ns: &str, n: usize) -> String {
    let mut docs = Vec::with_capacity(n);
    for i in 0..n {
        let doc = match i % 10 {
            0..=3 => format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: {ns}\n  labels:\n    app: app-{i}\ndata:\n  key: value-{i}\n  config.yaml: |\n    listen: 8080\n    name: app-{i}\n"
            ),
            4..=6 => format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: {ns}\n  labels:\n    app: app-{i}\nspec:\n  selector:\n    app: app-{i}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n"
            ),
            _ => format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: deploy-{i}\n  namespace: {ns}\n  labels:\n    app: app-{i}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: 8080\n        env:\n        - name: MODE\n          value: bench\n"
            ),
        };
        docs.push(doc);
    }
    docs.join("---\n")
}

fn deployment(replicas: u32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "ssa", "namespace": "default", "labels": {"app": "ssa"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "ssa"}},
            "template": {
                "metadata": {"labels": {"app": "ssa"}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}},
                    {"name": "sidecar", "image": "envoy:1.30", "args": ["--config", "/etc/envoy.yaml"]},
                ]},
            },
        },
    })
}

async fn apply_latencies(conn: &mut Conn, bodies: &[Bytes], path: &str) -> anyhow::Result<Vec<Duration>> {
    let mut lat = Vec::with_capacity(bodies.len());
    for body in bodies {
        let t = Instant::now();
        let (status, resp) = conn.call(Method::PATCH, path, "application/apply-patch+yaml", body.clone()).await?;
        lat.push(t.elapsed());
        if status != StatusCode::OK {
            bail!("apply answered {status}: {}", String::from_utf8_lossy(&resp));
        }
    }
    lat.sort();
    Ok(lat)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let bin = std::fs::canonicalize(&args.kolibri)
        .with_context(|| format!("no kolibri binary at {}", args.kolibri.display()))?;
    let work = tempfile::Builder::new().prefix("kolibri-apply-bench-").tempdir_in(&args.work_dir)?;
    let port = free_port()?;
    let mut server = spawn_server(&bin, work.path(), port)?;
    let kubeconfig = work.path().join("kubeconfig.yaml");
    let tls = wait_ready(&mut server, port, &kubeconfig).await?;
    println!("kolibri apply benchmark");
    println!("  binary: {}", bin.display());
    println!("  kubectl: {}", args.kubectl.display());

    let kubectl = Kubectl { bin: &args.kubectl, kubeconfig, home: work.path().to_path_buf() };
    // Warm kubectl's discovery cache, as any session after the first command has it.
    kubectl.run(&["api-resources"])?;

    // kubectl parses the OpenAPI document of the object's group/version once per object
    // to check `fieldValidation` support (and, client-side, for the strategic patch);
    // `--validate=false` shows the cost without the first.
    println!("\n[1] kubectl apply -f of one manifest of {} objects (wall time of kubectl)", args.objects);
    let variants: [(&str, &[&str]); 4] = [
        ("csa", &[]),
        ("csa-novalidate", &["--validate=false"]),
        ("ssa", &["--server-side"]),
        ("ssa-novalidate", &["--server-side", "--validate=false"]),
    ];
    let mut rows = Vec::new();
    for (ns, extra) in variants {
        kubectl.run(&["create", "namespace", ns])?;
        let file = work.path().join(format!("{ns}.yaml"));
        std::fs::write(&file, manifest(ns, args.objects))?;
        let path = file.to_str().context("utf-8 path")?;
        let mut cmd = vec!["apply", "-f", path];
        cmd.extend(extra);
        let create = kubectl.run(&cmd)?;
        let unchanged = kubectl.run(&cmd)?;
        let label = format!("kubectl apply {}-f", extra.iter().map(|e| format!("{e} ")).collect::<String>());
        println!("  {label}: new objects {:.2} s, unchanged {:.2} s", create.as_secs_f64(), unchanged.as_secs_f64());
        rows.push((label, create, unchanged));
    }

    println!("\n[2] server-side apply of one Deployment, one client, sequential");
    let mut conn = Conn::open(port, tls).await?;
    let path = "/apis/apps/v1/namespaces/default/deployments/ssa?fieldManager=bench";
    let first = Bytes::from(serde_json::to_vec(&deployment(2))?);
    let (status, body) = conn.call(Method::PATCH, path, "application/apply-patch+yaml", first.clone()).await?;
    if status != StatusCode::CREATED {
        bail!("first apply answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let unchanged: Vec<Bytes> = (0..args.requests).map(|_| first.clone()).collect();
    let lat = apply_latencies(&mut conn, &unchanged, path).await?;
    let (u50, u99) = (pct(&lat, 50.0), pct(&lat, 99.0));
    println!("  unchanged ({} requests): p50 {} p99 {} max {}", lat.len(), ms(u50), ms(u99), ms(pct(&lat, 100.0)));
    let changing: Vec<Bytes> = (0..args.changes)
        .map(|i| serde_json::to_vec(&deployment(3 + (i % 2) as u32)).map(Bytes::from))
        .collect::<Result<_, _>>()?;
    let lat = apply_latencies(&mut conn, &changing, path).await?;
    let (c50, c99) = (pct(&lat, 50.0), pct(&lat, 99.0));
    println!("  changing replicas ({} requests, durable writes): p50 {} p99 {}", lat.len(), ms(c50), ms(c99));

    println!("\nsummary");
    for (label, create, unchanged) in &rows {
        println!(
            "  {label}, {} objects: new {:.2} s, unchanged {:.2} s   (target ≤ 3 s)",
            args.objects,
            create.as_secs_f64(),
            unchanged.as_secs_f64()
        );
    }
    println!("  server-side apply, unchanged Deployment: p50 {} p99 {}   (target p50 ≤ 2 ms)", ms(u50), ms(u99));
    println!("  server-side apply, changed Deployment: p50 {} p99 {}", ms(c50), ms(c99));
    server.stop();
    Ok(())
}
