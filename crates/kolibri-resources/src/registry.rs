//! Lookup of served resources: the table of built-in kinds (names, scope, verbs,
//! subresources as upstream discovery shows them) plus custom resources added at run time.

use std::sync::Arc;

use k8s_openapi::api::admissionregistration::v1 as admission;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::authentication::v1 as authn;
use k8s_openapi::api::authorization::v1 as authz;
use k8s_openapi::api::autoscaling::{v1 as autoscaling_v1, v2 as autoscaling_v2};
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::certificates::v1 as certificates;
use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::api::networking::v1 as networking;
use k8s_openapi::api::node::v1 as node;
use k8s_openapi::api::policy::v1 as policy;
use k8s_openapi::api::rbac::v1 as rbac;
use k8s_openapi::api::scheduling::v1 as scheduling;
use k8s_openapi::api::storage::v1 as storage;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};

use crate::typed::{Kind, Typed};
use crate::{ResourceDef, SubresourceDef};

/// All served resources; built-in kinds at start, custom resources added at run time.
#[derive(Clone, Default)]
pub struct Registry {
    defs: Vec<Arc<ResourceDef>>,
}

impl Registry {
    /// The built-in resources of Kubernetes v1.33 that kolibri serves.
    pub fn builtin() -> Registry {
        Registry { defs: builtin_defs().into_iter().map(Arc::new).collect() }
    }

    pub fn all(&self) -> &[Arc<ResourceDef>] {
        &self.defs
    }

    /// The resource `plural` of `group`/`version`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<ResourceDef>> {
        self.defs.iter().find(|d| d.group == group && d.version == version && d.plural == plural)
    }

    /// The resource whose kind is `kind` in `group`/`version`.
    pub fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<&Arc<ResourceDef>> {
        self.defs.iter().find(|d| d.group == group && d.version == version && d.kind == kind)
    }

    /// Groups in discovery order (core first, then in the order they were added), each
    /// with its versions, the preferred (highest by Kubernetes version priority) first.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for def in &self.defs {
            match groups.iter_mut().find(|(g, _)| *g == def.group) {
                Some((_, versions)) => {
                    if !versions.contains(&def.version) {
                        versions.push(def.version.clone());
                    }
                }
                None => groups.push((def.group.clone(), vec![def.version.clone()])),
            }
        }
        for (_, versions) in &mut groups {
            versions.sort_by(|a, b| version_priority(b).cmp(&version_priority(a)).then_with(|| a.cmp(b)));
        }
        groups
    }

    /// Adds a resource, replacing one with the same group, version and plural.
    pub fn add(&mut self, def: ResourceDef) {
        let def = Arc::new(def);
        match self.defs.iter_mut().find(|d| d.group == def.group && d.version == def.version && d.plural == def.plural)
        {
            Some(existing) => *existing = def,
            None => self.defs.push(def),
        }
    }

    /// Keeps only the resources for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Arc<ResourceDef>) -> bool) {
        self.defs.retain(keep);
    }

    /// Whether both registries hold the very same definitions, in the same order.
    pub fn same_as(&self, other: &Registry) -> bool {
        self.defs.len() == other.defs.len() && self.defs.iter().zip(&other.defs).all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// Removes every version of `plural` in `group` (a deleted custom resource).
    pub fn remove_group_resource(&mut self, group: &str, plural: &str) {
        self.defs.retain(|d| !(d.group == group && d.plural == plural));
    }
}

/// Kubernetes' version ordering: GA above beta above alpha, higher numbers first;
/// anything else below, alphabetically.
fn version_priority(v: &str) -> (u8, u64, u64) {
    let Some(rest) = v.strip_prefix('v') else { return (0, 0, 0) };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u64>() else { return (0, 0, 0) };
    let tail = &rest[digits.len()..];
    let (level, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(u64::MAX))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(u64::MAX))
    } else {
        return (0, 0, 0);
    };
    (level, major, minor)
}

/// Whether a k8s-openapi scope marker is namespaced.
trait Scope {
    const NAMESPACED: bool;
}
impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const NO_DELETECOLLECTION: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const CREATE: &[&str] = &["create"];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];
const PROXY_VERBS: &[&str] = &["create", "delete", "get", "patch", "update"];
const CONNECT_VERBS: &[&str] = &["create", "get"];

