//! CronJob (`SetDefaults_CronJob`, `ValidateCronJob`).

use k8s_openapi::api::batch::v1::CronJob;

use super::job::validate_spec;
use crate::defaults::{self, str_default};
use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::{self, non_negative};

impl Kind for CronJob {
    const GENERATION: bool = true;

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        str_default(&mut spec.concurrency_policy, "Allow");
        spec.suspend.get_or_insert(false);
        spec.successful_jobs_history_limit.get_or_insert(3);
        spec.failed_jobs_history_limit.get_or_insert(1);
        if let Some(job_spec) = spec.job_template.spec.as_mut() {
            defaults::pod::template(&mut job_spec.template);
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        let schedule_path = path.child("schedule");
        if spec.schedule.is_empty() {
            errs.push(FieldError::required(&schedule_path, ""));
        } else if let Err(msg) = check_schedule(&spec.schedule) {
            errs.push(FieldError::invalid(&schedule_path, &spec.schedule, &msg));
        }
        if let Some(zone) = spec.time_zone.as_deref() {
            if let Err(msg) = check_time_zone(zone) {
                errs.push(FieldError::invalid(&path.child("timeZone"), zone, &msg));
            }
        }
        if let Some(policy) = spec.concurrency_policy.as_deref() {
            const POLICIES: &[&str] = &["Allow", "Forbid", "Replace"];
            if !POLICIES.contains(&policy) {
                errs.push(FieldError::not_supported(&path.child("concurrencyPolicy"), policy, POLICIES));
            }
        }
        for (field, value) in [
            ("successfulJobsHistoryLimit", spec.successful_jobs_history_limit),
            ("failedJobsHistoryLimit", spec.failed_jobs_history_limit),
        ] {
            non_negative(i64::from(value.unwrap_or(0)), &path.child(field), &mut errs);
        }
        if let Some(seconds) = spec.starting_deadline_seconds {
            non_negative(seconds, &path.child("startingDeadlineSeconds"), &mut errs);
        }
        let template_path = path.child("jobTemplate");
        if let Some(meta) = &spec.job_template.metadata {
            if let Some(labels) = &meta.labels {
                validation::meta::validate_labels(labels, &template_path.child("metadata").child("labels"), &mut errs);
            }
        }
        match &spec.job_template.spec {
            Some(job_spec) => errs.extend(validate_spec(job_spec, &template_path.child("spec"))),
            None => errs.push(FieldError::required(&template_path.child("spec"), "")),
        }
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        let spec = self.spec.as_ref().and_then(|s| s.job_template.spec.as_ref()).and_then(|j| j.template.spec.as_ref());
        spec.map_or(Ok(()), validation::pod::check_quantities)
    }
}

/// A standard 5-field cron expression or a descriptor (`@hourly`, `@every 1h`), with the
/// wording of the cron parser upstream uses.
fn check_schedule(schedule: &str) -> Result<(), String> {
    if schedule.contains("TZ") {
        return Err("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
    }
    if let Some(descriptor) = schedule.strip_prefix('@') {
        const DESCRIPTORS: &[&str] = &["yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly"];
        if DESCRIPTORS.contains(&descriptor) || descriptor.starts_with("every ") {
            return Ok(());
        }
        return Err(format!("unrecognized descriptor: {schedule}"));
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
    for (field, (lo, hi)) in fields.iter().zip(ranges) {
        for part in field.split(',') {
            let (range, step) = part.split_once('/').map_or((part, None), |(r, s)| (r, Some(s)));
            if let Some(step) = step {
                if step.parse::<u32>().map_or(true, |s| s == 0) {
                    return Err(format!(
                        "failed to parse int from {step}: strconv.Atoi: parsing \"{step}\": invalid syntax"
                    ));
                }
            }
            if range == "*" || range == "?" {
                continue;
            }
            let bounds: Vec<&str> = range.split('-').collect();
            for b in &bounds {
                // Month and weekday names are accepted.
                if b.chars().all(|c| c.is_ascii_alphabetic()) && b.len() == 3 {
                    continue;
                }
                match b.parse::<u32>() {
                    Ok(v) if (lo..=hi).contains(&v) => {}
                    Ok(v) if v < lo => return Err(format!("beginning of range ({v}) below minimum ({lo}): {part}")),
                    Ok(v) => return Err(format!("end of range ({v}) above maximum ({hi}): {part}")),
                    Err(_) => {
                        return Err(format!(
                            "failed to parse int from {b}: strconv.Atoi: parsing \"{b}\": invalid syntax"
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::check_schedule;
    use crate::Registry;

    #[test]
    fn schedules() {
        assert!(check_schedule("*/5 * * * *").is_ok());
        assert!(check_schedule("0 0 1 jan mon").is_ok());
        assert!(check_schedule("@hourly").is_ok());
        assert_eq!(check_schedule("bad").unwrap_err(), "expected exactly 5 fields, found 1: [bad]");
        assert!(check_schedule("61 * * * *").is_err());
    }

    #[test]
    fn defaults() {
        let def = Registry::builtin().get("batch", "v1", "cronjobs").cloned().unwrap();
        let mut obj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "d"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}});
        def.strategy.default(&mut obj);
        assert_eq!(obj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(obj["spec"]["suspend"], false);
        assert_eq!(obj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(obj["spec"]["failedJobsHistoryLimit"], 1);
        assert_eq!(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        assert!(def.strategy.validate_create(&obj).is_empty(), "{:?}", def.strategy.validate_create(&obj));
    }
}

/// Upstream's `validateTimeZone`: an IANA name the host's zoneinfo knows.
fn check_time_zone(zone: &str) -> Result<(), String> {
    if zone.is_empty() {
        return Err("timeZone must be nil or non-empty string".into());
    }
    let valid_part = |p: &str| {
        p != "."
            && p != ".."
            && !p.starts_with('-')
            && !p.is_empty()
            && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    };
    if !zone.split('/').all(valid_part) {
        return Err(format!("unknown time zone {zone}"));
    }
    if zone.eq_ignore_ascii_case("Local") {
        return Err("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones".into());
    }
    if zone != "UTC" && jiff::tz::db().get(zone).is_err() {
        return Err(format!("unknown time zone {zone}"));
    }
    Ok(())
}

#[cfg(test)]
mod time_zone_tests {
    use super::check_time_zone;

    #[test]
    fn time_zones_are_checked_like_upstream() {
        assert!(check_time_zone("Europe/Berlin").is_ok());
        assert!(check_time_zone("UTC").is_ok());
        assert_eq!(check_time_zone("Mars/Olympus"), Err("unknown time zone Mars/Olympus".into()));
        assert_eq!(check_time_zone("../etc"), Err("unknown time zone ../etc".into()));
        assert!(check_time_zone("Local").unwrap_err().starts_with("timeZone must be an explicit time zone"));
    }
}
