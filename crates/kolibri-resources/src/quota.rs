//! What objects use of a ResourceQuota (upstream `pkg/quota/v1` and its core evaluators),
//! shared by the admission plugin and the controller that recomputes `status.used`: exact
//! quantities with upstream's canonical form (`500m`, `1Gi`), the usage of pods, services,
//! claims and object counts, and the scopes of a quota.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// A resource list: resource name to quantity, sorted by name as upstream prints them.
pub type Usage = BTreeMap<String, Quantity>;

/// An exact quantity, in thousandths of the unit (upstream keeps more precision; quota
/// arithmetic never needs it), with the format it prints in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    milli: i128,
    binary: bool,
}

impl Quantity {
    pub const ZERO: Quantity = Quantity { milli: 0, binary: false };

    pub fn from_int(n: i64) -> Self {
        Self { milli: i128::from(n) * 1000, binary: false }
    }

    /// Parses a quantity; fractions below a thousandth round up, as upstream's `RoundUp`.
    pub fn parse(s: &str) -> Option<Self> {
        crate::validation::quantity::parse(s).ok()?;
        let s = s.trim();
        let (negative, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let digits = rest.bytes().take_while(|c| c.is_ascii_digit() || *c == b'.').count();
        let (number, suffix) = rest.split_at(digits);
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let (binary, base, exp10): (bool, i128, i32) = match suffix {
            "" => (false, 1, 0),
            "n" => (false, 1, -9),
            "u" => (false, 1, -6),
            "m" => (false, 1, -3),
            "k" => (false, 1, 3),
            "M" => (false, 1, 6),
            "G" => (false, 1, 9),
            "T" => (false, 1, 12),
            "P" => (false, 1, 15),
            "E" => (false, 1, 18),
            "Ki" => (true, 1 << 10, 0),
            "Mi" => (true, 1 << 20, 0),
            "Gi" => (true, 1 << 30, 0),
            "Ti" => (true, 1 << 40, 0),
            "Pi" => (true, 1 << 50, 0),
            "Ei" => (true, 1 << 60, 0),
            e => (false, 1, e.get(1..)?.parse().ok()?),
        };
        // The digits as an integer and the power of ten that scales them to thousandths.
        let mantissa: i128 = format!("{whole}{frac}").trim_start_matches('0').parse().unwrap_or(0);
        let scale = exp10 + 3 - i32::try_from(frac.len()).ok()?;
        let value = mantissa.checked_mul(base)?;
        let milli = if scale >= 0 {
            value.checked_mul(10i128.checked_pow(u32::try_from(scale).ok()?)?)?
        } else {
            let div = 10i128.checked_pow(u32::try_from(-scale).ok()?)?;
            (value + div - 1) / div
        };
        Some(Self { milli: if negative { -milli } else { milli }, binary })
    }

    /// Parses a JSON quantity (a string, or a number as some clients send).
    pub fn of(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => Self::parse(s),
            Value::Number(n) => Self::parse(&n.to_string()),
            _ => None,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli == 0
    }

    pub fn is_negative(&self) -> bool {
        self.milli < 0
    }

    /// The sum; a zero takes the format of what is added (upstream's `Quantity.Add`).
    pub fn plus(self, other: Self) -> Self {
        let binary = if self.milli == 0 { other.binary } else { self.binary };
        Self { milli: self.milli.saturating_add(other.milli), binary }
    }

    /// The difference; it keeps the format of `self` (upstream's `Quantity.Sub`).
    pub fn minus(self, other: Self) -> Self {
        Self { milli: self.milli.saturating_sub(other.milli), binary: self.binary }
    }

    /// Rounded up to a whole unit (upstream's `RoundUp(0)`).
    pub fn round_up(self) -> Self {
        Self {
            milli: self.milli.div_euclid(1000) * 1000 + if self.milli.rem_euclid(1000) > 0 { 1000 } else { 0 },
            ..self
        }
    }

    pub fn max(self, other: Self) -> Self {
        if other.milli > self.milli {
            other
        } else {
            self
        }
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.milli.cmp(&other.milli))
    }
}

