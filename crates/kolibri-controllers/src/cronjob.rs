//! CronJobs (upstream's cronjob-controller): creates a Job for each scheduled time, named
//! `<cronjob>-<minutes since the epoch>`, and keeps `status.active`, `lastScheduleTime` and
//! `lastSuccessfulTime`.
//!
//! Schedules are the standard five fields (minute, hour, day of month, month, day of week;
//! names, ranges, steps, `?`), the `@yearly`…`@hourly` descriptors and `@every <duration>`,
//! evaluated in `spec.timeZone` (the host's zoneinfo) or UTC. Like upstream, a missed time is
//! started late unless `startingDeadlineSeconds` says it is too late; concurrency policies
//! Allow, Forbid and Replace; finished jobs beyond the history limits are deleted. The next
//! run is a timer (the work queue's delayed key), not a poll. An unparsable schedule or an
//! unknown time zone is reported in an event and not retried until the CronJob changes.

use std::sync::Arc;
use std::time::Duration;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::events::{Recorder, NORMAL, WARNING};
use crate::informer::Change;
use crate::job::finished;
use crate::queue::{self, Backoff, Next, Queue};
use crate::replicaset::controller_ref;
use crate::workloads::{self, controller_of, key_of, split_key, Informers};
use crate::Error;

pub const NAME: &str = "cronjob";
const COMPONENT: &str = "cronjob-controller";
const WORKERS: usize = 5;
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Upstream looks again 100 ms after a scheduled time.
const NEXT_DELTA: Duration = Duration::from_millis(100);
/// Upstream gives up counting missed times beyond this.
const MAX_MISSED: usize = 100;

struct Controller {
    client: Client,
    cron_jobs: Store<CronJob>,
    jobs: Store<Job>,
    recorder: Recorder,
    queue: Arc<Queue<String>>,
}

pub(crate) fn start(client: Client, informers: &Informers, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let (cron_jobs, jobs) = (informers.cron_jobs.get(), informers.jobs.get());
    let ctl = Arc::new(Controller {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        cron_jobs: cron_jobs.store(),
        jobs: jobs.store(),
        queue: Queue::new(Backoff::DEFAULT),
    });
    cron_jobs.on_change({
        let queue = ctl.queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                queue.add(key_of(&new.metadata));
            }
        }
    });
    jobs.on_change({
        let ctl = ctl.clone();
        move |change| {
            let (Change::Applied { new: job, .. } | Change::Deleted(job)) = change;
            if let Some(r) = controller_of(&job.metadata).filter(|r| r.kind == "CronJob") {
                let ns = job.metadata.namespace.as_deref().unwrap_or_default();
                if let Some(cj) = ctl.cron_jobs.get(&ObjectRef::new(&r.name).within(ns)) {
                    if cj.metadata.uid.as_deref() == Some(r.uid.as_str()) {
                        ctl.queue.add(key_of(&cj.metadata));
                    }
                }
            }
        }
    });
    let ready = futures::future::join(cron_jobs.synced(), jobs.synced());
    let ready = async move {
        ready.await;
    };
    let queue = ctl.queue.clone();
    tokio::spawn(queue::serve(NAME, queue, WORKERS, ready, shutdown, move |key: String| {
        let ctl = ctl.clone();
        async move { ctl.sync(&key).await }
    }))
}

impl Controller {
    async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = split_key(key);
        let Some(cached) = self.cron_jobs.get(&ObjectRef::new(name).within(ns)) else { return Ok(Next::Done) };
        let mut cj = (*cached).clone();
        let uid = cj.metadata.uid.clone().unwrap_or_default();
        let children: Vec<Arc<Job>> = self
            .jobs
            .state()
            .into_iter()
            .filter(|j| {
                j.metadata.namespace.as_deref() == Some(ns) && controller_of(&j.metadata).is_some_and(|r| r.uid == uid)
            })
            .collect();
        let original = cj.status.clone();
        let status = cj.status.get_or_insert_with(Default::default);
        let mut active = status.active.clone().unwrap_or_default();

