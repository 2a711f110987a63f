//! CustomResourceDefinitions end to end with kubectl 1.32 and 1.33: custom resources served
//! under their group with discovery and OpenAPI that follow at once, structural schemas
//! (pruning, defaults, validation messages), printer columns, status and scale
//! subresources, several versions, deletion of a definition with its objects, and the
//! refusals upstream gives.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;
use serde_json::Value;

/// A namespaced Widget in `kolibri.example.com` with `v1` (storage) and a deprecated `v1beta1`.
fn widget_crd(group: &str) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wdg]
    categories: [all, gadgets]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {{}}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Ready
      type: string
      jsonPath: .status.conditions[?(@.type=="Ready")].status
    - name: Mode
      type: string
      priority: 1
      jsonPath: .spec.mode
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: A Widget is a thing with a size.
        properties:
          spec:
            type: object
            description: What the widget should be.
            required: [size]
            properties:
              size:
                type: integer
                description: How big the widget is.
                minimum: 1
                maximum: 10
              mode:
                type: string
                enum: [fast, slow]
                default: fast
              replicas:
                type: integer
              port:
                x-kubernetes-int-or-string: true
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
              items:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {{type: string}}
                    value: {{type: string}}
          status:
            type: object
            properties:
              replicas: {{type: integer}}
              selector: {{type: string}}
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {{type: string}}
                    status: {{type: string}}
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#
    )
}

fn install(server: &common::Server, bin: &str, group: &str) {
    let file = write_file(server, &format!("crd-{group}.yaml"), &widget_crd(group));
    kc_ok(server, bin, &["apply", "-f", p(&file)]);
    kc_ok(server, bin, &["wait", "--for=condition=Established", "--timeout=10s", &format!("crd/widgets.{group}")]);
}

