//! Endpoints of Services with a selector (upstream's endpoint controller): the addresses
//! of matching pods that have an IP, ready ones under `addresses`, others under
//! `notReadyAddresses`, grouped by the ports they serve. Services without a selector keep
//! the Endpoints their users write.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::service_pods;
use crate::Error;

pub const NAME: &str = "endpoints";
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

pub(crate) fn start(
    client: Client,
    services: &Arc<Informer<Service>>,
    pods: &Arc<Informer<Pod>>,
    endpoints: &Arc<Informer<Endpoints>>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    service_pods::queue_changes(&queue, services, pods);
    endpoints.on_change({
        let queue = queue.clone();
        move |change| {
            let ep = match change {
                Change::Applied { new, .. } => new,
                Change::Deleted(old) => old,
            };
            queue.add(service_pods::key(&ep.namespace().unwrap_or_default(), &ep.name_any()));
        }
    });
    let (svc_store, pod_store, ep_store) = (services.store(), pods.store(), endpoints.store());
    let ready = futures::future::join3(services.synced(), pods.synced(), endpoints.synced());
    let ready = async move {
        ready.await;
    };
    tokio::spawn(queue::serve(NAME, queue, 2, ready, shutdown, move |key: String| {
        let (client, svc_store, pod_store, ep_store) =
            (client.clone(), svc_store.clone(), pod_store.clone(), ep_store.clone());
        async move { sync(&client, &svc_store, &pod_store, &ep_store, &key).await }
    }))
}

/// The ports of a group of pods, with their ready and not-ready addresses.
type PortGroup = (Vec<EndpointPort>, Vec<EndpointAddress>, Vec<EndpointAddress>);

/// The subsets upstream computes: per distinct port set, ready and not-ready addresses,
/// sorted so that equal states compare equal.
pub(crate) fn subsets(svc: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default();
    let tolerate = service_pods::publish_not_ready(svc);
    // Port set (as a sorted key) → (ports, ready, not ready).
    let mut groups: BTreeMap<String, PortGroup> = BTreeMap::new();
    for pod in pods {
        if !service_pods::has_address(pod) || (service_pods::is_terminating(pod) && !tolerate) {
            continue;
        }
        let mut pod_ports: Vec<EndpointPort> = ports
            .iter()
            .filter_map(|p| {
                service_pods::target_port(p, pod).map(|n| EndpointPort {
                    name: p.name.clone().filter(|n| !n.is_empty()),
                    port: n,
                    protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: p.app_protocol.clone(),
                })
            })
            .collect();
        if pod_ports.is_empty() && !ports.is_empty() {
            continue;
        }
        pod_ports.sort_by(|a, b| (a.name.as_deref(), a.port).cmp(&(b.name.as_deref(), b.port)));
        let group_key = serde_json::to_string(&pod_ports).unwrap_or_default();
        let address = EndpointAddress {
            ip: service_pods::ip(pod),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            hostname: pod.spec.as_ref().and_then(|s| {
                let same = s.subdomain.as_deref() == Some(svc.name_any().as_str());
                s.hostname.clone().filter(|_| same)
            }),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                namespace: pod.namespace(),
                name: Some(pod.name_any()),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            }),
        };
        let group = groups.entry(group_key).or_insert_with(|| (pod_ports, Vec::new(), Vec::new()));
        if service_pods::is_ready(pod) || tolerate {
            group.1.push(address);
        } else {
            group.2.push(address);
        }
    }
    groups
        .into_values()
        .map(|(ports, mut ready, mut not_ready)| {
            ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

async fn sync(
    client: &Client,
    services: &Store<Service>,
    pods: &Store<Pod>,
    endpoints: &Store<Endpoints>,
    key: &str,
) -> Result<Next, Error> {
    let (ns, name) = key.split_once('/').unwrap_or(("", key));
    let api = Api::<Endpoints>::namespaced(client.clone(), ns);
    let existing = endpoints.get(&ObjectRef::new(name).within(ns));
    let Some(svc) = services.get(&ObjectRef::new(name).within(ns)) else {
        // The Service is gone: so are the Endpoints it had. The cache may not have seen a
        // just-created Service yet, so the API confirms before anything is deleted.
        if existing.is_some() && Api::<Service>::namespaced(client.clone(), ns).get_opt(name).await?.is_none() {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if crate::api_reason(&e, 404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(Next::Done);
    };
    if service_pods::selector(&svc).is_none() {
        return Ok(Next::Done);
    }
    let subsets = subsets(&svc, &service_pods::selected(&svc, pods));
    let subsets = (!subsets.is_empty()).then_some(subsets);
    let mut labels = svc.labels().clone();
    if svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    match existing {
        Some(current) if current.subsets == subsets && current.labels() == &labels => Ok(Next::Done),
        Some(current) => {
            let mut next = (*current).clone();
            next.subsets = subsets;
            next.metadata.labels = Some(labels);
            next.metadata.managed_fields = None;
            match api.replace(name, &PostParams::default(), &next).await {
                Ok(_) => Ok(Next::Done),
                // Changed meanwhile: the informer brings the new state and the key back.
                Err(e) if crate::api_reason(&e, 409) => Ok(Next::Done),
                Err(e) => Err(e.into()),
            }
        }
        None => {
            let ep = Endpoints {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(ns.into()),
                    labels: Some(labels),
                    ..Default::default()
                },
                subsets,
            };
            match api.create(&PostParams::default(), &ep).await {
                Ok(_) => Ok(Next::Done),
                Err(e) if crate::api_reason(&e, 409) || crate::namespace_terminating(&e) => Ok(Next::Done),
                Err(e) => Err(e.into()),
            }
        }
    }
}
