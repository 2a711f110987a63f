//! Bodies built with k8s-pb's prost types, as client-go would send them;
//! expected JSON written from upstream's JSON conventions.

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::authentication::v1 as authn;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::policy::v1 as policy;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message as _;
use serde_json::json;

use super::schema::{self, Ty};
use super::{decode, decode_as, descriptors, encode, supports, ProtobufError};

fn envelope(api_version: &str, kind: &str, object: &impl prost::Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta { api_version: Some(api_version.into()), kind: Some(kind.into()) }),
        raw: Some(object.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn meta(name: &str, namespace: Option<&str>) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta { name: s(name), namespace: namespace.map(str::to_string), ..Default::default() })
}

fn int_port(p: i32) -> Option<IntOrString> {
    Some(IntOrString { r#type: Some(0), int_val: Some(p), str_val: Some(String::new()) })
}

fn str_port(p: &str) -> Option<IntOrString> {
    Some(IntOrString { r#type: Some(1), int_val: Some(0), str_val: s(p) })
}

fn q(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

/// Decodes, compares, and checks that encode → decode gives the same JSON.
fn check(body: &[u8], expected: serde_json::Value) {
    let decoded = decode(body).unwrap();
    assert_eq!(decoded, expected);
    let reencoded = encode(&decoded).unwrap();
    assert_eq!(decode(&reencoded).unwrap(), expected, "round trip");
}

#[test]
fn config_map_with_labels_data_and_binary_data() {
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("cfg"),
            namespace: s("default"),
            labels: BTreeMap::from([("app".into(), "web".into())]),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        data: BTreeMap::from([("a".into(), "1".into()), ("empty".into(), String::new())]),
        binary_data: BTreeMap::from([("bin".into(), vec![0u8, 1, 2, 255])]),
        immutable: Some(false),
    };
    check(
        &envelope("v1", "ConfigMap", &cm),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "cfg",
                "namespace": "default",
                "labels": {"app": "web"},
                "creationTimestamp": null
            },
            "data": {"a": "1", "empty": ""},
            "binaryData": {"bin": "AAEC/w=="},
            "immutable": false
        }),
    );
}

#[test]
fn namespace() {
    let ns =
        core::Namespace { metadata: meta("team-a", None), spec: Some(core::NamespaceSpec::default()), status: None };
    check(
        &envelope("v1", "Namespace", &ns),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {}}),
    );
}

fn deployment() -> apps::Deployment {
    let container = core::Container {
        name: s("web"),
        image: s("nginx:1.27"),
        args: vec!["--port".into(), "8080".into()],
        ports: vec![core::ContainerPort {
            name: s("http"),
            container_port: Some(8080),
            protocol: s("TCP"),
            ..Default::default()
        }],
        env: vec![core::EnvVar { name: s("MODE"), value: s("prod"), value_from: None }],
        resources: Some(core::ResourceRequirements {
            limits: BTreeMap::from([("memory".into(), q("128Mi"))]),
            requests: BTreeMap::from([("cpu".into(), q("250m"))]),
            claims: vec![],
        }),
        liveness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/healthz"),
                    port: str_port("http"),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(5),
            ..Default::default()
        }),
        readiness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                tcp_socket: Some(core::TcpSocketAction { port: int_port(8080), host: None }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            namespace: s("prod"),
            uid: s("0b5e-uid"),
            creation_timestamp: Some(meta::Time { seconds: Some(1_704_164_645), nanos: Some(0) }),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(3),
            selector: Some(meta::LabelSelector {
                match_labels: BTreeMap::from([("app".into(), "web".into())]),
                match_expressions: vec![],
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: BTreeMap::from([("app".into(), "web".into())]),
                    ..Default::default()
                }),
                spec: Some(core::PodSpec {
                    containers: vec![container],
                    host_ipc: Some(false), /* a Go zero value: left out of the JSON */
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: str_port("25%"),
                    max_surge: int_port(1),
                }),
            }),
            ..Default::default()
        }),
        status: None,
    }
}

