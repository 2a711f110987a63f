//! Tests of the printers of storage, policy, autoscaling, discovery, certificates, scheduling,
//! node and admission kinds, quotas, pod templates and controller revisions. Expected cells
//! are written from upstream's printers and their tests.

use super::*;

// The fixed clock and the cell/column readers of the other printer tests.
use super::tests::printer_tests::{cells, cols, now};

/// Every kind printed here, with a row printer that tolerates any shape.
const KINDS: [(&str, &str); 23] = [
    ("", "ResourceQuota"),
    ("", "PodTemplate"),
    ("", "LimitRange"),
    ("apps", "ControllerRevision"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "CSIStorageCapacity"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("policy", "PodDisruptionBudget"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("coordination.k8s.io", "Lease"),
    ("events.k8s.io", "Event"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("storage.k8s.io", "Unknown"),
];

#[test]
fn every_kind_survives_odd_objects() {
    let odd = [
        json!({}),
        json!(null),
        json!({"metadata": 5, "spec": "x", "status": []}),
        json!([1, 2]),
        json!({"spec": {"metrics": [{"type": "Resource"}, {"type": "Pods", "pods": 3}], "paramRef": {"selector": 1}},
            "status": {"hard": {"cpu": {}}, "currentMetrics": [1]}, "ports": [{}], "endpoints": [{"addresses": [1]}]}),
    ];
    for (g, k) in KINDS {
        let (columns, print) = printer(g, k);
        assert!(columns.iter().any(|c| c.name == "Name"), "{k}");
        for o in &odd {
            assert_eq!(print(o, now()).len(), columns.len(), "{k} {o}");
        }
    }
}

#[test]
fn every_served_kind_with_an_upstream_printer_has_its_columns() {
    // Name and Age are the columns of custom resources only; create-only kinds have no tables.
    let registry = kolibri_resources::Registry::builtin();
    for def in registry.all() {
        let (columns, _) = printer(&def.group, &def.kind);
        let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
        if def.verbs.iter().all(|v| v == "create") {
            continue;
        }
        assert_ne!(names, ["Name", "Age"], "{}/{} {} has no columns of its own", def.group, def.version, def.kind);
    }
}

#[test]
fn column_definitions_keep_upstream_formats() {
    let t = column_definitions(&printer("storage.k8s.io", "VolumeAttachment").0);
    let formats: Vec<&str> = t.iter().filter_map(|c| c["format"].as_str()).collect();
    assert_eq!(formats, ["name", "name", "", "", "", ""]);
}

#[test]
fn resource_quota() {
    assert_eq!(
        cols("", "ResourceQuota"),
        [("Name", "string", 0), ("Request", "string", 0), ("Limit", "string", 0), ("Age", "string", 0)]
    );
    let q = json!({"metadata": {"name": "q"}, "status": {
        "hard": {"pods": "10", "cpu": "2", "limits.memory": "2Gi", "requests.memory": "1Gi", "limits.cpu": "4"},
        "used": {"pods": "3", "cpu": "1", "limits.cpu": "500m"}}});
    assert_eq!(
        cells("", "ResourceQuota", q),
        [
            json!("q"),
            json!("cpu: 1/2, pods: 3/10, requests.memory: 0/1Gi"),
            json!("limits.cpu: 500m/4, limits.memory: 0/2Gi"),
            json!("<unknown>")
        ]
    );
    // Only status counts: a quota not yet seen by the controller prints empty cells.
    let fresh = json!({"metadata": {"name": "f"}, "spec": {"hard": {"pods": "1"}}});
    assert_eq!(cells("", "ResourceQuota", fresh)[1..3], [json!(""), json!("")]);
}

#[test]
fn pod_template_and_limit_range() {
    assert_eq!(
        cols("", "PodTemplate"),
        [("Name", "string", 0), ("Containers", "string", 0), ("Images", "string", 0), ("Pod Labels", "string", 0)]
    );
    let t = json!({"metadata": {"name": "pt"}, "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
        "spec": {"containers": [{"name": "c1", "image": "i1"}, {"name": "c2", "image": "i2"}]}}});
    assert_eq!(cells("", "PodTemplate", t), [json!("pt"), json!("c1,c2"), json!("i1,i2"), json!("a=1,b=2")]);
    let t = json!({"metadata": {"name": "e"}, "template": {"spec": {"containers": []}}});
    assert_eq!(cells("", "PodTemplate", t), [json!("e"), json!(""), json!(""), json!("<none>")]);
    // No printer upstream: its default convertor's columns.
    assert_eq!(cols("", "LimitRange"), [("Name", "string", 0), ("Created At", "date", 0)]);
    let lr =
        json!({"metadata": {"name": "limits", "creationTimestamp": "2024-04-01T10:00:00Z"}, "spec": {"limits": []}});
    assert_eq!(cells("", "LimitRange", lr), [json!("limits"), json!("2024-04-01T10:00:00Z")]);
    assert_eq!(cols("apiextensions.k8s.io", "CustomResourceDefinition")[1], ("Created At", "date", 0));
}

#[test]
fn controller_revision() {
    // Upstream TestPrintControllerRevision.
    let owner = |controller: bool, api_version: &str, kind: &str| json!([{"controller": controller, "apiVersion": api_version, "kind": kind, "name": "foo", "uid": "u"}]);
    let cr = |name: &str, refs: Value, rev: i64| json!({"metadata": {"name": name, "ownerReferences": refs}, "revision": rev, "data": {}});
    assert_eq!(
        cells("apps", "ControllerRevision", cr("test1", owner(true, "apps/v1", "DaemonSet"), 1)),
        [json!("test1"), json!("daemonset.apps/foo"), json!(1), json!("<unknown>")]
    );
    assert_eq!(cells("apps", "ControllerRevision", cr("test2", owner(false, "", "ABC"), 2))[1], "<none>");
    assert_eq!(cells("apps", "ControllerRevision", cr("test3", json!([]), 3))[1], "<none>");
    assert_eq!(cells("apps", "ControllerRevision", cr("test4", owner(true, "v1", "Pod"), 4))[1], "pod/foo");
    assert_eq!(
        cols("apps", "ControllerRevision"),
        [("Name", "string", 0), ("Controller", "string", 0), ("Revision", "string", 0), ("Age", "string", 0)]
    );
}

#[test]
fn storage_classes() {
    assert_eq!(
        cols("storage.k8s.io", "StorageClass"),
        [
            ("Name", "string", 0),
            ("Provisioner", "string", 0),
            ("ReclaimPolicy", "string", 0),
            ("VolumeBindingMode", "string", 0),
            ("AllowVolumeExpansion", "string", 0),
            ("Age", "string", 0)
        ]
    );
    let sc = json!({"metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": true});
    assert_eq!(
        cells("storage.k8s.io", "StorageClass", sc),
        [
            json!("local-path (default)"),
            json!("rancher.io/local-path"),
            json!("Retain"),
            json!("WaitForFirstConsumer"),
            json!(true),
            json!("<unknown>")
        ]
    );
    let sc = json!({"metadata": {"name": "old", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}},
        "provisioner": "p"});
    assert_eq!(
        cells("storage.k8s.io", "StorageClass", sc)[..5],
        [json!("old (default)"), json!("p"), json!("Delete"), json!("Immediate"), json!(false)]
    );
    let sc =
        json!({"metadata": {"name": "no", "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}}});
    assert_eq!(cells("storage.k8s.io", "StorageClass", sc)[0], "no");
}

#[test]
fn csi_kinds_and_volume_attachments() {
    assert_eq!(
        cols("storage.k8s.io", "CSIDriver"),
        [
            ("Name", "string", 0),
            ("AttachRequired", "boolean", 0),
            ("PodInfoOnMount", "boolean", 0),
            ("StorageCapacity", "boolean", 0),
            ("TokenRequests", "string", 0),
            ("RequiresRepublish", "boolean", 0),
            ("Modes", "string", 0),
            ("Age", "string", 0)
        ]
    );
    let d = json!({"metadata": {"name": "d"}, "spec": {}});
    assert_eq!(
        cells("storage.k8s.io", "CSIDriver", d),
        [
            json!("d"),
            json!(true),
            json!(false),
            json!(false),
            json!("<unset>"),
            json!(false),
            json!("<none>"),
            json!("<unknown>")
        ]
    );
    let d = json!({"metadata": {"name": "d"}, "spec": {"attachRequired": false, "podInfoOnMount": true, "storageCapacity": true,
        "tokenRequests": [{"audience": "a"}, {"audience": "b"}], "requiresRepublish": true,
        "volumeLifecycleModes": ["Persistent", "Ephemeral"]}});
    assert_eq!(
        cells("storage.k8s.io", "CSIDriver", d)[1..7],
        [json!(false), json!(true), json!(true), json!("a,b"), json!(true), json!("Persistent,Ephemeral")]
    );
    let d = json!({"metadata": {"name": "d"}, "spec": {"tokenRequests": []}});
    assert_eq!(cells("storage.k8s.io", "CSIDriver", d)[4], "");

    let n = json!({"metadata": {"name": "n1"}, "spec": {"drivers": [{"name": "a", "nodeID": "x"}, {"name": "b", "nodeID": "y"}]}});
    assert_eq!(cells("storage.k8s.io", "CSINode", n), [json!("n1"), json!(2), json!("<unknown>")]);
    assert_eq!(
        cols("storage.k8s.io", "CSINode"),
        [("Name", "string", 0), ("Drivers", "integer", 0), ("Age", "string", 0)]
    );

    assert_eq!(
        cols("storage.k8s.io", "CSIStorageCapacity"),
        [("Name", "string", 0), ("StorageClassName", "string", 0), ("Capacity", "string", 0)]
    );
    let c = json!({"metadata": {"name": "c"}, "storageClassName": "fast", "capacity": "10Gi"});
    assert_eq!(cells("storage.k8s.io", "CSIStorageCapacity", c), [json!("c"), json!("fast"), json!("10Gi")]);
    let c = json!({"metadata": {"name": "c"}, "storageClassName": "fast"});
    assert_eq!(cells("storage.k8s.io", "CSIStorageCapacity", c)[2], "<unset>");

    assert_eq!(
        cols("storage.k8s.io", "VolumeAttachment"),
        [
            ("Name", "string", 0),
            ("Attacher", "string", 0),
            ("PV", "string", 0),
            ("Node", "string", 0),
            ("Attached", "boolean", 0),
            ("Age", "string", 0)
        ]
    );
    let va = json!({"metadata": {"name": "va"}, "spec": {"attacher": "csi.example.com", "nodeName": "n1",
        "source": {"persistentVolumeName": "pv1"}}, "status": {"attached": true}});
    assert_eq!(
        cells("storage.k8s.io", "VolumeAttachment", va),
        [json!("va"), json!("csi.example.com"), json!("pv1"), json!("n1"), json!(true), json!("<unknown>")]
    );
    let va = json!({"metadata": {"name": "inline"}, "spec": {"attacher": "a", "nodeName": "n", "source": {"inlineVolumeSpec": {}}}});
    assert_eq!(cells("storage.k8s.io", "VolumeAttachment", va)[2..5], [json!(""), json!("n"), json!(false)]);
}

#[test]
fn pod_disruption_budgets() {
    // Upstream TestPrintPodDisruptionBudget, plus a percentage.
    assert_eq!(
        cols("policy", "PodDisruptionBudget"),
        [
            ("Name", "string", 0),
            ("Min Available", "string", 0),
            ("Max Unavailable", "string", 0),
            ("Allowed Disruptions", "integer", 0),
            ("Age", "string", 0)
        ]
    );
    let pdb = json!({"metadata": {"name": "pdb1"}, "spec": {"minAvailable": 22}, "status": {"disruptionsAllowed": 5}});
    assert_eq!(
        cells("policy", "PodDisruptionBudget", pdb),
        [json!("pdb1"), json!("22"), json!("N/A"), json!(5), json!("<unknown>")]
    );
    let pdb = json!({"metadata": {"name": "pdb2"}, "spec": {"maxUnavailable": "25%"}});
    assert_eq!(cells("policy", "PodDisruptionBudget", pdb)[1..4], [json!("N/A"), json!("25%"), json!(0)]);
}

fn hpa(metrics: Value, current: Value) -> Value {
    json!({"metadata": {"name": "some-hpa"},
        "spec": {"scaleTargetRef": {"kind": "ReplicationController", "name": "some-rc"}, "minReplicas": 2, "maxReplicas": 10, "metrics": metrics},
        "status": {"currentReplicas": 4, "desiredReplicas": 5, "currentMetrics": current}})
}

#[test]
fn hpa_columns_and_cells() {
    assert_eq!(
        cols("autoscaling", "HorizontalPodAutoscaler"),
        [
            ("Name", "string", 0),
            ("Reference", "string", 0),
            ("Targets", "string", 0),
            ("MinPods", "string", 0),
            ("MaxPods", "string", 0),
            ("Replicas", "string", 0),
            ("Age", "string", 0)
        ]
    );
    // Upstream TestPrintHorizontalPodAutoscaler: no metrics.
    assert_eq!(
        cells("autoscaling", "HorizontalPodAutoscaler", hpa(json!([]), json!([]))),
        [
            json!("some-hpa"),
            json!("ReplicationController/some-rc"),
            json!("<none>"),
            json!("2"),
            json!(10),
            json!(4),
            json!("<unknown>")
        ]
    );
    let targets = |metrics: Value, current: Value| {
        cells("autoscaling", "HorizontalPodAutoscaler", hpa(metrics, current))[2]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let external_avg = json!([{"type": "External", "external": {"metric": {"name": "m"}, "target": {"type": "AverageValue", "averageValue": "100m"}}}]);
    assert_eq!(targets(external_avg.clone(), json!([])), "<unknown>/100m (avg)");
    let current =
        json!([{"type": "External", "external": {"metric": {"name": "m"}, "current": {"averageValue": "50m"}}}]);
    assert_eq!(targets(external_avg, current), "50m/100m (avg)");
    let external = json!([{"type": "External", "external": {"metric": {"name": "m"}, "target": {"type": "Value", "value": "100m"}}}]);
    let current = json!([{"type": "External", "external": {"metric": {"name": "m"}, "current": {"value": "50m"}}}]);
    assert_eq!(targets(external.clone(), json!([])), "<unknown>/100m");
    assert_eq!(targets(external, current), "50m/100m");
    let pods = json!([{"type": "Pods", "pods": {"metric": {"name": "m"}, "target": {"type": "AverageValue", "averageValue": "100m"}}}]);
    let current = json!([{"type": "Pods", "pods": {"metric": {"name": "m"}, "current": {"averageValue": "50m"}}}]);
    assert_eq!(targets(pods.clone(), json!([])), "<unknown>/100m");
    assert_eq!(targets(pods, current), "50m/100m");
    let object = json!([{"type": "Object", "object": {"metric": {"name": "m"}, "describedObject": {"kind": "Service", "name": "s"},
        "target": {"type": "Value", "value": "100m"}}}]);
    assert_eq!(targets(object, json!([])), "<unknown>/100m");
    let cpu_value = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "100m"}}}]);
    let current = json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "50m"}}}]);
    assert_eq!(targets(cpu_value.clone(), json!([])), "cpu: <unknown>/100m");
    assert_eq!(targets(cpu_value, current), "cpu: 50m/100m");
    let cpu = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]);
    let current = json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 50, "averageValue": "40m"}}}]);
    assert_eq!(targets(cpu.clone(), json!([])), "cpu: <unknown>/80%");
    assert_eq!(targets(cpu, current), "cpu: 50%/80%");
    let container = json!([{"type": "ContainerResource", "containerResource": {"name": "memory", "container": "app",
        "target": {"type": "Utilization"}}}]);
    assert_eq!(targets(container, json!([])), "memory: <unknown>/<auto>");
    assert_eq!(targets(json!([{"type": "Bogus"}]), json!([])), "<unknown type>");
    // Upstream's "multiple specs": the first two, then how many more.
    let multi = json!([
        {"type": "Pods", "pods": {"metric": {"name": "some-pods-metric"}, "target": {"type": "AverageValue", "averageValue": "100m"}}},
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
        {"type": "Pods", "pods": {"metric": {"name": "other-pods-metric"}, "target": {"type": "AverageValue", "averageValue": "400m"}}}
    ]);
    let current = json!([
        {"type": "Pods", "pods": {"metric": {"name": "some-pods-metric"}, "current": {"averageValue": "50m"}}},
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 50, "averageValue": "40m"}}}
    ]);
    assert_eq!(targets(multi, current), "50m/100m, cpu: 50%/80% + 1 more...");
}