        // The active list follows the jobs.
        for job in &children {
            let listed = active.iter().any(|r| r.uid == job.metadata.uid);
            if finished(job) {
                if listed {
                    active.retain(|r| r.uid != job.metadata.uid);
                    let condition = finished_condition(job);
                    self.recorder.record(
                        &*cached,
                        NORMAL,
                        "SawCompletedJob",
                        format!("Saw completed job: {}, condition: {condition}", job.name_any()),
                    );
                }
                let completed = job.status.as_ref().and_then(|s| s.completion_time.clone());
                if finished_condition(job) == "Complete" {
                    if let Some(t) = completed {
                        let newer = status.last_successful_time.as_ref().is_none_or(|last| last.0 < t.0);
                        if newer {
                            status.last_successful_time = Some(t);
                        }
                    }
                }
            } else if !listed && job.metadata.deletion_timestamp.is_none() {
                // Created but not recorded (a crash between the two, or a lagging cache).
                active.push(reference(job));
            }
        }
        let missing: Vec<ObjectReference> =
            active.iter().filter(|r| !children.iter().any(|j| j.metadata.uid == r.uid)).cloned().collect();
        for r in missing {
            self.recorder.record(
                &*cached,
                NORMAL,
                "MissingJob",
                format!("Active job went missing: {}", r.name.clone().unwrap_or_default()),
            );
            active.retain(|a| a.uid != r.uid);
        }
        status.active = (!active.is_empty()).then(|| active.clone());

