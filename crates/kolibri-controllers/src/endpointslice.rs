//! EndpointSlices of Services with a selector (upstream's endpointslice controller): one
//! set of slices per distinct port set, at most 100 endpoints each, with the pods'
//! ready/serving/terminating conditions, owned by the Service.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::service_pods;
use crate::Error;

pub const NAME: &str = "endpointslice";
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER: &str = "endpointslice-controller.k8s.io";
const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Upstream's `--max-endpoints-per-slice` default.
const MAX_ENDPOINTS: usize = 100;

pub(crate) fn start(
    client: Client,
    services: &Arc<Informer<Service>>,
    pods: &Arc<Informer<Pod>>,
    slices: &Arc<Informer<EndpointSlice>>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    service_pods::queue_changes(&queue, services, pods);
    slices.on_change({
        let queue = queue.clone();
        move |change| {
            let slice = match change {
                Change::Applied { new, .. } => new,
                Change::Deleted(old) => old,
            };
            if let Some(svc) = slice.labels().get(SERVICE_NAME) {
                queue.add(service_pods::key(&slice.namespace().unwrap_or_default(), svc));
            }
        }
    });
    let (svc_store, pod_store, slice_store) = (services.store(), pods.store(), slices.store());
    let ready = futures::future::join3(services.synced(), pods.synced(), slices.synced());
    let ready = async move {
        ready.await;
    };
    tokio::spawn(queue::serve(NAME, queue, 2, ready, shutdown, move |key: String| {
        let (client, svc_store, pod_store, slice_store) =
            (client.clone(), svc_store.clone(), pod_store.clone(), slice_store.clone());
        async move { sync(&client, &svc_store, &pod_store, &slice_store, &key).await }
    }))
}

/// The (ports, endpoints) groups the Service's pods make.
fn desired(svc: &Service, pods: &[Arc<Pod>]) -> Vec<(Vec<EndpointPort>, Vec<Endpoint>)> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default();
    let publish = service_pods::publish_not_ready(svc);
    let mut groups: BTreeMap<String, (Vec<EndpointPort>, Vec<Endpoint>)> = BTreeMap::new();
    for pod in pods.iter().filter(|p| service_pods::has_address(p)) {
        let pod_ports: Vec<EndpointPort> = ports
            .iter()
            .filter_map(|p| {
                service_pods::target_port(p, pod).map(|n| EndpointPort {
                    name: Some(p.name.clone().unwrap_or_default()),
                    port: Some(n),
                    protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: p.app_protocol.clone(),
                })
            })
            .collect();
        if pod_ports.is_empty() && !ports.is_empty() {
            continue;
        }
        let terminating = service_pods::is_terminating(pod);
        let serving = service_pods::is_ready(pod) || publish;
        let endpoint = Endpoint {
            addresses: vec![service_pods::ip(pod)],
            conditions: Some(EndpointConditions {
                ready: Some(serving && !terminating),
                serving: Some(serving),
                terminating: Some(terminating),
            }),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                namespace: pod.namespace(),
                name: Some(pod.name_any()),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let group_key = serde_json::to_string(&pod_ports).unwrap_or_default();
        groups.entry(group_key).or_insert_with(|| (pod_ports, Vec::new())).1.push(endpoint);
    }
    let mut out = Vec::new();
    for (ports, mut endpoints) in groups.into_values() {
        endpoints.sort_by(|a, b| a.addresses.cmp(&b.addresses));
        for chunk in endpoints.chunks(MAX_ENDPOINTS) {
            out.push((ports.clone(), chunk.to_vec()));
        }
    }
    if out.is_empty() {
        // A Service without endpoints still has one (empty) slice with its ports.
        let ports = ports
            .iter()
            .map(|p| EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: None,
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect::<Vec<_>>();
        out.push((if ports.iter().all(|p| p.port.is_none()) { Vec::new() } else { ports }, Vec::new()));
    }
    out
}

fn labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.labels().clone();
    labels.insert(SERVICE_NAME.into(), svc.name_any());
    labels.insert(MANAGED_BY.into(), CONTROLLER.into());
    labels
}

async fn sync(
    client: &Client,
    services: &Store<Service>,
    pods: &Store<Pod>,
    slices: &Store<EndpointSlice>,
    key: &str,
) -> Result<Next, Error> {
    let (ns, name) = key.split_once('/').unwrap_or(("", key));
    let api = Api::<EndpointSlice>::namespaced(client.clone(), ns);
    let mut existing: Vec<Arc<EndpointSlice>> = slices
        .state()
        .into_iter()
        .filter(|s| {
            s.namespace().as_deref() == Some(ns) && s.labels().get(SERVICE_NAME).map(String::as_str) == Some(name)
        })
        .collect();
    existing.sort_by_key(|s| s.name_any());
    let svc = services.get(&kube::runtime::reflector::ObjectRef::new(name).within(ns));
    let Some(svc) = svc.filter(|s| service_pods::selector(s).is_some()) else {
        // No Service (or no selector): its slices go (the garbage collector would too).
        for slice in existing {
            match api.delete(&slice.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if crate::api_reason(&e, 404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(Next::Done);
    };
    let want = desired(&svc, &service_pods::selected(&svc, pods));
    let address_type = want
        .iter()
        .flat_map(|(_, eps)| eps.iter().flat_map(|e| e.addresses.iter()))
        .next()
        .map_or("IPv4", |ip| if ip.contains(':') { "IPv6" } else { "IPv4" });
    let labels = labels(&svc);
    let owner = OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: svc.name_any(),
        uid: svc.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    for (i, (ports, endpoints)) in want.iter().enumerate() {
        let ports = (!ports.is_empty()).then(|| ports.clone());
        match existing.get(i) {
            Some(current)
                if current.endpoints == *endpoints
                    && current.ports == ports
                    && current.labels() == &labels
                    && current.address_type == address_type => {}
            Some(current) => {
                let mut next = (**current).clone();
                next.endpoints = endpoints.clone();
                next.ports = ports;
                next.address_type = address_type.into();
                next.metadata.labels = Some(labels.clone());
                next.metadata.managed_fields = None;
                match api.replace(&next.name_any(), &PostParams::default(), &next).await {
                    Ok(_) => {}
                    Err(e) if crate::api_reason(&e, 409) || crate::api_reason(&e, 404) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            None => {
                let slice = EndpointSlice {
                    metadata: ObjectMeta {
                        generate_name: Some(format!("{name}-")),
                        namespace: Some(ns.into()),
                        labels: Some(labels.clone()),
                        owner_references: Some(vec![owner.clone()]),
                        ..Default::default()
                    },
                    address_type: address_type.into(),
                    endpoints: endpoints.clone(),
                    ports,
                };
                match api.create(&PostParams::default(), &slice).await {
                    Ok(_) => {}
                    Err(e) if crate::namespace_terminating(&e) || crate::api_reason(&e, 404) => return Ok(Next::Done),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    for slice in existing.iter().skip(want.len()) {
        match api.delete(&slice.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if crate::api_reason(&e, 404) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Next::Done)
}
