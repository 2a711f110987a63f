//! PersistentVolumes and PersistentVolumeClaims: upstream's persistentvolume-binder
//! (`pkg/controller/volume/persistentvolume/pv_controller.go`).
//!
//! - An unbound claim (`pv.kubernetes.io/bind-completed` not set) is bound to the volume
//!   pre-bound to it (`spec.claimRef`, as the scheduler reserves volumes for
//!   `WaitForFirstConsumer` claims), or else, for `Immediate` claims, to the smallest
//!   `Available` volume of its class whose access modes include the claim's, whose capacity
//!   covers the request, whose volume mode is the claim's and whose labels match the claim's
//!   selector. Binding writes the volume first (`claimRef` with the claim's uid,
//!   `pv.kubernetes.io/bound-by-controller` when the controller chose it, phase `Bound`),
//!   then the claim (`volumeName`, `bind-completed`, `bound-by-controller`, phase `Bound`,
//!   capacity and access modes).
//! - A claim without a volume gets upstream's events: `WaitForFirstConsumer` /
//!   `WaitForPodScheduled` while its class waits for a consumer, `ExternalProvisioning` (and
//!   the `volume.kubernetes.io/storage-provisioner` annotations) for an external provisioner,
//!   `ProvisioningFailed` for a missing class or an in-tree provisioner kolibri does not have
//!   (`kubernetes.io/no-provisioner`), `FailedBinding` without a class.
//! - A claim naming a volume (`spec.volumeName`) is bound to it if it fits (else
//!   `VolumeMismatch`); a bound claim whose volume is gone or bound elsewhere turns `Lost`.
//! - A volume whose claim is gone turns `Released` and is reclaimed by its policy: `Retain`
//!   keeps it; `Delete` leaves it to its external provisioner (CSI volumes, volumes provisioned
//!   by an external provisioner), and fails it (`VolumeFailedDelete`) otherwise, since kolibri
//!   has none of upstream's in-tree deleters; `Recycle` (deprecated) fails it
//!   (`VolumeFailedRecycle`), since kolibri has no recycler.
//! - A volume bound by the controller to a claim that went to another volume is made
//!   `Available` again.
//!
//! Event-driven: claims are synced when they, their volume, a volume of their class, their
//! class or an unscheduled pod using them changes; volumes when they or their claim change.
//! One worker, as upstream (two concurrent syncs could bind one volume twice); every write is
//! an update with the resourceVersion read, so a stale cache ends in a conflict and a retry,
//! and the objects written are remembered until the informers catch up with them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::core::v1::{
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeStatus, Pod,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kolibri_resources::quota::Quantity;
use kube::api::PostParams;
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::events::{Recorder, NORMAL, WARNING};
use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::workloads::{self, key_of, split_key};
use crate::Error;

/// The controller's name for `--disable-controllers`.
pub const NAME: &str = "persistentvolume-binder";
/// The event source, as upstream's.
const COMPONENT: &str = "persistentvolume-controller";

pub(crate) const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub(crate) const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const MIGRATED_TO: &str = "pv.kubernetes.io/migrated-to";
const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// In-tree provisioners that upstream hands to their CSI drivers (CSI migration).
const MIGRATED: [(&str, &str); 7] = [
    ("kubernetes.io/aws-ebs", "ebs.csi.aws.com"),
    ("kubernetes.io/gce-pd", "pd.csi.storage.gke.io"),
    ("kubernetes.io/azure-disk", "disk.csi.azure.com"),
    ("kubernetes.io/azure-file", "file.csi.azure.com"),
    ("kubernetes.io/cinder", "cinder.csi.openstack.org"),
    ("kubernetes.io/vsphere-volume", "csi.vsphere.vmware.com"),
    ("kubernetes.io/portworx-volume", "pxd.portworx.com"),
];

/// What the queue holds: a claim (`namespace/name`) or a volume (`name`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Claim(String),
    Volume(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Claim(k) => write!(f, "persistentvolumeclaim {k}"),
            Key::Volume(k) => write!(f, "persistentvolume {k}"),
        }
    }
}

/// Objects this controller wrote that the informers may not have seen yet.
#[derive(Default)]
struct Written {
    claims: HashMap<String, Arc<PersistentVolumeClaim>>,
    volumes: HashMap<String, Arc<PersistentVolume>>,
}

struct Controller {
    client: Client,
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
    classes: Store<StorageClass>,
    pods: Store<Pod>,
    recorder: Recorder,
    queue: Arc<Queue<Key>>,
    written: Mutex<Written>,
    /// The last event recorded per object (reason, message): a sync that comes to the same
    /// conclusion again does not repeat it.
    reported: Mutex<HashMap<Key, (String, String)>>,
}

