//! The kinds whose schemas are generated: definition name and group/version/kind, as in
//! the upstream Kubernetes v1.33 OpenAPI spec (`x-kubernetes-group-version-kind`).

use k8s_openapi::{api, apiextensions_apiserver, apimachinery};
use schemars::SchemaGenerator;

/// Definition name, group, version, kind.
#[rustfmt::skip]
pub(super) const KINDS: &[(&str, &str, &str, &str)] = &[
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", "", "v1", "APIGroup"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList", "", "v1", "APIGroupList"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList", "", "v1", "APIResourceList"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions", "", "v1", "APIVersions"),
    ("io.k8s.api.core.v1.Binding", "", "v1", "Binding"),
    ("io.k8s.api.core.v1.ComponentStatus", "", "v1", "ComponentStatus"),
    ("io.k8s.api.core.v1.ComponentStatusList", "", "v1", "ComponentStatusList"),
    ("io.k8s.api.core.v1.ConfigMap", "", "v1", "ConfigMap"),
    ("io.k8s.api.core.v1.ConfigMapList", "", "v1", "ConfigMapList"),
    ("io.k8s.api.core.v1.Endpoints", "", "v1", "Endpoints"),
    ("io.k8s.api.core.v1.EndpointsList", "", "v1", "EndpointsList"),
    ("io.k8s.api.core.v1.Event", "", "v1", "Event"),
    ("io.k8s.api.core.v1.EventList", "", "v1", "EventList"),
    ("io.k8s.api.core.v1.LimitRange", "", "v1", "LimitRange"),
    ("io.k8s.api.core.v1.LimitRangeList", "", "v1", "LimitRangeList"),
    ("io.k8s.api.core.v1.Namespace", "", "v1", "Namespace"),
    ("io.k8s.api.core.v1.NamespaceList", "", "v1", "NamespaceList"),
    ("io.k8s.api.core.v1.Node", "", "v1", "Node"),
    ("io.k8s.api.core.v1.NodeList", "", "v1", "NodeList"),
    ("io.k8s.api.core.v1.PersistentVolume", "", "v1", "PersistentVolume"),
    ("io.k8s.api.core.v1.PersistentVolumeClaim", "", "v1", "PersistentVolumeClaim"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimList", "", "v1", "PersistentVolumeClaimList"),
    ("io.k8s.api.core.v1.PersistentVolumeList", "", "v1", "PersistentVolumeList"),
    ("io.k8s.api.core.v1.Pod", "", "v1", "Pod"),
    ("io.k8s.api.core.v1.PodList", "", "v1", "PodList"),
    ("io.k8s.api.core.v1.PodTemplate", "", "v1", "PodTemplate"),
    ("io.k8s.api.core.v1.PodTemplateList", "", "v1", "PodTemplateList"),
    ("io.k8s.api.core.v1.ReplicationController", "", "v1", "ReplicationController"),
    ("io.k8s.api.core.v1.ReplicationControllerList", "", "v1", "ReplicationControllerList"),
    ("io.k8s.api.core.v1.ResourceQuota", "", "v1", "ResourceQuota"),
    ("io.k8s.api.core.v1.ResourceQuotaList", "", "v1", "ResourceQuotaList"),
    ("io.k8s.api.core.v1.Secret", "", "v1", "Secret"),
    ("io.k8s.api.core.v1.SecretList", "", "v1", "SecretList"),
    ("io.k8s.api.core.v1.Service", "", "v1", "Service"),
    ("io.k8s.api.core.v1.ServiceAccount", "", "v1", "ServiceAccount"),
    ("io.k8s.api.core.v1.ServiceAccountList", "", "v1", "ServiceAccountList"),
    ("io.k8s.api.core.v1.ServiceList", "", "v1", "ServiceList"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Status", "", "v1", "Status"),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration", "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration"),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhookConfigurationList", "admissionregistration.k8s.io", "v1", "MutatingWebhookConfigurationList"),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy", "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy"),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding"),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingList", "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBindingList"),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyList", "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyList"),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration", "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhookConfigurationList", "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfigurationList"),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition", "apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionList", "apiextensions.k8s.io", "v1", "CustomResourceDefinitionList"),
    ("io.k8s.api.apps.v1.ControllerRevision", "apps", "v1", "ControllerRevision"),
    ("io.k8s.api.apps.v1.ControllerRevisionList", "apps", "v1", "ControllerRevisionList"),
    ("io.k8s.api.apps.v1.DaemonSet", "apps", "v1", "DaemonSet"),
    ("io.k8s.api.apps.v1.DaemonSetList", "apps", "v1", "DaemonSetList"),
    ("io.k8s.api.apps.v1.Deployment", "apps", "v1", "Deployment"),
    ("io.k8s.api.apps.v1.DeploymentList", "apps", "v1", "DeploymentList"),
    ("io.k8s.api.apps.v1.ReplicaSet", "apps", "v1", "ReplicaSet"),
    ("io.k8s.api.apps.v1.ReplicaSetList", "apps", "v1", "ReplicaSetList"),
    ("io.k8s.api.apps.v1.StatefulSet", "apps", "v1", "StatefulSet"),
    ("io.k8s.api.apps.v1.StatefulSetList", "apps", "v1", "StatefulSetList"),
    ("io.k8s.api.authentication.v1.SelfSubjectReview", "authentication.k8s.io", "v1", "SelfSubjectReview"),
    ("io.k8s.api.authentication.v1.TokenRequest", "authentication.k8s.io", "v1", "TokenRequest"),
    ("io.k8s.api.authentication.v1.TokenReview", "authentication.k8s.io", "v1", "TokenReview"),
    ("io.k8s.api.authorization.v1.LocalSubjectAccessReview", "authorization.k8s.io", "v1", "LocalSubjectAccessReview"),
    ("io.k8s.api.authorization.v1.SelfSubjectAccessReview", "authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
    ("io.k8s.api.authorization.v1.SelfSubjectRulesReview", "authorization.k8s.io", "v1", "SelfSubjectRulesReview"),
    ("io.k8s.api.authorization.v1.SubjectAccessReview", "authorization.k8s.io", "v1", "SubjectAccessReview"),
    ("io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler", "autoscaling", "v1", "HorizontalPodAutoscaler"),
    ("io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerList", "autoscaling", "v1", "HorizontalPodAutoscalerList"),
    ("io.k8s.api.autoscaling.v1.Scale", "autoscaling", "v1", "Scale"),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", "autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerList", "autoscaling", "v2", "HorizontalPodAutoscalerList"),
    ("io.k8s.api.batch.v1.CronJob", "batch", "v1", "CronJob"),
    ("io.k8s.api.batch.v1.CronJobList", "batch", "v1", "CronJobList"),
    ("io.k8s.api.batch.v1.Job", "batch", "v1", "Job"),
    ("io.k8s.api.batch.v1.JobList", "batch", "v1", "JobList"),
    ("io.k8s.api.certificates.v1.CertificateSigningRequest", "certificates.k8s.io", "v1", "CertificateSigningRequest"),
    ("io.k8s.api.certificates.v1.CertificateSigningRequestList", "certificates.k8s.io", "v1", "CertificateSigningRequestList"),
    ("io.k8s.api.coordination.v1.Lease", "coordination.k8s.io", "v1", "Lease"),
    ("io.k8s.api.coordination.v1.LeaseList", "coordination.k8s.io", "v1", "LeaseList"),
    ("io.k8s.api.discovery.v1.EndpointSlice", "discovery.k8s.io", "v1", "EndpointSlice"),
    ("io.k8s.api.discovery.v1.EndpointSliceList", "discovery.k8s.io", "v1", "EndpointSliceList"),
    ("io.k8s.api.events.v1.Event", "events.k8s.io", "v1", "Event"),
    ("io.k8s.api.events.v1.EventList", "events.k8s.io", "v1", "EventList"),
    ("io.k8s.api.networking.v1.IPAddress", "networking.k8s.io", "v1", "IPAddress"),
    ("io.k8s.api.networking.v1.IPAddressList", "networking.k8s.io", "v1", "IPAddressList"),
    ("io.k8s.api.networking.v1.Ingress", "networking.k8s.io", "v1", "Ingress"),
    ("io.k8s.api.networking.v1.IngressClass", "networking.k8s.io", "v1", "IngressClass"),
    ("io.k8s.api.networking.v1.IngressClassList", "networking.k8s.io", "v1", "IngressClassList"),
    ("io.k8s.api.networking.v1.IngressList", "networking.k8s.io", "v1", "IngressList"),
    ("io.k8s.api.networking.v1.NetworkPolicy", "networking.k8s.io", "v1", "NetworkPolicy"),
    ("io.k8s.api.networking.v1.NetworkPolicyList", "networking.k8s.io", "v1", "NetworkPolicyList"),
    ("io.k8s.api.networking.v1.ServiceCIDR", "networking.k8s.io", "v1", "ServiceCIDR"),
    ("io.k8s.api.networking.v1.ServiceCIDRList", "networking.k8s.io", "v1", "ServiceCIDRList"),
    ("io.k8s.api.node.v1.RuntimeClass", "node.k8s.io", "v1", "RuntimeClass"),
    ("io.k8s.api.node.v1.RuntimeClassList", "node.k8s.io", "v1", "RuntimeClassList"),
    ("io.k8s.api.policy.v1.Eviction", "policy", "v1", "Eviction"),
    ("io.k8s.api.policy.v1.PodDisruptionBudget", "policy", "v1", "PodDisruptionBudget"),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetList", "policy", "v1", "PodDisruptionBudgetList"),
    ("io.k8s.api.rbac.v1.ClusterRole", "rbac.authorization.k8s.io", "v1", "ClusterRole"),
    ("io.k8s.api.rbac.v1.ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("io.k8s.api.rbac.v1.ClusterRoleBindingList", "rbac.authorization.k8s.io", "v1", "ClusterRoleBindingList"),
    ("io.k8s.api.rbac.v1.ClusterRoleList", "rbac.authorization.k8s.io", "v1", "ClusterRoleList"),
    ("io.k8s.api.rbac.v1.Role", "rbac.authorization.k8s.io", "v1", "Role"),
    ("io.k8s.api.rbac.v1.RoleBinding", "rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("io.k8s.api.rbac.v1.RoleBindingList", "rbac.authorization.k8s.io", "v1", "RoleBindingList"),
    ("io.k8s.api.rbac.v1.RoleList", "rbac.authorization.k8s.io", "v1", "RoleList"),
    ("io.k8s.api.scheduling.v1.PriorityClass", "scheduling.k8s.io", "v1", "PriorityClass"),
    ("io.k8s.api.scheduling.v1.PriorityClassList", "scheduling.k8s.io", "v1", "PriorityClassList"),
    ("io.k8s.api.storage.v1.CSIDriver", "storage.k8s.io", "v1", "CSIDriver"),
    ("io.k8s.api.storage.v1.CSIDriverList", "storage.k8s.io", "v1", "CSIDriverList"),
    ("io.k8s.api.storage.v1.CSINode", "storage.k8s.io", "v1", "CSINode"),
    ("io.k8s.api.storage.v1.CSINodeList", "storage.k8s.io", "v1", "CSINodeList"),
    ("io.k8s.api.storage.v1.CSIStorageCapacity", "storage.k8s.io", "v1", "CSIStorageCapacity"),
    ("io.k8s.api.storage.v1.CSIStorageCapacityList", "storage.k8s.io", "v1", "CSIStorageCapacityList"),
    ("io.k8s.api.storage.v1.StorageClass", "storage.k8s.io", "v1", "StorageClass"),
    ("io.k8s.api.storage.v1.StorageClassList", "storage.k8s.io", "v1", "StorageClassList"),
    ("io.k8s.api.storage.v1.VolumeAttachment", "storage.k8s.io", "v1", "VolumeAttachment"),
    ("io.k8s.api.storage.v1.VolumeAttachmentList", "storage.k8s.io", "v1", "VolumeAttachmentList"),
];

/// Adds the schemas of all kinds (and what they reference) to `generator`.
#[rustfmt::skip]
pub(super) fn generate_all(generator: &mut SchemaGenerator) {
    generator.subschema_for::<apimachinery::pkg::apis::meta::v1::APIGroup>();
    generator.subschema_for::<apimachinery::pkg::apis::meta::v1::APIGroupList>();
    generator.subschema_for::<apimachinery::pkg::apis::meta::v1::APIResourceList>();
    generator.subschema_for::<apimachinery::pkg::apis::meta::v1::APIVersions>();
    generator.subschema_for::<api::core::v1::Binding>();
    generator.subschema_for::<api::core::v1::ComponentStatus>();
    generator.subschema_for::<api::core::v1::ConfigMap>();
    generator.subschema_for::<api::core::v1::Endpoints>();
    generator.subschema_for::<api::core::v1::Event>();
    generator.subschema_for::<api::core::v1::LimitRange>();
    generator.subschema_for::<api::core::v1::Namespace>();
    generator.subschema_for::<api::core::v1::Node>();
    generator.subschema_for::<api::core::v1::PersistentVolume>();
    generator.subschema_for::<api::core::v1::PersistentVolumeClaim>();
    generator.subschema_for::<api::core::v1::Pod>();
    generator.subschema_for::<api::core::v1::PodTemplate>();
    generator.subschema_for::<api::core::v1::ReplicationController>();
    generator.subschema_for::<api::core::v1::ResourceQuota>();
    generator.subschema_for::<api::core::v1::Secret>();
    generator.subschema_for::<api::core::v1::Service>();
    generator.subschema_for::<api::core::v1::ServiceAccount>();
    generator.subschema_for::<apimachinery::pkg::apis::meta::v1::Status>();
    generator.subschema_for::<api::admissionregistration::v1::MutatingWebhookConfiguration>();
    generator.subschema_for::<api::admissionregistration::v1::ValidatingAdmissionPolicy>();
    generator.subschema_for::<api::admissionregistration::v1::ValidatingAdmissionPolicyBinding>();
    generator.subschema_for::<api::admissionregistration::v1::ValidatingWebhookConfiguration>();
    generator.subschema_for::<apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>();
    generator.subschema_for::<api::apps::v1::ControllerRevision>();
    generator.subschema_for::<api::apps::v1::DaemonSet>();
    generator.subschema_for::<api::apps::v1::Deployment>();
    generator.subschema_for::<api::apps::v1::ReplicaSet>();
    generator.subschema_for::<api::apps::v1::StatefulSet>();
    generator.subschema_for::<api::authentication::v1::SelfSubjectReview>();
    generator.subschema_for::<api::authentication::v1::TokenRequest>();
    generator.subschema_for::<api::authentication::v1::TokenReview>();
    generator.subschema_for::<api::authorization::v1::LocalSubjectAccessReview>();
    generator.subschema_for::<api::authorization::v1::SelfSubjectAccessReview>();
    generator.subschema_for::<api::authorization::v1::SelfSubjectRulesReview>();
    generator.subschema_for::<api::authorization::v1::SubjectAccessReview>();
    generator.subschema_for::<api::autoscaling::v1::HorizontalPodAutoscaler>();
    generator.subschema_for::<api::autoscaling::v1::Scale>();
    generator.subschema_for::<api::autoscaling::v2::HorizontalPodAutoscaler>();
    generator.subschema_for::<api::batch::v1::CronJob>();
    generator.subschema_for::<api::batch::v1::Job>();
    generator.subschema_for::<api::certificates::v1::CertificateSigningRequest>();
    generator.subschema_for::<api::coordination::v1::Lease>();
    generator.subschema_for::<api::discovery::v1::EndpointSlice>();
    generator.subschema_for::<api::events::v1::Event>();
    generator.subschema_for::<api::networking::v1::IPAddress>();
    generator.subschema_for::<api::networking::v1::Ingress>();
    generator.subschema_for::<api::networking::v1::IngressClass>();
    generator.subschema_for::<api::networking::v1::NetworkPolicy>();
    generator.subschema_for::<api::networking::v1::ServiceCIDR>();
    generator.subschema_for::<api::node::v1::RuntimeClass>();
    generator.subschema_for::<api::policy::v1::Eviction>();
    generator.subschema_for::<api::policy::v1::PodDisruptionBudget>();
    generator.subschema_for::<api::rbac::v1::ClusterRole>();
    generator.subschema_for::<api::rbac::v1::ClusterRoleBinding>();
    generator.subschema_for::<api::rbac::v1::Role>();
    generator.subschema_for::<api::rbac::v1::RoleBinding>();
    generator.subschema_for::<api::scheduling::v1::PriorityClass>();
    generator.subschema_for::<api::storage::v1::CSIDriver>();
    generator.subschema_for::<api::storage::v1::CSINode>();
    generator.subschema_for::<api::storage::v1::CSIStorageCapacity>();
    generator.subschema_for::<api::storage::v1::StorageClass>();
    generator.subschema_for::<api::storage::v1::VolumeAttachment>();
    generator.subschema_for::<apimachinery::pkg::apis::meta::v1::DeleteOptions>();
    generator.subschema_for::<apimachinery::pkg::apis::meta::v1::ListMeta>();
    generator.subschema_for::<apimachinery::pkg::apis::meta::v1::WatchEvent<api::core::v1::Pod>>();
}
