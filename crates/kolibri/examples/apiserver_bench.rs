//! Control-plane benchmark of `kolibri server` (not a test: it measures and prints).
//!
//! Runs a real release binary on loopback and measures, in one invocation:
//! 1. start to ready (process spawn → first HTTPS `GET /readyz` answering 200), first start
//!    (certificates and database created) and restart on the same data dir;
//! 2. resident memory (VmRSS) idle with an empty store, and after 10,000 ConfigMaps of 1 KB;
//! 3. durable creates/s of 1 KB ConfigMaps from 32 concurrent TLS clients (one keep-alive
//!    connection each), GET latency, LIST of 1,000 Pods, write → 100 watchers latency, and a
//!    CustomResourceDefinition with a 500 KB schema from create to `Established`;
//! 4. idle CPU (utime + stime from /proc/PID/stat) over 30 s after the loads.
//!
//! Clients are plain hyper 1 connections over rustls with the admin client certificate
//! of the kubeconfig the server writes (HTTP/1.1 keep-alive by default, `--http2` for one
//! HTTP/2 connection per client). Request bodies are prepared up front, so the client
//! does little work beside TLS.
//!
//! Usage: `scripts/bench` (builds release and runs this), or
//! `cargo run --release -p kolibri --example apiserver_bench -- --kolibri target/release/kolibri`.
//! Every loop is bounded in count and time; the server is stopped by its PID.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use clap::Parser;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kube::client::ConfigExt;
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Parser, Debug)]
#[command(about = "Control-plane benchmark of kolibri server")]
struct Args {
    /// The kolibri binary (a release build).
    #[arg(long, default_value = "target/release/kolibri")]
    kolibri: PathBuf,
    /// Folder for the servers' data dirs (a temporary folder under it is used and removed).
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
    /// Start-to-ready runs, for each of first start and restart.
    #[arg(long, default_value_t = 5)]
    start_runs: usize,
    /// Interval between /readyz polls, in milliseconds.
    #[arg(long, default_value_t = 5)]
    poll_ms: u64,
    /// Seconds the server sits idle before the empty-store memory reading.
    #[arg(long, default_value_t = 2)]
    settle_secs: u64,
    /// ConfigMaps of 1 KB created by the concurrent clients.
    #[arg(long, default_value_t = 10_000)]
    configmaps: usize,
    /// Concurrent clients (one connection each).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Sequential GETs from one client.
    #[arg(long, default_value_t = 2_000)]
    gets: usize,
    /// Pods in the listed namespace.
    #[arg(long, default_value_t = 1_000)]
    pods: usize,
    /// Sequential LISTs of the pods.
    #[arg(long, default_value_t = 100)]
    lists: usize,
    /// Open watches on ConfigMaps of one namespace.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Sequential updates observed by the watchers.
    #[arg(long, default_value_t = 200)]
    updates: usize,
    /// CustomResourceDefinitions created with a large schema.
    #[arg(long, default_value_t = 5)]
    crd_runs: usize,
    /// Described string properties in each of those schemas (2,000 make about 500 KB).
    #[arg(long, default_value_t = 2_000)]
    crd_properties: usize,
    /// Pause between two watched updates, in milliseconds (0: back to back).
    #[arg(long, default_value_t = 0)]
    update_gap_ms: u64,
    /// Seconds of idle for the CPU reading.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
    /// One HTTP/2 connection per client instead of HTTP/1.1 keep-alive.
    #[arg(long)]
    http2: bool,
    /// Keep the work folder (data dirs and server logs) for inspection.
    #[arg(long)]
    keep: bool,
}

/// Every request of the benchmark must finish within this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A whole load phase must finish within this.
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(args))
}

// ---------------------------------------------------------------------------------------------
// Results

#[derive(Default)]
struct Report {
    rows: Vec<(String, String, String)>,
}

