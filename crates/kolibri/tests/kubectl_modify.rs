//! Changing objects with kubectl: edit (non-interactive editor), label, annotate, set image,
//! set env, scale, and patch of all three types.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::os::unix::fs::PermissionsExt;

use kubectl_common::*;
use serde_json::json;

/// An "editor" that applies `sed -i "$SED_EXPR"` to the file kubectl hands it.
fn editor(server: &common::Server) -> String {
    let path = server.dir.path().join("editor.sh");
    std::fs::write(&path, "#!/bin/sh\nset -e\nsed -i \"$SED_EXPR\" \"$1\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

fn out_err(o: &std::process::Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string())
}

#[test]
fn edit_with_a_scripted_editor() {
    let server = start_server();
    let editor = editor(&server);
    for (bin, v) in BINS {
        let cm = format!("ed-{v}");
        kc_ok(&server, bin, &["create", "configmap", &cm, "--from-literal=a=b", "--from-literal=keep=k"]);

        // YAML (default): change a value.
        let o = kc_env(
            &server,
            bin,
            &["edit", "configmap", &cm],
            &[("KUBE_EDITOR", &editor), ("SED_EXPR", "s/^  a: b$/  a: edited/")],
        );
        let (stdout, stderr) = out_err(&o);
        assert!(o.status.success(), "{stdout}\n{stderr}");
        assert_eq!(stdout, format!("configmap/{cm} edited\n"));
        let obj = get_json(&server, bin, &["configmap", &cm]);
        assert_eq!(at(&obj, "data"), &json!({"a": "edited", "keep": "k"}));

        // JSON: add a label through the editor; with -o json the result is printed as JSON too.
        let o = kc_env(
            &server,
            bin,
            &["edit", "configmap", &cm, "-o", "json"],
            &[
                ("KUBE_EDITOR", &editor),
                ("SED_EXPR", r#"s/^        "name": "ed-/        "labels": {"edited": "yes"},\n        "name": "ed-/"#),
            ],
        );
        let (stdout, stderr) = out_err(&o);
        assert!(o.status.success(), "{stdout}\n{stderr}");
        let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        assert_eq!(at(&printed, "metadata.labels"), &json!({"edited": "yes"}));
        let obj = get_json(&server, bin, &["configmap", &cm]);
        assert_eq!(at(&obj, "metadata.labels"), &json!({"edited": "yes"}));
        assert_eq!(at(&printed, "metadata.resourceVersion"), at(&obj, "metadata.resourceVersion"));
        assert_eq!(at(&obj, "data"), &json!({"a": "edited", "keep": "k"}));

        // An editor that changes nothing: cancelled, nothing written.
        let rv = s(&obj, "metadata.resourceVersion").to_string();
        let o = kc_env(
            &server,
            bin,
            &["edit", "configmap", &cm],
            &[("KUBE_EDITOR", &editor), ("SED_EXPR", "s/^nomatch$//")],
        );
        let (stdout, stderr) = out_err(&o);
        assert!(o.status.success(), "{stdout}\n{stderr}");
        assert_eq!(stderr, "Edit cancelled, no changes made.\n");
        assert_eq!(s(&get_json(&server, bin, &["configmap", &cm]), "metadata.resourceVersion"), rv);

        // A Deployment: change the image.
        let d = format!("ed-d-{v}");
        kc_ok(&server, bin, &["create", "deployment", &d, "--image=nginx"]);
        let o = kc_env(
            &server,
            bin,
            &["edit", "deployment", &d],
            &[("KUBE_EDITOR", &editor), ("SED_EXPR", "s/^      - image: nginx$/      - image: nginx:1.27/")],
        );
        let (stdout, stderr) = out_err(&o);
        assert!(o.status.success(), "{stdout}\n{stderr}");
        assert_eq!(stdout, format!("deployment.apps/{d} edited\n"));
        assert_eq!(
            s(&get_json(&server, bin, &["deployment", &d]), "spec.template.spec.containers.0.image"),
            "nginx:1.27"
        );
    }
}

#[test]
fn label_annotate_set_image_scale() {
    let server = start_server();
    for (bin, v) in BINS {
        let cm = format!("lbl-{v}");
        kc_ok(&server, bin, &["create", "configmap", &cm, "--from-literal=a=b"]);
        let labels = || at(&get_json(&server, bin, &["configmap", &cm]), "metadata.labels").clone();
        let annotations = || at(&get_json(&server, bin, &["configmap", &cm]), "metadata.annotations").clone();

        let team = format!("a-{v}");
        let team_label = format!("team={team}");
        assert_eq!(
            kc_ok(&server, bin, &["label", "configmap", &cm, "env=prod", &team_label]),
            format!("configmap/{cm} labeled\n")
        );
        assert_eq!(labels(), json!({"env": "prod", "team": team}));
        let err = kc_fails(&server, bin, &["label", "configmap", &cm, "env=dev"]);
        assert_eq!(err, "error: 'env' already has a value (prod), and --overwrite is false\n");
        assert_eq!(labels(), json!({"env": "prod", "team": team}));
        assert_eq!(
            kc_ok(&server, bin, &["label", "configmap", &cm, "env=dev", "--overwrite"]),
            format!("configmap/{cm} labeled\n")
        );
        assert_eq!(labels(), json!({"env": "dev", "team": team}));
        assert_eq!(kc_ok(&server, bin, &["label", "configmap", &cm, "env-"]), format!("configmap/{cm} unlabeled\n"));
        assert_eq!(labels(), json!({"team": team}));
        // By selector, several objects.
        let cm2 = format!("lbl2-{v}");
        kc_ok(&server, bin, &["create", "configmap", &cm2]);
        kc_ok(&server, bin, &["label", "configmap", &cm2, &team_label]);
        let out = kc_ok(&server, bin, &["label", "configmaps", "-l", &team_label, "round=r1"]);
        assert!(lines(&out).contains(&format!("configmap/{cm} labeled")), "{out}");
        assert!(lines(&out).contains(&format!("configmap/{cm2} labeled")), "{out}");
        assert_eq!(
            at(&get_json(&server, bin, &["configmap", &cm2]), "metadata.labels"),
            &json!({"team": team, "round": "r1"})
        );

        assert_eq!(
            kc_ok(&server, bin, &["annotate", "configmap", &cm, "note=hello"]),
            format!("configmap/{cm} annotated\n")
        );
        assert_eq!(annotations()["note"], "hello");
        let err = kc_fails(&server, bin, &["annotate", "configmap", &cm, "note=bye"]);
        assert!(err.contains("'note' already has a value (hello)"), "{err}");
        assert!(err.contains("--overwrite is false"), "{err}");
        assert_eq!(annotations()["note"], "hello");
        assert_eq!(
            kc_ok(&server, bin, &["annotate", "configmap", &cm, "note=bye", "--overwrite"]),
            format!("configmap/{cm} annotated\n")
        );
        assert_eq!(annotations()["note"], "bye");
        assert_eq!(
            kc_ok(&server, bin, &["annotate", "configmap", &cm, "note-"]),
            format!("configmap/{cm} annotated\n")
        );
        assert!(annotations().get("note").is_none(), "{}", annotations());

        // set image / set env / scale on a Deployment.
        let d = format!("img-{v}");
        kc_ok(&server, bin, &["create", "deployment", &d, "--image=nginx"]);
        let dep = || get_json(&server, bin, &["deployment", &d]);
        let target = format!("deployment/{d}");
        assert_eq!(
            kc_ok(&server, bin, &["set", "image", &target, "nginx=nginx:1.25"]),
            format!("deployment.apps/{d} image updated\n")
        );
        assert_eq!(s(&dep(), "spec.template.spec.containers.0.image"), "nginx:1.25");
        let err = kc_fails(&server, bin, &["set", "image", &target, "nope=nginx:1.26"]);
        assert!(err.contains("unable to find container named \"nope\""), "{err}");
        assert_eq!(
            kc_ok(&server, bin, &["set", "env", &target, "FOO=bar"]),
            format!("deployment.apps/{d} env updated\n")
        );
        let c = dep()["spec"]["template"]["spec"]["containers"][0].clone();
        assert_eq!(at(&c, "env"), &json!([{"name": "FOO", "value": "bar"}]));
        assert_eq!(s(&c, "image"), "nginx:1.25");
        assert_eq!(kc_ok(&server, bin, &["scale", &target, "--replicas=3"]), format!("deployment.apps/{d} scaled\n"));
        assert_eq!(at(&dep(), "spec.replicas"), &json!(3));
        let scale = get_json(&server, bin, &["deployment", &d, "--subresource=scale"]);
        assert_eq!((s(&scale, "kind"), s(&scale, "apiVersion")), ("Scale", "autoscaling/v1"));
        assert_eq!(at(&scale, "spec.replicas"), &json!(3));
    }
}

#[test]
fn patch_strategic_merge_json() {
    let server = start_server();
    for (bin, v) in BINS {
        let d = format!("pd-{v}");
        kc_ok(&server, bin, &["create", "deployment", &d, "--image=nginx:1.25"]);
        let dep = || get_json(&server, bin, &["deployment", &d]);
        let patched = format!("deployment.apps/{d} patched\n");

        // Strategic (the default type): containers merge by name, env by name. Without a
        // $setElementOrder directive upstream puts the patch's new items before the live ones
        // (strategicpatch mergeSortedSlice).
        let env_patch = |env: &str| {
            format!(r#"{{"spec":{{"template":{{"spec":{{"containers":[{{"name":"nginx","env":[{env}]}}]}}}}}}}}"#)
        };
        assert_eq!(
            kc_ok(&server, bin, &["patch", "deployment", &d, "-p", &env_patch(r#"{"name":"A","value":"1"}"#)]),
            patched
        );
        let o = dep();
        let cs = at(&o, "spec.template.spec.containers");
        assert_eq!(cs.as_array().unwrap().len(), 1);
        assert_eq!(s(cs, "0.image"), "nginx:1.25");
        assert_eq!(at(cs, "0.env"), &json!([{"name": "A", "value": "1"}]));
        assert_eq!(
            kc_ok(
                &server,
                bin,
                &["patch", "deployment", &d, "--type=strategic", "-p", &env_patch(r#"{"name":"B","value":"2"}"#)]
            ),
            patched
        );
        assert_eq!(
            at(&dep(), "spec.template.spec.containers.0.env"),
            &json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])
        );
        kc_ok(&server, bin, &["patch", "deployment", &d, "-p", &env_patch(r#"{"name":"A","value":"changed"}"#)]);
        assert_eq!(
            at(&dep(), "spec.template.spec.containers.0.env"),
            &json!([{"name": "B", "value": "2"}, {"name": "A", "value": "changed"}])
        );
        kc_ok(&server, bin, &["patch", "deployment", &d, "-p", &env_patch(r#"{"name":"A","$patch":"delete"}"#)]);
        assert_eq!(at(&dep(), "spec.template.spec.containers.0.env"), &json!([{"name": "B", "value": "2"}]));
        // A second container is added next to the first (in front of it), not replacing it.
        kc_ok(
            &server,
            bin,
            &[
                "patch",
                "deployment",
                &d,
                "-p",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}"#,
            ],
        );
        let o = dep();
        let cs = at(&o, "spec.template.spec.containers").as_array().unwrap().clone();
        assert_eq!(cs.iter().map(|c| s(c, "name")).collect::<Vec<_>>(), ["sidecar", "nginx"]);
        assert_eq!(s(&cs[0], "imagePullPolicy"), "Always");
        assert_eq!(s(&cs[1], "image"), "nginx:1.25");
        // YAML patch body, null removes a key.
        kc_ok(&server, bin, &["patch", "deployment", &d, "-p", "metadata:\n  labels:\n    extra: x\n"]);
        assert_eq!(at(&dep(), "metadata.labels"), &json!({"app": d, "extra": "x"}));
        kc_ok(&server, bin, &["patch", "deployment", &d, "-p", r#"{"metadata":{"labels":{"extra":null}}}"#]);
        assert_eq!(at(&dep(), "metadata.labels"), &json!({"app": d}));

        // Merge patch (RFC 7386): lists are replaced, null deletes.
        let cm = format!("pc-{v}");
        kc_ok(&server, bin, &["create", "configmap", &cm, "--from-literal=a=1", "--from-literal=b=2"]);
        let cmo = || get_json(&server, bin, &["configmap", &cm]);
        let out =
            kc_ok(&server, bin, &["patch", "configmap", &cm, "--type=merge", "-p", r#"{"data":{"a":null,"x":"y"}}"#]);
        assert_eq!(out, format!("configmap/{cm} patched\n"));
        assert_eq!(at(&cmo(), "data"), &json!({"b": "2", "x": "y"}));
        // The same patch again changes nothing: "patched (no change)" and no new resourceVersion.
        let rv = s(&cmo(), "metadata.resourceVersion").to_string();
        let out =
            kc_ok(&server, bin, &["patch", "configmap", &cm, "--type=merge", "-p", r#"{"data":{"a":null,"x":"y"}}"#]);
        assert_eq!(out, format!("configmap/{cm} patched (no change)\n"));
        assert_eq!(s(&cmo(), "metadata.resourceVersion"), rv);
        kc_ok(
            &server,
            bin,
            &[
                "patch",
                "deployment",
                &d,
                "--type=merge",
                "-p",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"redis"}]}}}}"#,
            ],
        );
        let o = dep();
        let cs = at(&o, "spec.template.spec.containers").as_array().unwrap().clone();
        assert_eq!(cs.len(), 1, "merge patch replaces lists: {cs:?}");
        assert_eq!((s(&cs[0], "name"), s(&cs[0], "image")), ("only", "redis"));

        // JSON patch (RFC 6902).
        let out = kc_ok(
            &server,
            bin,
            &[
                "patch",
                "configmap",
                &cm,
                "--type=json",
                "-p",
                r#"[{"op":"replace","path":"/data/x","value":"z"},{"op":"add","path":"/metadata/labels","value":{"k":"v"}},{"op":"remove","path":"/data/b"}]"#,
            ],
        );
        assert_eq!(out, format!("configmap/{cm} patched\n"));
        let o = cmo();
        assert_eq!(at(&o, "data"), &json!({"x": "z"}));
        assert_eq!(at(&o, "metadata.labels"), &json!({"k": "v"}));
        let rv = s(&o, "metadata.resourceVersion").to_string();
        // A passing test op, then a change.
        kc_ok(
            &server,
            bin,
            &[
                "patch",
                "configmap",
                &cm,
                "--type=json",
                "-p",
                r#"[{"op":"test","path":"/data/x","value":"z"},{"op":"add","path":"/data/t","value":"ok"}]"#,
            ],
        );
        assert_eq!(at(&cmo(), "data"), &json!({"x": "z", "t": "ok"}));
        let rv2 = s(&cmo(), "metadata.resourceVersion").to_string();
        assert_ne!(rv, rv2);
        // A failing test op: error, nothing changed.
        let err = kc_fails(
            &server,
            bin,
            &[
                "patch",
                "configmap",
                &cm,
                "--type=json",
                "-p",
                r#"[{"op":"test","path":"/data/x","value":"wrong"},{"op":"replace","path":"/data/x","value":"boom"}]"#,
            ],
        );
        let o = cmo();
        assert_eq!(at(&o, "data"), &json!({"x": "z", "t": "ok"}));
        assert_eq!(s(&o, "metadata.resourceVersion"), rv2);
        // Patching a missing object.
        let missing =
            kc_fails(&server, bin, &["patch", "configmap", "nope", "--type=merge", "-p", r#"{"data":{"a":"b"}}"#]);
        assert_eq!(missing, "Error from server (NotFound): configmaps \"nope\" not found\n");
        assert!(err.starts_with("The request is invalid"), "{err}");
    }
}

/// Upstream answers a failed JSON-patch `test` op with a 422 whose message is the generic one
/// (`NewGenericServerResponse(422, ...)` drops the jsonpatch error text), so kubectl prints
/// "The request is invalid: the server rejected our request due to an error in our request".
#[test]
fn json_patch_failed_test_op_message() {
    let server = start_server();
    for (bin, v) in BINS {
        let cm = format!("jt-{v}");
        kc_ok(&server, bin, &["create", "configmap", &cm, "--from-literal=x=z"]);
        let err = kc_fails(
            &server,
            bin,
            &["patch", "configmap", &cm, "--type=json", "-p", r#"[{"op":"test","path":"/data/x","value":"wrong"}]"#],
        );
        assert_eq!(err, "The request is invalid: the server rejected our request due to an error in our request\n");
    }
}
