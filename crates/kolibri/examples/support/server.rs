//! The `kolibri server` process a benchmark measures: started on a free loopback port with
//! its own data dir, config and kubeconfig in `dir`, read through `/proc`, stopped by PID
//! (SIGTERM, then SIGKILL after 10 s).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct ServerProc {
    child: Child,
    pid: u32,
}

impl ServerProc {
    /// Starts `bin server` with `extra` flags and waits until its log contains `ready_line`.
    pub fn start(bin: &Path, dir: &Path, extra: &[&str], ready_line: &str) -> anyhow::Result<ServerProc> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        std::fs::write(dir.join("config.yaml"), "{}\n")?;
        let log = std::fs::File::create(dir.join("server.log"))?;
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
            .args(extra)
            .env("KOLIBRI_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let server = ServerProc { pid: child.id(), child };
        let t = Instant::now();
        while !std::fs::read_to_string(dir.join("server.log"))?.contains(ready_line) {
            if t.elapsed() > Duration::from_secs(60) {
                bail!("the server did not log {ready_line:?} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(server)
    }

    /// utime + stime of the process, in clock ticks.
    pub fn ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    }

    /// A `/proc/PID/status` field given in kB (`VmRSS:`, `VmHWM:`), in MB.
    pub fn status_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        kb / 1024.0
    }

    /// VmRSS in MB.
    pub fn rss_mb(&self) -> f64 {
        self.status_mb("VmRSS:")
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the PID of the child this value owns.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
