//! Which resources the server serves: the preferred version of every group, as upstream's
//! `ServerPreferredResources`. Groups that fail are reported, not fatal: callers work with
//! what they got.

use kube::discovery::ApiResource;
use kube::Client;

/// One served resource (no subresources).
#[derive(Clone, Debug)]
pub struct Resource {
    pub ar: ApiResource,
    pub namespaced: bool,
    pub verbs: Vec<String>,
}

impl Resource {
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// Upstream's `GroupVersionResource.String()`: `apps/v1, Resource=deployments`.
    pub fn gvr(&self) -> String {
        format!("{}/{}, Resource={}", self.ar.group, self.ar.version, self.ar.plural)
    }
}

/// The result of one discovery.
#[derive(Debug, Default)]
pub struct Discovered {
    pub resources: Vec<Resource>,
    /// Group versions whose resources could not be read, with the error (sorted).
    pub failed: Vec<(String, String)>,
    /// Group version strings that did not parse.
    pub unparsable: Vec<String>,
}

impl Discovered {
    /// Upstream's `ErrGroupDiscoveryFailed` text.
    pub fn failure_message(&self) -> Option<String> {
        if self.failed.is_empty() {
            return None;
        }
        let groups: Vec<String> = self.failed.iter().map(|(gv, e)| format!("{gv}: {e}")).collect();
        Some(format!(
            "Discovery failed for some groups, {} failing: unable to retrieve the complete list of server APIs: {}",
            self.failed.len(),
            groups.join(", ")
        ))
    }
}

/// Discovers the preferred version of every group. Fails only when the list of groups
/// itself cannot be read.
pub async fn preferred(client: &Client) -> Result<Discovered, kube::Error> {
    let mut out = Discovered::default();
    let mut group_versions = Vec::new();
    let core = client.list_core_api_versions().await?;
    if let Some(v) = core.versions.first() {
        group_versions.push(v.clone());
    }
    for group in client.list_api_groups().await?.groups {
        let version = group.preferred_version.or_else(|| group.versions.into_iter().next());
        if let Some(v) = version {
            group_versions.push(v.group_version);
        }
    }
    for gv in group_versions {
        let list = if gv.contains('/') {
            client.list_api_group_resources(&gv).await
        } else {
            client.list_core_api_resources(&gv).await
        };
        let list = match list {
            Ok(list) => list,
            Err(e) => {
                out.failed.push((gv, e.to_string()));
                continue;
            }
        };
        let (group, version) = match list.group_version.split('/').collect::<Vec<_>>()[..] {
            [version] if !version.is_empty() => (String::new(), version.to_string()),
            [group, version] if !group.is_empty() && !version.is_empty() => (group.to_string(), version.to_string()),
            _ => {
                out.unparsable.push(list.group_version.clone());
                continue;
            }
        };
        for r in list.resources {
            if r.name.contains('/') {
                continue;
            }
            let api_version = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
            out.resources.push(Resource {
                ar: ApiResource {
                    group: group.clone(),
                    version: version.clone(),
                    api_version,
                    kind: r.kind,
                    plural: r.name,
                },
                namespaced: r.namespaced,
                verbs: r.verbs,
            });
        }
    }
    out.failed.sort();
    Ok(out)
}
