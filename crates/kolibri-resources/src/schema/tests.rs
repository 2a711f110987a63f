use serde_json::json;

use super::*;

const POD_SPEC: &str = "io.k8s.api.core.v1.PodSpec";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

#[test]
fn tables_are_sorted_and_apply() {
    let fields = extensions::FIELDS;
    assert!(fields.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
    for row in fields {
        let schema = definitions().get(row.0).unwrap_or_else(|| panic!("missing definition {}", row.0));
        if !row.1.is_empty() {
            assert!(schema["properties"].get(row.1).is_some(), "{}.{} missing", row.0, row.1);
        }
    }
    for (name, ..) in kinds::KINDS {
        assert!(definitions().contains_key(*name), "missing {name}");
    }
}

#[test]
fn refs_resolve() {
    fn check(v: &Value) {
        match v {
            Value::Object(m) => {
                // JSONSchemaProps has a property named `$ref`: only strings are references.
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    let name = r.strip_prefix(REF_PREFIX).unwrap();
                    assert!(definitions().contains_key(name), "dangling {name}");
                }
                m.values().for_each(check);
            }
            Value::Array(a) => a.iter().for_each(check),
            _ => {}
        }
    }
    definitions().values().for_each(check);
}

#[test]
fn pod_spec_containers_carry_patch_extensions() {
    let containers = &definitions()[POD_SPEC]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    assert_eq!(containers["items"]["$ref"], "#/components/schemas/io.k8s.api.core.v1.Container");
}

#[test]
fn kinds_carry_group_version_kind() {
    assert_eq!(
        definitions()["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert_eq!(definition_name("", "v1", "Pod"), Some("io.k8s.api.core.v1.Pod"));
    assert_eq!(
        definition_name("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        Some("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition")
    );
    assert_eq!(
        definition_name("autoscaling", "v2", "HorizontalPodAutoscaler"),
        Some("io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler")
    );
    assert_eq!(definition_name("example.com", "v1", "Foo"), None);
    assert_eq!(group_version_kinds("io.k8s.api.core.v1.Pod").collect::<Vec<_>>(), vec![("", "v1", "Pod")]);
}

#[test]
fn int_or_string_and_map_types() {
    let ios = &definitions()["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(ios["format"], "int-or-string");
    assert_eq!(ios["x-kubernetes-int-or-string"], true);
    assert_eq!(definitions()["io.k8s.api.core.v1.LocalObjectReference"]["x-kubernetes-map-type"], "atomic");
    let finalizers = &definitions()[OBJECT_META]["properties"]["finalizers"];
    assert_eq!(finalizers["x-kubernetes-list-type"], "set");
}

#[test]
fn patch_meta_from_table() {
    let merge_name =
        PatchMeta { strategy: PatchStrategy { merge: true, ..Default::default() }, merge_key: Some("name") };
    assert_eq!(patch_meta(POD_SPEC, "containers"), Some(merge_name));
    assert_eq!(patch_meta("io.k8s.api.core.v1.Container", "ports").and_then(|m| m.merge_key), Some("containerPort"));
    let volumes = patch_meta(POD_SPEC, "volumes").unwrap();
    assert!(volumes.strategy.merge && volumes.strategy.retain_keys);
    let strategy = patch_meta("io.k8s.api.apps.v1.DeploymentSpec", "strategy").unwrap();
    assert!(strategy.strategy.retain_keys && !strategy.strategy.merge);
    assert_eq!(patch_meta(OBJECT_META, "ownerReferences").and_then(|m| m.merge_key), Some("uid"));
    assert!(patch_meta(OBJECT_META, "finalizers").unwrap().strategy.merge);
    // Known field without strategy: replaced.
    assert_eq!(patch_meta(POD_SPEC, "tolerations"), Some(PatchMeta::default()));
    assert_eq!(patch_meta(POD_SPEC, "noSuchField"), None);
    assert_eq!(patch_meta("io.example.Nope", "x"), None);
}

#[test]
fn property_definition_descends() {
    assert_eq!(property_definition(POD_SPEC, "containers"), Some(SchemaRef::List("io.k8s.api.core.v1.Container")));
    assert_eq!(property_definition("io.k8s.api.core.v1.Pod", "spec"), Some(SchemaRef::Object(POD_SPEC)));
    assert_eq!(property_definition("io.k8s.api.core.v1.Pod", "metadata").map(SchemaRef::definition), Some(OBJECT_META));
    assert_eq!(
        property_definition("io.k8s.api.core.v1.Container", "resources"),
        Some(SchemaRef::Object("io.k8s.api.core.v1.ResourceRequirements"))
    );
    assert_eq!(
        property_definition("io.k8s.api.core.v1.ResourceRequirements", "limits"),
        Some(SchemaRef::Map("io.k8s.apimachinery.pkg.api.resource.Quantity"))
    );
    assert_eq!(property_definition(POD_SPEC, "nodeName"), None);
    assert_eq!(property_definition(POD_SPEC, "nope"), None);
}

#[test]
fn unknown_fields_reports_paths() {
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"any": "thing"}, "bogus": 1},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "foo": true,
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}},
                        {"name": "d", "image": "i", "imagePullPolicyy": "Always"}
                    ]
                }
            }
        }
    });
    assert_eq!(
        unknown_fields("io.k8s.api.apps.v1.Deployment", &deployment),
        vec!["metadata.bogus", "spec.foo", "spec.template.spec.containers[1].imagePullPolicyy"]
    );
}

#[test]
fn unknown_fields_accepts_free_form() {
    // CRD schemas hold arbitrary JSON in default/example and RawExtension in webhooks.
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "foos", "kind": "Foo"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {"spec": {"type": "object", "default": {"whatever": [1]}}}
                }}
            }]
        }
    });
    let def = definition_name("apiextensions.k8s.io", "v1", "CustomResourceDefinition").unwrap();
    assert!(unknown_fields(def, &crd).is_empty());
    let mut bad = crd.clone();
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["typo"] = json!(1);
    assert_eq!(unknown_fields(def, &bad), vec!["spec.versions[0].schema.openAPIV3Schema.typo"]);
    assert!(unknown_fields("io.example.Unknown", &crd).is_empty());
}
