//! Preemption (upstream's DefaultPreemption): when a pod fits nowhere, find the nodes where
//! removing pods of lower priority would let it fit, keep as many of those pods as possible
//! (those whose eviction would violate a PodDisruptionBudget first, then the others; most
//! important first in each group), and pick the node whose victims matter least: fewest
//! budget violations, then the lowest highest priority, the lowest sum of priorities, the
//! fewest victims, the latest start.

use std::cmp::Reverse;
use std::sync::Arc;

use crate::cache::{Cache, PdbInfo, PodInfo};
use crate::framework::{filter, histogram, Cycle, FitError};
use crate::selectors::label_selector_matches;

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Where the pod goes once the victims are gone.
pub struct Outcome {
    pub node: Arc<str>,
    pub victims: Vec<Arc<PodInfo>>,
}

/// Pods with their priorities.
type Victims = Vec<(i32, Arc<PodInfo>)>;

struct Candidate {
    node: Arc<str>,
    victims: Victims,
    /// Victims whose eviction violates a PodDisruptionBudget.
    pdb_violations: usize,
}

/// When a pod started; one not started (yet) counts as starting now, after all others.
fn start_time(pod: &PodInfo) -> i64 {
    pod.started.unwrap_or(i64::MAX)
}

impl Candidate {
    /// Upstream's `pickOneNodeForPreemption` order: fewest budget violations, lowest
    /// highest-priority victim, lowest sum of priorities, fewest victims, and the latest
    /// earliest start among the victims of the highest priority.
    fn rank(&self) -> (usize, i64, i64, usize, Reverse<i64>) {
        let highest = self.victims.iter().map(|(p, _)| *p).max();
        let sum = self.victims.iter().map(|(p, _)| i64::from(*p) + (1i64 << 31)).sum();
        let earliest = highest.map_or(i64::MIN, |h| {
            self.victims.iter().filter(|(p, _)| *p == h).map(|(_, v)| start_time(v)).min().unwrap_or(i64::MIN)
        });
        (self.pdb_violations, highest.map_or(i64::MIN, i64::from), sum, self.victims.len(), Reverse(earliest))
    }
}

/// Splits pods (most important first) into those whose eviction would violate a
/// PodDisruptionBudget and the others (upstream's `filterPodsWithPDBViolation`): each pod
/// takes one disruption of every budget selecting it (unless already counted as disrupted
/// by it); a pod taking one a budget no longer has violates it.
fn split_by_pdb_violation(cache: &Cache, pods: Victims) -> (Victims, Victims) {
    let mut allowed: Vec<(&PdbInfo, i64)> =
        cache.pdbs.values().map(|b| (b, i64::from(b.disruptions_allowed))).collect();
    let (mut violating, mut other) = (Vec::new(), Vec::new());
    for (priority, pod) in pods {
        let mut violates = false;
        // A pod without labels matches no budget.
        if !pod.labels.is_empty() {
            for (pdb, left) in allowed.iter_mut() {
                if *pdb.namespace != *pod.namespace {
                    continue;
                }
                let Some(selector) = &pdb.selector else { continue };
                if !label_selector_matches(selector, &pod.labels) || pdb.disrupted.iter().any(|d| *d == pod.name) {
                    continue;
                }
                *left -= 1;
                if *left < 0 {
                    violates = true;
                }
            }
        }
        if violates {
            violating.push((priority, pod));
        } else {
            other.push((priority, pod));
        }
    }
    (violating, other)
}

