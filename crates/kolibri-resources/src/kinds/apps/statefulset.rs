//! StatefulSet (`SetDefaults_StatefulSet`, `ValidateStatefulSet`, `ValidateStatefulSetUpdate`).

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::PersistentVolumeClaimStatus;

use crate::defaults::{self, str_default};
use crate::field_error::{FieldError, FieldPath};
use crate::kinds::validate_selector_matches;
use crate::typed::Kind;
use crate::validation::{self, non_negative};

impl Kind for StatefulSet {
    const GENERATION: bool = true;

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        str_default(&mut spec.pod_management_policy, "OrderedReady");
        let strategy = spec.update_strategy.get_or_insert_with(StatefulSetUpdateStrategy::default);
        if strategy.type_.as_deref().is_none_or(str::is_empty) {
            strategy.type_ = Some("RollingUpdate".into());
            strategy.rolling_update.get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
        }
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            if let Some(ru) = strategy.rolling_update.as_mut() {
                ru.partition.get_or_insert(0);
            }
        }
        let retention = spec
            .persistent_volume_claim_retention_policy
            .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
        str_default(&mut retention.when_deleted, "Retain");
        str_default(&mut retention.when_scaled, "Retain");
        spec.replicas.get_or_insert(1);
        spec.revision_history_limit.get_or_insert(10);
        defaults::pod::template(&mut spec.template);
        for claim in spec.volume_claim_templates.iter_mut().flatten() {
            defaults::pod::pvc_spec(claim.spec.get_or_insert_with(Default::default));
            let status = claim.status.get_or_insert_with(PersistentVolumeClaimStatus::default);
            if status.phase.as_deref().is_none_or(str::is_empty) {
                status.phase = Some("Pending".into());
            }
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        non_negative(i64::from(spec.replicas.unwrap_or(0)), &path.child("replicas"), &mut errs);
        if let Some(policy) = spec.pod_management_policy.as_deref() {
            const POLICIES: &[&str] = &["OrderedReady", "Parallel"];
            if !POLICIES.contains(&policy) {
                errs.push(FieldError::not_supported(&path.child("podManagementPolicy"), policy, POLICIES));
            }
        }
        if let Some(t) = spec.update_strategy.as_ref().and_then(|s| s.type_.as_deref()) {
            const TYPES: &[&str] = &["OnDelete", "RollingUpdate"];
            if !TYPES.contains(&t) {
                errs.push(FieldError::not_supported(&path.child("updateStrategy").child("type"), t, TYPES));
            }
        }
        let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        validate_selector_matches(&spec.selector, labels, &path, &mut errs);
        errs.extend(validation::pod::validate_template(&spec.template, &path.child("template")));
        if let Some(policy) = spec.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) {
            if policy != "Always" {
                errs.push(FieldError::not_supported(
                    &path.child("template").child("spec").child("restartPolicy"),
                    policy,
                    &["Always"],
                ));
            }
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        let (Some(new), Some(old)) = (&self.spec, &old.spec) else { return errs };
        // Only these fields may change; everything else is compared.
        let mut munged = new.clone();
        munged.replicas = old.replicas;
        munged.ordinals.clone_from(&old.ordinals);
        munged.template.clone_from(&old.template);
        munged.update_strategy.clone_from(&old.update_strategy);
        munged.revision_history_limit = old.revision_history_limit;
        munged.persistent_volume_claim_retention_policy.clone_from(&old.persistent_volume_claim_retention_policy);
        munged.min_ready_seconds = old.min_ready_seconds;
        if &munged != old {
            errs.push(FieldError::forbidden(
                &FieldPath::new("spec"),
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        let Some(spec) = &self.spec else { return Ok(()) };
        if let Some(pod) = &spec.template.spec {
            validation::pod::check_quantities(pod)?;
        }
        for claim in spec.volume_claim_templates.iter().flatten() {
            let resources = claim.spec.as_ref().and_then(|s| s.resources.as_ref());
            validation::pod::check_list(resources.and_then(|r| r.requests.as_ref()))?;
        }
        Ok(())
    }
}
