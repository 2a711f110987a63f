//! Control-plane benchmark of `kolibri server` (not a test: it measures and prints).
//!
//! Runs a real release binary on loopback and measures, in one invocation:
//! 1. start to ready (process spawn → first HTTPS `GET /readyz` answering 200), first start
//!    (certificates and database created) and restart on the same data dir;
//! 2. resident memory (VmRSS) idle with an empty store, and after 10,000 ConfigMaps of 1 KB;
//! 3. durable creates/s of 1 KB ConfigMaps from 32 concurrent TLS clients (one keep-alive
//!    connection each), GET latency, LIST of 1,000 Pods, write → 100 watchers latency;
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
        .stdout(Stdio::null())
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
        let log = std::fs::read_to_string(&self.log).ok()?;
        let line = log.lines().find(|l| l.contains("is ready"))?;
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

    async fn call(&mut self, method: Method, path: &str, content_type: &str, body: Bytes) -> anyhow::Result<(StatusCode, Bytes)> {
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
            bail!("the server exited before it was ready; log:\n{}", std::fs::read_to_string(&server.log).unwrap_or_default());
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
    let (status, body) = conn.post("/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})).await?;
    if status != StatusCode::CREATED {
        bail!("creating namespace {name}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

struct LoadResult {
    wall: Duration,
    latencies: Vec<Duration>,
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
) -> anyhow::Result<LoadResult> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::open(port, tls.clone()).await?);
    }
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in conns {
        let bodies = bodies.clone();
        let next = next.clone();
        let path = path.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
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
                    Ok((StatusCode::CREATED, _)) => lat.push(t.elapsed()),
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
            (lat, errors, first_error)
        }));
    }
    let mut result = LoadResult { wall: Duration::ZERO, latencies: Vec::new(), errors: 0, first_error: None };
    for t in tasks {
        let (lat, errors, first) = t.await?;
        result.latencies.extend(lat);
        result.errors += errors;
        if result.first_error.is_none() {
            result.first_error = first;
        }
    }
    result.wall = started.elapsed();
    Ok(result)
}