fn deployment_json() -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "prod",
            "uid": "0b5e-uid",
            "creationTimestamp": "2024-01-02T03:04:05Z"
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "nginx:1.27",
                        "args": ["--port", "8080"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "env": [{"name": "MODE", "value": "prod"}],
                        "resources": {
                            "limits": {"memory": "128Mi"},
                            "requests": {"cpu": "250m"}
                        },
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "initialDelaySeconds": 5
                        },
                        "readinessProbe": {"tcpSocket": {"port": 8080}}
                    }]
                }
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}
            }
        }
    })
}

#[test]
fn deployment_with_quantities_probes_and_int_or_string() {
    check(&envelope("apps/v1", "Deployment", &deployment()), deployment_json());
}

#[test]
fn secret_bytes_are_base64() {
    let secret = core::Secret {
        metadata: meta("creds", Some("default")),
        data: BTreeMap::from([("password".into(), b"s3cr3t!".to_vec())]),
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
        immutable: None,
    };
    check(
        &envelope("v1", "Secret", &secret),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default"},
            "data": {"password": "czNjcjN0IQ=="},
            "type": "Opaque"
        }),
    );
}

#[test]
fn service_with_target_port_and_cluster_ips() {
    let svc = core::Service {
        metadata: meta("web", Some("default")),
        spec: Some(core::ServiceSpec {
            ports: vec![
                core::ServicePort {
                    name: s("http"),
                    port: Some(80),
                    target_port: str_port("http"),
                    protocol: s("TCP"),
                    ..Default::default()
                },
                core::ServicePort {
                    name: s("metrics"),
                    port: Some(9090),
                    target_port: int_port(9091),
                    ..Default::default()
                },
            ],
            cluster_ips: vec!["10.43.0.20".into()],
            r#type: s("ClusterIP"),
            ..Default::default()
        }),
        status: None,
    };
    check(
        &envelope("v1", "Service", &svc),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                    {"name": "metrics", "port": 9090, "targetPort": 9091}
                ],
                "clusterIPs": ["10.43.0.20"],
                "type": "ClusterIP"
            }
        }),
    );
}

#[test]
fn self_subject_review() {
    // `kubectl auth whoami` sends an empty review.
    let review = authn::SelfSubjectReview {
        metadata: Some(meta::ObjectMeta { creation_timestamp: Some(meta::Time::default()), ..Default::default() }),
        status: Some(authn::SelfSubjectReviewStatus {
            user_info: Some(authn::UserInfo {
                username: s("alice"),
                groups: vec!["dev".into(), "system:authenticated".into()],
                extra: BTreeMap::from([("scopes".into(), authn::ExtraValue { items: vec!["a".into(), "b".into()] })]),
                ..Default::default()
            }),
        }),
    };
    check(
        &envelope("authentication.k8s.io/v1", "SelfSubjectReview", &review),
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {"creationTimestamp": null},
            "status": {"userInfo": {
                "username": "alice",
                "groups": ["dev", "system:authenticated"],
                "extra": {"scopes": ["a", "b"]}
            }}
        }),
    );
}

#[test]
fn token_request() {
    let tr = authn::TokenRequest {
        metadata: meta("default", Some("kube-system")),
        spec: Some(authn::TokenRequestSpec {
            audiences: vec!["https://kubernetes.default.svc".into()],
            expiration_seconds: Some(3600),
            bound_object_ref: Some(authn::BoundObjectReference {
                kind: s("Pod"),
                api_version: s("v1"),
                name: s("web-0"),
                u_id: s("1234"),
            }),
        }),
        status: Some(authn::TokenRequestStatus {
            token: s("eyJ"),
            expiration_timestamp: Some(meta::Time { seconds: Some(0), nanos: Some(500_000_000) }),
        }),
    };
    check(
        &envelope("authentication.k8s.io/v1", "TokenRequest", &tr),
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {"name": "default", "namespace": "kube-system"},
            "spec": {
                "audiences": ["https://kubernetes.default.svc"],
                "expirationSeconds": 3600,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-0", "uid": "1234"}
            },
            "status": {"token": "eyJ", "expirationTimestamp": "1970-01-01T00:00:00Z"}
        }),
    );
}