#[test]
fn custom_resources_are_served_with_discovery_and_tables() {
    let server = start_server();
    for (bin, v) in BINS {
        let group = format!("k{v}.example.com");
        install(&server, bin, &group);
        let crd = get_json(&server, bin, &["crd", &format!("widgets.{group}")]);
        let conditions = at(&crd, "status.conditions").as_array().expect("conditions").clone();
        let cond = |t: &str| conditions.iter().find(|c| c["type"] == t).cloned().unwrap_or(Value::Null);
        assert_eq!(cond("NamesAccepted")["reason"], "NoConflicts");
        assert_eq!(cond("Established")["status"], "True");
        assert_eq!(cond("Established")["reason"], "InitialNamesAccepted");
        assert_eq!(at(&crd, "status.storedVersions"), &serde_json::json!(["v1"]));
        assert_eq!(s(&crd, "status.acceptedNames.kind"), "Widget");

        let resources = kc_ok(&server, bin, &["api-resources", "--api-group", &group, "-o", "wide"]);
        let rows = lines(&resources);
        assert!(rows[0].starts_with("NAME"), "{resources}");
        let widget: Vec<&str> = rows[1].split_whitespace().collect();
        assert_eq!(&widget[..5], ["widgets", "wdg", &format!("{group}/v1"), "true", "Widget"], "{resources}");
        assert_eq!(widget.last(), Some(&"all,gadgets"), "{resources}");

        let doc =
            format!("apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n  replicas: 1\n");
        let file = write_file(&server, &format!("w1-{v}.yaml"), &doc);
        assert_eq!(kc_ok(&server, bin, &["apply", "-f", p(&file)]), format!("widget.{group}/w1 created\n"));
        // Defaults are applied on create.
        let w = get_json(&server, bin, &[&format!("widgets.{group}"), "w1"]);
        assert_eq!(s(&w, "spec.mode"), "fast");
        assert_eq!(at(&w, "metadata.generation"), 1);

        let (header, rows) = table(&kc_ok(&server, bin, &["get", &format!("wdg.{group}")]));
        assert_eq!(header, ["NAME", "SIZE", "READY", "AGE"]);
        // No Ready condition yet: upstream leaves the cell empty.
        assert_eq!(rows[0].len(), 3, "{rows:?}");
        assert_eq!(rows[0][..2], ["w1", "3"]);
        let (header, _) = table(&kc_ok(&server, bin, &["get", &format!("widgets.{group}"), "-o", "wide"]));
        assert_eq!(header, ["NAME", "SIZE", "READY", "MODE", "AGE"]);

        // The status subresource: the condition shows in the Ready column.
        kc_ok(
            &server,
            bin,
            &[
                "patch",
                &format!("widgets.{group}"),
                "w1",
                "--subresource=status",
                "--type=merge",
                "-p",
                r#"{"status":{"replicas":1,"selector":"app=w","conditions":[{"type":"Ready","status":"True"}]}}"#,
            ],
        );
        let (_, rows) = table(&kc_ok(&server, bin, &["get", &format!("widgets.{group}"), "w1"]));
        assert_eq!(rows[0][..3], ["w1", "3", "True"]);
        // Writes of the main resource do not change status; spec changes bump the generation.
        kc_ok(
            &server,
            bin,
            &[
                "patch",
                &format!("widgets.{group}"),
                "w1",
                "--type=merge",
                "-p",
                r#"{"spec":{"size":4},"status":{"replicas":9}}"#,
            ],
        );
        let w = get_json(&server, bin, &[&format!("widgets.{group}"), "w1"]);
        assert_eq!(at(&w, "status.replicas"), 1);
        assert_eq!(at(&w, "spec.size"), 4);
        assert_eq!(at(&w, "metadata.generation"), 2);

        // The scale subresource follows the paths of the definition.
        assert_eq!(
            kc_ok(&server, bin, &["scale", &format!("widgets.{group}"), "w1", "--replicas=3"]),
            format!("widget.{group}/w1 scaled\n")
        );
        let w = get_json(&server, bin, &[&format!("widgets.{group}"), "w1"]);
        assert_eq!(at(&w, "spec.replicas"), 3);
        let scale = get_json(&server, bin, &[&format!("widgets.{group}"), "w1", "--subresource=scale"]);
        assert_eq!(s(&scale, "kind"), "Scale");
        assert_eq!(at(&scale, "spec.replicas"), 3);
        assert_eq!(at(&scale, "status.replicas"), 1);
        assert_eq!(s(&scale, "status.selector"), "app=w");

        // Category and `metadata.name` field selector.
        let out = kc_ok(&server, bin, &["get", "gadgets", "-o", "name"]);
        assert!(out.contains(&format!("widget.{group}/w1")), "{out}");
        let file = write_file(
            &server,
            &format!("w2-{v}.yaml"),
            &format!("apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w2\nspec:\n  size: 5\n"),
        );
        kc_ok(&server, bin, &["create", "-f", p(&file)]);
        let out = kc_ok(
            &server,
            bin,
            &["get", &format!("widgets.{group}"), "--field-selector=metadata.name=w2", "-o", "name"],
        );
        assert_eq!(out, format!("widget.{group}/w2\n"));

        // kubectl explain reads the published OpenAPI schema.
        let out = kc_ok(&server, bin, &["explain", &format!("widgets.{group}.spec.size")]);
        assert!(out.contains("KIND:       Widget") && out.contains("FIELD: size <integer>"), "{out}");
        assert!(out.contains("How big the widget is."), "{out}");
        let out = kc_ok(&server, bin, &["explain", &format!("widgets.{group}"), "--recursive"]);
        for field in ["spec\t<Object>", "size\t<integer> -required-", "mode\t<string>", "status\t<Object>"] {
            assert!(out.contains(field), "missing {field:?} in {out}");
        }
    }
}

