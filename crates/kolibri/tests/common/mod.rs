//! A real `kolibri server` for end-to-end tests: free port, temporary data dir, its own
//! kubeconfig and kubectl cache. The process is stopped (by PID) when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const KUBECTL_132: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";
pub const KUBECTL_133: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";

pub struct Server {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub kubeconfig: PathBuf,
    pub log: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl Server {
    /// Starts a server and waits until it logs that it is ready.
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut server = Server {
            child: None,
            kubeconfig: dir.path().join("kubeconfig.yaml"),
            log: dir.path().join("server.log"),
            dir,
            port,
        };
        server.spawn(extra);
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts (or restarts) the process on the same data dir and port.
    pub fn spawn(&mut self, extra: &[&str]) {
        let config = self.dir.path().join("config.yaml");
        if !config.exists() {
            std::fs::write(&config, "# written by the test harness\n").expect("config file");
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kolibri"))
            .arg("server")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--bind-address", "127.0.0.1", "--https-listen-port", &self.port.to_string()])
            .arg("--write-kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--config")
            .arg(self.dir.path().join("config.yaml"))
            .arg("--disable-agent")
            .args(extra)
            .env("KOLIBRI_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kolibri server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut log = log;
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                use std::io::Write;
                let _ = writeln!(log, "{line}");
                if !sent && line.contains("is ready") {
                    let _ = tx.send(());
                    sent = true;
                }
            }
        });
        self.child = Some(child);
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            panic!("server did not become ready; log:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns how long it took.
    pub fn stop(&mut self) -> Duration {
        let Some(mut child) = self.child.take() else { return Duration::ZERO };
        let started = Instant::now();
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let _ = child.wait();
        started.elapsed()
    }

    /// Kills the process with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// A kubectl command of the given binary, with this server's kubeconfig and a private cache.
    pub fn kubectl_bin(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(
                self.dir.path().join(format!(
                    "kubectl-cache-{}",
                    Path::new(bin).file_name().and_then(|f| f.to_str()).unwrap_or("k")
                )),
            )
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path());
        cmd
    }

    /// Runs kubectl 1.33 and returns its output.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_bin(KUBECTL_133, args).output().expect("run kubectl")
    }

    /// Runs kubectl with stdin.
    pub fn kubectl_stdin(&self, bin: &str, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .kubectl_bin(bin, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("kubectl output")
    }

    /// A kube-rs client for this server.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("kube config");
        kube::Client::try_from(config).expect("kube client")
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Asserts a command succeeded and returns its stdout.
pub fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "command failed: {}\nstdout: {stdout}\nstderr: {stderr}", output.status);
    stdout
}

/// Asserts a command failed and returns its stderr.
pub fn fails(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success(), "command unexpectedly succeeded\nstdout: {stdout}\nstderr: {stderr}");
    stderr
}

/// Waits up to `within` for `check` to give a value, looking every 100 ms; fails the test
/// naming `what` when it never does.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < within, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`eventually`] for tests without a runtime.
pub fn wait_for<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(started.elapsed() < within, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