impl Report {
    fn add(&mut self, what: &str, value: String, target: &str) {
        println!("  {what}: {value}   (target {target})");
        self.rows.push((what.to_string(), value, target.to_string()));
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn summary(mut v: Vec<Duration>) -> (Duration, Duration, Duration, Duration) {
    v.sort();
    (pct(&v, 50.0), pct(&v, 99.0), v.first().copied().unwrap_or_default(), v.last().copied().unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// The server process

struct ServerProc {
    child: Option<Child>,
    pid: u32,
    port: u16,
    spawned: Instant,
    log: PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn_server(bin: &Path, dir: &Path, port: u16, log_name: &str) -> anyhow::Result<ServerProc> {
    let log = dir.join(log_name);
    let stderr = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    // An explicit --config must exist: an empty one, so no host config applies.
    std::fs::write(dir.join("config.yaml"), "{}\n")?;
    let spawned = Instant::now();
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
        .env("KOLIBRI_LOG", "info")
        .stdin(Stdio::null())
        // The log goes to the file whichever stream it is written to.
        .stdout(Stdio::from(stderr.try_clone()?))
        .stderr(Stdio::from(stderr))
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id();
    Ok(ServerProc { child: Some(child), pid, port, spawned, log })
}

impl ServerProc {
    /// SIGTERM, then wait (bounded); SIGKILL if it does not exit. Returns the time to exit.
    fn stop(&mut self) -> Option<Duration> {
        let mut child = self.child.take()?;
        let t = Instant::now();
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                return Some(t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        eprintln!("server {} did not exit within 10 s of SIGTERM; killing it", self.pid);
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The `elapsed_ms` of the server's own "is ready" log line.
    fn logged_ready_ms(&self) -> Option<u64> {
        // The line may be written a moment after /readyz first answers.
        for _ in 0..100 {
            if let Some(ms) = self.read_logged_ready_ms() {
                return Some(ms);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    fn read_logged_ready_ms(&self) -> Option<u64> {
        let log = std::fs::read_to_string(&self.log).ok()?;
        // Without ANSI colour codes, should the log have them.
        let line = strip_ansi(log.lines().find(|l| l.contains("is ready"))?);
        let rest = &line[line.find("elapsed_ms=")? + "elapsed_ms=".len()..];
        rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    }

    fn status_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// utime + stime in clock ticks.
    fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest starts at field 3 (state); utime is field 14, stime field 15.
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    }

    fn threads(&self) -> Option<u64> {
        self.status_kb("Threads:")
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// TLS and HTTP

/// Accepts any server certificate: only for polling /readyz (anonymous) before the CA
/// exists on the client side. Every other request verifies the server against the CA.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn anonymous_tls() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The admin identity and CA of the kubeconfig the server wrote.
async fn admin_tls(kubeconfig: &Path, http2: bool) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).context("reading the kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.context("kubeconfig")?;
    let mut tls = config.rustls_client_config().context("TLS client configuration")?;
    tls.alpn_protocols = if http2 { vec![b"h2".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    Ok(Arc::new(tls))
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// One client: one TLS connection to the server.
struct Conn {
    sender: Sender,
    authority: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
}

impl Conn {
    async fn open(port: u16, tls: Arc<rustls::ClientConfig>) -> anyhow::Result<Conn> {
        let http2 = tls.alpn_protocols.first().map(|p| p.as_slice() == b"h2").unwrap_or(false);
        let tcp = TcpStream::connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        let stream = TlsConnector::from(tls.clone()).connect(name, tcp).await?;
        let io = TokioIo::new(stream);
        let sender = if http2 {
            let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            Sender::H2(sender)
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            Sender::H1(sender)
        };
        Ok(Conn { sender, authority: format!("127.0.0.1:{port}"), port, tls })
    }

    async fn reopen(&self) -> anyhow::Result<Conn> {
        Conn::open(self.port, self.tls.clone()).await
    }

    fn request(&self, method: Method, path: &str, content_type: &str, body: Bytes) -> Request<Full<Bytes>> {
        let mut b = Request::builder().method(method);
        b = match self.sender {
            Sender::H1(_) => b.uri(path).header(header::HOST, &self.authority),
            Sender::H2(_) => b.uri(format!("https://{}{path}", self.authority)),
        };
        b.header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .expect("request")
    }

    /// Sends and returns the response head and its streaming body.
    async fn start(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<http::Response<Incoming>> {
        let fut = async {
            match &mut self.sender {
                Sender::H1(s) => {
                    s.ready().await?;
                    s.send_request(req).await
                }
                Sender::H2(s) => {
                    s.ready().await?;
                    s.send_request(req).await
                }
            }
        };
        Ok(tokio::time::timeout(REQUEST_TIMEOUT, fut).await.map_err(|_| anyhow!("request timed out"))??)
    }

    /// Sends and reads the whole body.
    async fn send(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<(StatusCode, Bytes)> {
        let resp = self.start(req).await?;
        let status = resp.status();
        let body = tokio::time::timeout(REQUEST_TIMEOUT, resp.into_body().collect())
            .await
            .map_err(|_| anyhow!("body timed out"))??
            .to_bytes();
        Ok((status, body))
    }

    async fn call(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let req = self.request(method, path, content_type, body);
        self.send(req).await
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        self.call(Method::GET, path, "application/json", Bytes::new()).await
    }

    async fn post(&mut self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Bytes)> {
        self.call(Method::POST, path, "application/json", Bytes::from(serde_json::to_vec(body)?)).await
    }
}

/// Polls `GET /readyz` until it answers 200; returns the time since `since`.
async fn wait_ready(server: &mut ServerProc, poll: Duration, deadline: Duration) -> anyhow::Result<(Duration, u32)> {
    let tls = anonymous_tls()?;
    let mut attempts = 0u32;
    let started = server.spawned;
    loop {
        attempts += 1;
        let attempt = async {
            let mut conn = Conn::open(server.port, tls.clone()).await?;
            let (status, _) = conn.get("/readyz").await?;
            anyhow::Ok(status)
        };
        if let Ok(Ok(StatusCode::OK)) = tokio::time::timeout(Duration::from_secs(2), attempt).await {
            return Ok((started.elapsed(), attempts));
        }
        if !server.alive() {
            bail!(
                "the server exited before it was ready; log:\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
        }
        if started.elapsed() > deadline {
            bail!("the server was not ready within {deadline:?}");
        }
        tokio::time::sleep(poll).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads

fn configmap(ns: &str, name: &str) -> Value {
    // About 1 KB once encoded: 1000 bytes of data plus metadata.
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": name, "namespace": ns, "labels": { "app": "bench" } },
        "data": { "payload": "x".repeat(960) },
    })
}

fn pod(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": ns, "labels": { "app": "bench" } },
        "spec": { "containers": [{ "name": "pause", "image": "registry.k8s.io/pause:3.10" }] },
    })
}

async fn create_namespace(conn: &mut Conn, name: &str) -> anyhow::Result<()> {
    let (status, body) = conn
        .post("/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        .await?;
    if status != StatusCode::CREATED {
        bail!("creating namespace {name}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

struct LoadResult {
    wall: Duration,
    latencies: Vec<Duration>,
    /// Indices of the bodies whose create was acknowledged (201).
    acked: Vec<usize>,
    errors: usize,
    first_error: Option<String>,
}

/// `count` POSTs to `path` from `clients` connections; bodies are encoded before the clock starts.
async fn concurrent_creates(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    clients: usize,
    path: &str,
    bodies: Vec<Bytes>,
    kill_after: Option<(usize, u32)>,
) -> anyhow::Result<LoadResult> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::open(port, tls.clone()).await?);
    }
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let acks = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in conns {
        let bodies = bodies.clone();
        let next = next.clone();
        let acks = acks.clone();
        let path = path.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut acked = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= bodies.len() || started.elapsed() > PHASE_TIMEOUT {
                    break;
                }
                let req = conn.request(Method::POST, &path, "application/json", bodies[i].clone());
                let t = Instant::now();
                match conn.send(req).await {
                    Ok((StatusCode::CREATED, _)) => {
                        lat.push(t.elapsed());
                        acked.push(i);
                        let n = acks.fetch_add(1, Ordering::SeqCst) + 1;
                        if let Some((threshold, pid)) = kill_after {
                            if n == threshold {
                                // Crash the server in the middle of the load.
                                unsafe {
                                    libc::kill(pid as i32, libc::SIGKILL);
                                }
                            }
                        }
                    }
                    Ok((status, body)) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{status} {}", String::from_utf8_lossy(&body)));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                        // The connection may be gone: open a new one.
                        match conn.reopen().await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
            }
            (lat, acked, errors, first_error)
        }));
    }
    let mut result =
        LoadResult { wall: Duration::ZERO, latencies: Vec::new(), acked: Vec::new(), errors: 0, first_error: None };
    for t in tasks {
        let (lat, acked, errors, first) = t.await?;
        result.latencies.extend(lat);
        result.acked.extend(acked);
        result.errors += errors;
        if result.first_error.is_none() {
            result.first_error = first;
        }
    }
    result.wall = started.elapsed();
    Ok(result)
}

/// `count` sequential requests from one connection; returns each latency (body fully read).
async fn sequential_gets(
    conn: &mut Conn,
    paths: &[String],
    expect_bytes: bool,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let started = Instant::now();
    let mut lat = Vec::with_capacity(paths.len());
    let mut bytes = 0usize;
    for path in paths {
        if started.elapsed() > PHASE_TIMEOUT {
            break;
        }
        let req = conn.request(Method::GET, path, "application/json", Bytes::new());
        let t = Instant::now();
        let (status, body) = conn.send(req).await?;
        lat.push(t.elapsed());
        if status != StatusCode::OK {
            bail!("GET {path}: {status} {}", String::from_utf8_lossy(&body));
        }
        if expect_bytes {
            bytes = body.len();
        }
    }
    Ok((lat, bytes))
}

/// Watch phase: `watchers` open watches on the ConfigMaps of `ns`, then `updates`
/// sequential merge patches of one ConfigMap; each watcher timestamps the event of each
/// update when its bytes arrive. Returns (per-delivery latencies, per-update time until
/// the last watcher had it, missing deliveries, update latencies).
/// A CustomResourceDefinition whose schema has `properties` described string fields.
fn big_crd(group: &str, properties: usize) -> Value {
    let description = "A field of the benchmark's custom resource, described at the length that generated \
        definitions (kubebuilder, controller-gen) give their fields: a sentence or two on what the field \
        means and which values it takes.";
    let props: serde_json::Map<String, Value> = (0..properties)
        .map(|i| (format!("field{i:05}"), json!({ "type": "string", "description": description, "maxLength": 253 })))
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("widgets.{group}") },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "properties": {
                    "spec": { "type": "object", "properties": props },
                } } },
            }],
        },
    })
}

/// Creates `runs` definitions with large schemas; for each, the time from sending the
/// create to a watch event showing `Established=True`. Returns the body sizes and times.
async fn crd_established(
    conn: &mut Conn,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    runs: usize,
    properties: usize,
) -> anyhow::Result<(Vec<usize>, Vec<Duration>)> {
    let mut sizes = Vec::new();
    let mut times = Vec::new();
    for i in 0..runs {
        let group = format!("bench{i}.example.com");
        let body = Bytes::from(serde_json::to_vec(&big_crd(&group, properties))?);
        sizes.push(body.len());
        let (_, list) = conn.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions?limit=1").await?;
        let list: Value = serde_json::from_slice(&list)?;
        let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
        let mut watcher = Conn::open(port, tls.clone()).await?;
        let path = format!(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?watch=1&resourceVersion={rv}\
             &fieldSelector=metadata.name%3Dwidgets.{group}&timeoutSeconds=60"
        );
        let req = watcher.request(Method::GET, &path, "application/json", Bytes::new());
        let resp = watcher.start(req).await?;
        let mut stream = resp.into_body();
        let started = Instant::now();
        let (status, answer) = conn
            .call(Method::POST, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", body)
            .await?;
        if status != StatusCode::CREATED {
            bail!("creating the CRD: {status} {}", String::from_utf8_lossy(&answer));
        }
        let mut buf = Vec::new();
        let established = loop {
            let frame = tokio::time::timeout(REQUEST_TIMEOUT, stream.frame())
                .await
                .map_err(|_| anyhow!("no Established event"))?
                .ok_or_else(|| anyhow!("watch ended"))??;
            let Ok(data) = frame.into_data() else { continue };
            buf.extend_from_slice(&data);
            let mut found = None;
            while let Some(end) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                let event: Value = serde_json::from_slice(&line)?;
                let conditions = event["object"]["status"]["conditions"].as_array().cloned().unwrap_or_default();
                if conditions.iter().any(|c| c["type"] == "Established" && c["status"] == "True") {
                    found = Some(started.elapsed());
                }
            }
            if let Some(t) = found {
                break t;
            }
        };
        times.push(established);
    }
    Ok((sizes, times))
}

async fn watch_fanout(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    ns: &str,
    watchers: usize,
    updates: usize,
    gap: Duration,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>, usize, Vec<Duration>)> {
    let mut writer = Conn::open(port, tls.clone()).await?;
    let name = "watched";
    let mut cm = configmap(ns, name);
    cm["data"]["seq"] = json!("-1");
    let (status, body) = writer.post(&format!("/api/v1/namespaces/{ns}/configmaps"), &cm).await?;
    if status != StatusCode::CREATED {
        bail!("creating the watched ConfigMap: {status} {}", String::from_utf8_lossy(&body));
    }
    let created: Value = serde_json::from_slice(&body)?;
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();

    // Open the watches; each task reports when its stream is open.
    let (open_tx, mut open_rx) = tokio::sync::mpsc::channel::<()>(watchers);
    let deadline = Instant::now() + PHASE_TIMEOUT;
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let mut conn = Conn::open(port, tls.clone()).await?;
        let path = format!("/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=600");
        let open_tx = open_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen: Vec<Option<Instant>> = vec![None; updates];
            let req = conn.request(Method::GET, &path, "application/json", Bytes::new());
            let resp = conn.start(req).await?;
            if resp.status() != StatusCode::OK {
                bail!("watch: {}", resp.status());
            }
            let _ = open_tx.send(()).await;
            let mut body = resp.into_body();
            let mut buf: Vec<u8> = Vec::new();
            let mut got = 0usize;
            while got < updates {
                let left = deadline.saturating_duration_since(Instant::now());
                let frame = match tokio::time::timeout(left, body.frame()).await {
                    Ok(Some(Ok(frame))) => frame,
                    _ => break,
                };
                let at = Instant::now();
                let Ok(data) = frame.into_data() else { continue };
                buf.extend_from_slice(&data);
                while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    let Ok(event) = serde_json::from_slice::<Value>(&line) else { continue };
                    let seq = event["object"]["data"]["seq"].as_str().and_then(|s| s.parse::<usize>().ok());
                    if let Some(seq) = seq {
                        if seq < updates && seen[seq].is_none() {
                            seen[seq] = Some(at);
                            got += 1;
                        }
                    }
                }
            }
            anyhow::Ok(seen)
        }));
    }
    drop(open_tx);
    let open_deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..watchers {
        let left = open_deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, open_rx.recv()).await {
            Ok(Some(())) => {}
            _ => bail!("not all watches opened within 60 s"),
        }
    }
    // Let the server finish registering the streams.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let path = format!("/api/v1/namespaces/{ns}/configmaps/{name}");
    let mut sent = Vec::with_capacity(updates);
    let mut update_lat = Vec::with_capacity(updates);
    for seq in 0..updates {
        let patch = Bytes::from(format!(r#"{{"data":{{"seq":"{seq}"}}}}"#));
        let req = writer.request(Method::PATCH, &path, "application/merge-patch+json", patch);
        let t = Instant::now();
        sent.push(t);
        let (status, body) = writer.send(req).await?;
        update_lat.push(t.elapsed());
        if status != StatusCode::OK {
            bail!("update {seq}: {status} {}", String::from_utf8_lossy(&body));
        }
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
    }

    let mut deliveries = Vec::with_capacity(watchers * updates);
    let mut all = vec![Duration::ZERO; updates];
    let mut missing = 0usize;
    for t in tasks {
        let seen = t.await??;
        for (seq, at) in seen.into_iter().enumerate() {
            match at {
                Some(at) => {
                    let d = at.saturating_duration_since(sent[seq]);
                    deliveries.push(d);
                    all[seq] = all[seq].max(d);
                }
                None => missing += 1,
            }
        }
    }
    Ok((deliveries, all, missing, update_lat))
}

// ---------------------------------------------------------------------------------------------
// The run

async fn run(args: Args) -> anyhow::Result<()> {
    let bin = std::fs::canonicalize(&args.kolibri)
        .with_context(|| format!("no kolibri binary at {}", args.kolibri.display()))?;
    let work = tempfile::Builder::new().prefix("kolibri-bench-").tempdir_in(&args.work_dir)?;
    println!("kolibri apiserver benchmark");
    println!("  binary: {} ({:.1} MB)", bin.display(), std::fs::metadata(&bin)?.len() as f64 / 1e6);
    println!("  work dir: {}", work.path().display());
    println!(
        "  protocol: {}",
        if args.http2 {
            "HTTP/2 (one connection per client)"
        } else {
            "HTTP/1.1 keep-alive (one connection per client)"
        }
    );
    let mut report = Report::default();
    let poll = Duration::from_millis(args.poll_ms);

    // 1. Start to ready.
    println!("\n[1] start to ready ({} runs each, /readyz polled every {} ms)", args.start_runs, args.poll_ms);
    let mut first = Vec::new();
    let mut first_logged = Vec::new();
    let mut last_dir = None;
    for i in 0..args.start_runs {
        let dir = work.path().join(format!("start-{i}"));
        std::fs::create_dir_all(&dir)?;
        let mut server = spawn_server(&bin, &dir, free_port()?, "server.log")?;
        let (t, _) = wait_ready(&mut server, poll, Duration::from_secs(60)).await?;
        first.push(t);
        first_logged.push(server.logged_ready_ms().unwrap_or(0));
        server.stop();
        last_dir = Some(dir);
    }
    let dir = last_dir.context("no start runs")?;
    let mut restart = Vec::new();
    let mut restart_logged = Vec::new();
    let mut stops = Vec::new();
    for i in 0..args.start_runs {
        let mut server = spawn_server(&bin, &dir, free_port()?, &format!("restart-{i}.log"))?;
        let (t, _) = wait_ready(&mut server, poll, Duration::from_secs(60)).await?;
        restart.push(t);
        restart_logged.push(server.logged_ready_ms().unwrap_or(0));
        if let Some(s) = server.stop() {
            stops.push(s);
        }
    }
    let fmt_all =
        |v: &[Duration]| v.iter().map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0)).collect::<Vec<_>>().join(", ");
    println!("  first start runs (ms): {}; server's own log: {:?}", fmt_all(&first), first_logged);
    println!("  restart runs (ms): {}; server's own log: {:?}", fmt_all(&restart), restart_logged);
    let (p50, _, _, max) = summary(first.clone());
    report.add("start to ready, first start (median; max)", format!("{}; {}", ms(p50), ms(max)), "≤ 1 s");
    let (p50, _, _, max) = summary(restart.clone());
    report.add("start to ready, restart, empty store (median; max)", format!("{}; {}", ms(p50), ms(max)), "≤ 0.5 s");
    let (p50, _, _, _) = summary(stops);
    report.add("SIGTERM to exit, idle (median)", ms(p50), "-");

    // The server under load.
    let dir = work.path().join("load");
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let mut server = spawn_server(&bin, &dir, port, "server.log")?;
    wait_ready(&mut server, poll, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;

    // 2a. Idle memory, empty store.
    println!("\n[2] memory");
    let rss_empty = server.status_kb("VmRSS:").unwrap_or(0);
    report.add(
        &format!("VmRSS idle, empty store, {} s after ready", args.settle_secs),
        format!("{:.1} MB", rss_empty as f64 / 1024.0),
        "≤ 30 MB",
    );
    println!("  threads: {:?}", server.threads());

    let tls = admin_tls(&dir.join("kubeconfig.yaml"), args.http2).await?;
    let mut conn = Conn::open(port, tls.clone()).await?;
    for ns in ["bench", "bench-pods", "bench-watch"] {
        create_namespace(&mut conn, ns).await?;
    }

    // 3a. Durable creates.
    println!("\n[3] API: {} ConfigMaps of 1 KB from {} clients", args.configmaps, args.clients);
    let bodies: Vec<Bytes> = (0..args.configmaps)
        .map(|i| Bytes::from(serde_json::to_vec(&configmap("bench", &format!("cm-{i:05}"))).expect("json")))
        .collect();
    let body_len = bodies.first().map(|b| b.len()).unwrap_or(0);
    let r = concurrent_creates(port, tls.clone(), args.clients, "/api/v1/namespaces/bench/configmaps", bodies, None)
        .await?;
    let ok = r.latencies.len();
    let (p50, p99, _, max) = summary(r.latencies);
    println!(
        "  request body {body_len} bytes; {ok} created, {} errors{} in {:.2} s",
        r.errors,
        r.first_error.map(|e| format!(" (first: {e})")).unwrap_or_default(),
        r.wall.as_secs_f64()
    );
    report.add(
        &format!("durable creates/s, 1 KB ConfigMaps, {} clients", args.clients),
        format!("{:.0}/s", ok as f64 / r.wall.as_secs_f64()),
        "≥ 2,000/s",
    );
    report.add(
        "create latency p50 / p99 / max",
        format!("{} / {} / {}", ms(p50), ms(p99), ms(max)),
        "anchor: create pod median 63–303 ms",
    );

    // 2b. Memory after the ConfigMaps.
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let rss_cms = server.status_kb("VmRSS:").unwrap_or(0);
    let hwm_cms = server.status_kb("VmHWM:").unwrap_or(0);
    report.add(
        &format!("VmRSS after {} ConfigMaps of 1 KB (peak VmHWM)", ok),
        format!("{:.1} MB ({:.1} MB)", rss_cms as f64 / 1024.0, hwm_cms as f64 / 1024.0),
        "≤ 100 MB",
    );

    // 3b. GET.
    let n = args.configmaps.max(1);
    let paths: Vec<String> =
        (0..args.gets).map(|i| format!("/api/v1/namespaces/bench/configmaps/cm-{:05}", (i * 7919) % n)).collect();
    let (lat, _) = sequential_gets(&mut conn, &paths, false).await?;
    let (p50, p99, _, _) = summary(lat);
    report.add(
        &format!("GET one ConfigMap, 1 client sequential (n={}) p50 / p99", args.gets),
        format!("{} / {}", ms(p50), ms(p99)),
        "p50 ≤ 1 ms",
    );

    // 3c. Pods and LIST.
    let bodies: Vec<Bytes> = (0..args.pods)
        .map(|i| Bytes::from(serde_json::to_vec(&pod("bench-pods", &format!("pod-{i:04}"))).expect("json")))
        .collect();
    let r =
        concurrent_creates(port, tls.clone(), args.clients, "/api/v1/namespaces/bench-pods/pods", bodies, None).await?;
    println!(
        "  {} pods created, {} errors{} in {:.2} s",
        r.latencies.len(),
        r.errors,
        r.first_error.map(|e| format!(" (first: {e})")).unwrap_or_default(),
        r.wall.as_secs_f64()
    );
    let (p50, _, _, _) = summary(r.latencies.clone());
    report.add(
        &format!("create pod, {} clients, p50", args.clients),
        ms(p50),
        "anchor: k0s 63–65 ms, k3s 92–176 ms, MicroK8s 186–303 ms",
    );
    let list_paths: Vec<String> = (0..args.lists).map(|_| "/api/v1/namespaces/bench-pods/pods".to_string()).collect();
    let (lat, bytes) = sequential_gets(&mut conn, &list_paths, true).await?;
    let (p50, p99, _, _) = summary(lat);
    report.add(
        &format!(
            "LIST {} pods ({:.0} KB), 1 client sequential (n={}) p50 / p99",
            r.latencies.len(),
            bytes as f64 / 1024.0,
            args.lists
        ),
        format!("{} / {}", ms(p50), ms(p99)),
        "p50 ≤ 20 ms",
    );

    // 3d. Watch fan-out.
    println!("\n  {} watches, {} sequential updates (gap {} ms)", args.watchers, args.updates, args.update_gap_ms);
    let (deliveries, all, missing, update_lat) = watch_fanout(
        port,
        tls.clone(),
        "bench-watch",
        args.watchers,
        args.updates,
        Duration::from_millis(args.update_gap_ms),
    )
    .await?;
    let (d50, d99, _, dmax) = summary(deliveries.clone());
    let (a50, a99, _, amax) = summary(all);
    let (u50, u99, _, _) = summary(update_lat);
    println!(
        "  update (PATCH) latency p50 {} p99 {}; {} of {} deliveries, {} missing",
        ms(u50),
        ms(u99),
        deliveries.len(),
        args.watchers * args.updates,
        missing
    );
    report.add(
        "write → watcher receipt, per delivery p50 / p99 / max",
        format!("{} / {} / {}", ms(d50), ms(d99), ms(dmax)),
        "p99 ≤ 10 ms",
    );
    report.add(
        &format!("write → all {} watchers have it, p50 / p99 / max", args.watchers),
        format!("{} / {} / {}", ms(a50), ms(a99), ms(amax)),
        "p99 ≤ 10 ms",
    );

    // 3e. A CustomResourceDefinition with a large schema becoming Established.
    let (sizes, times) = crd_established(&mut conn, port, tls.clone(), args.crd_runs, args.crd_properties).await?;
    let (p50, _, _, max) = summary(times.clone());
    println!(
        "\n  CRD with a {:.0} KB schema: create → Established (watched) per run (ms): {}",
        sizes.iter().copied().max().unwrap_or(0) as f64 / 1024.0,
        times.iter().map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0)).collect::<Vec<_>>().join(", ")
    );
    report.add(
        &format!(
            "CRD with a {:.0} KB schema: create → Established (median; max of {})",
            sizes.iter().copied().max().unwrap_or(0) as f64 / 1024.0,
            times.len()
        ),
        format!("{}; {}", ms(p50), ms(max)),
        "≤ 200 ms",
    );

    let rss_loaded = server.status_kb("VmRSS:").unwrap_or(0);
    let hwm = server.status_kb("VmHWM:").unwrap_or(0);

    // 4. Idle CPU, after the loads; all client connections closed.
    drop(conn);
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("\n[4] idle CPU over {} s", args.idle_secs);
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let c0 = server.cpu_ticks().context("reading /proc/PID/stat")?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let c1 = server.cpu_ticks().context("reading /proc/PID/stat")?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = (c1 - c0) as f64 / ticks_per_s / secs * 100.0;
    report.add(
        &format!("idle CPU after the loads, {} s (utime+stime)", args.idle_secs),
        format!("{cpu:.2} % of one core ({} ticks of {} Hz)", c1 - c0, ticks_per_s),
        "≤ 1 %",
    );
    let rss_idle = server.status_kb("VmRSS:").unwrap_or(0);
    report.add(
        "VmRSS with all objects, after the loads (peak VmHWM); after the idle",
        format!(
            "{:.1} MB ({:.1} MB); {:.1} MB",
            rss_loaded as f64 / 1024.0,
            hwm as f64 / 1024.0,
            rss_idle as f64 / 1024.0
        ),
        "-",
    );

    // Restart with the data.
    let stop = server.stop();
    let db = std::fs::read_dir(dir.join("data/server/db"))?
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().to_string(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect::<Vec<_>>();
    println!("  datastore files: {db:?}");
    let mut server = spawn_server(&bin, &dir, port, "restart.log")?;
    let (t, _) = wait_ready(&mut server, poll, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let rss_restart = server.status_kb("VmRSS:").unwrap_or(0);
    let mut conn = Conn::open(port, tls.clone()).await?;
    let (status, body) = conn.get("/api/v1/namespaces/bench/configmaps").await?;
    let listed = if status == StatusCode::OK {
        serde_json::from_slice::<Value>(&body)?["items"].as_array().map(|a| a.len()).unwrap_or(0)
    } else {
        0
    };
    println!("  after the restart: {listed} ConfigMaps listed in namespace bench ({} created)", ok);
    report.add(
        "SIGTERM to exit after the loads; restart to ready with all objects",
        format!(
            "{}; {} ({listed} of {ok} ConfigMaps listed after it)",
            stop.map(ms).unwrap_or_else(|| "killed".into()),
            ms(t)
        ),
        "-",
    );
    report.add("VmRSS after that restart, idle", format!("{:.1} MB", rss_restart as f64 / 1024.0), "-");

    // SIGKILL in the middle of concurrent creates: every acknowledged create must be
    // there after a restart (this checks the ack comes after the commit, not fsync itself:
    // a killed process does not lose the page cache).
    let kill_n = (args.configmaps / 5).max(100);
    create_namespace(&mut conn, "bench-kill").await?;
    drop(conn);
    let bodies: Vec<Bytes> = (0..kill_n)
        .map(|i| Bytes::from(serde_json::to_vec(&configmap("bench-kill", &format!("cm-{i:05}"))).expect("json")))
        .collect();
    let r = concurrent_creates(
        port,
        tls.clone(),
        args.clients,
        "/api/v1/namespaces/bench-kill/configmaps",
        bodies,
        Some((kill_n / 2, server.pid)),
    )
    .await?;
    server.stop();
    let mut server = spawn_server(&bin, &dir, port, "after-kill.log")?;
    let (t_kill, _) = wait_ready(&mut server, poll, Duration::from_secs(60)).await?;
    let mut conn = Conn::open(port, tls.clone()).await?;
    let (status, body) = conn.get("/api/v1/namespaces/bench-kill/configmaps").await?;
    if status != StatusCode::OK {
        bail!("listing after the crash: {status}");
    }
    let present: std::collections::HashSet<String> = serde_json::from_slice::<Value>(&body)?["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let lost = r.acked.iter().filter(|i| !present.contains(&format!("cm-{:05}", i))).count();
    drop(conn);
    server.stop();
    report.add(
        "SIGKILL during creates: acknowledged creates lost after restart",
        format!(
            "{lost} of {} acknowledged ({} present; restart to ready {})",
            r.acked.len(),
            present.len(),
            ms(t_kill)
        ),
        "0",
    );

    println!("\nSUMMARY");
    println!("| figure | measured | target |");
    println!("|---|---|---|");
    for (what, value, target) in &report.rows {
        println!("| {what} | {value} | {target} |");
    }
    if args.keep {
        let kept = work.keep();
        println!("kept {}", kept.display());
    }
    Ok(())
}