#[test]
fn custom_resources_are_pruned_defaulted_and_validated() {
    let server = start_server();
    for (bin, v) in BINS {
        let group = format!("v{v}.example.com");
        install(&server, bin, &group);
        let res = format!("widgets.{group}");

        // Unknown fields: Strict (kubectl's default) refuses naming them...
        let doc = format!(
            "apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 2\n  colour: red\n  extra:\n    anything: [1, 2]\n"
        );
        let file = write_file(&server, &format!("unknown-{v}.yaml"), &doc);
        let err = kc_fails(&server, bin, &["create", "-f", p(&file)]);
        assert!(err.contains("strict decoding error: unknown field \"spec.colour\""), "{err}");
        assert!(is_not_found(&server, bin, &[&res, "w"]));
        // ...Warn prunes them with a warning, keeping what preserve-unknown-fields allows.
        let out = kc(&server, bin, &["create", "-f", p(&file), "--validate=warn"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("unknown field \"spec.colour\""), "{stderr}");
        let w = get_json(&server, bin, &[&res, "w"]);
        assert!(at(&w, "spec.colour").is_null(), "{w}");
        assert_eq!(at(&w, "spec.extra.anything"), &serde_json::json!([1, 2]));

        // Values that break the schema: 422 with upstream's messages, nothing stored.
        let doc = format!(
            "apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: bad\nspec:\n  size: 20\n  mode: medium\n  port: true\n"
        );
        let file = write_file(&server, &format!("bad-{v}.yaml"), &doc);
        let err = kc_fails(&server, bin, &["create", "-f", p(&file)]);
        assert!(err.contains("The Widget \"bad\" is invalid: "), "{err}");
        for msg in [
            "spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10",
            "spec.mode: Unsupported value: \"medium\": supported values: \"fast\", \"slow\"",
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
        ] {
            assert!(err.contains(msg), "missing {msg:?} in {err}");
        }
        let doc = format!("apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: bad\nspec:\n  mode: slow\n");
        let file = write_file(&server, &format!("bad2-{v}.yaml"), &doc);
        let err = kc_fails(&server, bin, &["create", "-f", p(&file)]);
        assert!(err.contains("spec.size: Required value"), "{err}");
        assert!(is_not_found(&server, bin, &[&res, "bad"]));

        // Strategic merge patch is refused with 415; kubectl names the accepted types.
        let err = kc_fails(&server, bin, &["patch", &res, "w", "-p", r#"{"spec":{"size":3}}"#]);
        assert!(err.contains("application/strategic-merge-patch+json is not supported"), "{err}");
        assert!(err.contains("application/merge-patch+json"), "{err}");
        // kubectl label and annotate fall back to merge patch.
        kc_ok(&server, bin, &["label", &res, "w", "tier=gold"]);
        let w = get_json(&server, bin, &[&res, "w"]);
        assert_eq!(s(&w, "metadata.labels.tier"), "gold");

        // Annotations over 256 KiB are refused naming the field.
        let big = serde_json::json!({"metadata": {"annotations": {"big": "x".repeat(262_145)}}});
        let file = write_file(&server, &format!("big-{v}.json"), &big.to_string());
        let err = kc_fails(&server, bin, &["patch", &res, "w", "--type=merge", "--patch-file", p(&file)]);
        assert!(err.contains("metadata.annotations: Too long: may not be more than 262144 bytes"), "{err}");
    }
}

#[test]
fn versions_deprecation_and_deletion_of_a_definition() {
    let mut server = start_server();
    for (bin, v) in BINS {
        let group = format!("d{v}.example.com");
        install(&server, bin, &group);
        // Written through the deprecated v1beta1 with a warning; read through v1 as v1.
        let doc = format!("apiVersion: {group}/v1beta1\nkind: Widget\nmetadata:\n  name: old\nspec:\n  size: 2\n");
        let file = write_file(&server, &format!("old-{v}.yaml"), &doc);
        let out = kc(&server, bin, &["create", "-f", p(&file)]);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains(&format!("Warning: {group}/v1beta1 Widget is deprecated")), "{stderr}");
        let w = get_json(&server, bin, &[&format!("widgets.v1.{group}"), "old"]);
        assert_eq!(s(&w, "apiVersion"), format!("{group}/v1"));
        let w = get_json(&server, bin, &[&format!("widgets.v1beta1.{group}"), "old"]);
        assert_eq!(s(&w, "apiVersion"), format!("{group}/v1beta1"));
        // A merge patch through v1 of the object written through v1beta1.
        kc_ok(
            &server,
            bin,
            &["patch", &format!("widgets.v1.{group}"), "old", "--type=merge", "-p", r#"{"spec":{"size":7}}"#],
        );

        // After a restart the definition is served before the server says it is ready.
        server.stop();
        server.spawn(&[]);
        let w = get_json(&server, bin, &[&format!("widgets.{group}"), "old"]);
        assert_eq!(at(&w, "spec.size"), 7);

        // An object with a finalizer holds the definition until the finalizer goes.
        let doc = format!(
            "apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\nspec:\n  size: 1\n"
        );
        let file = write_file(&server, &format!("held-{v}.yaml"), &doc);
        kc_ok(&server, bin, &["create", "-f", p(&file)]);
        kc_ok(&server, bin, &["delete", "crd", &format!("widgets.{group}"), "--wait=false"]);
        let crd = get_json(&server, bin, &["crd", &format!("widgets.{group}")]);
        assert!(at(&crd, "metadata.deletionTimestamp").is_string(), "{crd}");
        let finalizers = at(&crd, "metadata.finalizers").to_string();
        assert!(finalizers.contains("customresourcecleanup.apiextensions.k8s.io"), "{finalizers}");
        // The object without a finalizer goes at once; the held one waits, marked deleted.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let list = get_json(&server, bin, &[&format!("widgets.{group}")]);
            if names(&list) == ["held"] {
                assert!(at(&list, "items.0.metadata.deletionTimestamp").is_string(), "{list}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "objects not deleted: {list}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let crd = get_json(&server, bin, &["crd", &format!("widgets.{group}")]);
        let terminating =
            at(&crd, "status.conditions").as_array().unwrap().iter().find(|c| c["type"] == "Terminating").cloned();
        assert_eq!(terminating.as_ref().map(|c| c["reason"].clone()), Some("InstanceDeletionInProgress".into()));
        kc_ok(
            &server,
            bin,
            &[
                "patch",
                &format!("widgets.{group}"),
                "held",
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ],
        );
        kc_ok(&server, bin, &["wait", "--for=delete", "--timeout=20s", &format!("crd/widgets.{group}")]);
        let err = kc_fails(&server, bin, &["get", &format!("widgets.{group}")]);
        assert!(err.contains("the server doesn't have a resource type \"widgets\""), "{err}");
    }
}

#[test]
fn bad_definitions_are_refused_or_not_accepted() {
    let server = start_server();
    for (bin, v) in BINS {
        let group = format!("b{v}.example.com");
        // A schema that is not structural.
        let doc = widget_crd(&group).replace("          spec:\n            type: object\n", "          spec:\n");
        let file = write_file(&server, &format!("nonstructural-{v}.yaml"), &doc);
        let err = kc_fails(&server, bin, &["create", "-f", p(&file)]);
        assert!(
            err.contains("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"),
            "{err}"
        );
        // A name that is not <plural>.<group>.
        let doc = widget_crd(&group).replace(&format!("name: widgets.{group}"), &format!("name: gadgets.{group}"));
        let file = write_file(&server, &format!("badname-{v}.yaml"), &doc);
        let err = kc_fails(&server, bin, &["create", "-f", p(&file)]);
        assert!(
            err.contains(&format!(
                "metadata.name: Invalid value: \"gadgets.{group}\": must be spec.names.plural+\".\"+spec.group"
            )),
            "{err}"
        );
        assert!(is_not_found(&server, bin, &["crd", &format!("gadgets.{group}")]));

        // A second definition whose kind is taken is stored but not accepted or served.
        install(&server, bin, &group);
        let doc = widget_crd(&group)
            .replace(&format!("name: widgets.{group}"), &format!("name: things.{group}"))
            .replace("plural: widgets", "plural: things")
            .replace("singular: widget", "singular: thing")
            .replace("shortNames: [wdg]", "shortNames: [thg]");
        let file = write_file(&server, &format!("conflict-{v}.yaml"), &doc);
        kc_ok(&server, bin, &["create", "-f", p(&file)]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let accepted = loop {
            let crd = get_json(&server, bin, &["crd", &format!("things.{group}")]);
            let found = at(&crd, "status.conditions")
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "NamesAccepted").cloned());
            if let Some(c) = found {
                break c;
            }
            assert!(std::time::Instant::now() < deadline, "no NamesAccepted condition: {crd}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        assert_eq!(accepted["status"], "False");
        assert_eq!(accepted["reason"], "KindConflict");
        assert_eq!(accepted["message"], "\"Widget\" is already in use");
        let err = kc_fails(&server, bin, &["get", &format!("things.{group}")]);
        assert!(err.contains("the server doesn't have a resource type \"things\""), "{err}");
    }
}
