//! Server-side tables of more built-in kinds as kubectl prints them, `kubectl get all`,
//! `kubectl diff` (server dry-run) and `kubectl explain --recursive`, with kubectl 1.32 and 1.33.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;

/// One table of kubectl's output: the header's cells and each row's, cut at the columns'
/// offsets (kubectl aligns every column, and cells may contain single spaces).
#[derive(Debug)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// The row whose first cell is `name`.
    fn row(&self, name: &str) -> &[String] {
        self.rows
            .iter()
            .find(|r| r.first().map(String::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no row {name:?} in {self:?}"))
    }
}

/// Start offsets of the header's cells: a column starts after a run of two or more spaces
/// (kubectl pads columns with at least three; header words are one space apart).
fn column_starts(header: &str) -> Vec<usize> {
    let bytes = header.as_bytes();
    let mut starts = Vec::new();
    let mut spaces = 2;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b' ' {
            spaces += 1;
        } else {
            if spaces >= 2 {
                starts.push(i);
            }
            spaces = 0;
        }
    }
    starts
}

fn cut(line: &str, starts: &[usize]) -> Vec<String> {
    starts
        .iter()
        .enumerate()
        .map(|(i, &from)| {
            let to = starts.get(i + 1).copied().unwrap_or(line.len()).min(line.len());
            line.get(from.min(line.len())..to).unwrap_or_default().trim().to_string()
        })
        .collect()
}

/// Every table of an output; tables are separated by blank lines (as `kubectl get all` prints).
fn tables(out: &str) -> Vec<Table> {
    let mut result = Vec::new();
    for block in out.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut lines = block.lines().filter(|l| !l.trim().is_empty());
        let Some(header) = lines.next() else { continue };
        let starts = column_starts(header);
        result.push(Table { header: cut(header, &starts), rows: lines.map(|l| cut(l, &starts)).collect() });
    }
    result
}

/// The one table of `kubectl get` with `args`.
fn get_table(server: &common::Server, bin: &str, args: &[&str]) -> Table {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    let out = kc_ok(server, bin, &all);
    let mut found = tables(&out);
    assert_eq!(found.len(), 1, "one table expected: {out}");
    found.remove(0)
}

fn create(server: &common::Server, bin: &str, manifest: &str) {
    let out = kc_stdin(server, bin, &["create", "-f", "-"], manifest);
    assert!(out.status.success(), "create failed: {}\n{manifest}", String::from_utf8_lossy(&out.stderr));
}

fn cluster_objects(v: &str) -> String {
    format!(
        r#"apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast-{v}
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: example.com/fast
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: slow-{v}
provisioner: example.com/slow
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high-{v}
value: 1000
preemptionPolicy: Never
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: gvisor-{v}
handler: runsc
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: csi-{v}.example.com
spec:
  attachRequired: false
  podInfoOnMount: true
  volumeLifecycleModes: [Persistent, Ephemeral]
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata:
  name: va-{v}
spec:
  attacher: csi.example.com
  nodeName: node-1
  source:
    persistentVolumeName: pv-1
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vwc-{v}
webhooks:
- name: a.example.com
  clientConfig:
    url: https://example.com/validate
  rules:
  - operations: [CREATE]
    apiGroups: [example.com]
    apiVersions: [v1]
    resources: [widgets]
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]
- name: b.example.com
  clientConfig:
    url: https://example.com/validate
  rules:
  - operations: [CREATE]
    apiGroups: [example.com]
    apiVersions: [v1]
    resources: [widgets]
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: csr-{v}
spec:
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 86400
  usages: [client auth]
  request: {CSR_PEM_BASE64}
"#
    )
}

/// A PKCS#10 request (CN=alice), base64 of its PEM as the API carries it.
const CSR_PEM_BASE64: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIS01ISUNBUUF3RURFT01Bd0dBMVVFQXd3RllXeHBZMlV3V1RBVEJnY3Foa2pPUFFJQkJnZ3Foa2pPUFFNQgpCd05DQUFURTFuRDI1V0lGRHJMRnVENUNaVk0xVkoxNnpocWxNbk5qMGw3U1JJMWE0ck1pWmVSMVpVNEF2clQzClAyN1VNRTh1N3RoRXYvNTlYTkJvd1dQQmpYcjhvQUF3Q2dZSUtvWkl6ajBFQXdJRFNBQXdSUUloQU5GQ1FGRWUKNlMvZVVxY2kyY1JZSWc5M1UwTEZ0Smwwb0gwMW9jbXFvbDNBQWlCTXo0MHhXVnZrTFRnWk1STVc5SFNYSTlvbworR0orTXdiVzAvTmxmN2VoTVE9PQotLS0tLUVORCBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K";

