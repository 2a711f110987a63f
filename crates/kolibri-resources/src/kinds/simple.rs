//! Kinds whose rules are few: defaults of a field or two, a field selector, generation
//! tracking, or nothing beyond the generic strategy.

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenReview};
use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
};
use k8s_openapi::api::autoscaling::{v1 as autoscaling_v1, v2 as autoscaling_v2};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Binding, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::events::v1::Event as EventsEvent;
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::api::node::v1::RuntimeClass;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::{CSINode, CSIStorageCapacity, VolumeAttachment};
use serde_json::Value;

use crate::defaults::str_default;
use crate::field_error::{FieldError, FieldPath};
use crate::typed::{str_at, Kind};

impl Kind for ServiceAccount {}
impl Kind for Binding {}
impl Kind for ControllerRevision {}
impl Kind for Lease {}
impl Kind for CSINode {}
impl Kind for CSIStorageCapacity {}
impl Kind for VolumeAttachment {}
impl Kind for EventsEvent {}
impl Kind for RuntimeClass {}

impl Kind for IngressClass {
    const GENERATION: bool = true;
}

impl Kind for PodDisruptionBudget {
    const GENERATION: bool = true;
}

impl Kind for autoscaling_v1::HorizontalPodAutoscaler {
    fn default(&mut self) {
        self.spec.get_or_insert_with(Default::default).min_replicas.get_or_insert(1);
    }
}

impl Kind for autoscaling_v2::HorizontalPodAutoscaler {
    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.min_replicas.get_or_insert(1);
        if spec.metrics.as_ref().is_none_or(Vec::is_empty) {
            // 80% average CPU utilization, as upstream's `DefaultCPUUtilization`.
            spec.metrics = Some(vec![autoscaling_v2::MetricSpec {
                type_: "Resource".into(),
                resource: Some(autoscaling_v2::ResourceMetricSource {
                    name: "cpu".into(),
                    target: autoscaling_v2::MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(80),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]);
        }
    }
}

impl Kind for EndpointSlice {
    const GENERATION: bool = true;
    const GENERATION_FIELDS: &'static [&'static str] = &["addressType", "endpoints", "ports"];

    fn default(&mut self) {
        for port in self.ports.iter_mut().flatten() {
            str_default(&mut port.protocol, "TCP");
            port.name.get_or_insert_with(String::new);
        }
    }
}

impl Kind for PriorityClass {
    fn default(&mut self) {
        str_default(&mut self.preemption_policy, "PreemptLowerPriority");
    }
}

impl Kind for CertificateSigningRequest {
    const FIELDS: &'static [&'static str] = &["spec.signerName"];

    /// Upstream's rules for what the signers rely on: a signer, and a lifetime of at
    /// least ten minutes when one is asked for.
    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = FieldPath::new("spec");
        if self.spec.signer_name.is_empty() {
            errs.push(FieldError::required(&spec.child("signerName"), ""));
        }
        if let Some(seconds) = self.spec.expiration_seconds.filter(|s| *s < 600) {
            errs.push(FieldError::invalid(
                &spec.child("expirationSeconds"),
                seconds,
                "may not specify a duration less than 600 seconds (10 minutes)",
            ));
        }
        errs
    }

    /// The request and its requester never change after create (upstream's strategy).
    fn prepare_for_update(&mut self, old: &Self) {
        self.spec = old.spec.clone();
    }

    fn field_value(obj: &Value, field: &str) -> Option<String> {
        Some(str_at(obj, field))
    }
}

/// Create-only reviews: never stored, their metadata is not validated.
macro_rules! review {
    ($($t:ty),*) => {$(
        impl Kind for $t {
            const VALIDATE_META: bool = false;
        }
    )*};
}

review!(
    TokenReview,
    SelfSubjectReview,
    SubjectAccessReview,
    SelfSubjectAccessReview,
    SelfSubjectRulesReview,
    LocalSubjectAccessReview
);