fn delete_options() -> meta::DeleteOptions {
    meta::DeleteOptions {
        grace_period_seconds: Some(30),
        propagation_policy: s("Foreground"),
        preconditions: Some(meta::Preconditions { uid: s("u-1"), resource_version: None }),
        dry_run: vec!["All".into()],
        ..Default::default()
    }
}

#[test]
fn delete_options_in_any_group_version() {
    let expected = |api_version: &str| {
        json!({
            "apiVersion": api_version,
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 30,
            "propagationPolicy": "Foreground",
            "preconditions": {"uid": "u-1"},
            "dryRun": ["All"]
        })
    };
    for gv in ["v1", "apps/v1", "meta.k8s.io/v1"] {
        check(&envelope(gv, "DeleteOptions", &delete_options()), expected(gv));
    }
}

#[test]
fn decode_as_fills_an_empty_type_meta() {
    let unknown = Unknown {
        type_meta: None,
        raw: Some(delete_options().encode_to_vec()),
        content_encoding: None,
        content_type: None,
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    let v = decode_as(&body, "v1", "DeleteOptions").unwrap();
    assert_eq!(v["kind"], "DeleteOptions");
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["gracePeriodSeconds"], 30);
    assert_eq!(decode(&body), Err(ProtobufError::UnknownKind { api_version: String::new(), kind: String::new() }));
}

#[test]
fn eviction() {
    let ev = policy::Eviction {
        metadata: meta("web-0", Some("prod")),
        delete_options: Some(meta::DeleteOptions { grace_period_seconds: Some(0), ..Default::default() }),
    };
    check(
        &envelope("policy/v1", "Eviction", &ev),
        json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": "web-0", "namespace": "prod"},
            "deleteOptions": {"gracePeriodSeconds": 0}
        }),
    );
}

#[test]
fn micro_time_raw_extension_fields_v1_and_negative_int32() {
    use k8s_pb::api::apps::v1::ControllerRevision;
    use k8s_pb::api::coordination::v1::{Lease, LeaseSpec};
    use k8s_pb::apimachinery::pkg::runtime::RawExtension;
    let lease = Lease {
        metadata: Some(meta::ObjectMeta {
            name: s("node-1"),
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl"),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 { raw: Some(br#"{"f:spec":{}}"#.to_vec()) }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        spec: Some(LeaseSpec {
            renew_time: Some(meta::MicroTime { seconds: Some(1_704_164_645), nanos: Some(123_456_789) }),
            lease_duration_seconds: Some(-1),
            ..Default::default()
        }),
    };
    check(
        &envelope("coordination.k8s.io/v1", "Lease", &lease),
        json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "node-1", "managedFields": [
                {"manager": "kubectl", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}
            ]},
            "spec": {"renewTime": "2024-01-02T03:04:05.123456Z", "leaseDurationSeconds": -1}
        }),
    );
    let rev = ControllerRevision {
        metadata: meta("r1", Some("prod")),
        data: Some(RawExtension { raw: Some(br#"{"spec":{"replicas":2}}"#.to_vec()) }),
        revision: Some(7),
    };
    check(
        &envelope("apps/v1", "ControllerRevision", &rev),
        json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": "r1", "namespace": "prod"},
            "data": {"spec": {"replicas": 2}},
            "revision": 7
        }),
    );
}

#[test]
fn unknown_fields_are_skipped() {
    let mut raw = core::Namespace { metadata: meta("x", None), ..Default::default() }.encode_to_vec();
    // Field 99 of every wire type: varint, fixed64, bytes, fixed32.
    raw.extend([0x98, 0x06, 0x01]);
    raw.extend([0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]);
    raw.extend([0x9a, 0x06, 0x02, b'h', b'i']);
    raw.extend([0x9d, 0x06, 1, 2, 3, 4]);
    let unknown = Unknown {
        type_meta: Some(TypeMeta { api_version: s("v1"), kind: s("Namespace") }),
        raw: Some(raw),
        ..Default::default()
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    assert_eq!(decode(&body).unwrap(), json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}));
}

