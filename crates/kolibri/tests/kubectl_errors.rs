//! Errors as kubectl prints them: validation (422), field validation (strict / warn / ignore),
//! conflicts, missing namespaces, unknown resource types.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;

const NAME_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn deployment(name: &str, selector_app: &str, template_app: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n{extra_spec}  selector:\n    matchLabels:\n      app: {selector_app}\n  template:\n    metadata:\n      labels:\n        app: {template_app}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n"
    )
}

#[test]
fn invalid_objects_are_rejected_with_upstream_messages() {
    let server = start_server();
    for (bin, v) in BINS {
        // An invalid name: typed command (kubectl wraps the error) and a file.
        let err = kc_fails(&server, bin, &["create", "configmap", "Foo_Bar", "--from-literal=a=b"]);
        assert_eq!(
            err,
            format!(
                "error: failed to create configmap: ConfigMap \"Foo_Bar\" is invalid: metadata.name: Invalid value: \"Foo_Bar\": {NAME_MSG}\n"
            )
        );
        let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Foo_Bar\ndata:\n  a: b\n";
        let out = kc_stdin(&server, bin, &["create", "-f", "-"], doc);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("The ConfigMap \"Foo_Bar\" is invalid: metadata.name: Invalid value: \"Foo_Bar\": {NAME_MSG}\n")
        );
        assert!(!kc(&server, bin, &["get", "configmap", "Foo_Bar"]).status.success());

        // A Deployment whose selector does not match its template's labels.
        let name = format!("bad-{v}");
        let out = kc_stdin(&server, bin, &["create", "-f", "-"], &deployment(&name, "web", "other", ""));
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "The Deployment \"{name}\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{{\"app\":\"other\"}}: `selector` does not match template `labels`\n"
            )
        );
        assert!(is_not_found(&server, bin, &["deployment", &name]));
        // The same through apply.
        let file = write_file(&server, &format!("bad-{v}.yaml"), &deployment(&name, "web", "other", ""));
        let err = kc_fails(&server, bin, &["apply", "-f", p(&file)]);
        assert!(
            err.contains("spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"),
            "{err}"
        );
        assert!(is_not_found(&server, bin, &["deployment", &name]));

        // Several errors at once: kubectl lists them.
        let many = format!("bad2-{v}");
        let out =
            kc_stdin(&server, bin, &["create", "-f", "-"], &deployment(&many, "web", "other", "  replicas: -1\n"));
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(err.starts_with(&format!("The Deployment \"{many}\" is invalid: \n")), "{err}");
        assert!(err.contains("* spec.replicas: Invalid value: -1: must be greater than or equal to 0\n"), "{err}");
        assert!(err.contains("* spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"), "{err}");
    }
}

#[test]
fn field_validation_strict_warn_ignore() {
    let server = start_server();
    for (bin, v) in BINS {
        // Default (--validate=strict): the server refuses the unknown field and names it.
        let name = format!("strict-{v}");
        let file = write_file(&server, &format!("{name}.yaml"), &deployment(&name, "web", "web", "  foo: bar\n"));
        let err = kc_fails(&server, bin, &["create", "-f", p(&file)]);
        assert!(err.contains("Error from server (BadRequest)"), "{err}");
        assert!(err.contains("unknown field \"spec.foo\""), "{err}");
        assert!(is_not_found(&server, bin, &["deployment", &name]));
        let err = kc_fails(&server, bin, &["apply", "-f", p(&file)]);
        assert!(err.contains("unknown field \"spec.foo\""), "{err}");
        assert!(is_not_found(&server, bin, &["deployment", &name]));

        // --validate=false: created, the field dropped.
        let out = kc_ok(&server, bin, &["create", "--validate=false", "-f", p(&file)]);
        assert_eq!(out, format!("deployment.apps/{name} created\n"));
        let obj = get_json(&server, bin, &["deployment", &name]);
        assert!(obj["spec"].get("foo").is_none(), "{}", obj["spec"]);
        assert_eq!(s(&obj, "spec.template.spec.containers.0.image"), "nginx");

        // --validate=warn: created, with a warning naming the field.
        let warned = format!("warn-{v}");
        let file = write_file(&server, &format!("{warned}.yaml"), &deployment(&warned, "web", "web", "  foo: bar\n"));
        let out = kc(&server, bin, &["create", "--validate=warn", "-f", p(&file)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("deployment.apps/{warned} created\n"));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "Warning: unknown field \"spec.foo\"\n");
        assert!(get_json(&server, bin, &["deployment", &warned])["spec"].get("foo").is_none());
    }
}

#[test]
fn conflicts_missing_namespaces_unknown_types() {
    let server = start_server();
    for (bin, v) in BINS {
        // replace with a stale resourceVersion: 409 Conflict.
        let cm = format!("cf-{v}");
        kc_ok(&server, bin, &["create", "configmap", &cm, "--from-literal=a=1"]);
        let stale = kc_ok(&server, bin, &["get", "configmap", &cm, "-o", "json"]);
        kc_ok(&server, bin, &["patch", "configmap", &cm, "--type=merge", "-p", r#"{"data":{"a":"2"}}"#]);
        let mut obj: serde_json::Value = serde_json::from_str(&stale).unwrap();
        obj["data"]["a"] = "3".into();
        let out = kc_stdin(&server, bin, &["replace", "-f", "-"], &obj.to_string());
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "Error from server (Conflict): error when replacing \"STDIN\": Operation cannot be fulfilled on configmaps \"{cm}\": the object has been modified; please apply your changes to the latest version and try again\n"
            )
        );
        assert_eq!(s(&get_json(&server, bin, &["configmap", &cm]), "data.a"), "2");
        // Without a resourceVersion, replace wins.
        obj["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        let out = kc_stdin(&server, bin, &["replace", "-f", "-"], &obj.to_string());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("configmap/{cm} replaced\n"));
        assert_eq!(s(&get_json(&server, bin, &["configmap", &cm]), "data.a"), "3");

        // Create in a namespace that does not exist: 404 for the namespace.
        let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lost\n  namespace: missing\n";
        let out = kc_stdin(&server, bin, &["create", "-f", "-"], doc);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "Error from server (NotFound): error when creating \"STDIN\": namespaces \"missing\" not found\n"
        );
        let err = kc_fails(&server, bin, &["create", "configmap", "lost", "-n", "missing"]);
        assert_eq!(err, "error: failed to create configmap: namespaces \"missing\" not found\n");

        // A resource type the server does not have (resolved through discovery).
        let err = kc_fails(&server, bin, &["get", "foos"]);
        assert_eq!(err, "error: the server doesn't have a resource type \"foos\"\n");

        // Creating the same name twice from a file.
        let doc = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {cm}\n");
        let out = kc_stdin(&server, bin, &["create", "-f", "-"], &doc);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "Error from server (AlreadyExists): error when creating \"STDIN\": configmaps \"{cm}\" already exists\n"
            )
        );
    }
}

/// The whole message of a strict-decoding failure, as upstream's apiserver words it
/// (`<Kind> in version "<v>" cannot be handled as a <Kind>: strict decoding error: ...`).
#[test]
fn strict_unknown_field_message() {
    let server = start_server();
    for (bin, v) in BINS {
        let name = format!("strict-{v}");
        let file = write_file(&server, &format!("{name}.yaml"), &deployment(&name, "web", "web", "  foo: bar\n"));
        let err = kc_fails(&server, bin, &["create", "-f", p(&file)]);
        assert_eq!(
            err,
            format!(
                "Error from server (BadRequest): error when creating \"{}\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\"\n",
                p(&file)
            )
        );
    }
}
