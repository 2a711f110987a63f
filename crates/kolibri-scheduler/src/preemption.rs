//! Preemption (upstream's DefaultPreemption): when a pod fits nowhere, find the nodes where
//! removing pods of lower priority would let it fit, keep as many of those pods as possible
//! (most important first), and pick the node whose victims matter least.

use std::sync::Arc;

use crate::cache::PodInfo;
use crate::framework::{filter, histogram, Cycle, FitError};

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Where the pod goes once the victims are gone.
pub struct Outcome {
    pub node: Arc<str>,
    pub victims: Vec<Arc<PodInfo>>,
}

struct Candidate {
    node: Arc<str>,
    victims: Vec<(i32, Arc<PodInfo>)>,
}

impl Candidate {
    /// Upstream's order: lowest highest-priority victim, lowest sum of priorities, fewest
    /// victims.
    fn rank(&self) -> (i64, i64, usize) {
        let highest = self.victims.iter().map(|(p, _)| i64::from(*p)).max().unwrap_or(i64::MIN);
        let sum = self.victims.iter().map(|(p, _)| i64::from(*p) + (1i64 << 31)).sum();
        (highest, sum, self.victims.len())
    }
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
        // Most important first: each is kept if the pod still fits with it.
        potential.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.created.cmp(&b.1.created)));
        let mut victims = Vec::new();
        for (prio, p) in potential {
            trial.add_pod(p.clone());
            if filter(cycle, &trial).is_err() {
                trial.remove_pod(&p.key);
                victims.push((prio, p));
            }
        }
        candidates.push(Candidate { node: name.clone(), victims });
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