#[test]
fn errors() {
    assert_eq!(decode(b"{\"kind\":\"Pod\"}"), Err(ProtobufError::BadMagic));
    assert_eq!(decode(b"k8s"), Err(ProtobufError::BadMagic));
    let body = envelope("example.com/v1", "Widget", &core::Namespace::default());
    assert_eq!(
        decode(&body),
        Err(ProtobufError::UnknownKind { api_version: "example.com/v1".into(), kind: "Widget".into() })
    );
    let full = envelope("apps/v1", "Deployment", &deployment());
    assert_eq!(decode(&full[..full.len() - 3]), Err(ProtobufError::Truncated));
    // metadata (field 1) sent as a varint.
    let unknown = Unknown {
        type_meta: Some(TypeMeta { api_version: s("v1"), kind: s("Namespace") }),
        raw: Some(vec![0x08, 0x01]),
        ..Default::default()
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    let err = decode(&body).unwrap_err();
    assert!(matches!(&err, ProtobufError::Malformed(m) if m.contains("metadata")), "{err}");
    let gzip = Unknown { content_encoding: s("gzip"), ..unknown };
    let mut body = b"k8s\0".to_vec();
    body.extend(gzip.encode_to_vec());
    assert_eq!(decode(&body), Err(ProtobufError::UnsupportedEncoding("gzip".into())));
    assert!(matches!(
        encode(&json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": 1}})),
        Err(ProtobufError::Encode(_))
    ));
}

#[test]
fn random_and_truncated_input_never_panics() {
    // xorshift: deterministic, no extra dependency.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid = envelope("apps/v1", "Deployment", &deployment());
    for cut in 0..valid.len() {
        let _ = decode(&valid[..cut]);
    }
    for _ in 0..20_000 {
        let mut body = valid.clone();
        for _ in 0..(next() % 4 + 1) {
            let i = (next() as usize) % body.len();
            body[i] = next() as u8;
        }
        let _ = decode(&body);
        let len = (next() % 64) as usize;
        let mut junk = b"k8s\0".to_vec();
        junk.extend((0..len).map(|_| next() as u8));
        let _ = decode(&junk);
    }
    // Deep nesting (objects embedded in RawExtensions) is refused, not a stack overflow.
    use k8s_pb::api::apps::v1::ControllerRevision;
    use k8s_pb::apimachinery::pkg::runtime::RawExtension;
    let mut deep = envelope("apps/v1", "ControllerRevision", &ControllerRevision::default());
    for _ in 0..1_000 {
        let rev = ControllerRevision { data: Some(RawExtension { raw: Some(deep) }), ..Default::default() };
        deep = envelope("apps/v1", "ControllerRevision", &rev);
    }
    let err = decode(&deep).unwrap_err();
    assert!(matches!(&err, ProtobufError::Malformed(m) if m.contains("deeper")), "{err}");
    assert_eq!(decode_as(&[b"k8s\0".as_slice(), &[0x12]].concat(), "v1", "Pod"), Err(ProtobufError::Truncated));
}

#[test]
fn encode_produces_what_prost_decodes() {
    let body = encode(&deployment_json()).unwrap();
    let unknown = Unknown::decode(&body[4..]).unwrap();
    let tm = unknown.type_meta.unwrap();
    assert_eq!((tm.api_version.as_deref(), tm.kind.as_deref()), (Some("apps/v1"), Some("Deployment")));
    let d = apps::Deployment::decode(unknown.raw.unwrap().as_slice()).unwrap();
    assert_eq!(d, deployment_without_zero_defaults());
    assert!(supports("apps/v1", "Deployment"));
    assert!(supports("v1", "DeleteOptions"));
    assert!(!supports("example.com/v1", "Widget"));
}

/// `deployment()` minus what JSON cannot carry (explicit zero nanos, the
/// unused half of IntOrString), which is what encode reproduces.
fn deployment_without_zero_defaults() -> apps::Deployment {
    let mut d = deployment();
    if let Some(m) = d.metadata.as_mut() {
        m.creation_timestamp = Some(meta::Time { seconds: Some(1_704_164_645), nanos: None });
    }
    let spec = d.spec.as_mut().unwrap();
    let ru = spec.strategy.as_mut().unwrap().rolling_update.as_mut().unwrap();
    ru.max_unavailable.as_mut().unwrap().int_val = None;
    ru.max_surge.as_mut().unwrap().str_val = None;
    let c = &mut spec.template.as_mut().unwrap().spec.as_mut().unwrap().containers[0];
    let probe = c.liveness_probe.as_mut().unwrap().handler.as_mut().unwrap();
    probe.http_get.as_mut().unwrap().port.as_mut().unwrap().int_val = None;
    let probe = c.readiness_probe.as_mut().unwrap().handler.as_mut().unwrap();
    probe.tcp_socket.as_mut().unwrap().port.as_mut().unwrap().str_val = None;
    // A Go zero value the JSON leaves out.
    spec.template.as_mut().unwrap().spec.as_mut().unwrap().host_ipc = None;
    d
}

#[test]
fn go_durations() {
    use super::decode::go_duration;
    use super::encode::parse_go_duration;
    for (nanos, text) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (1_500_000, "1.5ms"),
        (1_000_000_000, "1s"),
        (90_000_000_000, "1m30s"),
        (3_723_000_000_000, "1h2m3s"),
        (3_600_000_000_000, "1h0m0s"),
        (-2_500_000_000, "-2.5s"),
    ] {
        assert_eq!(go_duration(nanos), text);
        assert_eq!(parse_go_duration(text), Some(nanos), "{text}");
    }
    assert_eq!(parse_go_duration("1x"), None);
    assert_eq!(parse_go_duration("1.2.3s"), None);
    assert_eq!(parse_go_duration(""), None);
}

#[test]
fn table_is_consistent() {
    assert!(descriptors::MESSAGES.len() < usize::from(u16::MAX));
    for m in descriptors::MESSAGES {
        for f in m.fields {
            if let Ty::Message(id) = f.ty {
                assert!(usize::from(id) < descriptors::MESSAGES.len(), "{}", m.name);
            }
        }
        assert!(m.fields.windows(2).all(|w| w[0].tag < w[1].tag), "{}", m.name);
    }
    assert!(descriptors::MESSAGES.windows(2).all(|w| w[0].name < w[1].name));
    assert!(descriptors::KINDS.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
    // Every group the brief names resolves for a typical kind.
    for (gv, kind) in [
        ("v1", "Pod"),
        ("apps/v1", "StatefulSet"),
        ("batch/v1", "CronJob"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("networking.k8s.io/v1", "Ingress"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("coordination.k8s.io/v1", "Lease"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("storage.k8s.io/v1", "StorageClass"),
        ("policy/v1", "PodDisruptionBudget"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("events.k8s.io/v1", "Event"),
        ("node.k8s.io/v1", "RuntimeClass"),
        ("certificates.k8s.io/v1", "CertificateSigningRequest"),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("v1", "PodList"),
    ] {
        let id = schema::message_for_kind(gv, kind).unwrap_or_else(|| panic!("{gv} {kind}"));
        assert!(schema::message(id).name.ends_with(&format!(".{kind}")));
    }
}

#[test]
#[ignore = "timing; run with --ignored --nocapture in release"]
fn measure_decode_speed() {
    let body = envelope("apps/v1", "Deployment", &deployment());
    let start = std::time::Instant::now();
    let n = 20_000;
    for _ in 0..n {
        std::hint::black_box(decode(std::hint::black_box(&body)).unwrap());
    }
    let per = start.elapsed() / n;
    let json = serde_json::to_vec(&deployment_json()).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&json).unwrap());
    }
    println!(
        "decode Deployment ({} bytes): {per:?}; serde_json of the same object: {:?}",
        body.len(),
        start.elapsed() / n
    );
}
