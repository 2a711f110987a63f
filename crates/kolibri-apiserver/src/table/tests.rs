//! Tests of the table printers; expected cells are written from upstream's printers.

#[cfg(test)]
mod durations {
    use super::super::human_duration;
    use chrono::Duration;

    #[test]
    fn durations_as_upstream() {
        assert_eq!(human_duration(Duration::seconds(5)), "5s");
        assert_eq!(human_duration(Duration::seconds(119)), "119s");
        assert_eq!(human_duration(Duration::seconds(190)), "3m10s");
        assert_eq!(human_duration(Duration::minutes(45)), "45m");
        assert_eq!(human_duration(Duration::minutes(5 * 60 + 3)), "5h3m");
        assert_eq!(human_duration(Duration::hours(30)), "30h");
        assert_eq!(human_duration(Duration::hours(51)), "2d3h");
        assert_eq!(human_duration(Duration::days(400)), "400d");
        assert_eq!(human_duration(Duration::days(3 * 365 + 20)), "3y20d");
    }
}

#[cfg(test)]
pub(super) mod printer_tests {
    use super::super::*;
    use chrono::{Duration, TimeZone};

    pub(in crate::table) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).single().unwrap_or_default()
    }

    pub(in crate::table) fn cells(group: &str, kind: &str, obj: Value) -> Vec<Value> {
        (printer(group, kind).1)(&obj, now())
    }

    /// (name, type, priority) of each column.
    pub(in crate::table) fn cols(group: &str, kind: &str) -> Vec<(&'static str, &'static str, u8)> {
        printer(group, kind).0.iter().map(|c| (c.name, c.ty, c.priority)).collect()
    }

    #[test]
    fn table_has_column_definitions_and_rows() {
        let obj = json!({"metadata": {"name": "c"}, "data": {"a": "b", "c": "d"}});
        let registry = kolibri_resources::Registry::builtin();
        let Some(def) = registry.by_kind("", "v1", "ConfigMap") else { panic!("no ConfigMap") };
        let t = table(def, &[obj], None, &Query::default(), true);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, ["Name", "Data", "Age"]);
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["columnDefinitions"][1]["type"], "string");
        assert_eq!(t["rows"][0]["cells"], json!(["c", 2, "<unknown>"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    #[test]
    fn unknown_kind_keeps_name_and_age() {
        assert_eq!(cols("example.com", "Widget"), [("Name", "string", 0), ("Age", "string", 0)]);
        let created = (now() - Duration::minutes(5)).to_rfc3339();
        let c = cells("example.com", "Widget", json!({"metadata": {"name": "w", "creationTimestamp": created}}));
        assert_eq!(c, [json!("w"), json!("5m")]);
    }

    #[test]
    fn every_kind_survives_empty_objects() {
        let kinds = [
            ("", "ConfigMap"),
            ("", "Secret"),
            ("", "Namespace"),
            ("", "Pod"),
            ("", "Service"),
            ("", "Node"),
            ("", "ServiceAccount"),
            ("", "Endpoints"),
            ("", "ReplicationController"),
            ("apps", "Deployment"),
            ("apps", "ReplicaSet"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("coordination.k8s.io", "Lease"),
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            ("", "Event"),
            ("", "PersistentVolumeClaim"),
            ("", "PersistentVolume"),
            ("networking.k8s.io", "Ingress"),
            ("networking.k8s.io", "IngressClass"),
            ("networking.k8s.io", "NetworkPolicy"),
        ];
        let odd = [json!({}), json!(null), json!({"metadata": 5, "spec": "x", "status": []}), json!([1, 2])];
        for (g, k) in kinds {
            let (columns, print) = printer(g, k);
            assert!(columns.iter().any(|c| c.name == "Name"), "{k}");
            for o in &odd {
                assert_eq!(print(o, now()).len(), columns.len(), "{k} {o}");
            }
        }
    }

    #[test]
    fn config_map_and_secret() {
        let c =
            cells("", "ConfigMap", json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}}));
        assert_eq!(c, [json!("c"), json!(2), json!("<unknown>")]);
        assert_eq!(
            cols("", "Secret"),
            [("Name", "string", 0), ("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0)]
        );
        let c = cells("", "Secret", json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "", "b": ""}}));
        assert_eq!(c, [json!("s"), json!("Opaque"), json!(2), json!("<unknown>")]);
    }

    #[test]
    fn namespace_status() {
        let c = cells("", "Namespace", json!({"metadata": {"name": "n"}, "status": {"phase": "Terminating"}}));
        assert_eq!(c, [json!("n"), json!("Terminating"), json!("<unknown>")]);
    }

    #[test]
    fn pod_columns() {
        assert_eq!(
            cols("", "Pod"),
            [
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Status", "string", 0),
                ("Restarts", "string", 0),
                ("Age", "string", 0),
                ("IP", "string", 1),
                ("Node", "string", 1),
                ("Nominated Node", "string", 1),
                ("Readiness Gates", "string", 1),
            ]
        );
    }

    fn pod(status: Value) -> Value {
        json!({"metadata": {"name": "test1"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}, "status": status})
    }

    #[test]
    fn pod_ready_and_restarts() {
        // Upstream TestPrintPod: one ready running container, restart counts summed.
        let p = pod(json!({"phase": "podPhase", "containerStatuses": [
            {"ready": true, "restartCount": 3, "state": {"running": {}}},
            {"restartCount": 3}
        ]}));
        let c = cells("", "Pod", p);
        assert_eq!(&c[..5], [json!("test1"), json!("1/2"), json!("podPhase"), json!("6"), json!("<unknown>")]);
        assert_eq!(&c[5..], [json!("<none>"), json!("<none>"), json!("<none>"), json!("<none>")]);
    }

    #[test]
    fn pod_container_reasons() {
        let p = pod(json!({"phase": "podPhase", "containerStatuses": [
            {"ready": true, "restartCount": 3, "state": {"running": {}}},
            {"restartCount": 3, "state": {"waiting": {"reason": "ContainerWaitingReason"}}}
        ]}));
        assert_eq!(cells("", "Pod", p)[2], "ContainerWaitingReason");
        let p = pod(json!({"phase": "podPhase", "containerStatuses": [
            {"state": {"terminated": {"reason": "ContainerTerminatedReason"}}},
            {"ready": true, "state": {"running": {}}}
        ]}));
        assert_eq!(cells("", "Pod", p)[2], "ContainerTerminatedReason");
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"state": {"terminated": {"exitCode": 2}}}
        ]}));
        assert_eq!(cells("", "Pod", p)[2], "ExitCode:2");
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"state": {"terminated": {"exitCode": 137, "signal": 9}}}
        ]}));
        assert_eq!(cells("", "Pod", p)[2], "Signal:9");
        // One running, one completed, without a Ready condition: NotReady.
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"ready": false, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
            {"ready": true, "state": {"running": {}}}
        ]}));
        let c = cells("", "Pod", p.clone());
        assert_eq!((&c[1], &c[2]), (&json!("1/2"), &json!("NotReady")));
        let mut ready = p;
        ready["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        assert_eq!(cells("", "Pod", ready)[2], "Running");
    }

    #[test]
    fn pod_init_and_terminating() {
        let p = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"waiting": {"reason": "PodInitializing"}}}]}});
        let c = cells("", "Pod", p);
        assert_eq!((&c[1], &c[2]), (&json!("0/1"), &json!("Init:0/1")));
        let p = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(cells("", "Pod", p)[2], "Init:CrashLoopBackOff");
        let p = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"terminated": {"exitCode": 1}}}]}});
        assert_eq!(cells("", "Pod", p)[2], "Init:ExitCode:1");
        let p = json!({"metadata": {"name": "p", "deletionTimestamp": "2024-05-01T11:00:00Z"}, "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Running"}});
        assert_eq!(cells("", "Pod", p)[2], "Terminating");
        let p = json!({"metadata": {"name": "p", "deletionTimestamp": "2024-05-01T11:00:00Z"}, "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Succeeded"}});
        assert_eq!(cells("", "Pod", p)[2], "Succeeded");
    }

    #[test]
    fn pod_restarts_ago_and_wide() {
        let p = json!({"metadata": {"name": "p"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}], "readinessGates": [{"conditionType": "g1"}, {"conditionType": "g2"}]},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.42.0.5"}], "nominatedNodeName": "n2",
                "conditions": [{"type": "g1", "status": "True"}, {"type": "g2", "status": "False"}],
                "containerStatuses": [{"ready": true, "restartCount": 3, "state": {"running": {}},
                    "lastState": {"terminated": {"finishedAt": "2024-05-01T11:50:00Z"}}}]}});
        let c = cells("", "Pod", p);
        assert_eq!(c[3], "3 (10m ago)");
        assert_eq!(&c[5..], [json!("10.42.0.5"), json!("n1"), json!("n2"), json!("1/2")]);
    }

    #[test]
    fn deployment_cells() {
        assert_eq!(
            cols("apps", "Deployment"),
            [
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Up-to-date", "string", 0),
                ("Available", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ]
        );
        let d = json!({"metadata": {"name": "test1"},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"foo": "bar"}},
                "template": {"spec": {"containers": [{"name": "fake-container1", "image": "fake-image1"}, {"name": "fake-container2", "image": "fake-image2"}]}}},
            "status": {"replicas": 10, "updatedReplicas": 2, "availableReplicas": 1, "readyReplicas": 1}});
        assert_eq!(
            cells("apps", "Deployment", d),
            [
                json!("test1"),
                json!("1/5"),
                json!(2),
                json!(1),
                json!("<unknown>"),
                json!("fake-container1,fake-container2"),
                json!("fake-image1,fake-image2"),
                json!("foo=bar"),
            ]
        );
    }

    #[test]
    fn selector_strings() {
        let sel = json!({"matchLabels": {"z": "1", "app": "d"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "x", "operator": "Exists"},
            {"key": "y", "operator": "DoesNotExist"}
        ]});
        assert_eq!(format_selector(Some(&sel)), "app=d,env notin (prod),tier in (a,b),x,!y,z=1");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
    }

    #[test]
    fn replica_set_stateful_set_daemon_set() {
        let rs = json!({"metadata": {"name": "rs"}, "spec": {"replicas": 5, "selector": {"matchLabels": {"foo": "bar"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}, "status": {"replicas": 5, "readyReplicas": 2}});
        assert_eq!(
            cells("apps", "ReplicaSet", rs),
            [json!("rs"), json!(5), json!(5), json!(2), json!("<unknown>"), json!("c"), json!("i"), json!("foo=bar")]
        );
        let ss =
            json!({"metadata": {"name": "ss"}, "spec": {"replicas": 5}, "status": {"replicas": 5, "readyReplicas": 2}});
        assert_eq!(
            cells("apps", "StatefulSet", ss),
            [json!("ss"), json!("2/5"), json!("<unknown>"), json!(""), json!("")]
        );
        let ds = json!({"metadata": {"name": "ds"}, "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2, "numberAvailable": 0}});
        let c = cells("apps", "DaemonSet", ds);
        assert_eq!(
            &c[..8],
            [
                json!("ds"),
                json!(3),
                json!(2),
                json!(1),
                json!(2),
                json!(0),
                json!("kubernetes.io/os=linux"),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn job_and_cron_job() {
        let j = json!({"metadata": {"name": "job1"}, "spec": {"completions": 2},
            "status": {"succeeded": 1, "startTime": "2024-05-01T11:00:00Z", "completionTime": "2024-05-01T11:03:10Z"}});
        let c = cells("batch", "Job", j);
        assert_eq!(&c[..4], [json!("job1"), json!("Running"), json!("1/2"), json!("3m10s")]);
        let j = json!({"metadata": {"name": "job2"}, "spec": {"parallelism": 2},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        let c = cells("batch", "Job", j);
        assert_eq!(&c[..4], [json!("job2"), json!("Complete"), json!("0/1 of 2"), json!("")]);
        let j = json!({"metadata": {"name": "job3"}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}});
        assert_eq!(cells("batch", "Job", j)[1..3], [json!("Failed"), json!("0/1")]);

        assert_eq!(
            cols("batch", "CronJob")[..6],
            [
                ("Name", "string", 0),
                ("Schedule", "string", 0),
                ("Timezone", "string", 0),
                ("Suspend", "boolean", 0),
                ("Active", "integer", 0),
                ("Last Schedule", "string", 0),
            ]
        );
        let cj = json!({"metadata": {"name": "cj"}, "spec": {"schedule": "0/5 * * * ?", "suspend": false},
            "status": {"lastScheduleTime": "2024-05-01T11:50:00Z", "active": [{}]}});
        let c = cells("batch", "CronJob", cj);
        assert_eq!(
            &c[..6],
            [json!("cj"), json!("0/5 * * * ?"), json!("<none>"), json!("False"), json!(1), json!("10m")]
        );
        assert_eq!(c[9], "<none>");
    }

    #[test]
    fn services() {
        let s = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.43.0.10",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "selector": {"app": "x"}}});
        assert_eq!(
            cells("", "Service", s),
            [
                json!("s"),
                json!("NodePort"),
                json!("10.43.0.10"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP"),
                json!("<unknown>"),
                json!("app=x")
            ]
        );
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.11"}});
        let c = cells("", "Service", lb);
        assert_eq!((&c[3], &c[4], &c[6]), (&json!("<pending>"), &json!("<none>"), &json!("<none>")));
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "externalIPs": ["3.3.3.3"]},
            "status": {"loadBalancer": {"ingress": [{"ip": "2.2.2.2"}]}}});
        assert_eq!(cells("", "Service", lb)[3], "2.2.2.2,3.3.3.3");
        let en = json!({"metadata": {"name": "en"}, "spec": {"type": "ExternalName", "externalName": "example.com"}});
        let c = cells("", "Service", en);
        assert_eq!((&c[2], &c[3]), (&json!("<none>"), &json!("example.com")));
    }

    #[test]
    fn nodes() {
        let n = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true", "kubernetes.io/role": "node"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian"},
                "addresses": [{"type": "InternalIP", "address": "192.168.1.2"}]}});
        assert_eq!(
            cells("", "Node", n),
            [
                json!("n1"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,master,node"),
                json!("<unknown>"),
                json!("v1.33.0"),
                json!("192.168.1.2"),
                json!("<none>"),
                json!("Debian"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        let n = json!({"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        let c = cells("", "Node", n);
        assert_eq!((&c[1], &c[2]), (&json!("NotReady"), &json!("<none>")));
        assert_eq!(cells("", "Node", json!({"metadata": {"name": "n3"}}))[1], "Unknown");
    }

    #[test]
    fn endpoints_sa_lease_rbac() {
        let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "1.1.1.1"}, {"ip": "2.2.2.2"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(cells("", "Endpoints", ep)[1], "1.1.1.1:80,2.2.2.2:80,1.1.1.1:443 + 1 more...");
        assert_eq!(cells("", "Endpoints", json!({"metadata": {"name": "e"}}))[1], "<none>");
        let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "x"}]});
        assert_eq!(cells("", "ServiceAccount", sa), [json!("default"), json!(1), json!("<unknown>")]);
        let l = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "node-1"}});
        assert_eq!(cells("coordination.k8s.io", "Lease", l)[1], "node-1");
        let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "u1"}, {"kind": "User", "name": "u2"}, {"kind": "Group", "name": "g"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]});
        assert_eq!(
            cells("rbac.authorization.k8s.io", "RoleBinding", rb),
            [json!("rb"), json!("ClusterRole/admin"), json!("<unknown>"), json!("u1, u2"), json!("g"), json!("ns:sa")]
        );
        let r = json!({"metadata": {"name": "r", "creationTimestamp": "2024-04-01T10:00:00Z"}});
        assert_eq!(cells("rbac.authorization.k8s.io", "Role", r), [json!("r"), json!("2024-04-01T10:00:00Z")]);
    }

    #[test]
    fn events() {
        assert_eq!(
            cols("", "Event"),
            [
                ("Last Seen", "string", 0),
                ("Type", "string", 0),
                ("Reason", "string", 0),
                ("Object", "string", 0),
                ("Subobject", "string", 1),
                ("Source", "string", 1),
                ("Message", "string", 0),
                ("First Seen", "string", 1),
                ("Count", "string", 1),
                ("Name", "string", 1),
            ]
        );
        let e = json!({"metadata": {"name": "p.1"}, "type": "Normal", "reason": "Pulled", "message": " done \n",
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
            "source": {"component": "kubelet", "host": "n1"}, "count": 3,
            "firstTimestamp": "2024-05-01T11:00:00Z", "lastTimestamp": "2024-05-01T11:55:00Z"});
        assert_eq!(
            cells("", "Event", e),
            [
                json!("5m"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/p"),
                json!("spec.containers{c}"),
                json!("kubelet, n1"),
                json!("done"),
                json!("60m"),
                json!(3),
                json!("p.1")
            ]
        );
        let e = json!({"metadata": {"name": "x"}, "involvedObject": {"kind": "Node"}, "eventTime": "2024-05-01T11:59:30.000000Z",
            "reportingComponent": "ctrl", "series": {"count": 7, "lastObservedTime": "2024-05-01T11:59:50.000000Z"}});
        let c = cells("", "Event", e);
        assert_eq!(
            (&c[0], &c[3], &c[5], &c[7], &c[8]),
            (&json!("10s"), &json!("node"), &json!("ctrl"), &json!("30s"), &json!(7))
        );
        let c = cells("", "Event", json!({"metadata": {"name": "y"}}));
        assert_eq!((&c[0], &c[7], &c[8]), (&json!("<unknown>"), &json!("<unknown>"), &json!(1)));
    }

    #[test]
    fn persistent_volumes_and_claims() {
        let pvc = json!({"metadata": {"name": "data", "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
            "spec": {"volumeName": "pv1", "storageClassName": "local-path", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce", "ReadWriteOncePod"]}});
        assert_eq!(
            cells("", "PersistentVolumeClaim", pvc),
            [
                json!("data"),
                json!("Bound"),
                json!("pv1"),
                json!("1Gi"),
                json!("RWO,RWX,RWOP"),
                json!("old"),
                json!("<unset>"),
                json!("<unknown>"),
                json!("Filesystem")
            ]
        );
        let pending = json!({"metadata": {"name": "p", "deletionTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"storageClassName": "fast", "volumeAttributesClassName": "gold"}, "status": {"phase": "Pending", "capacity": {"storage": "1Gi"}}});
        let c = cells("", "PersistentVolumeClaim", pending);
        assert_eq!(&c[1..7], [json!("Terminating"), json!(""), json!(""), json!(""), json!("fast"), json!("gold")]);
        assert_eq!(cols("", "PersistentVolumeClaim")[8], ("VolumeMode", "string", 1));
        let pv = json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadOnlyMany"],
            "persistentVolumeReclaimPolicy": "Delete", "claimRef": {"namespace": "ns", "name": "data"}, "storageClassName": "local-path",
            "volumeMode": "Block"}, "status": {"phase": "Bound", "reason": "Why"}});
        assert_eq!(
            cells("", "PersistentVolume", pv),
            [
                json!("pv1"),
                json!("5Gi"),
                json!("ROX"),
                json!("Delete"),
                json!("Bound"),
                json!("ns/data"),
                json!("local-path"),
                json!("<unset>"),
                json!("Why"),
                json!("<unknown>"),
                json!("Block")
            ]
        );
        let c = cells("", "PersistentVolume", json!({"metadata": {"name": "pv2"}}));
        assert_eq!((&c[2], &c[5], &c[10]), (&json!(""), &json!(""), &json!("<unset>")));
    }

    #[test]
    fn ingress_and_network_policy() {
        assert_eq!(
            cols("networking.k8s.io", "Ingress"),
            [
                ("Name", "string", 0),
                ("Class", "string", 0),
                ("Hosts", "string", 0),
                ("Address", "string", 0),
                ("Ports", "string", 0),
                ("Age", "string", 0)
            ]
        );
        let ing = json!({"metadata": {"name": "i"}, "spec": {"ingressClassName": "traefik", "tls": [{"hosts": ["a"]}],
            "rules": [{"host": "a.example"}, {}, {"host": "b.example"}, {"host": "c.example"}, {"host": "d.example"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example"}, {"ip": "10.0.0.2"}]}}});
        assert_eq!(
            cells("networking.k8s.io", "Ingress", ing),
            [
                json!("i"),
                json!("traefik"),
                json!("a.example,b.example,c.example + 2 more..."),
                json!("10.0.0.2,lb.example"),
                json!("80, 443"),
                json!("<unknown>")
            ]
        );
        let c = cells("networking.k8s.io", "Ingress", json!({"metadata": {"name": "j"}, "spec": {"rules": [{}]}}));
        assert_eq!(&c[1..5], [json!("<none>"), json!("*"), json!(""), json!("80")]);
        let ic = json!({"metadata": {"name": "traefik"}, "spec": {"controller": "traefik.io/ingress-controller",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        assert_eq!(
            cells("networking.k8s.io", "IngressClass", ic),
            [
                json!("traefik"),
                json!("traefik.io/ingress-controller"),
                json!("IngressParameters.k8s.example.com/p"),
                json!("<unknown>")
            ]
        );
        let ic = json!({"metadata": {"name": "x"}, "spec": {"controller": "c", "parameters": {"kind": "ConfigMap", "name": "p"}}});
        assert_eq!(cells("networking.k8s.io", "IngressClass", ic)[2], "ConfigMap/p");
        assert_eq!(cells("networking.k8s.io", "IngressClass", json!({"metadata": {"name": "y"}}))[2], "<none>");
        let np = json!({"metadata": {"name": "np"}, "spec": {"podSelector": {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "Exists"}]}}});
        assert_eq!(
            cells("networking.k8s.io", "NetworkPolicy", np),
            [json!("np"), json!("app=web,tier"), json!("<unknown>")]
        );
        let np = json!({"metadata": {"name": "all"}, "spec": {"podSelector": {}}});
        assert_eq!(cells("networking.k8s.io", "NetworkPolicy", np)[1], "<none>");
    }
}