/// Starts the controller: claims and pods from the shared informers, volumes and classes
/// from informers of its own (fed through `informers`).
pub(crate) fn start(
    client: Client,
    informers: Client,
    shared: &workloads::Informers,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let (claims, pods) = (shared.claims.get(), shared.pods.get());
    let volumes = Informer::<PersistentVolume>::new("persistentvolumes", ());
    let classes = Informer::<StorageClass>::new("storageclasses", ());
    let ctl = Arc::new(Controller {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        claims: claims.store(),
        volumes: volumes.store(),
        classes: classes.store(),
        pods: pods.store(),
        queue: Queue::new(Backoff::DEFAULT),
        written: Mutex::default(),
        reported: Mutex::default(),
    });
    claims.on_change({
        let ctl = ctl.clone();
        move |change| ctl.claim_changed(change)
    });
    volumes.on_change({
        let ctl = ctl.clone();
        move |change| ctl.volume_changed(change)
    });
    classes.on_change({
        let ctl = ctl.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                ctl.class_changed(&new.name_any());
            }
        }
    });
    pods.on_change({
        let ctl = ctl.clone();
        move |change| ctl.pod_changed(change)
    });
    let ready = futures::future::join4(claims.synced(), pods.synced(), volumes.synced(), classes.synced());
    let ready = async move {
        ready.await;
    };
    let mut tasks = Vec::new();
    let queue = ctl.queue.clone();
    tasks.push(tokio::spawn(queue::serve(NAME, queue, 1, ready, shutdown.clone(), move |key: Key| {
        let ctl = ctl.clone();
        async move { ctl.sync(&key).await }
    })));
    let api: Api<PersistentVolume> = Api::all(informers.clone());
    tasks.extend(volumes.start(watcher(api, watcher::Config::default()).default_backoff(), shutdown.clone()));
    let api: Api<StorageClass> = Api::all(informers);
    tasks.extend(classes.start(watcher(api, watcher::Config::default()).default_backoff(), shutdown));
    tasks
}

// ---------------------------------------------------------------------------------------
// Helpers on the objects (upstream's storage helpers).

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

fn has_annotation(meta: &ObjectMeta, key: &str) -> bool {
    annotation(meta, key).is_some()
}

fn set_annotation(meta: &mut ObjectMeta, key: &str, value: &str) {
    meta.annotations.get_or_insert_with(BTreeMap::new).insert(key.to_string(), value.to_string());
}

/// `GetPersistentVolumeClaimClass`: the beta annotation first, then the field.
fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    if let Some(class) = annotation(&claim.metadata, BETA_STORAGE_CLASS) {
        return class;
    }
    claim.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or_default()
}

/// `GetPersistentVolumeClass`.
fn volume_class(volume: &PersistentVolume) -> &str {
    if let Some(class) = annotation(&volume.metadata, BETA_STORAGE_CLASS) {
        return class;
    }
    volume.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or_default()
}

fn claim_volume_name(claim: &PersistentVolumeClaim) -> &str {
    claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or_default()
}

fn claim_ref(volume: &PersistentVolume) -> Option<&ObjectReference> {
    volume.spec.as_ref()?.claim_ref.as_ref()
}

fn claim_ref_key(r: &ObjectReference) -> String {
    format!("{}/{}", r.namespace.as_deref().unwrap_or_default(), r.name.as_deref().unwrap_or_default())
}

fn volume_phase(volume: &PersistentVolume) -> &str {
    volume.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn claim_phase(claim: &PersistentVolumeClaim) -> &str {
    claim.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn reclaim_policy(volume: &PersistentVolume) -> &str {
    volume.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()).unwrap_or("Retain")
}

/// `IsVolumeBoundToClaim`: the claimRef names the claim (and its uid, once set).
fn is_volume_bound_to_claim(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = claim_ref(volume) else { return false };
    r.name.as_deref() == claim.metadata.name.as_deref()
        && r.namespace.as_deref() == claim.metadata.namespace.as_deref()
        && r.uid.as_deref().is_none_or(|u| u.is_empty() || Some(u) == claim.metadata.uid.as_deref())
}

fn storage(list: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>) -> Quantity {
    list.and_then(|l| l.get("storage")).and_then(|q| Quantity::parse(&q.0)).unwrap_or(Quantity::ZERO)
}

fn requested(claim: &PersistentVolumeClaim) -> Quantity {
    storage(claim.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref()))
}

fn capacity(volume: &PersistentVolume) -> Quantity {
    storage(volume.spec.as_ref().and_then(|s| s.capacity.as_ref()))
}

/// `CheckVolumeModeMismatches` (both default to `Filesystem`).
fn volume_mode_mismatch(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let claim_mode = claim.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    let volume_mode = volume.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    claim_mode != volume_mode
}

fn access_modes(volume: &PersistentVolume) -> &[String] {
    volume.spec.as_ref().and_then(|s| s.access_modes.as_deref()).unwrap_or_default()
}

/// `CheckAccessModes`: the volume offers every mode the claim asks for.
fn access_modes_fit(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let wanted = claim.spec.as_ref().and_then(|s| s.access_modes.as_deref()).unwrap_or_default();
    let offered = access_modes(volume);
    wanted.iter().all(|m| offered.contains(m))
}

/// `checkVolumeSatisfyClaim`, for a claim naming its volume.
fn check_volume_satisfies_claim(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), String> {
    if volume.metadata.deletion_timestamp.is_some() {
        return Err(format!("the volume is marked for deletion {:?}", volume.name_any()));
    }
    if capacity(volume) < requested(claim) {
        return Err("requested PV is too small".into());
    }
    if volume_class(volume) != claim_class(claim) {
        return Err("storageClassName does not match".into());
    }
    if volume_mode_mismatch(claim, volume) {
        return Err("incompatible volumeMode".into());
    }
    if !access_modes_fit(claim, volume) {
        return Err("incompatible accessMode".into());
    }
    Ok(())
}

