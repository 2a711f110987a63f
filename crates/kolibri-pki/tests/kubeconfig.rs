//! The admin kubeconfig: its shape and how it is written.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kolibri_pki::{kubeconfig, Pki, PkiOptions};
use serde_yaml::Value;

fn decoded(v: &Value) -> String {
    String::from_utf8(STANDARD.decode(v.as_str().unwrap()).unwrap()).unwrap()
}

#[test]
fn admin_kubeconfig_embeds_the_admin_credentials_like_k3s() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = PkiOptions::detect(vec![]);
    opts.now = SystemTime::now();
    let pki = Pki::load_or_create(tmp.path(), &opts).unwrap();

    let yaml = kubeconfig::admin("https://127.0.0.1:6443", &pki);
    let doc: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Config");
    assert_eq!(doc["current-context"], "default");
    let cluster = &doc["clusters"][0];
    assert_eq!(cluster["name"], "default");
    assert_eq!(cluster["cluster"]["server"], "https://127.0.0.1:6443");
    assert_eq!(decoded(&cluster["cluster"]["certificate-authority-data"]), pki.ca_cert_pem());
    let context = &doc["contexts"][0];
    assert_eq!(context["name"], "default");
    assert_eq!(context["context"]["cluster"], "default");
    assert_eq!(context["context"]["user"], "default");
    let user = &doc["users"][0];
    assert_eq!(user["name"], "default");
    assert_eq!(decoded(&user["user"]["client-certificate-data"]), pki.admin_cert_pem());
    assert_eq!(decoded(&user["user"]["client-key-data"]), pki.admin_key_pem());

    // Odd characters in the URL stay one string.
    let odd = kubeconfig::admin("https://h:1/#\"x\": y", &pki);
    let doc: Value = serde_yaml::from_str(&odd).unwrap();
    assert_eq!(doc["clusters"][0]["cluster"]["server"], "https://h:1/#\"x\": y");
}

#[test]
fn write_kubeconfig_creates_parents_and_is_private() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("etc/kolibri/kolibri.yaml");
    kubeconfig::write_kubeconfig(&path, "first").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "first");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

    // An existing, too open file is replaced by a private one.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    kubeconfig::write_kubeconfig(&path, "second").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "second");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
}