        let result = self.schedule(&mut cj, &children).await;
        if cj.status != original {
            let api: Api<CronJob> = Api::namespaced(self.client.clone(), ns);
            match api.replace_status(name, &PostParams::default(), &cj).await {
                Ok(_) => {}
                Err(e) if crate::api_reason(&e, 404) => return Ok(Next::Done),
                Err(e) => return Err(e.into()),
            }
        }
        self.cleanup(&cj, &children).await?;
        result
    }

    /// Starts the job of the most recent unmet scheduled time, if it is due; returns when
    /// to look again.
    async fn schedule(&self, cj: &mut CronJob, children: &[Arc<Job>]) -> Result<Next, Error> {
        if cj.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let spec = cj.spec.clone().unwrap_or_default();
        let tz = match spec.time_zone.as_deref() {
            None => TimeZone::UTC,
            Some(name) => match TimeZone::get(name) {
                Ok(tz) => tz,
                Err(e) => {
                    self.recorder.record(cj, WARNING, "UnknownTimeZone", format!("invalid timeZone: {name:?}: {e}"));
                    return Ok(Next::Done);
                }
            },
        };
        let schedule = match Schedule::parse(&spec.schedule) {
            Ok(s) => s,
            Err(e) => {
                let message = format!("unparseable schedule: {:?} : {e}", spec.schedule);
                self.recorder.record(cj, WARNING, "UnparseableSchedule", message);
                return Ok(Next::Done);
            }
        };
        let now = Timestamp::now();
        let created = cj.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
        let status = cj.status.get_or_insert_with(Default::default);
        let mut earliest = status.last_schedule_time.as_ref().map_or(created, |t| t.0);
        if let Some(deadline) = spec.starting_deadline_seconds {
            let cutoff = now - Duration::from_secs(deadline.max(0) as u64);
            if cutoff > earliest {
                earliest = cutoff;
            }
        }
        let (scheduled, missed) = schedule.most_recent(earliest, now, &tz);
        if missed > MAX_MISSED {
            self.recorder.record(
                cj,
                WARNING,
                "TooManyMissedTimes",
                format!("too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
            );
        }
        let next = |from: Timestamp| -> Next {
            match schedule.next(from.max(now), &tz) {
                Some(t) => Next::After(t.duration_since(now).unsigned_abs() + NEXT_DELTA),
                None => Next::Done,
            }
        };
        let Some(scheduled) = scheduled else { return Ok(next(now)) };
        if let Some(deadline) = spec.starting_deadline_seconds {
            if scheduled + Duration::from_secs(deadline.max(0) as u64) < now {
                let when = scheduled.strftime("%a, %d %b %Y %H:%M:%S %z").to_string();
                self.recorder.record(
                    cj,
                    WARNING,
                    "MissSchedule",
                    format!("Missed scheduled time to start a job: {when}"),
                );
                return Ok(next(now));
            }
        }
        let job_name = format!("{}-{}", cj.name_any(), scheduled.as_second() / 60);
        let status = cj.status.get_or_insert_with(Default::default);
        let mut active = status.active.clone().unwrap_or_default();
        if active.iter().any(|r| r.name.as_deref() == Some(job_name.as_str())) {
            return Ok(next(now));
        }
        match spec.concurrency_policy.as_deref() {
            Some("Forbid") if !active.is_empty() => {
                self.recorder.record(
                    cj,
                    NORMAL,
                    "JobAlreadyActive",
                    "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
                );
                return Ok(next(now));
            }
            Some("Replace") => {
                for r in std::mem::take(&mut active) {
                    let name = r.name.clone().unwrap_or_default();
                    let Some(job) = children.iter().find(|j| j.metadata.uid == r.uid) else { continue };
                    self.delete_job(cj, job).await?;
                    tracing::debug!(job = %name, "replaced an active job");
                }
            }
            _ => {}
        }

        let template = spec.job_template.clone();
        let meta = template.metadata.clone().unwrap_or_default();
        let mut annotations = meta.annotations.clone().unwrap_or_default();
        let zoned = scheduled.to_zoned(tz.clone());
        annotations.insert(SCHEDULED_TIMESTAMP.into(), zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
        let job = Job {
            metadata: ObjectMeta {
                name: Some(job_name.clone()),
                namespace: cj.metadata.namespace.clone(),
                labels: meta.labels.clone(),
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref(&*cj)]),
                ..Default::default()
            },
            spec: template.spec.clone(),
            status: None,
        };
        let api: Api<Job> = Api::namespaced(self.client.clone(), cj.metadata.namespace.as_deref().unwrap_or_default());
        let created = match api.create(&PostParams::default(), &job).await {
            Ok(created) => {
                self.recorder.record(cj, NORMAL, "SuccessfulCreate", format!("Created job {job_name}"));
                created
            }
            Err(e) if crate::api_reason(&e, 409) => match api.get_opt(&job_name).await? {
                // Ours from before (the active list lagged): record it.
                Some(existing)
                    if controller_of(&existing.metadata).is_some_and(|r| Some(&r.uid) == cj.metadata.uid.as_ref()) =>
                {
                    existing
                }
                _ => return Ok(next(now)),
            },
            Err(e) if crate::namespace_terminating(&e) => return Ok(Next::Done),
            Err(e) => {
                let message = format!("Error creating job: {}", workloads::error_message(&e));
                self.recorder.record(cj, WARNING, "FailedCreate", message.clone());
                let status = cj.status.get_or_insert_with(Default::default);
                status.active = (!active.is_empty()).then_some(active);
                return Err(Error::Sync(message));
            }
        };
        active.push(reference(&created));
        let status = cj.status.get_or_insert_with(Default::default);
        status.active = Some(active);
        status.last_schedule_time = Some(Time(scheduled));
        Ok(next(now))
    }

    async fn delete_job(&self, cj: &CronJob, job: &Job) -> Result<(), Error> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), job.metadata.namespace.as_deref().unwrap_or_default());
        let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
        match api.delete(&job.name_any(), &params).await {
            Ok(_) => {
                self.recorder.record(cj, NORMAL, "SuccessfulDelete", format!("Deleted job {}", job.name_any()));
                Ok(())
            }
            Err(e) if crate::api_reason(&e, 404) => Ok(()),
            Err(e) => {
                let message = format!("Error deleting job: {}", workloads::error_message(&e));
                self.recorder.record(cj, WARNING, "FailedDelete", message.clone());
                Err(Error::Sync(message))
            }
        }
    }

    /// Deletes the oldest finished jobs beyond `successfulJobsHistoryLimit` and
    /// `failedJobsHistoryLimit`.
    async fn cleanup(&self, cj: &CronJob, children: &[Arc<Job>]) -> Result<(), Error> {
        let spec = cj.spec.clone().unwrap_or_default();
        for (kind, limit) in
            [("Complete", spec.successful_jobs_history_limit), ("Failed", spec.failed_jobs_history_limit)]
        {
            let Some(limit) = limit else { continue };
            let mut done: Vec<&Arc<Job>> = children
                .iter()
                .filter(|j| j.metadata.deletion_timestamp.is_none() && finished(j) && finished_condition(j) == kind)
                .collect();
            let excess = done.len().saturating_sub(limit.max(0) as usize);
            if excess == 0 {
                continue;
            }
            let started = |j: &Job| {
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .or(j.metadata.creation_timestamp.as_ref())
                    .map(|t| t.0)
            };
            done.sort_by_key(|j| (started(j), j.metadata.name.clone()));
            for job in done.into_iter().take(excess) {
                self.delete_job(cj, job).await?;
            }
        }
        Ok(())
    }
}