#[test]
fn hpa_of_autoscaling_v1() {
    // A v1 object reads as upstream converts it: its CPU target as a Resource metric.
    let v1 = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3,
        "targetCPUUtilizationPercentage": 50}, "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 20}});
    assert_eq!(
        cells("autoscaling", "HorizontalPodAutoscaler", v1),
        [
            json!("h"),
            json!("Deployment/d"),
            json!("cpu: 20%/50%"),
            json!("<unset>"),
            json!(3),
            json!(1),
            json!("<unknown>")
        ]
    );
    // Without a target, v2 defaulting gives 80% average CPU utilization.
    let v1 = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 1, "maxReplicas": 3}});
    assert_eq!(cells("autoscaling", "HorizontalPodAutoscaler", v1)[2..4], [json!("cpu: <unknown>/80%"), json!("1")]);
}

#[test]
fn endpoint_slices() {
    assert_eq!(
        cols("discovery.k8s.io", "EndpointSlice"),
        [
            ("Name", "string", 0),
            ("AddressType", "string", 0),
            ("Ports", "string", 0),
            ("Endpoints", "string", 0),
            ("Age", "string", 0)
        ]
    );
    // Upstream TestPrintEndpointSlice.
    let es = json!({"metadata": {"name": "abcslice.123"}, "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.1.2.3", "2001:db8::1234:5678"]}]});
    assert_eq!(
        cells("discovery.k8s.io", "EndpointSlice", es),
        [json!("abcslice.123"), json!("IPv4"), json!("80"), json!("10.1.2.3,2001:db8::1234:5678"), json!("<unknown>")]
    );
    let es = json!({"metadata": {"name": "longerslicename.123"}, "addressType": "IPv6",
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
        "endpoints": [{"addresses": ["10.1.2.3", "2001:db8::1234:5678"]}, {"addresses": ["10.2.3.4", "2001:db8::2345:6789"]}]});
    assert_eq!(
        cells("discovery.k8s.io", "EndpointSlice", es)[2..4],
        [json!("80,443"), json!("10.1.2.3,2001:db8::1234:5678,10.2.3.4 + 1 more...")]
    );
    let es = json!({"metadata": {"name": "x"}, "addressType": "IPv4",
        "ports": [{"name": "a"}, {}, {"port": 1}, {"port": 2}, {"port": 3}], "endpoints": []});
    assert_eq!(cells("discovery.k8s.io", "EndpointSlice", es)[2..4], [json!("a,*,1 + 2 more..."), json!("<unset>")]);
    let es = json!({"metadata": {"name": "empty"}, "addressType": "IPv4"});
    assert_eq!(cells("discovery.k8s.io", "EndpointSlice", es)[2..4], [json!("<unset>"), json!("<unset>")]);
}

