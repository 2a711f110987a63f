//! The Endpoints and EndpointSlice controllers against a real `kolibri server`: the test
//! plays the kubelet (it sets pods' IPs and readiness through the status subresource) and
//! checks addresses, not-ready addresses, named target ports, slice conditions, slices of
//! at most 100 endpoints, and clean-up when pods and the Service go.

mod common;

use std::time::Duration;

use common::eventually;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn pod(name: &str, app: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "web", "image": "busybox",
                                 "ports": [{"name": "http", "containerPort": 8080}]}]},
    }))
    .expect("pod")
}

/// Sets what a kubelet reports: the pod IP, Running, and readiness.
async fn report(pods: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    let status = json!({"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("pod status");
}

fn ips(addresses: Option<&Vec<k8s_openapi::api::core::v1::EndpointAddress>>) -> Vec<String> {
    addresses.map(|a| a.iter().map(|a| a.ip.clone()).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_and_slices_follow_pods() {
    let server = common::Server::start();
    let client = server.client().await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");

    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "metrics", "port": 9090, "protocol": "TCP"},
        ]},
    }))
    .unwrap();
    let svc = services.create(&PostParams::default(), &svc).await.expect("service");
    for (name, ip, ready) in [("web-a", "10.42.0.5", true), ("web-b", "10.42.0.6", true), ("web-c", "10.42.0.7", false)]
    {
        pods.create(&PostParams::default(), &pod(name, "web")).await.expect("pod");
        report(&pods, name, ip, ready).await;
    }
    // A pod without an IP and one of another app are not endpoints.
    pods.create(&PostParams::default(), &pod("web-pending", "web")).await.unwrap();
    pods.create(&PostParams::default(), &pod("other", "other")).await.unwrap();

    let ep = eventually(Duration::from_secs(20), "endpoints with 2 ready and 1 not ready", || async {
        let ep = endpoints.get_opt("web").await.ok()??;
        let subset = ep.subsets.as_ref()?.first()?.clone();
        (ips(subset.addresses.as_ref()).len() == 2 && ips(subset.not_ready_addresses.as_ref()).len() == 1).then_some(ep)
    })
    .await;
    assert_eq!(ep.metadata.labels.as_ref().unwrap()["tier"], "front");
    let subsets = ep.subsets.unwrap();
    assert_eq!(subsets.len(), 1);
    assert_eq!(ips(subsets[0].addresses.as_ref()), ["10.42.0.5", "10.42.0.6"]);
    assert_eq!(ips(subsets[0].not_ready_addresses.as_ref()), ["10.42.0.7"]);
    let ports = serde_json::to_value(&subsets[0].ports).unwrap();
    assert_eq!(
        ports,
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090, "protocol": "TCP"}])
    );
    let target = subsets[0].addresses.as_ref().unwrap()[0].target_ref.clone().unwrap();
    assert_eq!((target.kind.as_deref(), target.name.as_deref()), (Some("Pod"), Some("web-a")));

    let list = slices.list(&ListParams::default().labels("kubernetes.io/service-name=web")).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let slice = &list.items[0];
    assert!(slice.metadata.name.as_deref().unwrap().starts_with("web-"));
    assert_eq!(slice.address_type, "IPv4");
    let labels = slice.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io");
    let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Service", svc.metadata.uid.as_deref().unwrap(), Some(true))
    );
    let conditions: Vec<serde_json::Value> =
        slice.endpoints.iter().map(|e| json!([e.addresses[0], serde_json::to_value(&e.conditions).unwrap()])).collect();
    assert_eq!(
        conditions,
        vec![
            json!(["10.42.0.5", {"ready": true, "serving": true, "terminating": false}]),
            json!(["10.42.0.6", {"ready": true, "serving": true, "terminating": false}]),
            json!(["10.42.0.7", {"ready": false, "serving": false, "terminating": false}]),
        ]
    );

    // Readiness and deletion of pods move the addresses.
    report(&pods, "web-c", "10.42.0.7", true).await;
    pods.delete("web-a", &DeleteParams::default()).await.unwrap();
    eventually(Duration::from_secs(20), "web-c ready and web-a gone", || async {
        let ep = endpoints.get_opt("web").await.ok()??;
        let subset = ep.subsets.as_ref()?.first()?.clone();
        (ips(subset.addresses.as_ref()) == ["10.42.0.6", "10.42.0.7"] && subset.not_ready_addresses.is_none())
            .then_some(())
    })
    .await;

    // 230 ready pods: slices of at most 100 endpoints.
    for i in 0..230 {
        let name = format!("many-{i:03}");
        pods.create(&PostParams::default(), &pod(&name, "web")).await.unwrap();
        report(&pods, &name, &format!("10.42.{}.{}", 1 + i / 200, 10 + i % 200), true).await;
    }
    let sizes = eventually(Duration::from_secs(20), "three slices", || async {
        let list = slices.list(&ListParams::default().labels("kubernetes.io/service-name=web")).await.ok()?;
        let mut sizes: Vec<usize> = list.items.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort_unstable();
        (sizes.iter().sum::<usize>() == 232).then_some(sizes)
    })
    .await;
    assert!(sizes.iter().all(|n| *n <= 100), "{sizes:?}");
    assert_eq!(sizes.len(), 3, "{sizes:?}");

    // The Service goes: so do its Endpoints and slices.
    services.delete("web", &DeleteParams::default()).await.unwrap();
    eventually(Duration::from_secs(20), "endpoints and slices gone", || async {
        let ep = endpoints.get_opt("web").await.ok()?;
        let list = slices.list(&ListParams::default().labels("kubernetes.io/service-name=web")).await.ok()?;
        (ep.is_none() && list.items.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_without_selector_keep_their_endpoints() {
    let server = common::Server::start();
    let client = server.client().await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "external"}, "spec": {"ports": [{"port": 5432}]},
    }))
    .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();
    let ep: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 5432}]}],
    }))
    .unwrap();
    endpoints.create(&PostParams::default(), &ep).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ep = endpoints.get("external").await.unwrap();
    assert_eq!(ips(ep.subsets.as_ref().unwrap()[0].addresses.as_ref()), ["192.0.2.10"]);
    // The API server's own `kubernetes` Endpoints stay as well.
    let k = endpoints.get("kubernetes").await.unwrap();
    assert_eq!(ips(k.subsets.as_ref().unwrap()[0].addresses.as_ref()), ["127.0.0.1"]);
}