fn namespaced_objects(ns: &str) -> String {
    format!(
        r#"apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: min
  namespace: {ns}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app: web
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: max
  namespace: {ns}
spec:
  maxUnavailable: 25%
  selector:
    matchLabels:
      app: web
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: {ns}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 60
  - type: Resource
    resource:
      name: memory
      target:
        type: AverageValue
        averageValue: 100Mi
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: {ns}
addressType: IPv4
ports:
- name: http
  port: 80
  protocol: TCP
- name: https
  port: 443
  protocol: TCP
endpoints:
- addresses: [10.0.0.1]
- addresses: [10.0.0.2]
- addresses: [10.0.0.3]
- addresses: [10.0.0.4]
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: quota
  namespace: {ns}
spec:
  hard:
    pods: "10"
    cpu: "2"
    limits.memory: 2Gi
---
apiVersion: v1
kind: LimitRange
metadata:
  name: limits
  namespace: {ns}
spec:
  limits:
  - type: Container
    default:
      cpu: 500m
---
apiVersion: v1
kind: PodTemplate
metadata:
  name: tmpl
  namespace: {ns}
template:
  metadata:
    labels:
      tier: web
      app: x
  spec:
    containers:
    - name: a
      image: nginx:1.25
    - name: b
      image: busybox
"#
    )
}

