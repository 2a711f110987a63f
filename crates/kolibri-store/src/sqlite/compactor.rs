//! Background compaction: decides how far history may be dropped and drives the
//! writer through it in bounded batches.
//!
//! It wakes on a timer and whenever the writer has committed a set number of writes,
//! so a write-heavy store compacts as fast as it grows and an idle one costs nothing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::writer::Request;
use super::Shared;
use crate::{Revision, StoreError};

/// Samples of (time, newest revision), to translate "keep N minutes" into a revision.
pub(super) struct Retention {
    keep: Duration,
    samples: Mutex<VecDeque<(Instant, Revision)>>,
}

impl Retention {
    pub(super) fn new(keep: Duration) -> Self {
        Self { keep, samples: Mutex::new(VecDeque::new()) }
    }

    pub(super) fn record(&self, at: Instant, rev: Revision) {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.push_back((at, rev));
        // Keep a single sample older than the window: it is the one `horizon` needs.
        while samples.len() >= 2 && samples[1].0 + self.keep <= at {
            samples.pop_front();
        }
    }

    /// The newest revision that was already committed `keep` ago: everything up to
    /// it is older than the retention window.
    pub(super) fn horizon(&self, now: Instant) -> Revision {
        if self.keep.is_zero() {
            return Revision::MAX;
        }
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.iter().take_while(|(at, _)| *at + self.keep <= now).last().map_or(0, |(_, rev)| *rev)
    }
}

/// The revision automatic compaction may compact to now.
fn target(shared: &Shared, keep_revisions: i64) -> Revision {
    let current = shared.current.load(std::sync::atomic::Ordering::Acquire);
    shared.retention.horizon(Instant::now()).min(current - keep_revisions)
}

/// Raises the compacted revision to `target` and deletes obsolete rows in batches,
/// each batch a separate request so writes are served in between.
pub(super) async fn compact_to(shared: &Shared, target: Revision) -> Result<(), StoreError> {
    loop {
        let (reply, rx) = oneshot::channel();
        shared.send(Request::Compact { target, reply })?;
        match rx.await {
            Ok(Ok(true)) => return Ok(()),
            Ok(Ok(false)) => continue,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(StoreError::Closed),
        }
    }
}

/// The compaction task. Holds the store weakly so it never keeps a dropped store alive.
pub(super) async fn run(shared: Weak<Shared>, interval: Duration, keep_revisions: i64) {
    let Some(wakeup) = shared.upgrade().map(|s| Arc::clone(&s.compact_wakeup)) else {
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = wakeup.notified() => {}
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.is_closed() {
            return;
        }
        // Also finishes a compaction that was interrupted (e.g. by a restart).
        let target = target(&shared, keep_revisions).max(shared.compacted.load(std::sync::atomic::Ordering::Acquire));
        match compact_to(&shared, target).await {
            Ok(()) => {}
            Err(StoreError::Closed) => return,
            Err(e) => tracing::warn!(error = %e, "compaction failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_is_newest_revision_older_than_window() {
        let r = Retention::new(Duration::from_secs(60));
        let t0 = Instant::now();
        r.record(t0, 10);
        r.record(t0 + Duration::from_secs(30), 20);
        assert_eq!(r.horizon(t0 + Duration::from_secs(59)), 0);
        assert_eq!(r.horizon(t0 + Duration::from_secs(60)), 10);
        r.record(t0 + Duration::from_secs(90), 30);
        assert_eq!(r.horizon(t0 + Duration::from_secs(100)), 20);
        assert_eq!(r.horizon(t0 + Duration::from_secs(150)), 30);
    }

    #[test]
    fn samples_stay_bounded() {
        let r = Retention::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..1000 {
            r.record(t0 + Duration::from_secs(i), i as Revision);
        }
        assert!(r.samples.lock().unwrap().len() <= 12);
    }
}