fn resource_version(meta: &ObjectMeta) -> u64 {
    meta.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The newer of the cached object and the one written.
fn newer<K: kube::Resource>(cached: Arc<K>, written: Option<&Arc<K>>) -> Arc<K> {
    match written {
        Some(w) if resource_version(w.meta()) > resource_version(cached.meta()) => w.clone(),
        _ => cached,
    }
}

/// The best volume for the claim among `volumes` (upstream's `findBestMatchForClaim`): one
/// pre-bound to the claim, else (not for delayed binding, where the scheduler chooses) the
/// available volume with the fewest access modes and then the least capacity that fits.
fn find_best_match(
    claim: &PersistentVolumeClaim,
    volumes: &[Arc<PersistentVolume>],
    delay_binding: bool,
) -> Result<Option<Arc<PersistentVolume>>, String> {
    let selector = match claim.spec.as_ref().and_then(|s| s.selector.clone()) {
        Some(sel) => Some(Selector::try_from(sel).map_err(|e| {
            format!("error creating internal label selector for claim: {}: {e}", key_of(&claim.metadata))
        })?),
        None => None,
    };
    let request = requested(claim);
    let class = claim_class(claim);
    let mut best: Option<(usize, Quantity, &Arc<PersistentVolume>)> = None;
    for volume in volumes {
        if claim_ref(volume).is_some() && !is_volume_bound_to_claim(volume, claim) {
            continue;
        }
        // Upstream looks only among volumes whose access modes include the claim's.
        if !access_modes_fit(claim, volume) {
            continue;
        }
        let size = capacity(volume);
        if size < request || volume_mode_mismatch(claim, volume) || volume.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if is_volume_bound_to_claim(volume, claim) {
            return Ok(Some(volume.clone()));
        }
        if delay_binding {
            continue;
        }
        if volume_phase(volume) != "Available"
            || selector.as_ref().is_some_and(|s| !s.matches(workloads::labels(&volume.metadata)))
            || volume_class(volume) != class
        {
            continue;
        }
        let modes = access_modes(volume).len();
        let better = match &best {
            None => true,
            Some((m, q, v)) => (modes, size, volume.name_any()) < (*m, *q, v.name_any()),
        };
        if better {
            best = Some((modes, size, volume));
        }
    }
    Ok(best.map(|(_, _, v)| v.clone()))
}

/// `namespace/name` of the claims a pod uses (ephemeral volumes: `<pod>-<volume>`).
fn pod_claims(pod: &Pod) -> Vec<String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default();
    volumes
        .iter()
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(format!("{namespace}/{}", c.claim_name))
            } else {
                v.ephemeral.as_ref().map(|_| format!("{namespace}/{pod_name}-{}", v.name))
            }
        })
        .collect()
}

fn api_error(e: kube::Error) -> Error {
    Error::Kube(e)
}