#[test]
fn tables_of_more_kinds() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("tbl-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        create(&server, bin, &cluster_objects(v).replace("{CSR_PEM_BASE64}", CSR_PEM_BASE64));
        create(&server, bin, &namespaced_objects(n));

        let t = get_table(&server, bin, &["storageclasses", &format!("fast-{v}"), &format!("slow-{v}")]);
        assert_eq!(
            t.header,
            ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"]
        );
        let default_name = format!("fast-{v} (default)");
        assert_eq!(
            t.row(&default_name)[..5],
            [&default_name, "example.com/fast", "Retain", "WaitForFirstConsumer", "true"]
        );
        let slow = format!("slow-{v}");
        assert_eq!(t.row(&slow)[..5], [&slow, "example.com/slow", "Delete", "Immediate", "false"]);

        // PREEMPTIONPOLICY is a priority-0 column upstream: shown without -o wide.
        let high = format!("high-{v}");
        let t = get_table(&server, bin, &["priorityclass", &high]);
        assert_eq!(t.header, ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]);
        let r = t.row(&high);
        assert_eq!((&r[..3], r[4].as_str()), (&[high.clone(), "1000".into(), "false".into()][..], "Never"));

        let t = get_table(&server, bin, &["runtimeclass", &format!("gvisor-{v}")]);
        assert_eq!(t.header, ["NAME", "HANDLER", "AGE"]);
        assert_eq!(t.rows[0][1], "runsc");

        let t = get_table(&server, bin, &["csidriver", &format!("csi-{v}.example.com")]);
        assert_eq!(
            t.header,
            [
                "NAME",
                "ATTACHREQUIRED",
                "PODINFOONMOUNT",
                "STORAGECAPACITY",
                "TOKENREQUESTS",
                "REQUIRESREPUBLISH",
                "MODES",
                "AGE"
            ]
        );
        assert_eq!(t.rows[0][1..7], ["false", "true", "false", "<unset>", "false", "Persistent,Ephemeral"]);

        let t = get_table(&server, bin, &["volumeattachment", &format!("va-{v}")]);
        assert_eq!(t.header, ["NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"]);
        assert_eq!(t.rows[0][1..5], ["csi.example.com", "pv-1", "node-1", "false"]);

        let t = get_table(&server, bin, &["validatingwebhookconfiguration", &format!("vwc-{v}")]);
        assert_eq!(t.header, ["NAME", "WEBHOOKS", "AGE"]);
        assert_eq!(t.rows[0][1], "2");

        let csr = format!("csr-{v}");
        let t = get_table(&server, bin, &["csr", &csr]);
        assert_eq!(t.header, ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]);
        let requestor = kc_ok(&server, bin, &["get", "csr", &csr, "-o", "jsonpath={.spec.username}"]);
        let r = t.row(&csr);
        assert_eq!(r[2..], ["kubernetes.io/kube-apiserver-client", requestor.as_str(), "24h", "Pending"]);

        // Namespaced kinds; -o wide adds nothing where upstream has no priority-1 columns.
        for wide in [false, true] {
            let with = |args: &[&str]| {
                let mut all: Vec<&str> = args.to_vec();
                all.extend_from_slice(&["-n", n]);
                if wide {
                    all.extend_from_slice(&["-o", "wide"]);
                }
                get_table(&server, bin, &all)
            };
            let t = with(&["pdb"]);
            assert_eq!(t.header, ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]);
            assert_eq!(t.row("min")[1..4], ["1", "N/A", "0"]);
            assert_eq!(t.row("max")[1..4], ["N/A", "25%", "0"]);

            let t = with(&["hpa", "web"]);
            assert_eq!(t.header, ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]);
            assert_eq!(
                t.row("web")[1..6],
                ["Deployment/web", "cpu: <unknown>/60%, memory: <unknown>/100Mi", "2", "5", "0"]
            );

            let t = with(&["endpointslices", "web-abc"]);
            assert_eq!(t.header, ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]);
            assert_eq!(t.row("web-abc")[1..4], ["IPv4", "80,443", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."]);

            let t = with(&["podtemplates"]);
            assert_eq!(t.header, ["NAME", "CONTAINERS", "IMAGES", "POD LABELS"]);
            assert_eq!(t.row("tmpl"), ["tmpl", "a,b", "nginx:1.25,busybox", "app=x,tier=web"]);

            // Built-in kinds without an upstream printer: the default convertor's columns.
            let t = with(&["limitranges"]);
            assert_eq!(t.header, ["NAME", "CREATED AT"]);
            let created = kc_ok(
                &server,
                bin,
                &["get", "limitrange", "limits", "-n", n, "-o", "jsonpath={.metadata.creationTimestamp}"],
            );
            assert_eq!(t.row("limits"), ["limits", created.as_str()]);
        }

        // events.k8s.io Events print with the columns of core Events.
        let event = format!(
            r#"apiVersion: events.k8s.io/v1
kind: Event
metadata:
  name: web.1
  namespace: {n}
eventTime: "2024-05-01T12:00:00.000000Z"
reportingController: example.com/ctrl
reportingInstance: ctrl-1
action: Scale
reason: Scaled
type: Normal
note: scaled up
regarding:
  kind: Deployment
  name: web
  namespace: {n}
"#
        );
        create(&server, bin, &event);
        let t = get_table(&server, bin, &["events.events.k8s.io", "-n", n]);
        assert_eq!(t.header, ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
        assert_eq!(t.rows[0][1..], ["Normal", "Scaled", "deployment/web", "scaled up"]);

        // The quota's cells come from its status: sorted, requests and limits apart.
        let status =
            r#"{"status":{"hard":{"pods":"10","cpu":"2","limits.memory":"2Gi"},"used":{"pods":"3","cpu":"1"}}}"#;
        kc_ok(
            &server,
            bin,
            &["patch", "resourcequota", "quota", "-n", n, "--subresource=status", "--type=merge", "-p", status],
        );
        let t = get_table(&server, bin, &["quota", "-n", n]);
        assert_eq!(t.header, ["NAME", "REQUEST", "LIMIT", "AGE"]);
        assert_eq!(t.row("quota")[1..3], ["cpu: 1/2, pods: 3/10", "limits.memory: 0/2Gi"]);

        // A controller revision names its controller as kind.group/name.
        kc_ok(&server, bin, &["create", "deployment", "owner", "-n", n, "--image=nginx"]);
        let uid = kc_ok(&server, bin, &["get", "deployment", "owner", "-n", n, "-o", "jsonpath={.metadata.uid}"]);
        let revision = format!(
            r#"apiVersion: apps/v1
kind: ControllerRevision
metadata:
  name: owner-1
  namespace: {n}
  ownerReferences:
  - apiVersion: apps/v1
    kind: Deployment
    name: owner
    uid: {uid}
    controller: true
data: {{}}
revision: 3
"#
        );
        create(&server, bin, &revision);
        let t = get_table(&server, bin, &["controllerrevisions", "owner-1", "-n", n]);
        assert_eq!(t.header, ["NAME", "CONTROLLER", "REVISION", "AGE"]);
        assert_eq!(t.row("owner-1")[1..3], ["deployment.apps/owner", "3"]);
    }
}

/// One object of each kind of the category `all` that kubectl has no `create` command for.
const WORKLOADS: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    image: nginx
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: rc
spec:
  replicas: 0
  selector:
    app: rc
  template:
    metadata:
      labels:
        app: rc
    spec:
      containers:
      - name: c
        image: nginx