#[test]
fn certificate_signing_requests() {
    assert_eq!(
        cols("certificates.k8s.io", "CertificateSigningRequest"),
        [
            ("Name", "string", 0),
            ("Age", "string", 0),
            ("SignerName", "string", 0),
            ("Requestor", "string", 0),
            ("RequestedDuration", "string", 0),
            ("Condition", "string", 0)
        ]
    );
    let csr = |status: Value| {
        json!({"metadata": {"name": "csr1"}, "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice",
            "expirationSeconds": 86400, "request": "", "usages": []}, "status": status})
    };
    assert_eq!(
        cells("certificates.k8s.io", "CertificateSigningRequest", csr(json!({}))),
        [
            json!("csr1"),
            json!("<unknown>"),
            json!("kubernetes.io/kube-apiserver-client"),
            json!("alice"),
            json!("24h"),
            json!("Pending")
        ]
    );
    let approved = json!({"conditions": [{"type": "Approved", "status": "True"}], "certificate": "Y2VydA=="});
    assert_eq!(cells("certificates.k8s.io", "CertificateSigningRequest", csr(approved))[5], "Approved,Issued");
    let denied = json!({"conditions": [{"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"},
        {"type": "Failed", "status": "True"}]});
    assert_eq!(cells("certificates.k8s.io", "CertificateSigningRequest", csr(denied))[5], "Denied,Failed");
    let bare = json!({"metadata": {"name": "b"}, "spec": {"expirationSeconds": 600}});
    assert_eq!(
        cells("certificates.k8s.io", "CertificateSigningRequest", bare)[2..5],
        [json!("<none>"), json!(""), json!("10m")]
    );
    let none = json!({"metadata": {"name": "b"}, "spec": {}});
    assert_eq!(cells("certificates.k8s.io", "CertificateSigningRequest", none)[4], "<none>");
}

