//! Pod (`pkg/registry/core/pod/strategy.go`, `SetDefaults_Pod`, `ValidatePodCreate`/`Update`).

use k8s_openapi::api::core::v1::{Pod, PodCondition, PodSpec, PodStatus};
use serde_json::Value;

use crate::defaults;
use crate::field_error::{FieldError, FieldPath};
use crate::typed::{str_at, Kind};
use crate::validation::{pod, quantity};

impl Kind for Pod {
    const GENERATION: bool = true;
    const FIELDS: &'static [&'static str] = &[
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ];

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        defaults::pod::spec_defaults(spec);
        defaults::pod::pod_only(spec);
    }

    fn prepare_for_create(&mut self) {
        let spec = self.spec.clone().unwrap_or_default();
        let mut status =
            PodStatus { phase: Some("Pending".into()), qos_class: Some(qos_class(&spec).into()), ..Default::default() };
        if spec.scheduling_gates.as_ref().is_some_and(|g| !g.is_empty()) {
            status.conditions = Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("SchedulingGated".into()),
                message: Some("Scheduling is blocked due to non-empty scheduling gates".into()),
                last_transition_time: Some(crate::typed::now()),
                ..Default::default()
            }]);
        }
        self.status = Some(status);
    }

    fn validate(&self) -> Vec<FieldError> {
        let spec_path = FieldPath::new("spec");
        let Some(spec) = &self.spec else {
            return vec![FieldError::required(&spec_path.child("containers"), "")];
        };
        let mut errs = pod::validate_spec(spec, &spec_path);
        if spec.ephemeral_containers.as_ref().is_some_and(|e| !e.is_empty()) {
            errs.push(FieldError::forbidden(&spec_path.child("ephemeralContainers"), "cannot be set on create"));
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let spec_path = FieldPath::new("spec");
        let new_spec = self.spec.clone().unwrap_or_default();
        let old_spec = old.spec.clone().unwrap_or_default();
        let mut errs = pod::validate_spec(&new_spec, &spec_path);
        errs.extend(pod::validate_spec_update(&new_spec, &old_spec, &spec_path));
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        self.spec.as_ref().map_or(Ok(()), pod::check_quantities)
    }

    fn field_value(obj: &Value, field: &str) -> Option<String> {
        Some(match field {
            "spec.hostNetwork" => {
                let v = obj.pointer("/spec/hostNetwork").and_then(Value::as_bool).unwrap_or(false);
                v.to_string()
            }
            "status.podIP" => obj
                .pointer("/status/podIPs/0/ip")
                .and_then(Value::as_str)
                .map_or_else(|| str_at(obj, "status.podIP"), str::to_string),
            other => str_at(obj, other),
        })
    }
}