/// Upstream's canonical form: binary suffixes for whole multiples of 1024 of binary
/// quantities at least 1024, else the largest decimal suffix that keeps the number whole.
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.milli < 0 { "-" } else { "" };
        let abs = self.milli.unsigned_abs();
        if abs == 0 {
            return f.write_str("0");
        }
        if self.binary && divides(1000, abs) && abs >= 1024 * 1000 {
            let mut value = abs / 1000;
            let mut suffix = 0;
            while divides(1024, value) && suffix < 6 {
                value /= 1024;
                suffix += 1;
            }
            let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
            return write!(f, "{sign}{value}{}", suffixes[suffix]);
        }
        if !divides(1000, abs) {
            return write!(f, "{sign}{abs}m");
        }
        let mut value = abs / 1000;
        let mut suffix = 0;
        while divides(1000, value) && suffix < 6 {
            value /= 1000;
            suffix += 1;
        }
        let suffixes = ["", "k", "M", "G", "T", "P", "E"];
        write!(f, "{sign}{value}{}", suffixes[suffix])
    }
}

fn divides(d: u128, n: u128) -> bool {
    n / d * d == n
}

/// Upstream's `prettyPrint`: `a=1,b=500m`, sorted by name.
pub fn pretty(usage: &Usage) -> String {
    usage.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// `a - b` per resource of `a`, a negative difference counted as zero (upstream's
/// `SubtractWithNonNegativeResult`): what an update adds to a quota's usage.
pub fn subtract_non_negative(a: &Usage, b: &Usage) -> Usage {
    a.iter()
        .map(|(k, v)| {
            let diff = match b.get(k) {
                Some(old) => v.minus(*old),
                None => *v,
            };
            (k.clone(), if diff.is_negative() { Quantity { milli: 0, binary: v.binary } } else { diff })
        })
        .collect()
}

/// The resource list without its zero quantities (upstream's `RemoveZeros`).
pub fn remove_zeros(usage: Usage) -> Usage {
    usage.into_iter().filter(|(_, v)| !v.is_zero()).collect()
}

/// The resources of a resource list (`spec.hard`, `status.used`), unparseable ones left out.
pub fn resource_list(v: Option<&Value>) -> Usage {
    v.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Quantity::of(v).map(|q| (k.clone(), q)))
        .collect()
}

/// The `count/<resource>[.<group>]` name of a kind.
pub fn count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

/// Resource names that pods are charged for (besides extended and hugepages resources).
const POD_RESOURCES: &[&str] = &[
    "pods",
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
];

/// Which of `hard`'s resources objects of this kind use (upstream's `MatchingResources`).
pub fn matching_resources<'a>(group: &str, plural: &str, hard: impl Iterator<Item = &'a String>) -> Vec<String> {
    let count = count_name(group, plural);
    let legacy = legacy_name(group, plural);
    hard.filter(|r| {
        **r == count
            || legacy.is_some_and(|l| l == r.as_str())
            || match (group, plural) {
                ("", "pods") => {
                    POD_RESOURCES.contains(&r.as_str())
                        || r.starts_with("requests.hugepages-")
                        || r.starts_with("hugepages-")
                        || (r.starts_with("requests.") && r.contains('/'))
                }
                ("", "services") => matches!(r.as_str(), "services.loadbalancers" | "services.nodeports"),
                ("", "persistentvolumeclaims") => {
                    matches!(r.as_str(), "persistentvolumeclaims" | "requests.storage")
                        || r.ends_with(".storageclass.storage.k8s.io/requests.storage")
                        || r.ends_with(".storageclass.storage.k8s.io/persistentvolumeclaims")
                }
                _ => false,
            }
    })
    .cloned()
    .collect()
}

/// The names upstream counted core objects by before `count/*` existed.
fn legacy_name(group: &str, plural: &str) -> Option<&'static str> {
    if !group.is_empty() {
        return None;
    }
    match plural {
        "pods" => Some("pods"),
        "services" => Some("services"),
        "replicationcontrollers" => Some("replicationcontrollers"),
        "resourcequotas" => Some("resourcequotas"),
        "secrets" => Some("secrets"),
        "configmaps" => Some("configmaps"),
        "persistentvolumeclaims" => Some("persistentvolumeclaims"),
        _ => None,
    }
}

fn one() -> Quantity {
    Quantity::from_int(1)
}

