//! `kubectl get -w` (JSON watch events, table rows, one object by name) and `kubectl wait`.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use kubectl_common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// A kubectl child process; killed (by its handle) when dropped.
struct Watcher {
    child: Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(server: &common::Server, bin: &str, args: &[&str]) -> (Watcher, std::process::ChildStdout) {
    let mut child = server
        .kubectl_bin(bin, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubectl watch");
    let stdout = child.stdout.take().unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });
    (Watcher { child, stderr }, stdout)
}

/// Watch events printed by `-o json --output-watch-events` (one JSON value after another).
fn json_events(server: &common::Server, bin: &str, args: &[&str]) -> (Watcher, Receiver<Value>) {
    let (watcher, stdout) = spawn(server, bin, args);
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for value in serde_json::Deserializer::from_reader(stdout).into_iter::<Value>() {
            match value {
                Ok(v) => {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    (watcher, rx)
}

fn line_events(server: &common::Server, bin: &str, args: &[&str]) -> (Watcher, Receiver<String>) {
    let (watcher, stdout) = spawn(server, bin, args);
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (watcher, rx)
}

/// Receives the next item or fails the test after WAIT.
fn next<T>(rx: &Receiver<T>, watcher: &Watcher, what: &str) -> T {
    rx.recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}; kubectl stderr: {}", watcher.stderr.lock().unwrap()))
}

fn event(v: &Value) -> (String, String) {
    (s(v, "type").to_string(), s(v, "object.metadata.name").to_string())
}

#[test]
fn get_watch_prints_events() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("watch-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        kc_ok(&server, bin, &["create", "configmap", "w1", "-n", n, "--from-literal=a=1"]);

        let (watcher, rx) = json_events(
            &server,
            bin,
            &["get", "configmaps", "-n", n, "-l", "w", "-w", "--output-watch-events", "-o", "json"],
        );
        // Label the first object so the selector matches: the watch sees it once the list has run.
        kc_ok(&server, bin, &["label", "configmap", "w1", "-n", n, "w=yes"]);
        let first = next(&rx, &watcher, "first event");
        // The list ran either before (then the label arrives as ADDED through the watch: the object
        // enters the selector) or after the label (then the list shows it as ADDED).
        assert_eq!(event(&first), ("ADDED".into(), "w1".into()), "{first}");
        assert_eq!(s(&first, "object.kind"), "ConfigMap");

        kc_ok(&server, bin, &["create", "configmap", "w2", "-n", n, "--from-literal=a=1"]);
        kc_ok(&server, bin, &["label", "configmap", "w2", "-n", n, "w=yes"]);
        let e = next(&rx, &watcher, "ADDED w2");
        assert_eq!(event(&e), ("ADDED".into(), "w2".into()), "{e}");
        assert_eq!(s(&e, "object.metadata.labels.w"), "yes");

        kc_ok(&server, bin, &["patch", "configmap", "w2", "-n", n, "--type=merge", "-p", r#"{"data":{"a":"2"}}"#]);
        let e = next(&rx, &watcher, "MODIFIED w2");
        assert_eq!(event(&e), ("MODIFIED".into(), "w2".into()), "{e}");
        assert_eq!(s(&e, "object.data.a"), "2");

        kc_ok(&server, bin, &["delete", "configmap", "w2", "-n", n]);
        let e = next(&rx, &watcher, "DELETED w2");
        assert_eq!(event(&e), ("DELETED".into(), "w2".into()), "{e}");

        // Removing the label takes w1 out of the selector: DELETED.
        kc_ok(&server, bin, &["label", "configmap", "w1", "-n", n, "w-"]);
        let e = next(&rx, &watcher, "DELETED w1 (left the selector)");
        assert_eq!(event(&e), ("DELETED".into(), "w1".into()), "{e}");
        drop(watcher);

        // One object by name (a metadata.name field selector): other objects are not seen.
        let (watcher, rx) = json_events(
            &server,
            bin,
            &["get", "configmap", "w1", "-n", n, "-w", "--output-watch-events", "-o", "json"],
        );
        let e = next(&rx, &watcher, "w1 listed");
        assert_eq!(event(&e), ("ADDED".into(), "w1".into()), "{e}");
        kc_ok(&server, bin, &["create", "configmap", "w4", "-n", n]);
        kc_ok(&server, bin, &["patch", "configmap", "w1", "-n", n, "--type=merge", "-p", r#"{"data":{"a":"9"}}"#]);
        let e = next(&rx, &watcher, "w1 modified");
        assert_eq!(event(&e), ("MODIFIED".into(), "w1".into()), "{e}");
        assert_eq!(s(&e, "object.data.a"), "9");
        drop(watcher);
    }
}

/// `kubectl get -w` with table output: a header with an EVENT column, then one row per event.
#[test]
fn get_watch_prints_table_rows() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("watch-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        kc_ok(&server, bin, &["create", "configmap", "w1", "-n", n, "--from-literal=a=1"]);
        // Table output: header, then one row per event.
        let (watcher, rx) = line_events(
            &server,
            bin,
            &[
                "get",
                "configmaps",
                "-n",
                n,
                "-w",
                "--output-watch-events",
                "--field-selector",
                "metadata.name!=kube-root-ca.crt",
            ],
        );
        let header: Vec<String> = next(&rx, &watcher, "header").split_whitespace().map(String::from).collect();
        assert_eq!(header, ["EVENT", "NAME", "DATA", "AGE"]);
        let row: Vec<String> = next(&rx, &watcher, "row w1").split_whitespace().map(String::from).collect();
        assert_eq!(&row[..3], ["ADDED", "w1", "1"]);
        kc_ok(&server, bin, &["create", "configmap", "w3", "-n", n, "--from-literal=a=1", "--from-literal=b=2"]);
        let row: Vec<String> = next(&rx, &watcher, "row w3").split_whitespace().map(String::from).collect();
        assert_eq!(&row[..3], ["ADDED", "w3", "2"]);
        kc_ok(&server, bin, &["delete", "configmap", "w3", "-n", n]);
        let row: Vec<String> = next(&rx, &watcher, "row w3 deleted").split_whitespace().map(String::from).collect();
        assert_eq!(&row[..3], ["DELETED", "w3", "2"]);
        drop(watcher);
    }
}

#[test]
fn kubectl_wait_for_jsonpath_and_delete() {
    let server = start_server();
    for (bin, v) in BINS {
        let cm = format!("wait-{v}");
        kc_ok(&server, bin, &["create", "configmap", &cm, "--from-literal=ready=no"]);
        let target = format!("configmap/{cm}");

        let (watcher, rx) =
            line_events(&server, bin, &["wait", "--for=jsonpath={.data.ready}=yes", &target, "--timeout=45s"]);
        std::thread::sleep(Duration::from_millis(300));
        kc_ok(&server, bin, &["patch", "configmap", &cm, "--type=merge", "-p", r#"{"data":{"ready":"yes"}}"#]);
        assert_eq!(next(&rx, &watcher, "wait output"), format!("{target} condition met"));
        drop(watcher);

        let started = Instant::now();
        let (watcher, rx) = line_events(&server, bin, &["wait", "--for=delete", &target, "--timeout=45s"]);
        std::thread::sleep(Duration::from_millis(300));
        kc_ok(&server, bin, &["delete", "configmap", &cm, "--wait=false"]);
        assert_eq!(next(&rx, &watcher, "wait output"), format!("{target} condition met"));
        assert!(started.elapsed() < WAIT);
        drop(watcher);

        // A wait that cannot be met times out with exit code 1.
        kc_ok(&server, bin, &["create", "configmap", &cm, "--from-literal=ready=no"]);
        let out = kc(&server, bin, &["wait", "--for=jsonpath={.data.ready}=yes", &target, "--timeout=2s"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: timed out waiting for the condition on configmaps/{cm}\n")
        );
    }
}
