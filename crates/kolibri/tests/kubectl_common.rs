//! Helpers shared by the `kubectl_*` end-to-end tests. Each test file includes it with
//! `mod common; #[macro_use] #[path = "kubectl_common.rs"] mod kubectl_common; cluster_impl!();`.
//! (Cargo also builds this file as a test target of its own, so it must not name `crate::common`
//! outside the macro: the helpers work on any `Cluster`, which the macro implements for
//! `common::Server`.)
//!
//! Every kubectl run has a deadline: a hung kubectl is killed (by its handle) and the test fails.

#![allow(dead_code, unused_macros)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const KUBECTL_132: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";
pub const KUBECTL_133: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";

/// What the helpers need from a test server.
pub trait Cluster {
    /// A kubectl command of the given binary with the server's kubeconfig and cache.
    fn kubectl_cmd(&self, bin: &str, args: &[&str]) -> Command;
    /// The server's temporary directory (removed with it).
    fn temp_dir(&self) -> &Path;
}

/// Implements `Cluster` for `common::Server`; call once at the top of a test file.
macro_rules! cluster_impl {
    () => {
        impl crate::kubectl_common::Cluster for crate::common::Server {
            fn kubectl_cmd(&self, bin: &str, args: &[&str]) -> std::process::Command {
                self.kubectl_bin(bin, args)
            }
            fn temp_dir(&self) -> &std::path::Path {
                self.dir.path()
            }
        }

        #[allow(dead_code)]
        fn start_server() -> crate::common::Server {
            crate::common::Server::start()
        }
    };
}

/// Both kubectl versions, with a suffix to keep object names apart when they share a server.
pub const BINS: [(&str, &str); 2] = [(KUBECTL_132, "132"), (KUBECTL_133, "133")];

pub const DEADLINE: Duration = Duration::from_secs(60);

/// Runs a command with a deadline; kills it (by its handle) when the deadline passes.
pub fn run_with_deadline(mut cmd: Command, stdin: Option<&str>, deadline: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("spawn kubectl");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait kubectl") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).to_string();
            let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).to_string();
            panic!("command {cmd:?} did not finish within {deadline:?}\nstdout: {stdout}\nstderr: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out_reader.join().unwrap_or_default(), stderr: err_reader.join().unwrap_or_default() }
}

/// Runs the given kubectl binary against the server.
pub fn kc(server: &impl Cluster, bin: &str, args: &[&str]) -> Output {
    run_with_deadline(server.kubectl_cmd(bin, args), None, DEADLINE)
}

/// Runs the given kubectl binary with stdin.
pub fn kc_stdin(server: &impl Cluster, bin: &str, args: &[&str], stdin: &str) -> Output {
    run_with_deadline(server.kubectl_cmd(bin, args), Some(stdin), DEADLINE)
}

/// Runs kubectl with extra environment variables.
pub fn kc_env(server: &impl Cluster, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = server.kubectl_cmd(bin, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_deadline(cmd, None, DEADLINE)
}

/// Asserts success and returns stdout.
/// Runs kubectl off the async runtime, so that tasks of the test (one playing the kubelet)
/// keep running meanwhile.
pub async fn kubectl(server: &impl Cluster, bin: &str, args: &[&str]) -> Output {
    let cmd = server.kubectl_cmd(bin, args);
    tokio::task::spawn_blocking(move || run_with_deadline(cmd, None, Duration::from_secs(90))).await.expect("kubectl")
}

/// [`kubectl`], which must succeed; its stdout.
pub async fn kubectl_ok(server: &impl Cluster, bin: &str, args: &[&str]) -> String {
    let out = kubectl(server, bin, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn kc_ok(server: &impl Cluster, bin: &str, args: &[&str]) -> String {
    let out = kc(server, bin, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "kubectl {bin} {args:?} failed: {}\nstdout: {stdout}\nstderr: {stderr}", out.status);
    stdout
}

/// Asserts failure with exit code 1 and returns stderr.
pub fn kc_fails(server: &impl Cluster, bin: &str, args: &[&str]) -> String {
    let out = kc(server, bin, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "kubectl {bin} {args:?} should fail with exit code 1\nstdout: {stdout}\nstderr: {stderr}"
    );
    stderr
}

/// `kubectl get ... -o json`, parsed.
pub fn get_json(server: &impl Cluster, bin: &str, args: &[&str]) -> Value {
    let mut all: Vec<&str> = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let stdout = kc_ok(server, bin, &all);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("kubectl {all:?} printed no JSON ({e}): {stdout}"))
}

/// Whether `kubectl get` of the object reports NotFound.
pub fn is_not_found(server: &impl Cluster, bin: &str, args: &[&str]) -> bool {
    let mut all: Vec<&str> = vec!["get"];
    all.extend_from_slice(args);
    let out = kc(server, bin, &all);
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("(NotFound)")
}

/// Writes a file into the server's temp dir (removed with it) and returns its path.
pub fn write_file(server: &impl Cluster, name: &str, content: &str) -> PathBuf {
    let path = server.temp_dir().join(name);
    std::fs::write(&path, content).expect("write file");
    path
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The non-empty lines of an output, trimmed at the end.
pub fn lines(out: &str) -> Vec<String> {
    out.lines().map(|l| l.trim_end().to_string()).filter(|l| !l.is_empty()).collect()
}

/// A table printed by `kubectl get`: the header's and the rows' whitespace-separated cells.
/// (Only for tables whose cells contain no spaces.)
pub fn table(out: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rows = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>());
    let header = rows.next().unwrap_or_default();
    (header, rows.collect())
}

/// The row of a table whose first cell (or the cell at `col`) equals `name`.
pub fn row<'a>(rows: &'a [Vec<String>], col: usize, name: &str) -> &'a Vec<String> {
    rows.iter()
        .find(|r| r.get(col).map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name:?} in {rows:?}"))
}

/// The value of a `Key:   value` line of `kubectl describe` output (first occurrence).
pub fn describe_field(out: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}:");
    out.lines().find(|l| l.starts_with(&prefix)).map(|l| l[prefix.len()..].trim().to_string())
}

/// JSON value at a path of keys (numbers index arrays).
pub fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    let mut cur = v;
    for key in path.split('.').filter(|k| !k.is_empty()) {
        cur = match key.parse::<usize>() {
            Ok(i) if cur.is_array() => &cur[i],
            _ => &cur[key],
        };
    }
    cur
}

pub fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    at(v, path).as_str().unwrap_or_else(|| panic!("{path} is not a string in {v}"))
}

pub fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().expect("items").iter().map(|i| s(i, "metadata.name").to_string()).collect()
}