fn finished_condition(job: &Job) -> &str {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True"))
        .map_or("", |c| c.type_.as_str())
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// A parsed schedule.
#[derive(Debug, PartialEq)]
pub enum Schedule {
    /// Bit sets of the allowed minutes, hours, days of month, months and weekdays; whether
    /// the day fields were `*` (then both must match, else either).
    Fields { minutes: u64, hours: u64, days: u64, months: u64, weekdays: u64, any_day: bool, any_weekday: bool },
    /// `@every <duration>`.
    Every(Duration),
}

impl Schedule {
    /// Parses like upstream's `cron.ParseStandard`, with its error messages.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        if let Some(descriptor) = spec.strip_prefix('@') {
            let fields = match descriptor {
                "yearly" | "annually" => "0 0 1 1 *",
                "monthly" => "0 0 1 * *",
                "weekly" => "0 0 * * 0",
                "daily" | "midnight" => "0 0 * * *",
                "hourly" => "0 * * * *",
                _ => {
                    if let Some(d) = descriptor.strip_prefix("every ") {
                        let d = parse_duration(d.trim()).ok_or_else(|| format!("failed to parse duration {spec}"))?;
                        return Ok(Schedule::Every(d.max(Duration::from_secs(1))));
                    }
                    return Err(format!("unrecognized descriptor: {spec}"));
                }
            };
            return Schedule::parse(fields);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!("expected exactly 5 fields, found {}: {fields:?}", fields.len()));
        }
        const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
        const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        let (minutes, _) = field(fields[0], 0, 59, &[], 0)?;
        let (hours, _) = field(fields[1], 0, 23, &[], 0)?;
        let (days, any_day) = field(fields[2], 1, 31, &[], 0)?;
        let (months, _) = field(fields[3], 1, 12, MONTHS, 1)?;
        let (mut weekdays, any_weekday) = field(fields[4], 0, 7, DAYS, 0)?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Schedule::Fields { minutes, hours, days, months, weekdays, any_day, any_weekday })
    }

    /// The first scheduled time strictly after `after`, within five years.
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let Schedule::Fields { minutes, hours, days, months, weekdays, any_day, any_weekday } = *self else {
            let Schedule::Every(d) = *self else { return None };
            let base = Timestamp::from_second(after.as_second()).ok()?;
            return base.checked_add(d).ok();
        };
        let bit = |set: u64, v: i64| set & (1u64 << v) != 0;
        let day_matches = |dt: &DateTime| {
            let dom = bit(days, i64::from(dt.day()));
            let dow = bit(weekdays, i64::from(dt.weekday().to_sunday_zero_offset()));
            if any_day || any_weekday {
                dom && dow
            } else {
                dom || dow
            }
        };
        // Start at the next whole minute, in the zone's civil time.
        let start = Timestamp::from_second(after.as_second() - after.as_second().rem_euclid(60) + 60).ok()?;
        let mut t = start.to_zoned(tz.clone()).datetime();
        let limit = t.year() + 5;
        while t.year() <= limit {
            if !bit(months, i64::from(t.month())) {
                t = t.first_of_month().checked_add(1.month()).ok()?.date().to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if !day_matches(&t) {
                t = t.date().tomorrow().ok()?.to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if !bit(hours, i64::from(t.hour())) {
                t = t.with().minute(0).build().ok()?.checked_add(1.hour()).ok()?;
                continue;
            }
            if !bit(minutes, i64::from(t.minute())) {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            // A time in a DST gap does not exist; a repeated one runs at its first instance.
            let ts = tz.to_ambiguous_zoned(t).compatible().ok()?.timestamp();
            if ts > after && ts.to_zoned(tz.clone()).datetime() == t {
                return Some(ts);
            }
            t = t.checked_add(1.minute()).ok()?;
        }
        None
    }

    /// The most recent scheduled time in `(earliest, now]` and how many there were.
    pub fn most_recent(&self, earliest: Timestamp, now: Timestamp, tz: &TimeZone) -> (Option<Timestamp>, usize) {
        let mut last = None;
        let mut count = 0;
        let mut t = earliest;
        while let Some(next) = self.next(t, tz) {
            if next > now {
                break;
            }
            last = Some(next);
            count += 1;
            t = next;
            if count > MAX_MISSED {
                // Jump close to now: only the most recent time matters.
                let back = now - Duration::from_secs(3600 * 24 * 366);
                if t < back {
                    t = back;
                }
            }
            if count > MAX_MISSED * 1000 {
                break;
            }
        }
        (last, count)
    }
}

/// One field: a bit set and whether it was `*` or `?` (without a step).
fn field(text: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| {
                    format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax")
                })?;
                if step == 0 {
                    return Err(format!("step of range should be a positive number: {part}"));
                }
                (r, Some(step))
            }
            None => (part, None),
        };
        let value = |v: &str| -> Result<u32, String> {
            let lower = v.to_ascii_lowercase();
            if let Some(i) = names.iter().position(|n| *n == lower) {
                return Ok(i as u32 + name_base);
            }
            v.parse().map_err(|_| format!("failed to parse int from {v}: strconv.Atoi: parsing {v:?}: invalid syntax"))
        };
        let (lo, hi) = if range == "*" || range == "?" {
            if step.is_none_or(|s| s == 1) {
                star = true;
            }
            (min, max)
        } else {
            match range.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None => {
                    let v = value(range)?;
                    (v, if step.is_some() { max } else { v })
                }
            }
        };
        if lo < min {
            return Err(format!("beginning of range ({lo}) below minimum ({min}): {part}"));
        }
        if hi > max {
            return Err(format!("end of range ({hi}) above maximum ({max}): {part}"));
        }
        if lo > hi {
            return Err(format!("beginning of range ({lo}) beyond end of range ({hi}): {part}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step.unwrap_or(1);
        }
    }
    Ok((bits, star))
}