/// The usage of one object of the kind (upstream's evaluators' `Usage`).
pub fn usage(group: &str, plural: &str, obj: &Value) -> Usage {
    let mut usage = Usage::new();
    usage.insert(count_name(group, plural), one());
    match (group, plural) {
        ("", "pods") => {
            if counts_compute(obj) {
                for (k, v) in pod_compute_usage(obj) {
                    usage.insert(k, v);
                }
            }
        }
        ("", "services") => {
            usage.insert("services".into(), one());
            let kind = obj.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP");
            let ports = obj.pointer("/spec/ports").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let load_balancer = kind == "LoadBalancer";
            usage.insert("services.loadbalancers".into(), if load_balancer { one() } else { Quantity::ZERO });
            // A load balancer without node ports counts only the ports given one explicitly.
            let node_ports = match kind {
                "NodePort" => ports.len(),
                "LoadBalancer" if obj.pointer("/spec/allocateLoadBalancerNodePorts") == Some(&Value::Bool(false)) => {
                    ports.iter().filter(|p| p.get("nodePort").and_then(Value::as_i64).is_some_and(|n| n != 0)).count()
                }
                "LoadBalancer" => ports.len(),
                _ => 0,
            };
            usage
                .insert("services.nodeports".into(), Quantity::from_int(i64::try_from(node_ports).unwrap_or(i64::MAX)));
        }
        ("", "persistentvolumeclaims") => {
            usage.insert("persistentvolumeclaims".into(), one());
            let class = claim_class(obj);
            if let Some(class) = class {
                usage.insert(format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"), one());
            }
            if let Some(q) = claim_storage(obj) {
                usage.insert("requests.storage".into(), q);
                if let Some(class) = class {
                    usage.insert(format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"), q);
                }
            }
        }
        _ => {
            if let Some(legacy) = legacy_name(group, plural) {
                usage.insert(legacy.into(), one());
            }
        }
    }
    usage
}

/// How quota names resources of one storage class: `<class>.storageclass.storage.k8s.io/<resource>`.
const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// The storage class of a claim: `spec.storageClassName`, else the beta annotation
/// (upstream's `GetPersistentVolumeClaimClass`).
fn claim_class(claim: &Value) -> Option<&str> {
    claim
        .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .or_else(|| claim.pointer("/spec/storageClassName"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
}

/// The storage a claim is charged for: its request in whole bytes, or what was allocated
/// when that is more (an expansion that failed and was reduced still holds the larger size).
fn claim_storage(claim: &Value) -> Option<Quantity> {
    let requested = claim.pointer("/spec/resources/requests/storage").and_then(Quantity::of)?.round_up();
    match claim.pointer("/status/allocatedResources/storage").and_then(Quantity::of) {
        Some(allocated) if allocated > requested => Some(allocated.round_up()),
        _ => Some(requested),
    }
}

/// Finished pods are counted (`count/pods`) but charge nothing else.
fn counts_compute(pod: &Value) -> bool {
    !matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"))
}

fn containers<'a>(pod: &'a Value, list: &str) -> impl Iterator<Item = &'a Value> {
    pod.pointer(&format!("/spec/{list}")).and_then(Value::as_array).into_iter().flatten()
}

/// Requests and limits of a pod: the larger of the sum over its containers and the largest
/// init container, plus the overhead (upstream's `PodRequests`/`PodLimits`).
fn pod_resources(pod: &Value, field: &str) -> Usage {
    let mut sum = Usage::new();
    for c in containers(pod, "containers") {
        for (k, v) in resource_list(c.pointer(&format!("/resources/{field}"))) {
            let e = sum.entry(k).or_insert(Quantity::ZERO);
            *e = e.plus(v);
        }
    }
    for c in containers(pod, "initContainers") {
        for (k, v) in resource_list(c.pointer(&format!("/resources/{field}"))) {
            let e = sum.entry(k).or_insert(Quantity::ZERO);
            *e = e.max(v);
        }
    }
    for (k, v) in resource_list(pod.pointer("/spec/overhead")) {
        let e = sum.entry(k).or_insert(Quantity::ZERO);
        *e = e.plus(v);
    }
    sum
}

/// Upstream's `podComputeUsageHelper` on the pod's requests and limits.
fn pod_compute_usage(pod: &Value) -> Usage {
    let requests = pod_resources(pod, "requests");
    let limits = pod_resources(pod, "limits");
    compute_usage(&requests, &limits)
}

fn compute_usage(requests: &Usage, limits: &Usage) -> Usage {
    let mut out = Usage::new();
    out.insert("pods".into(), one());
    for r in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(q) = requests.get(r) {
            out.insert(r.into(), *q);
            out.insert(format!("requests.{r}"), *q);
        }
        if let Some(q) = limits.get(r) {
            out.insert(format!("limits.{r}"), *q);
        }
    }
    for (r, q) in requests {
        if r.starts_with("hugepages-") {
            out.insert(r.clone(), *q);
            out.insert(format!("requests.{r}"), *q);
        } else if r.contains('/') && !r.starts_with("kubernetes.io/") {
            out.insert(format!("requests.{r}"), *q);
        }
    }
    out
}

/// Resources each container of a pod must state when a quota limits them (upstream's
/// pod `Constraints`): `must specify cpu for: a,b; memory for: a`, or None.
pub fn pod_constraints(pod: &Value, restricted: &[String]) -> Option<String> {
    const VALIDATED: [&str; 6] = ["cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"];
    let required: Vec<&String> = restricted.iter().filter(|r| VALIDATED.contains(&r.as_str())).collect();
    let mut missing: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in containers(pod, "containers").chain(containers(pod, "initContainers")) {
        let usage = compute_usage(
            &resource_list(c.pointer("/resources/requests")),
            &resource_list(c.pointer("/resources/limits")),
        );
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        for r in &required {
            if !usage.contains_key(r.as_str()) {
                let names = missing.entry(r.as_str()).or_default();
                if !names.contains(&name) {
                    names.push(name.clone());
                }
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .into_iter()
        .map(|(r, mut names)| {
            names.sort();
            format!("{r} for: {}", names.join(","))
        })
        .collect();
    Some(format!("must specify {}", parts.join("; ")))
}

/// Whether the quota's scopes (and scope selector) select the object. Scoped quotas track
/// pods only, as upstream's evaluators.
pub fn matches_scopes(quota: &Value, group: &str, plural: &str, obj: &Value) -> bool {
    let mut scopes: Vec<(String, String, Vec<String>)> = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| (s.to_string(), "Exists".to_string(), Vec::new()))
        .collect();
    for e in quota.pointer("/spec/scopeSelector/matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let text = |f: &str| e.get(f).and_then(Value::as_str).unwrap_or_default().to_string();
        let values =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(String::from);
        scopes.push((text("scopeName"), text("operator"), values.collect()));
    }
    if scopes.is_empty() {
        return true;
    }
    if !(group.is_empty() && plural == "pods") {
        return false;
    }
    scopes.iter().all(|(scope, op, values)| pod_matches_scope(obj, scope, op, values))
}

fn pod_matches_scope(pod: &Value, scope: &str, op: &str, values: &[String]) -> bool {
    let terminating = pod.pointer("/spec/activeDeadlineSeconds").and_then(Value::as_i64).is_some_and(|s| s >= 0);
    match scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort(pod),
        "NotBestEffort" => !best_effort(pod),
        "PriorityClass" => {
            let class = pod.pointer("/spec/priorityClassName").and_then(Value::as_str).unwrap_or_default();
            match op {
                "In" => values.iter().any(|v| v == class),
                "NotIn" => !values.iter().any(|v| v == class),
                "Exists" => !class.is_empty(),
                "DoesNotExist" => class.is_empty(),
                _ => false,
            }
        }
        _ => false,
    }
}

/// BestEffort QoS: no container requests or limits cpu or memory.
fn best_effort(pod: &Value) -> bool {
    containers(pod, "containers").chain(containers(pod, "initContainers")).all(|c| {
        ["requests", "limits"].iter().all(|f| {
            let list = resource_list(c.pointer(&format!("/resources/{f}")));
            ["cpu", "memory"].iter().all(|r| list.get(*r).is_none_or(Quantity::is_zero))
        })
    })
}

/// Names a quota may limit without a domain prefix (upstream's standard quota resources).
pub fn is_standard_resource(name: &str) -> bool {
    name.contains('/')
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
        || matches!(
            name,
            "pods"
                | "services"
                | "replicationcontrollers"
                | "resourcequotas"
                | "secrets"
                | "configmaps"
                | "persistentvolumeclaims"
                | "cpu"
                | "memory"
                | "ephemeral-storage"
                | "requests.cpu"
                | "requests.memory"
                | "requests.storage"
                | "requests.ephemeral-storage"
                | "limits.cpu"
                | "limits.memory"
                | "limits.ephemeral-storage"
                | "services.nodeports"
                | "services.loadbalancers"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> String {
        Quantity::parse(s).map(|q| q.to_string()).unwrap_or_else(|| "ERR".into())
    }

    #[test]
    fn quantities_print_canonically() {
        assert_eq!(q("500m"), "500m");
        assert_eq!(q("2000m"), "2");
        assert_eq!(q("1Gi"), "1Gi");
        assert_eq!(q("1536Mi"), "1536Mi");
        assert_eq!(q("1000"), "1k");
        assert_eq!(q("0.5"), "500m");
        assert_eq!(q("1e3"), "1k");
        assert_eq!(q("abc"), "ERR");
        let sum = Quantity::ZERO.plus(Quantity::parse("64Mi").unwrap()).plus(Quantity::parse("64Mi").unwrap());
        assert_eq!(sum.to_string(), "128Mi");
    }

    #[test]
    fn pods_use_their_requests_and_limits() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "1"}}},
            {"name": "b", "resources": {"requests": {"cpu": "250m"}}}]}});
        let u = usage("", "pods", &pod);
        assert_eq!(
            pretty(&u),
            "count/pods=1,cpu=500m,limits.cpu=1,memory=64Mi,pods=1,requests.cpu=500m,requests.memory=64Mi"
        );
        assert_eq!(
            pod_constraints(&pod, &["requests.memory".to_string(), "limits.cpu".into(), "pods".into()]),
            Some("must specify limits.cpu for: b; requests.memory for: b".into())
        );
    }

    #[test]
    fn services_and_claims_use_what_upstream_counts() {
        let svc = |t: &str| json!({"spec": {"type": t, "ports": [{"port": 80}, {"port": 443, "nodePort": 30443}]}});
        assert_eq!(
            pretty(&usage("", "services", &svc("ClusterIP"))),
            "count/services=1,services=1,services.loadbalancers=0,services.nodeports=0"
        );
        assert_eq!(
            pretty(&usage("", "services", &svc("LoadBalancer"))),
            "count/services=1,services=1,services.loadbalancers=1,services.nodeports=2"
        );
        let mut lb = svc("LoadBalancer");
        lb["spec"]["allocateLoadBalancerNodePorts"] = json!(false);
        assert_eq!(usage("", "services", &lb)["services.nodeports"], Quantity::from_int(1));

        let claim = json!({"metadata": {"annotations": {"volume.beta.kubernetes.io/storage-class": "gold"}},
            "spec": {"storageClassName": "silver", "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"allocatedResources": {"storage": "2Gi"}}});
        assert_eq!(
            pretty(&usage("", "persistentvolumeclaims", &claim)),
            "count/persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/persistentvolumeclaims=1,\
             gold.storageclass.storage.k8s.io/requests.storage=2Gi,persistentvolumeclaims=1,requests.storage=2Gi"
        );

        // An update is charged what grew, never less than nothing.
        let old =
            usage("", "persistentvolumeclaims", &json!({"spec": {"resources": {"requests": {"storage": "5Gi"}}}}));
        let new =
            usage("", "persistentvolumeclaims", &json!({"spec": {"resources": {"requests": {"storage": "8Gi"}}}}));
        assert_eq!(pretty(&remove_zeros(subtract_non_negative(&new, &old))), "requests.storage=3Gi");
        assert!(remove_zeros(subtract_non_negative(&old, &new)).is_empty());
        assert_eq!(Quantity::parse("1500m").map(Quantity::round_up), Quantity::parse("2"));
    }

    #[test]
    fn scopes_select_pods() {
        let quota = json!({"spec": {"scopes": ["BestEffort"]}});
        let pod = json!({"spec": {"containers": [{"name": "a"}]}});
        assert!(matches_scopes(&quota, "", "pods", &pod));
        assert!(!matches_scopes(&quota, "", "services", &json!({})));
        let quota = json!({"spec": {"scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}});
        assert!(!matches_scopes(&quota, "", "pods", &pod));
        let high = json!({"spec": {"priorityClassName": "high"}});
        assert!(matches_scopes(&quota, "", "pods", &high));
    }
}