#[test]
fn priority_and_runtime_classes() {
    assert_eq!(
        cols("scheduling.k8s.io", "PriorityClass"),
        [
            ("Name", "string", 0),
            ("Value", "integer", 0),
            ("Global-Default", "boolean", 0),
            ("Age", "string", 0),
            ("PreemptionPolicy", "string", 0)
        ]
    );
    let pc = json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000, "globalDefault": false,
        "preemptionPolicy": "PreemptLowerPriority"});
    assert_eq!(
        cells("scheduling.k8s.io", "PriorityClass", pc),
        [
            json!("system-node-critical"),
            json!(2000001000),
            json!(false),
            json!("<unknown>"),
            json!("PreemptLowerPriority")
        ]
    );
    let pc = json!({"metadata": {"name": "p"}, "value": -5, "globalDefault": true});
    assert_eq!(
        cells("scheduling.k8s.io", "PriorityClass", pc)[1..],
        [json!(-5), json!(true), json!("<unknown>"), json!("")]
    );

    assert_eq!(
        cols("node.k8s.io", "RuntimeClass"),
        [("Name", "string", 0), ("Handler", "string", 0), ("Age", "string", 0)]
    );
    let rc = json!({"metadata": {"name": "gvisor"}, "handler": "runsc"});
    assert_eq!(cells("node.k8s.io", "RuntimeClass", rc), [json!("gvisor"), json!("runsc"), json!("<unknown>")]);
}