/// Finds victims, or says (as `preemption: ...`) why there are none.
pub fn preempt(cycle: &Cycle, fit: &FitError) -> Result<Outcome, String> {
    let (cache, pod) = (cycle.cache, cycle.pod);
    if pod.preempt_never {
        return Err("preemption: not eligible due to preemptionPolicy=Never.".into());
    }
    if let Some(nominated) = pod.nominated_node.as_deref().and_then(|n| cache.node(n)) {
        let waiting = nominated.pods.iter().any(|p| p.deleting && cache.priority_of(p).unwrap_or(0) < cycle.priority);
        if waiting {
            return Err("preemption: not eligible due to a terminating pod on the nominated node.".into());
        }
    }
    let all = fit.num_nodes;
    if fit.pre_filter.is_some() {
        return Err(format!("preemption: 0/{all} nodes are available: {all} {NOT_HELPFUL}."));
    }
    let mut reasons: Vec<String> = Vec::new();
    let mut candidates = Vec::new();
    for (name, failure) in &fit.nodes {
        if failure.unresolvable {
            reasons.push(NOT_HELPFUL.into());
            continue;
        }
        let Some(node) = cache.node(name) else { continue };
        let mut trial = node.clone();
        let mut potential: Vec<(i32, Arc<PodInfo>)> = node
            .pods
            .iter()
            .map(|p| (cache.priority_of(p).unwrap_or(0), p.clone()))
            .filter(|(prio, _)| *prio < cycle.priority)
            .collect();
        if potential.is_empty() {
            reasons.push(NO_VICTIMS.into());
            continue;
        }
        for (_, p) in &potential {
            trial.remove_pod(&p.key);
        }
        if let Err(f) = filter(cycle, &trial) {
            reasons.extend(f.reasons);
            continue;
        }
        // Most important first (upstream's `MoreImportantPod`: higher priority, then the
        // earlier start); the pods a budget protects are tried first. Each is kept if the
        // pod still fits with it.
        potential.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| start_time(&a.1).cmp(&start_time(&b.1))));
        let (violating, other) = split_by_pdb_violation(cache, potential);
        let mut victims = Vec::new();
        let mut pdb_violations = 0;
        for (group, pods) in [(true, violating), (false, other)] {
            for (prio, p) in pods {
                trial.add_pod(p.clone());
                if filter(cycle, &trial).is_err() {
                    trial.remove_pod(&p.key);
                    victims.push((prio, p));
                    pdb_violations += usize::from(group);
                }
            }
        }
        victims.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| start_time(&a.1).cmp(&start_time(&b.1))));
        candidates.push(Candidate { node: name.clone(), victims, pdb_violations });
    }
    match candidates.into_iter().min_by_key(Candidate::rank) {
        Some(best) => Ok(Outcome { node: best.node, victims: best.victims.into_iter().map(|(_, p)| p).collect() }),
        None => {
            let mut msg = format!("preemption: 0/{all} nodes are available:");
            let h = histogram(reasons.iter().map(String::as_str));
            if !h.is_empty() {
                msg.push_str(&format!(" {}.", h.join(", ")));
            }
            Err(msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use serde_json::json;

    fn pod(name: &str, app: &str) -> Arc<PodInfo> {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default",
            "labels": {"app": app}}, "spec": {"containers": []}}))
        .expect("pod");
        Arc::new(PodInfo::from_pod(&pod))
    }

    fn pdb(name: &str, app: &str, allowed: i32, disrupted: &[&str]) -> PdbInfo {
        let disrupted: serde_json::Map<String, serde_json::Value> =
            disrupted.iter().map(|d| (d.to_string(), json!("2024-01-01T00:00:00Z"))).collect();
        let pdb: PodDisruptionBudget =
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": app}}},
            "status": {"disruptionsAllowed": allowed, "disruptedPods": disrupted, "currentHealthy": 0,
                "desiredHealthy": 0, "expectedPods": 0}}))
            .expect("pdb");
        PdbInfo::from_pdb(&pdb)
    }

    fn names(pods: &[(i32, Arc<PodInfo>)]) -> Vec<&str> {
        pods.iter().map(|(_, p)| &*p.name).collect()
    }

    #[test]
    fn budgets_split_victims_as_upstream() {
        let mut cache = Cache::default();
        cache.pdbs.insert("default/web".into(), pdb("web", "web", 1, &["w3"]));
        cache.pdbs.insert("default/db".into(), pdb("db", "db", 0, &[]));
        // An empty selector selects nothing (the scheduler's reading).
        let mut all = pdb("all", "x", 0, &[]);
        all.selector = None;
        cache.pdbs.insert("default/all".into(), all);
        let pods = vec![
            (0, pod("w1", "web")),
            (0, pod("w2", "web")),
            (0, pod("w3", "web")),
            (0, pod("d1", "db")),
            (0, pod("o1", "other")),
        ];
        let (violating, other) = split_by_pdb_violation(&cache, pods);
        // w1 takes the one disruption left; w3 was counted already.
        assert_eq!(names(&violating), ["w2", "d1"]);
        assert_eq!(names(&other), ["w1", "w3", "o1"]);
    }

    #[test]
    fn candidates_rank_by_violations_first() {
        let c = |violations, prios: &[i32]| Candidate {
            node: "n".into(),
            victims: prios.iter().map(|p| (*p, pod("v", "a"))).collect(),
            pdb_violations: violations,
        };
        assert!(c(0, &[1000, 1000]).rank() < c(1, &[1]).rank());
        assert!(c(0, &[10]).rank() < c(0, &[20]).rank());
        assert!(c(0, &[10, 5]).rank() > c(0, &[10]).rank());
    }
}