/// One table row, turned into a [`ResourceDef`] for the kind `K`.
struct Row {
    plural: &'static str,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    verbs: &'static [&'static str],
    subresources: Vec<SubresourceDef>,
}

fn row(plural: &'static str) -> Row {
    Row { plural, short: &[], categories: &[], verbs: ALL_VERBS, subresources: Vec::new() }
}

impl Row {
    fn short(mut self, short: &'static [&'static str]) -> Self {
        self.short = short;
        self
    }
    fn all(mut self) -> Self {
        self.categories = &["all"];
        self
    }
    fn categories(mut self, categories: &'static [&'static str]) -> Self {
        self.categories = categories;
        self
    }
    fn verbs(mut self, verbs: &'static [&'static str]) -> Self {
        self.verbs = verbs;
        self
    }
    /// A subresource whose body is the parent kind (filled in by [`Row::def`]).
    fn sub(mut self, name: &str, verbs: &[&str]) -> Self {
        self.subresources.push(SubresourceDef {
            name: name.into(),
            group: String::new(),
            version: String::new(),
            kind: String::new(),
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
        });
        self
    }
    /// A subresource with a body of another kind.
    fn sub_kind(mut self, name: &str, (group, version, kind): (&str, &str, &str), verbs: &[&str]) -> Self {
        self.subresources.push(SubresourceDef {
            name: name.into(),
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
        });
        self
    }
    fn status(self) -> Self {
        self.sub("status", STATUS_VERBS)
    }
    fn scale(self) -> Self {
        self.sub_kind("scale", ("autoscaling", "v1", "Scale"), STATUS_VERBS)
    }

    fn def<K>(self) -> ResourceDef
    where
        K: Kind + Resource,
        K::Scope: Scope,
    {
        let namespaced = <K::Scope as Scope>::NAMESPACED;
        let has_status = self.subresources.iter().any(|s| s.name == "status");
        let subresources = self
            .subresources
            .into_iter()
            .map(|mut s| {
                if s.kind.is_empty() {
                    s.group = K::GROUP.into();
                    s.version = K::VERSION.into();
                    s.kind = K::KIND.into();
                }
                s
            })
            .collect();
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ResourceDef {
            group: K::GROUP.into(),
            version: K::VERSION.into(),
            kind: K::KIND.into(),
            list_kind: format!("{}List", K::KIND),
            plural: self.plural.into(),
            singular: K::KIND.to_lowercase(),
            namespaced,
            short_names: strings(self.short),
            categories: strings(self.categories),
            verbs: strings(self.verbs),
            subresources,
            has_status,
            protobuf: true,
            strategy: Arc::new(Typed::<K>::new(namespaced, has_status)),
            custom: None,
        }
    }
}