#[test]
fn admission_configurations_and_policies() {
    for kind in ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"] {
        assert_eq!(
            cols("admissionregistration.k8s.io", kind),
            [("Name", "string", 0), ("Webhooks", "integer", 0), ("Age", "string", 0)]
        );
        let w = json!({"metadata": {"name": "w"}, "webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}]});
        assert_eq!(cells("admissionregistration.k8s.io", kind, w), [json!("w"), json!(2), json!("<unknown>")]);
        assert_eq!(cells("admissionregistration.k8s.io", kind, json!({"metadata": {"name": "e"}}))[1], 0);
    }
    assert_eq!(
        cols("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        [("Name", "string", 0), ("Validations", "integer", 0), ("ParamKind", "string", 0), ("Age", "string", 0)]
    );
    let vap = json!({"metadata": {"name": "p"}, "spec": {"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
        "validations": [{"expression": "true"}, {"expression": "false"}]}});
    assert_eq!(
        cells("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", vap),
        [json!("p"), json!(2), json!("v1/ConfigMap"), json!("<unknown>")]
    );
    let vap = json!({"metadata": {"name": "p"}, "spec": {"validations": [{"expression": "true"}]}});
    assert_eq!(cells("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", vap)[2], "<unset>");

    assert_eq!(
        cols("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        [("Name", "string", 0), ("PolicyName", "string", 0), ("ParamRef", "string", 0), ("Age", "string", 0)]
    );
    let binding = |param: Value| {
        let b = json!({"metadata": {"name": "b"}, "spec": {"policyName": "p", "paramRef": param}});
        cells("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", b)
    };
    assert_eq!(
        binding(json!({"name": "cfg", "namespace": "ns"})),
        [json!("b"), json!("p"), json!("ns/cfg"), json!("<unknown>")]
    );
    assert_eq!(binding(json!({"name": "cfg"}))[2], "*/cfg");
    assert_eq!(binding(json!(null))[2], "<unset>");
    assert_eq!(binding(json!({"parameterNotFoundAction": "Deny"}))[2], "<unset>");
    assert_eq!(
        binding(json!({"selector": {"matchLabels": {"z": "1", "a": "2"},
            "matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}]}}))[2],
        "&LabelSelector{MatchLabels:map[string]string{a: 2,z: 1,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}"
    );
}

#[test]
fn ingress_class_parameters_as_upstream() {
    // Upstream TestPrintIngressClass: `Kind.apiGroup/name`.
    let ic = json!({"metadata": {"name": "test1"}, "spec": {"controller": "example.com/controller",
        "parameters": {"apiGroup": "example.com", "kind": "customgroup", "name": "example"}}});
    assert_eq!(cells("networking.k8s.io", "IngressClass", ic)[2], "customgroup.example.com/example");
}

#[test]
fn events_k8s_io_events_print_as_core_events() {
    assert_eq!(printer("events.k8s.io", "Event").0.len(), printer("", "Event").0.len());
    let e = json!({"metadata": {"name": "p.1"}, "type": "Warning", "reason": "BackOff", "note": "Back-off ",
        "regarding": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
        "reportingController": "kubelet", "reportingInstance": "n1", "eventTime": "2024-05-01T11:59:00.000000Z",
        "deprecatedCount": 4, "deprecatedFirstTimestamp": "2024-05-01T11:00:00Z", "deprecatedLastTimestamp": "2024-05-01T11:58:00Z"});
    assert_eq!(
        cells("events.k8s.io", "Event", e),
        [
            json!("2m"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/p"),
            json!("spec.containers{c}"),
            json!("kubelet, n1"),
            json!("Back-off"),
            json!("60m"),
            json!(4),
            json!("p.1")
        ]
    );
}

#[test]
fn scale_subresource_prints_as_scale() {
    assert_eq!(
        cols("autoscaling", "Scale"),
        [("Name", "string", 0), ("Desired", "integer", 0), ("Available", "integer", 0), ("Age", "string", 0)]
    );
    let registry = kolibri_resources::Registry::builtin();
    let Some(def) = registry.by_kind("apps", "v1", "Deployment") else { panic!("no Deployment") };
    let scale = json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "d"},
        "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=d"}});
    let t = table(def, &[scale], None, &Query::default(), true);
    let names: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["Name", "Desired", "Available", "Age"]);
    assert_eq!(t["columnDefinitions"][0]["format"], "");
    assert_eq!(t["rows"][0]["cells"], json!(["d", 3, 2, "<unknown>"]));
    // A Deployment itself keeps its own columns.
    let d = json!({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "d"}});
    let t = table(def, &[d], None, &Query::default(), true);
    assert_eq!(t["columnDefinitions"][1]["name"], "Ready");
}