impl Controller {
    fn written(&self) -> MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn claim(&self, key: &str) -> Option<Arc<PersistentVolumeClaim>> {
        let (namespace, name) = split_key(key);
        let cached = self.claims.get(&ObjectRef::new(name).within(namespace))?;
        Some(newer(cached, self.written().claims.get(key)))
    }

    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        let cached = self.volumes.get(&ObjectRef::new(name))?;
        Some(newer(cached, self.written().volumes.get(name)))
    }

    fn all_volumes(&self) -> Vec<Arc<PersistentVolume>> {
        let written = self.written();
        let mut all: Vec<_> =
            self.volumes.state().into_iter().map(|v| newer(v.clone(), written.volumes.get(&v.name_any()))).collect();
        all.sort_by_key(|v| v.name_any());
        all
    }

    fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.classes.get(&ObjectRef::new(name))
    }

    fn remember_claim(&self, claim: PersistentVolumeClaim) -> Arc<PersistentVolumeClaim> {
        let claim = Arc::new(claim);
        self.written().claims.insert(key_of(&claim.metadata), claim.clone());
        claim
    }

    fn remember_volume(&self, volume: PersistentVolume) -> Arc<PersistentVolume> {
        let volume = Arc::new(volume);
        self.written().volumes.insert(volume.name_any(), volume.clone());
        volume
    }

    /// Records an event unless the last one about this object said the same.
    fn event<K>(&self, key: Key, obj: &K, type_: &str, reason: &str, message: String)
    where
        K: kube::Resource<DynamicType = ()>,
    {
        {
            let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
            let entry = (reason.to_string(), message.clone());
            if reported.get(&key) == Some(&entry) {
                return;
            }
            reported.insert(key, entry);
        }
        self.recorder.record(obj, type_, reason, message);
    }

    fn forget_reported(&self, key: &Key) {
        self.reported.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    // -----------------------------------------------------------------------------------
    // Event handlers: only queue keys.

    fn claim_changed(&self, change: &Change<PersistentVolumeClaim>) {
        match change {
            Change::Applied { new, .. } => {
                let key = key_of(&new.metadata);
                let mut written = self.written();
                if written
                    .claims
                    .get(&key)
                    .is_some_and(|w| resource_version(&w.metadata) <= resource_version(&new.metadata))
                {
                    written.claims.remove(&key);
                }
                drop(written);
                self.queue.add(Key::Claim(key));
            }
            Change::Deleted(old) => {
                let key = key_of(&old.metadata);
                self.written().claims.remove(&key);
                self.forget_reported(&Key::Claim(key.clone()));
                // Its volume is released now.
                let volume = claim_volume_name(old);
                if !volume.is_empty() {
                    self.queue.add(Key::Volume(volume.to_string()));
                }
                // A volume reserved for it by claimRef only.
                for v in self.volumes.state() {
                    if claim_ref(&v).is_some_and(|r| claim_ref_key(r) == key) && v.name_any() != volume {
                        self.queue.add(Key::Volume(v.name_any()));
                    }
                }
                self.queue.add(Key::Claim(key));
            }
        }
    }

    fn volume_changed(&self, change: &Change<PersistentVolume>) {
        match change {
            Change::Applied { new, .. } => {
                let name = new.name_any();
                let mut written = self.written();
                if written
                    .volumes
                    .get(&name)
                    .is_some_and(|w| resource_version(&w.metadata) <= resource_version(&new.metadata))
                {
                    written.volumes.remove(&name);
                }
                drop(written);
                self.queue.add(Key::Volume(name));
                match claim_ref(new) {
                    Some(r) => self.queue.add(Key::Claim(claim_ref_key(r))),
                    // An available volume: unbound claims of its class may take it.
                    None => self.unbound_claims_of_class(volume_class(new)),
                }
            }
            Change::Deleted(old) => {
                let name = old.name_any();
                self.written().volumes.remove(&name);
                self.forget_reported(&Key::Volume(name));
                if let Some(r) = claim_ref(old) {
                    self.queue.add(Key::Claim(claim_ref_key(r)));
                }
            }
        }
    }

    fn class_changed(&self, class: &str) {
        self.unbound_claims_of_class(class);
    }

    fn unbound_claims_of_class(&self, class: &str) {
        for claim in self.claims.state() {
            if !has_annotation(&claim.metadata, BIND_COMPLETED) && claim_class(&claim) == class {
                self.queue.add(Key::Claim(key_of(&claim.metadata)));
            }
        }
    }

    /// A new pod waiting for scheduling changes what its unbound claims report.
    fn pod_changed(&self, change: &Change<Pod>) {
        let Change::Applied { old: None, new } = change else { return };
        if new.spec.as_ref().is_some_and(|s| s.node_name.as_deref().is_some_and(|n| !n.is_empty())) {
            return;
        }
        for key in pod_claims(new) {
            let (namespace, name) = split_key(&key);
            let unbound = self
                .claims
                .get(&ObjectRef::new(name).within(namespace))
                .is_some_and(|c| !has_annotation(&c.metadata, BIND_COMPLETED));
            if unbound {
                self.queue.add(Key::Claim(key));
            }
        }
    }

    async fn sync(&self, key: &Key) -> Result<Next, Error> {
        match key {
            Key::Claim(k) => self.sync_claim(k).await,
            Key::Volume(k) => self.sync_volume(k).await,
        }
        .map(|()| Next::Done)
    }

    // -----------------------------------------------------------------------------------
    // Claims.

    async fn sync_claim(&self, key: &str) -> Result<(), Error> {
        let Some(claim) = self.claim(key) else { return Ok(()) };
        if has_annotation(&claim.metadata, BIND_COMPLETED) {
            self.sync_bound_claim(&claim).await
        } else {
            self.sync_unbound_claim(&claim).await
        }
    }

    /// `IsDelayBindingMode`: the claim's class waits for the first consumer.
    fn delay_binding(&self, claim: &PersistentVolumeClaim) -> bool {
        let class = claim_class(claim);
        !class.is_empty()
            && self.class(class).is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
    }

    async fn sync_unbound_claim(&self, claim: &Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        let key = Key::Claim(key_of(&claim.metadata));
        let volume_name = claim_volume_name(claim);
        if volume_name.is_empty() {
            let delay = self.delay_binding(claim);
            let found = find_best_match(claim, &self.all_volumes(), delay)
                .map_err(|e| Error::Sync(format!("error finding PV for claim {:?}: {e}", key_of(&claim.metadata))))?;
            if let Some(volume) = found {
                return self.bind(&volume, claim).await;
            }
            if delay && !has_annotation(&claim.metadata, SELECTED_NODE) {
                // No pod using it has been scheduled yet.
                let (reason, message) = self.unscheduled_pods_message(claim);
                self.event(key, claim.as_ref(), NORMAL, reason, message);
            } else if !claim_class(claim).is_empty() {
                return self.provision(claim).await;
            } else {
                let message = "no persistent volumes available for this claim and no storage class is set";
                self.event(key, claim.as_ref(), NORMAL, "FailedBinding", message.into());
            }
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        }
        // The user asked for a specific volume.
        let Some(volume) = self.volume(volume_name) else {
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        };
        if claim_ref(&volume).is_none() {
            if let Err(why) = check_volume_satisfies_claim(&volume, claim) {
                let message = format!("Cannot bind to requested volume {volume_name:?}: {why}");
                self.event(key, claim.as_ref(), WARNING, "VolumeMismatch", message);
                self.update_claim_status(claim, "Pending", None).await?;
                return Ok(());
            }
            return self.bind(&volume, claim).await;
        }
        if is_volume_bound_to_claim(&volume, claim) {
            return self.bind(&volume, claim).await;
        }
        let message = format!("volume {volume_name:?} already bound to a different claim.");
        self.event(key, claim.as_ref(), WARNING, "FailedBinding", message);
        if !has_annotation(&claim.metadata, BOUND_BY_CONTROLLER) {
            // Pre-bound by the user to a volume someone else has: wait for it.
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        }
        Err(Error::Sync(format!(
            "invalid binding of claim {:?} to volume {volume_name:?}: volume already claimed by {:?}",
            key_of(&claim.metadata),
            claim_ref(&volume).map(claim_ref_key).unwrap_or_default()
        )))
    }

    /// `WaitForFirstConsumer`, or `WaitForPodScheduled` naming the pods that wait.
    fn unscheduled_pods_message(&self, claim: &PersistentVolumeClaim) -> (&'static str, String) {
        let key = key_of(&claim.metadata);
        let mut names: Vec<String> = self
            .pods
            .state()
            .iter()
            .filter(|p| p.metadata.namespace == claim.metadata.namespace)
            .filter(|p| p.spec.as_ref().is_none_or(|s| s.node_name.as_deref().is_none_or(str::is_empty)))
            .filter(|p| !matches!(workloads::phase(p), "Succeeded" | "Failed"))
            .filter(|p| pod_claims(p).contains(&key))
            .map(|p| p.name_any())
            .collect();
        names.sort();
        match names.len() {
            0 => ("WaitForFirstConsumer", "waiting for first consumer to be created before binding".into()),
            1 => ("WaitForPodScheduled", format!("waiting for pod {} to be scheduled", names[0])),
            _ => ("WaitForPodScheduled", format!("waiting for pods {} to be scheduled", names.join(","))),
        }
    }

    /// `provisionClaim` without in-tree plugins: external provisioners are told through the
    /// claim's annotations; anything else is reported.
    async fn provision(&self, claim: &Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        let key = Key::Claim(key_of(&claim.metadata));
        let class_name = claim_class(claim);
        let Some(class) = self.class(class_name) else {
            let message = format!("storageclass.storage.k8s.io {class_name:?} not found");
            self.event(key, claim.as_ref(), WARNING, "ProvisioningFailed", message);
            return Ok(());
        };
        let provisioner = match MIGRATED.iter().find(|(in_tree, _)| *in_tree == class.provisioner) {
            Some((_, csi)) => (*csi).to_string(),
            None if class.provisioner.starts_with("kubernetes.io/") => {
                let message = format!("no volume plugin matched name: {}", class.provisioner);
                self.event(key, claim.as_ref(), WARNING, "ProvisioningFailed", message);
                return Ok(());
            }
            None => class.provisioner.clone(),
        };
        let mut claim = claim.clone();
        let annotated = [STORAGE_PROVISIONER, BETA_STORAGE_PROVISIONER]
            .iter()
            .all(|a| annotation(&claim.metadata, a) == Some(provisioner.as_str()));
        if !annotated {
            let mut new = (*claim).clone();
            set_annotation(&mut new.metadata, STORAGE_PROVISIONER, &provisioner);
            set_annotation(&mut new.metadata, BETA_STORAGE_PROVISIONER, &provisioner);
            let api: Api<PersistentVolumeClaim> =
                Api::namespaced(self.client.clone(), claim.metadata.namespace.as_deref().unwrap_or_default());
            match api.replace(&claim.name_any(), &PostParams::default(), &new).await {
                Ok(saved) => claim = self.remember_claim(saved),
                Err(e) => {
                    let message = format!("Error saving claim: {}", workloads::error_message(&e));
                    self.event(key, claim.as_ref(), WARNING, "ProvisioningFailed", message);
                    return Err(api_error(e));
                }
            }
        }
        let message = format!(
            "Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by \
             the system administrator. If volume creation is delayed, please verify that the provisioner is running \
             and correctly registered."
        );
        self.event(key, claim.as_ref(), NORMAL, "ExternalProvisioning", message);
        Ok(())
    }

    async fn sync_bound_claim(&self, claim: &Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        self.forget_reported(&Key::Claim(key_of(&claim.metadata)));
        let volume_name = claim_volume_name(claim);
        if volume_name.is_empty() {
            let message = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!";
            return self.claim_lost(claim, "ClaimLost", message).await;
        }
        let Some(volume) = self.volume(volume_name) else {
            let message = "Bound claim has lost its PersistentVolume. Data on the volume is lost!";
            return self.claim_lost(claim, "ClaimLost", message).await;
        };
        match claim_ref(&volume) {
            // Unbound meanwhile (or not seen yet): bind it again.
            None => self.bind(&volume, claim).await,
            Some(r) if r.uid.is_some() && r.uid == claim.metadata.uid => self.bind(&volume, claim).await,
            Some(_) => {
                let message = "Two claims are bound to the same volume, this one is bound incorrectly";
                self.claim_lost(claim, "ClaimMisbound", message).await
            }
        }
    }

    async fn claim_lost(&self, claim: &Arc<PersistentVolumeClaim>, reason: &str, message: &str) -> Result<(), Error> {
        if claim_phase(claim) == "Lost" {
            return Ok(());
        }
        self.update_claim_status(claim, "Lost", None).await?;
        self.recorder.record(claim.as_ref(), WARNING, reason, message.into());
        Ok(())
    }

    /// `updateClaimStatus`: the phase, and the volume's access modes and capacity (the
    /// capacity only when the claim becomes bound), or none without a volume.
    async fn update_claim_status(
        &self,
        claim: &Arc<PersistentVolumeClaim>,
        phase: &str,
        volume: Option<&PersistentVolume>,
    ) -> Result<Arc<PersistentVolumeClaim>, Error> {
        let old = claim.status.clone().unwrap_or_default();
        let mut status = old.clone();
        status.phase = Some(phase.into());
        match volume {
            None => {
                status.access_modes = None;
                status.capacity = None;
            }
            Some(v) => {
                status.access_modes = v.spec.as_ref().and_then(|s| s.access_modes.clone());
                if claim_phase(claim) != phase {
                    let volume_capacity = v.spec.as_ref().and_then(|s| s.capacity.as_ref());
                    if volume_capacity.is_none_or(|c| !c.contains_key("storage")) {
                        return Err(Error::Sync(format!(
                            "PersistentVolume {:?} is without a storage capacity",
                            v.name_any()
                        )));
                    }
                    let claim_capacity = old.capacity.as_ref().and_then(|c| c.get("storage"));
                    if claim_capacity.and_then(|q| Quantity::parse(&q.0)) != Some(capacity(v)) {
                        status.capacity = volume_capacity.cloned();
                    }
                }
            }
        }
        if status == old {
            return Ok(claim.clone());
        }
        let mut new = (**claim).clone();
        new.status = Some(status);
        let api: Api<PersistentVolumeClaim> =
            Api::namespaced(self.client.clone(), claim.metadata.namespace.as_deref().unwrap_or_default());
        let saved = api.replace_status(&claim.name_any(), &PostParams::default(), &new).await.map_err(api_error)?;
        Ok(self.remember_claim(saved))
    }

    /// `bind`: the volume first (claimRef, phase), then the claim (volumeName,
    /// annotations, status). A failure leaves the rest to the next sync.
    async fn bind(&self, volume: &Arc<PersistentVolume>, claim: &Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        tracing::debug!(claim = %key_of(&claim.metadata), volume = %volume.name_any(), "binding");
        let volume = self.bind_volume_to_claim(volume, claim).await?;
        let volume = self.update_volume_phase(&volume, "Bound", None).await?;
        let claim = self.bind_claim_to_volume(claim, &volume).await?;
        self.update_claim_status(&claim, "Bound", Some(&volume)).await?;
        self.forget_reported(&Key::Claim(key_of(&claim.metadata)));
        Ok(())
    }

    async fn bind_volume_to_claim(
        &self,
        volume: &Arc<PersistentVolume>,
        claim: &PersistentVolumeClaim,
    ) -> Result<Arc<PersistentVolume>, Error> {
        let by_controller = !is_volume_bound_to_claim(volume, claim);
        let mut new = (**volume).clone();
        let mut dirty = false;
        let r = claim_ref(volume);
        let same = r.is_some_and(|r| {
            r.name == claim.metadata.name && r.namespace == claim.metadata.namespace && r.uid == claim.metadata.uid
        });
        if !same {
            new.spec.get_or_insert_with(Default::default).claim_ref = Some(ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("PersistentVolumeClaim".into()),
                namespace: claim.metadata.namespace.clone(),
                name: claim.metadata.name.clone(),
                uid: claim.metadata.uid.clone(),
                resource_version: claim.metadata.resource_version.clone(),
                ..Default::default()
            });
            dirty = true;
        }
        if by_controller && !has_annotation(&new.metadata, BOUND_BY_CONTROLLER) {
            set_annotation(&mut new.metadata, BOUND_BY_CONTROLLER, "yes");
            dirty = true;
        }
        if !dirty {
            return Ok(volume.clone());
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let saved = api.replace(&volume.name_any(), &PostParams::default(), &new).await.map_err(api_error)?;
        Ok(self.remember_volume(saved))
    }

    async fn bind_claim_to_volume(
        &self,
        claim: &Arc<PersistentVolumeClaim>,
        volume: &PersistentVolume,
    ) -> Result<Arc<PersistentVolumeClaim>, Error> {
        let mut new = (**claim).clone();
        let mut dirty = false;
        let name = volume.name_any();
        if claim_volume_name(claim) != name {
            new.spec.get_or_insert_with(Default::default).volume_name = Some(name);
            if !has_annotation(&new.metadata, BOUND_BY_CONTROLLER) {
                set_annotation(&mut new.metadata, BOUND_BY_CONTROLLER, "yes");
            }
            dirty = true;
        }
        if !has_annotation(&new.metadata, BIND_COMPLETED) {
            set_annotation(&mut new.metadata, BIND_COMPLETED, "yes");
            dirty = true;
        }
        if !dirty {
            return Ok(claim.clone());
        }
        let api: Api<PersistentVolumeClaim> =
            Api::namespaced(self.client.clone(), claim.metadata.namespace.as_deref().unwrap_or_default());
        let saved = api.replace(&claim.name_any(), &PostParams::default(), &new).await.map_err(api_error)?;
        Ok(self.remember_claim(saved))
    }

    // -----------------------------------------------------------------------------------
    // Volumes.

    /// `updateVolumePhase`: the phase, its message, and the time of the transition.
    async fn update_volume_phase(
        &self,
        volume: &Arc<PersistentVolume>,
        phase: &str,
        message: Option<&str>,
    ) -> Result<Arc<PersistentVolume>, Error> {
        let old = volume.status.clone().unwrap_or_default();
        if old.phase.as_deref() == Some(phase) && old.message.as_deref() == message {
            return Ok(volume.clone());
        }
        let mut new = (**volume).clone();
        let transition = if old.phase.as_deref() != Some(phase) {
            Some(Time(workloads::now()))
        } else {
            old.last_phase_transition_time.clone()
        };
        new.status = Some(PersistentVolumeStatus {
            phase: Some(phase.into()),
            message: message.map(Into::into),
            last_phase_transition_time: transition,
            ..old
        });
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let saved = api.replace_status(&volume.name_any(), &PostParams::default(), &new).await.map_err(api_error)?;
        Ok(self.remember_volume(saved))
    }

    /// `updateVolumePhaseWithEvent`: nothing (and no event) when the phase is already set.
    async fn fail_volume(&self, volume: &Arc<PersistentVolume>, reason: &str, message: String) -> Result<(), Error> {
        if volume_phase(volume) == "Failed" {
            return Ok(());
        }
        let volume = self.update_volume_phase(volume, "Failed", Some(&message)).await?;
        self.event(Key::Volume(volume.name_any()), volume.as_ref(), WARNING, reason, message);
        Ok(())
    }

    async fn sync_volume(&self, name: &str) -> Result<(), Error> {
        let Some(volume) = self.volume(name) else { return Ok(()) };
        let Some(r) = claim_ref(&volume).cloned() else {
            self.update_volume_phase(&volume, "Available", None).await?;
            return Ok(());
        };
        if r.uid.as_deref().is_none_or(str::is_empty) {
            // Reserved for a claim that has not been bound to it yet: the claim's sync does it.
            self.update_volume_phase(&volume, "Available", None).await?;
            return Ok(());
        }
        let claim_key = claim_ref_key(&r);
        let mut claim = self.claim(&claim_key);
        if claim.is_none() && !matches!(volume_phase(&volume), "Released" | "Failed") {
            // The cache may lag behind a claim created with the volume: ask the API server
            // before releasing anything.
            claim = self.fetch_claim(&r).await?;
        }
        if claim.as_ref().is_some_and(|c| c.metadata.uid != r.uid) {
            // A newer claim of the same name: the cached one may be stale.
            claim = self.fetch_claim(&r).await?.filter(|c| c.metadata.uid == r.uid);
        }
        let Some(claim) = claim else {
            // The claim is gone: release the volume and reclaim it.
            let volume = if matches!(volume_phase(&volume), "Released" | "Failed") {
                volume
            } else {
                tracing::info!(volume = %name, policy = reclaim_policy(&volume), "volume is released; reclaiming it");
                self.update_volume_phase(&volume, "Released", None).await?
            };
            return self.reclaim(&volume).await;
        };
        let claim_volume = claim_volume_name(&claim);
        if claim_volume.is_empty() {
            if volume_mode_mismatch(&claim, &volume) {
                let message = format!(
                    "Cannot bind PersistentVolume to requested PersistentVolumeClaim {:?} due to incompatible volumeMode.",
                    claim.name_any()
                );
                self.event(Key::Volume(name.into()), volume.as_ref(), WARNING, "VolumeMismatch", message);
                let message = format!(
                    "Cannot bind PersistentVolume {name:?} to requested PersistentVolumeClaim due to incompatible volumeMode."
                );
                self.event(Key::Claim(claim_key), claim.as_ref(), WARNING, "VolumeMismatch", message);
                return Ok(());
            }
            // Bound on the volume's side only: the claim's sync completes it.
            self.queue.add(Key::Claim(claim_key));
            return Ok(());
        }
        if claim_volume == name {
            self.update_volume_phase(&volume, "Bound", None).await?;
            return Ok(());
        }
        // The claim went to another volume.
        if has_annotation(&volume.metadata, PROVISIONED_BY) && reclaim_policy(&volume) == "Delete" {
            let volume = if matches!(volume_phase(&volume), "Released" | "Failed") {
                volume
            } else {
                self.update_volume_phase(&volume, "Released", None).await?
            };
            return self.reclaim(&volume).await;
        }
        self.unbind_volume(&volume).await
    }

    async fn fetch_claim(&self, r: &ObjectReference) -> Result<Option<Arc<PersistentVolumeClaim>>, Error> {
        let api: Api<PersistentVolumeClaim> =
            Api::namespaced(self.client.clone(), r.namespace.as_deref().unwrap_or_default());
        let claim = api.get_opt(r.name.as_deref().unwrap_or_default()).await.map_err(api_error)?;
        Ok(claim.map(Arc::new))
    }

    /// `unbindVolume`: a binding the controller made is removed; a user's pre-binding keeps
    /// the claim's name but loses its uid.
    async fn unbind_volume(&self, volume: &Arc<PersistentVolume>) -> Result<(), Error> {
        let mut new = (**volume).clone();
        if has_annotation(&volume.metadata, BOUND_BY_CONTROLLER) {
            if let Some(spec) = new.spec.as_mut() {
                spec.claim_ref = None;
            }
            if let Some(a) = new.metadata.annotations.as_mut() {
                a.remove(BOUND_BY_CONTROLLER);
                if a.is_empty() {
                    new.metadata.annotations = None;
                }
            }
        } else if let Some(r) = new.spec.as_mut().and_then(|s| s.claim_ref.as_mut()) {
            r.uid = None;
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let saved = api.replace(&volume.name_any(), &PostParams::default(), &new).await.map_err(api_error)?;
        let saved = self.remember_volume(saved);
        self.update_volume_phase(&saved, "Available", None).await?;
        Ok(())
    }

    /// `reclaimVolume` for a released volume.
    async fn reclaim(&self, volume: &Arc<PersistentVolume>) -> Result<(), Error> {
        if has_annotation(&volume.metadata, MIGRATED_TO) {
            // Its CSI driver's provisioner reclaims it.
            return Ok(());
        }
        match reclaim_policy(volume) {
            "Retain" => Ok(()),
            "Recycle" => {
                // Deprecated upstream, and kolibri has no recycler plugin.
                self.fail_volume(volume, "VolumeFailedRecycle", "No recycler plugin found for the volume!".into()).await
            }
            "Delete" => {
                if volume.metadata.deletion_timestamp.is_some() {
                    return Ok(());
                }
                let external = annotation(&volume.metadata, PROVISIONED_BY)
                    .is_some_and(|p| !p.is_empty() && !p.starts_with("kubernetes.io/"))
                    || volume.spec.as_ref().is_some_and(|s| s.csi.is_some());
                if external {
                    // The external provisioner deletes it.
                    return Ok(());
                }
                let message = match annotation(&volume.metadata, PROVISIONED_BY).filter(|p| !p.is_empty()) {
                    Some(p) => format!("no volume plugin matched name: {p}"),
                    None => format!(
                        "error getting deleter volume plugin for volume {:?}: no deletable volume plugin matched",
                        volume.name_any()
                    ),
                };
                self.fail_volume(volume, "VolumeFailedDelete", message).await
            }
            _ => {
                let message = "Volume has unrecognized PersistentVolumeReclaimPolicy".to_string();
                self.fail_volume(volume, "VolumeUnknownReclaimPolicy", message).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(spec: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u1"}, "spec": spec}))
            .expect("claim")
    }

    fn volume(name: &str, extra: serde_json::Value) -> Arc<PersistentVolume> {
        let mut v = json!({"metadata": {"name": name},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/x"}},
            "status": {"phase": "Available"}});
        merge(&mut v, &extra);
        Arc::new(serde_json::from_value(v).expect("volume"))
    }

    fn merge(doc: &mut serde_json::Value, patch: &serde_json::Value) {
        match (doc, patch) {
            (serde_json::Value::Object(d), serde_json::Value::Object(p)) => {
                for (k, v) in p {
                    merge(d.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
            (d, p) => *d = p.clone(),
        }
    }

    fn best(c: &PersistentVolumeClaim, vs: &[Arc<PersistentVolume>], delay: bool) -> Option<String> {
        find_best_match(c, vs, delay).expect("match").map(|v| v.name_any())
    }

    #[test]
    fn the_smallest_fitting_volume_with_the_fewest_access_modes_wins() {
        let c = claim(json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "500Mi"}}}));
        let vs = [
            volume("big", json!({"spec": {"capacity": {"storage": "10Gi"}}})),
            volume("small", json!({})),
            volume("tiny", json!({"spec": {"capacity": {"storage": "100Mi"}}})),
            volume(
                "many-modes",
                json!({"spec": {"capacity": {"storage": "600Mi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}}),
            ),
            volume(
                "taken",
                json!({"spec": {"capacity": {"storage": "500Mi"}, "claimRef": {"namespace": "ns", "name": "other"}}}),
            ),
            volume("pending", json!({"spec": {"capacity": {"storage": "500Mi"}}, "status": {"phase": "Released"}})),
            volume("classy", json!({"spec": {"capacity": {"storage": "500Mi"}, "storageClassName": "fast"}})),
            volume("block", json!({"spec": {"capacity": {"storage": "500Mi"}, "volumeMode": "Block"}})),
        ];
        assert_eq!(best(&c, &vs, false).as_deref(), Some("small"));
        // Delayed binding: only a volume reserved for the claim.
        assert_eq!(best(&c, &vs, true), None);
        let reserved = volume(
            "reserved",
            json!({"spec": {"capacity": {"storage": "5Gi"},
            "claimRef": {"namespace": "ns", "name": "c", "uid": "u1"}}, "status": {"phase": "Pending"}}),
        );
        let mut with = vs.to_vec();
        with.push(reserved);
        assert_eq!(best(&c, &with, true).as_deref(), Some("reserved"));
        assert_eq!(best(&c, &with, false).as_deref(), Some("reserved"));
    }

    #[test]
    fn selectors_classes_and_access_modes_must_match() {
        let c = claim(json!({"accessModes": ["ReadWriteMany"], "storageClassName": "fast",
            "selector": {"matchLabels": {"tier": "gold"}}, "resources": {"requests": {"storage": "1Gi"}}}));
        let vs = [
            volume("rwo", json!({"metadata": {"labels": {"tier": "gold"}}, "spec": {"storageClassName": "fast"}})),
            volume(
                "silver",
                json!({"metadata": {"labels": {"tier": "silver"}},
                "spec": {"storageClassName": "fast", "accessModes": ["ReadWriteMany"]}}),
            ),
            volume(
                "gold",
                json!({"metadata": {"labels": {"tier": "gold"}},
                "spec": {"storageClassName": "fast", "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}}),
            ),
        ];
        assert_eq!(best(&c, &vs, false).as_deref(), Some("gold"));
        let bad = claim(json!({"accessModes": ["ReadWriteOnce"], "selector": {"matchExpressions": [
            {"key": "a", "operator": "Bogus"}]}, "resources": {"requests": {"storage": "1Gi"}}}));
        assert!(find_best_match(&bad, &vs, false).is_err());
    }

    #[test]
    fn a_named_volume_must_satisfy_the_claim() {
        let c = claim(json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}));
        assert_eq!(check_volume_satisfies_claim(&volume("v", json!({})), &c).unwrap_err(), "requested PV is too small");
        let v = volume("v", json!({"spec": {"capacity": {"storage": "2Gi"}, "storageClassName": "x"}}));
        assert_eq!(check_volume_satisfies_claim(&v, &c).unwrap_err(), "storageClassName does not match");
        let v = volume("v", json!({"spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadOnlyMany"]}}));
        assert_eq!(check_volume_satisfies_claim(&v, &c).unwrap_err(), "incompatible accessMode");
        let v = volume("v", json!({"spec": {"capacity": {"storage": "3Gi"}}}));
        assert!(check_volume_satisfies_claim(&v, &c).is_ok());
    }

    #[test]
    fn pods_name_their_claims_and_ephemeral_ones() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {
            "containers": [], "volumes": [{"name": "a", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}, {"name": "e", "emptyDir": {}}]}}))
        .expect("pod");
        assert_eq!(pod_claims(&pod), ["ns/data", "ns/p-scratch"]);
    }
}