fn builtin_defs() -> Vec<ResourceDef> {
    let api_ext: &'static [&'static str] = &["api-extensions"];
    vec![
        // core/v1
        row("bindings").verbs(CREATE).def::<core::Binding>(),
        row("configmaps").short(&["cm"]).def::<core::ConfigMap>(),
        row("endpoints").short(&["ep"]).def::<core::Endpoints>(),
        row("events").short(&["ev"]).def::<core::Event>(),
        row("limitranges").short(&["limits"]).def::<core::LimitRange>(),
        row("namespaces")
            .short(&["ns"])
            .verbs(NO_DELETECOLLECTION)
            .sub("finalize", &["update"])
            .status()
            .def::<core::Namespace>(),
        row("nodes").short(&["no"]).sub("proxy", PROXY_VERBS).status().def::<core::Node>(),
        row("persistentvolumeclaims").short(&["pvc"]).status().def::<core::PersistentVolumeClaim>(),
        row("persistentvolumes").short(&["pv"]).status().def::<core::PersistentVolume>(),
        row("pods")
            .short(&["po"])
            .all()
            .sub("attach", CONNECT_VERBS)
            .sub_kind("binding", ("", "v1", "Binding"), CREATE)
            .sub("ephemeralcontainers", STATUS_VERBS)
            .sub_kind("eviction", ("policy", "v1", "Eviction"), CREATE)
            .sub("exec", CONNECT_VERBS)
            .sub("log", &["get"])
            .sub("portforward", CONNECT_VERBS)
            .sub("proxy", PROXY_VERBS)
            .sub("resize", STATUS_VERBS)
            .status()
            .def::<core::Pod>(),
        row("podtemplates").def::<core::PodTemplate>(),
        row("replicationcontrollers").short(&["rc"]).all().scale().status().def::<core::ReplicationController>(),
        row("resourcequotas").short(&["quota"]).status().def::<core::ResourceQuota>(),
        row("secrets").def::<core::Secret>(),
        row("serviceaccounts")
            .short(&["sa"])
            .sub_kind("token", ("authentication.k8s.io", "v1", "TokenRequest"), CREATE)
            .def::<core::ServiceAccount>(),
        row("services").short(&["svc"]).all().sub("proxy", PROXY_VERBS).status().def::<core::Service>(),
        // apps/v1
        row("controllerrevisions").def::<apps::ControllerRevision>(),
        row("daemonsets").short(&["ds"]).all().status().def::<apps::DaemonSet>(),
        row("deployments").short(&["deploy"]).all().scale().status().def::<apps::Deployment>(),
        row("replicasets").short(&["rs"]).all().scale().status().def::<apps::ReplicaSet>(),
        row("statefulsets").short(&["sts"]).all().scale().status().def::<apps::StatefulSet>(),
        // events.k8s.io/v1
        row("events").short(&["ev"]).def::<events::Event>(),
        // authentication.k8s.io/v1
        row("selfsubjectreviews").verbs(CREATE).def::<authn::SelfSubjectReview>(),
        row("tokenreviews").verbs(CREATE).def::<authn::TokenReview>(),
        // authorization.k8s.io/v1
        row("localsubjectaccessreviews").verbs(CREATE).def::<authz::LocalSubjectAccessReview>(),
        row("selfsubjectaccessreviews").verbs(CREATE).def::<authz::SelfSubjectAccessReview>(),
        row("selfsubjectrulesreviews").verbs(CREATE).def::<authz::SelfSubjectRulesReview>(),
        row("subjectaccessreviews").verbs(CREATE).def::<authz::SubjectAccessReview>(),
        // autoscaling/v2 (preferred) and v1
        row("horizontalpodautoscalers").short(&["hpa"]).all().status().def::<autoscaling_v2::HorizontalPodAutoscaler>(),
        row("horizontalpodautoscalers").short(&["hpa"]).all().status().def::<autoscaling_v1::HorizontalPodAutoscaler>(),
        // batch/v1
        row("cronjobs").short(&["cj"]).all().status().def::<batch::CronJob>(),
        row("jobs").all().status().def::<batch::Job>(),
        // certificates.k8s.io/v1
        row("certificatesigningrequests")
            .short(&["csr"])
            .sub("approval", STATUS_VERBS)
            .status()
            .def::<certificates::CertificateSigningRequest>(),
        // networking.k8s.io/v1
        row("ingressclasses").def::<networking::IngressClass>(),
        row("ingresses").short(&["ing"]).status().def::<networking::Ingress>(),
        row("networkpolicies").short(&["netpol"]).def::<networking::NetworkPolicy>(),
        // policy/v1
        row("poddisruptionbudgets").short(&["pdb"]).status().def::<policy::PodDisruptionBudget>(),
        // rbac.authorization.k8s.io/v1
        row("clusterrolebindings").def::<rbac::ClusterRoleBinding>(),
        row("clusterroles").def::<rbac::ClusterRole>(),
        row("rolebindings").def::<rbac::RoleBinding>(),
        row("roles").def::<rbac::Role>(),
        // storage.k8s.io/v1
        row("csidrivers").def::<storage::CSIDriver>(),
        row("csinodes").def::<storage::CSINode>(),
        row("csistoragecapacities").def::<storage::CSIStorageCapacity>(),
        row("storageclasses").short(&["sc"]).def::<storage::StorageClass>(),
        row("volumeattachments").status().def::<storage::VolumeAttachment>(),
        // admissionregistration.k8s.io/v1
        row("mutatingwebhookconfigurations").categories(api_ext).def::<admission::MutatingWebhookConfiguration>(),
        row("validatingadmissionpolicies").categories(api_ext).status().def::<admission::ValidatingAdmissionPolicy>(),
        row("validatingadmissionpolicybindings")
            .categories(api_ext)
            .def::<admission::ValidatingAdmissionPolicyBinding>(),
        row("validatingwebhookconfigurations").categories(api_ext).def::<admission::ValidatingWebhookConfiguration>(),
        // apiextensions.k8s.io/v1
        row("customresourcedefinitions")
            .short(&["crd", "crds"])
            .categories(api_ext)
            .status()
            .def::<apiextensions::CustomResourceDefinition>(),
        // scheduling.k8s.io/v1
        row("priorityclasses").short(&["pc"]).def::<scheduling::PriorityClass>(),
        // coordination.k8s.io/v1
        row("leases").def::<coordination::Lease>(),
        // node.k8s.io/v1
        row("runtimeclasses").def::<node::RuntimeClass>(),
        // discovery.k8s.io/v1
        row("endpointslices").def::<discovery::EndpointSlice>(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_row() {
        let r = Registry::builtin();
        let d = r.get("apps", "v1", "deployments").unwrap();
        assert_eq!(d.kind, "Deployment");
        assert_eq!(d.list_kind, "DeploymentList");
        assert_eq!(d.singular, "deployment");
        assert!(d.namespaced);
        assert_eq!(d.short_names, ["deploy"]);
        assert_eq!(d.categories, ["all"]);
        let scale = d.subresource("scale").unwrap();
        assert_eq!((scale.group.as_str(), scale.version.as_str(), scale.kind.as_str()), ("autoscaling", "v1", "Scale"));
        assert_eq!(scale.verbs, ["get", "patch", "update"]);
        assert_eq!(d.subresource("status").unwrap().kind, "Deployment");
        assert!(d.has_status);
        assert!(Arc::ptr_eq(d, r.by_kind("apps", "v1", "Deployment").unwrap()));
    }

    #[test]
    fn pods_and_create_only_resources() {
        let r = Registry::builtin();
        let pods = r.get("", "v1", "pods").unwrap();
        let eviction = pods.subresource("eviction").unwrap();
        assert_eq!(
            (eviction.group.as_str(), eviction.kind.as_str(), eviction.verbs.as_slice()),
            ("policy", "Eviction", &["create".to_string()][..])
        );
        assert_eq!(pods.subresource("binding").unwrap().kind, "Binding");
        assert_eq!(pods.subresource("log").unwrap().verbs, ["get"]);
        let token = r.get("", "v1", "serviceaccounts").unwrap().subresource("token").unwrap();
        assert_eq!((token.group.as_str(), token.kind.as_str()), ("authentication.k8s.io", "TokenRequest"));
        assert_eq!(r.get("authorization.k8s.io", "v1", "selfsubjectaccessreviews").unwrap().verbs, ["create"]);
        assert!(!r.get("", "v1", "namespaces").unwrap().namespaced);
        assert!(!r.get("", "v1", "namespaces").unwrap().verbs.contains(&"deletecollection".to_string()));
        assert_eq!(
            r.get("apiextensions.k8s.io", "v1", "customresourcedefinitions").unwrap().short_names,
            ["crd", "crds"]
        );
        assert!(r.get("", "v1", "componentstatuses").is_none());
    }

    #[test]
    fn every_all_category_member_is_there() {
        let r = Registry::builtin();
        let mut all: Vec<&str> =
            r.all().iter().filter(|d| d.categories.contains(&"all".to_string())).map(|d| d.plural.as_str()).collect();
        all.sort();
        all.dedup();
        assert_eq!(
            all,
            [
                "cronjobs",
                "daemonsets",
                "deployments",
                "horizontalpodautoscalers",
                "jobs",
                "pods",
                "replicasets",
                "replicationcontrollers",
                "services",
                "statefulsets"
            ]
        );
    }

    #[test]
    fn groups_in_discovery_order() {
        let r = Registry::builtin();
        let groups = r.groups();
        let names: Vec<&str> = groups.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(
            names,
            [
                "",
                "apps",
                "events.k8s.io",
                "authentication.k8s.io",
                "authorization.k8s.io",
                "autoscaling",
                "batch",
                "certificates.k8s.io",
                "networking.k8s.io",
                "policy",
                "rbac.authorization.k8s.io",
                "storage.k8s.io",
                "admissionregistration.k8s.io",
                "apiextensions.k8s.io",
                "scheduling.k8s.io",
                "coordination.k8s.io",
                "node.k8s.io",
                "discovery.k8s.io"
            ]
        );
        assert_eq!(groups[5].1, ["v2", "v1"]);
    }

    #[test]
    fn add_and_remove_custom_resources() {
        let mut r = Registry::builtin();
        let template = r.get("", "v1", "configmaps").unwrap();
        let mut def = (**template).clone();
        def.group = "example.com".into();
        def.version = "v1beta1".into();
        def.plural = "widgets".into();
        r.add(def.clone());
        def.version = "v1".into();
        r.add(def.clone());
        r.add(def);
        assert_eq!(
            r.groups().last().unwrap(),
            &("example.com".to_string(), vec!["v1".to_string(), "v1beta1".to_string()])
        );
        assert_eq!(r.all().iter().filter(|d| d.group == "example.com").count(), 2);
        r.remove_group_resource("example.com", "widgets");
        assert!(r.get("example.com", "v1", "widgets").is_none());
    }

    #[test]
    fn version_ordering() {
        let mut v = vec!["v1beta1", "v1", "v2alpha1", "v2", "foo", "v1beta2"];
        v.sort_by(|a, b| version_priority(b).cmp(&version_priority(a)).then_with(|| a.cmp(b)));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1beta1", "v2alpha1", "foo"]);
    }
}