/// A Go duration (`1h30m`, `90s`, `1.5h`).
fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, tail) = rest.split_at(split);
        let number: f64 = number.parse().ok()?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += number * seconds;
        rest = tail;
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_fields_names_steps_and_descriptors() {
        assert!(Schedule::parse("*/5 * * * *").is_ok());
        assert!(Schedule::parse("0 9 * JAN-mar mon-fri").is_ok());
        assert_eq!(Schedule::parse("@hourly"), Schedule::parse("0 * * * *"));
        assert_eq!(Schedule::parse("@every 90s"), Ok(Schedule::Every(Duration::from_secs(90))));
        assert_eq!(Schedule::parse("bad").unwrap_err(), "expected exactly 5 fields, found 1: [\"bad\"]");
        assert_eq!(Schedule::parse("61 * * * *").unwrap_err(), "end of range (61) above maximum (59): 61");
        assert_eq!(Schedule::parse("@fortnightly").unwrap_err(), "unrecognized descriptor: @fortnightly");
    }

    #[test]
    fn next_times_in_utc_and_in_a_zone() {
        let utc = TimeZone::UTC;
        let s = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(s.next(ts("2026-11-29T10:07:30Z"), &utc), Some(ts("2026-11-29T10:15:00Z")));
        assert_eq!(s.next(ts("2026-11-29T10:15:00Z"), &utc), Some(ts("2026-11-29T10:30:00Z")));
        // Day of month OR day of week when both are restricted: the 1st, or any Monday.
        let s = Schedule::parse("0 0 1 * mon").unwrap();
        assert_eq!(s.next(ts("2026-11-29T10:00:00Z"), &utc), Some(ts("2026-11-30T00:00:00Z")));
        assert_eq!(s.next(ts("2026-11-30T00:00:00Z"), &utc), Some(ts("2026-12-01T00:00:00Z")));
        // 09:00 in Berlin is 08:00 UTC in winter.
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let s = Schedule::parse("0 9 * * *").unwrap();
        assert_eq!(s.next(ts("2026-11-29T10:00:00Z"), &berlin), Some(ts("2026-11-30T08:00:00Z")));
        // Feb 30 never happens.
        assert_eq!(Schedule::parse("0 0 30 2 *").unwrap().next(ts("2026-01-01T00:00:00Z"), &utc), None);
    }

    #[test]
    fn most_recent_counts_missed_times() {
        let s = Schedule::parse("* * * * *").unwrap();
        let (last, n) = s.most_recent(ts("2026-11-29T10:00:30Z"), ts("2026-11-29T10:05:10Z"), &TimeZone::UTC);
        assert_eq!((last, n), (Some(ts("2026-11-29T10:05:00Z")), 5));
        let (last, n) = s.most_recent(ts("2026-11-29T10:05:00Z"), ts("2026-11-29T10:05:59Z"), &TimeZone::UTC);
        assert_eq!((last, n), (None, 0));
    }
}