/// The pod's QoS class (`qos.GetPodQOS`), from the containers' cpu and memory.
pub(crate) fn qos_class(spec: &PodSpec) -> &'static str {
    use std::collections::BTreeMap;
    let mut requests: BTreeMap<String, f64> = BTreeMap::new();
    let mut limits: BTreeMap<String, f64> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    for c in containers {
        let resources = c.resources.clone().unwrap_or_default();
        for (name, q) in resources.requests.iter().flatten() {
            if let ("cpu" | "memory", Ok(v)) = (name.as_str(), quantity::parse(&q.0)) {
                if v > 0.0 {
                    *requests.entry(name.clone()).or_default() += v;
                }
            }
        }
        let mut found = Vec::new();
        for (name, q) in resources.limits.iter().flatten() {
            if let ("cpu" | "memory", Ok(v)) = (name.as_str(), quantity::parse(&q.0)) {
                if v > 0.0 {
                    found.push(name.as_str());
                    *limits.entry(name.clone()).or_default() += v;
                }
            }
        }
        if !(found.contains(&"cpu") && found.contains(&"memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed {
        for (name, req) in &requests {
            if limits.get(name).is_none_or(|l| (l - req).abs() > f64::EPSILON * l.abs().max(1.0)) {
                guaranteed = false;
            }
        }
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Registry;

    fn pods() -> std::sync::Arc<crate::ResourceDef> {
        Registry::builtin().get("", "v1", "pods").cloned().unwrap()
    }

    fn create(obj: Value) -> Value {
        let def = pods();
        let (mut obj, _) = def.strategy.normalize(obj).unwrap();
        def.strategy.default(&mut obj);
        def.strategy.prepare_for_create(&mut obj);
        obj
    }

    use super::*;

    #[test]
    fn minimal_pod_gets_upstream_defaults() {
        let obj = create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                "livenessProbe": {"httpGet": {"port": 80}}}],
                "volumes": [{"name": "s", "secret": {"secretName": "x"}}, {"name": "e"}]}
        }));
        let expected = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {
                "containers": [{
                    "name": "c", "image": "nginx", "imagePullPolicy": "Always",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "livenessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "volumes": [{"name": "s", "secret": {"secretName": "x", "defaultMode": 420}},
                            {"name": "e", "emptyDir": {}}],
                "dnsPolicy": "ClusterFirst",
                "enableServiceLinks": true,
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30
            },
            "status": {"phase": "Pending", "qosClass": "BestEffort"}
        });
        assert_eq!(obj, expected);
    }

    #[test]
    fn requests_default_to_limits_and_qos_is_guaranteed() {
        let obj = create(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25",
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}
        }));
        assert_eq!(obj["spec"]["containers"][0]["resources"]["requests"], json!({"cpu": "1", "memory": "1Gi"}));
        assert_eq!(obj["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(obj["status"]["qosClass"], "Guaranteed");
    }

    #[test]
    fn validation_messages() {
        let def = pods();
        let obj = create(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 70000}]}]}
        }));
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(
            msgs,
            [
                "spec.containers[0].image: Required value",
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
            ]
        );
        let obj = create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": []}}));
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(msgs, ["spec.containers: Required value"]);
    }

    #[test]
    fn update_may_change_only_images() {
        let def = pods();
        let old = create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": "c", "image": "a"}]}}));
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("b");
        assert!(def.strategy.validate_update(&new, &old).is_empty());
        assert!(def.strategy.bumps_generation(&new, &old));
        new["spec"]["restartPolicy"] = json!("Never");
        let errs = def.strategy.validate_update(&new, &old);
        assert_eq!(errs.len(), 1);
        assert!(errs[0]
            .message
            .starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"));
    }

    #[test]
    fn field_selector_values() {
        let def = pods();
        let obj = json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Running", "podIPs": [{"ip": "10.42.0.5"}]}});
        assert_eq!(def.strategy.field_value(&obj, "spec.nodeName").as_deref(), Some("n1"));
        assert_eq!(def.strategy.field_value(&obj, "spec.hostNetwork").as_deref(), Some("false"));
        assert_eq!(def.strategy.field_value(&obj, "status.podIP").as_deref(), Some("10.42.0.5"));
        assert_eq!(def.strategy.field_value(&obj, "spec.schedulerName").as_deref(), Some(""));
        assert_eq!(def.strategy.field_value(&obj, "spec.bogus"), None);
    }

    #[test]
    fn unknown_fields_and_malformed_input() {
        let def = pods();
        let (_, unknown) = def
            .strategy
            .normalize(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "labels": {"a": "b"}, "creationTimestamp": null},
                "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Always"}], "foo": 1}}))
            .unwrap();
        assert_eq!(unknown, ["spec.containers[0].imagePullPolicyy", "spec.foo"]);
        let err = def
            .strategy
            .normalize(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]}}))
            .unwrap_err();
        assert!(err.to_string().starts_with("spec.containers[0].ports[0].containerPort: invalid type"), "{err}");
        let err = def
            .strategy
            .normalize(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "lots"}}}]}}))
            .unwrap_err();
        assert!(err.to_string().starts_with("quantities must match the regular expression"), "{err}");
    }
}