---
apiVersion: batch/v1
kind: Job
metadata:
  name: j
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ds
spec:
  selector:
    matchLabels:
      app: ds
  template:
    metadata:
      labels:
        app: ds
    spec:
      containers:
      - name: c
        image: nginx
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: sts
spec:
  replicas: 0
  serviceName: s
  selector:
    matchLabels:
      app: sts
  template:
    metadata:
      labels:
        app: sts
    spec:
      containers:
      - name: c
        image: nginx
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
spec:
  replicas: 0
  selector:
    matchLabels:
      app: rs
  template:
    metadata:
      labels:
        app: rs
    spec:
      containers:
      - name: c
        image: nginx
"#;

/// The kinds of upstream's category `all`, each in its own table with `kind.group/name` names,
/// in discovery order.
#[test]
fn get_all() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("all-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        let out = kc_stdin(&server, bin, &["create", "-n", n, "-f", "-"], WORKLOADS);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        kc_ok(&server, bin, &["create", "service", "clusterip", "s", "-n", n, "--tcp=80:8080"]);
        kc_ok(&server, bin, &["create", "deployment", "d", "-n", n, "--image=nginx", "--replicas=0"]);
        kc_ok(&server, bin, &["create", "cronjob", "cj", "-n", n, "--image=busybox", "--schedule=*/5 * * * *"]);
        kc_ok(&server, bin, &["autoscale", "deployment", "d", "-n", n, "--min=1", "--max=3", "--cpu-percent=70"]);
        // Not in the category: configmaps, secrets, service accounts, PDBs.
        kc_ok(&server, bin, &["create", "configmap", "cm", "-n", n, "--from-literal=a=b"]);

        let out = kc_ok(&server, bin, &["get", "all", "-n", n]);
        let found = tables(&out);
        let kinds: Vec<String> = found
            .iter()
            .map(|t| {
                t.rows
                    .first()
                    .and_then(|r| r.first())
                    .and_then(|c| c.split_once('/'))
                    .map(|(k, _)| k.to_string())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "pod",
                "replicationcontroller",
                "service",
                "daemonset.apps",
                "deployment.apps",
                "replicaset.apps",
                "statefulset.apps",
                "horizontalpodautoscaler.autoscaling",
                "cronjob.batch",
                "job.batch",
            ],
            "{out}"
        );
        let table_of = |kind: &str| {
            found
                .iter()
                .find(|t| t.rows.iter().any(|r| r[0].starts_with(&format!("{kind}/"))))
                .unwrap_or_else(|| panic!("no {kind} in {out}"))
        };
        assert_eq!(table_of("pod").header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
        assert_eq!(table_of("pod").row("pod/p")[1], "0/1");
        assert_eq!(table_of("service").header, ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]);
        assert_eq!(table_of("service").row("service/s")[4], "80/TCP");
        assert_eq!(table_of("deployment.apps").header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
        assert_eq!(table_of("deployment.apps").row("deployment.apps/d")[1], "0/0");
        assert_eq!(table_of("replicationcontroller").row("replicationcontroller/rc")[1], "0");
        assert_eq!(table_of("statefulset.apps").row("statefulset.apps/sts")[1], "0/0");
        assert_eq!(table_of("daemonset.apps").header[..2], ["NAME", "DESIRED"]);
        assert_eq!(table_of("replicaset.apps").row("replicaset.apps/rs")[1], "0");
        assert_eq!(
            table_of("horizontalpodautoscaler.autoscaling").row("horizontalpodautoscaler.autoscaling/d")[1..6],
            ["Deployment/d", "cpu: <unknown>/70%", "1", "3", "0"]
        );
        assert_eq!(table_of("cronjob.batch").row("cronjob.batch/cj")[1], "*/5 * * * *");
        assert_eq!(table_of("job.batch").header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
        assert!(!out.contains("configmap"), "{out}");

        // -o name lists the same objects with the same prefixes.
        let names = lines(&kc_ok(&server, bin, &["get", "all", "-n", n, "-o", "name"]));
        for expected in [
            "pod/p",
            "service/s",
            "deployment.apps/d",
            "job.batch/j",
            "cronjob.batch/cj",
            "horizontalpodautoscaler.autoscaling/d",
        ] {
            assert!(names.contains(&expected.to_string()), "{expected} not in {names:?}");
        }
    }
}

fn config_map(ns: &str, value: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
  labels:
    app: web
data:
  mode: {value}
  level: "3"
"#
    )
}

fn deployment(ns: &str, image: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: {image}
"#
    )
}

