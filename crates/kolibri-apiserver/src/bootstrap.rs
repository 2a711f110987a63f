//! Objects every cluster has: the system namespaces and the `kubernetes` Service with
//! its Endpoints, created at start when missing.

use std::net::Ipv4Addr;
use std::sync::Arc;

use anyhow::Context;
use kolibri_store::{ListOptions, StoreError};
use serde_json::{json, Value};

use crate::handlers::prepare_create_internal;
use crate::{encoding, keys, ApiServer};

const NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

pub async fn run(server: &Arc<ApiServer>) -> anyhow::Result<()> {
    let registry = server.registry();
    let get = |g: &str, v: &str, r: &str| {
        registry.get(g, v, r).cloned().with_context(|| format!("resource {r} is not served"))
    };
    let namespaces = get("", "v1", "namespaces")?;
    let services = get("", "v1", "services")?;
    let endpoints = get("", "v1", "endpoints")?;
    let slices = get("discovery.k8s.io", "v1", "endpointslices")?;

    // Addresses of stored Services are taken before anything is allocated.
    let stored = server.store.list(&keys::collection(&services, None), ListOptions::default()).await?;
    for kv in &stored.items {
        if let Ok(svc) = serde_json::from_slice::<Value>(&kv.value) {
            server.allocator.seed(&svc);
        }
    }

    for ns in NAMESPACES {
        let obj = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } });
        create_if_missing(server, &namespaces, obj).await?;
    }

    let (base, _) = server.config.service_cidr;
    let first_ip = Ipv4Addr::from(u32::from(base) + 1).to_string();
    let port = server.config.advertise_port;
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "kubernetes", "namespace": "default",
                      "labels": { "component": "apiserver", "provider": "kubernetes" } },
        "spec": { "clusterIP": first_ip, "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": port }],
                  "sessionAffinity": "None", "type": "ClusterIP" },
    });
    create_if_missing(server, &services, service).await?;

    let address = server.config.advertise_address.to_string();
    let eps = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": { "name": "kubernetes", "namespace": "default",
                      "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" } },
        "subsets": [{ "addresses": [{ "ip": address }], "ports": [{ "name": "https", "port": port, "protocol": "TCP" }] }],
    });
    create_if_missing(server, &endpoints, eps).await?;
    let family = if server.config.advertise_address.is_ipv4() { "IPv4" } else { "IPv6" };
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": { "name": "kubernetes", "namespace": "default",
                      "labels": { "kubernetes.io/service-name": "kubernetes" } },
        "addressType": family,
        "endpoints": [{ "addresses": [address], "conditions": { "ready": true } }],
        "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
    });
    create_if_missing(server, &slices, slice).await?;

    // The two classes every cluster has, as upstream's scheduling post-start hook makes them.
    let classes = get("scheduling.k8s.io", "v1", "priorityclasses")?;
    for (name, value, description) in [
        ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ] {
        let class = json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": { "name": name }, "value": value, "description": description,
            "preemptionPolicy": "PreemptLowerPriority",
        });
        create_if_missing(server, &classes, class).await?;
    }
    Ok(())
}

async fn create_if_missing(
    server: &Arc<ApiServer>,
    def: &Arc<kolibri_resources::ResourceDef>,
    obj: Value,
) -> anyhow::Result<()> {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let namespace = obj.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
    let key = keys::object(def, namespace.as_deref(), &name);
    if server.store.get(&key).await?.is_some() {
        return Ok(());
    }
    let obj = prepare_create_internal(server, def, obj).await.map_err(|e| anyhow::anyhow!("creating {key}: {e}"))?;
    match server.store.create(&key, encoding::to_stored(&obj)).await {
        Ok(_) | Err(StoreError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {key}")),
    }
}