/// `kubectl diff -f`: exit 0 and no output when the server's dry run changes nothing; exit 1
/// and a unified diff of the changed fields when it does; a new object is all additions.
#[test]
fn diff_against_server_dry_run() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("diff-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        let file = write_file(
            &server,
            &format!("objects-{v}.yaml"),
            &format!("{}---\n{}", config_map(n, "fast"), deployment(n, "nginx:1.24")),
        );
        kc_ok(&server, bin, &["apply", "-f", p(&file)]);
        let rv = kc_ok(
            &server,
            bin,
            &["get", "configmap", "settings", "-n", n, "-o", "jsonpath={.metadata.resourceVersion}"],
        );

        let same = kc(&server, bin, &["diff", "-f", p(&file)]);
        assert_eq!(
            same.status.code(),
            Some(0),
            "stdout: {}\nstderr: {}",
            String::from_utf8_lossy(&same.stdout),
            String::from_utf8_lossy(&same.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&same.stdout), "");

        std::fs::write(&file, format!("{}---\n{}", config_map(n, "slow"), deployment(n, "nginx:1.25"))).expect("write");
        let changed = kc(&server, bin, &["diff", "-f", p(&file)]);
        let out = String::from_utf8_lossy(&changed.stdout).to_string();
        assert_eq!(
            changed.status.code(),
            Some(1),
            "stdout: {out}\nstderr: {}",
            String::from_utf8_lossy(&changed.stderr)
        );
        let diff_lines: Vec<&str> = out
            .lines()
            .filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---") && !l.starts_with("+++"))
            .collect();
        // The changed fields, and the generation a changed spec bumps; nothing else (kubectl
        // diffs the objects in the order of their file names: the Deployment first).
        assert_eq!(
            diff_lines,
            [
                "-  generation: 1",
                "+  generation: 2",
                "-      - image: nginx:1.24",
                "+      - image: nginx:1.25",
                "-  mode: fast",
                "+  mode: slow"
            ],
            "{out}"
        );
        assert!(out.contains(&format!("/v1.ConfigMap.{n}.settings")), "{out}");
        assert!(out.contains(&format!("/apps.v1.Deployment.{n}.web")), "{out}");
        // A dry run writes nothing.
        assert_eq!(
            kc_ok(&server, bin, &["get", "configmap", "settings", "-n", n, "-o", "jsonpath={.data.mode}"]),
            "fast"
        );
        assert_eq!(
            kc_ok(
                &server,
                bin,
                &["get", "configmap", "settings", "-n", n, "-o", "jsonpath={.metadata.resourceVersion}"]
            ),
            rv
        );

        // An object that does not exist yet: every line added.
        let new = write_file(
            &server,
            &format!("new-{v}.yaml"),
            &config_map(n, "fast").replace("name: settings", "name: fresh"),
        );
        let added = kc(&server, bin, &["diff", "-f", p(&new)]);
        let out = String::from_utf8_lossy(&added.stdout).to_string();
        assert_eq!(added.status.code(), Some(1), "stdout: {out}\nstderr: {}", String::from_utf8_lossy(&added.stderr));
        assert!(out.lines().any(|l| l == "+  name: fresh"), "{out}");
        assert!(out.lines().any(|l| l == "+  mode: fast"), "{out}");
        assert!(!out.lines().any(|l| l.starts_with('-') && !l.starts_with("---")), "{out}");
        assert!(is_not_found(&server, bin, &["configmap", "fresh", "-n", n]));
    }
}

/// `kubectl explain --recursive` of a built-in field: upstream's plaintext layout.
#[test]
fn explain_recursive() {
    let server = start_server();
    for (bin, _) in BINS {
        let out = kc_ok(&server, bin, &["explain", "deployment.spec.strategy", "--recursive"]);
        let l = lines(&out);
        assert_eq!(
            l[..4],
            ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1", "FIELD: strategy <DeploymentStrategy>"],
            "{out}"
        );
        let described = l.iter().position(|x| x == "DESCRIPTION:").unwrap_or_else(|| panic!("no DESCRIPTION: {out}"));
        assert_eq!(
            l[described + 1..described + 3],
            [
                "    The deployment strategy to use to replace existing pods with new ones.",
                "    DeploymentStrategy describes how to replace existing pods with new ones."
            ],
            "{out}"
        );
        // Nested fields indented two spaces a level, name and type apart by a tab. (Upstream's
        // schema also lists `type`'s enum values, printed as "  enum: Recreate, RollingUpdate".)
        let fields_at = l.iter().position(|x| x == "FIELDS:").unwrap_or_else(|| panic!("no FIELDS: {out}"));
        assert_eq!(
            l[fields_at + 1..fields_at + 5],
            [
                "  rollingUpdate\t<RollingUpdateDeployment>",
                "    maxSurge\t<IntOrString>",
                "    maxUnavailable\t<IntOrString>",
                "  type\t<string>",
            ],
            "{out}"
        );
    }
}
