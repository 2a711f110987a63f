//! Shared informers: per kind (and view) one watch (kube-runtime's `watcher`, which backs off
//! on errors) and one cache (kube-runtime's reflector `Store`), shared by every controller
//! that needs the kind, plus change handlers, as client-go's shared informers.
//!
//! kube-runtime's shared subscribers carry applied objects only; the controllers here also
//! act on deletions (a deleted owner, a deleted `default` ServiceAccount), so the informer
//! calls its handlers itself, with the old and new object, and turns a re-list into the
//! deletions and changes it implies.

use std::collections::HashMap;
use std::hash::Hash;
use std::pin::pin;
use std::sync::{Arc, Mutex, RwLock};

use futures::{Stream, StreamExt};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{Lookup, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Resource;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One change seen by an informer.
pub enum Change<K> {
    /// Created, modified, or present at a (re-)list; `old` is the cached state before.
    Applied { old: Option<Arc<K>>, new: Arc<K> },
    /// Gone (the last known state).
    Deleted(Arc<K>),
}

type Handler<K> = Box<dyn Fn(&Change<K>) + Send + Sync>;

/// A shared informer of objects `K`.
pub struct Informer<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    name: String,
    dyntype: K::DynamicType,
    store: Store<K>,
    writer: Mutex<Option<Writer<K>>>,
    handlers: Arc<RwLock<Vec<Handler<K>>>>,
    synced: Arc<watch::Sender<bool>>,
    /// Drops what no controller reads before an object is cached.
    prune: Option<fn(&mut K)>,
}

impl<K> Informer<K>
where
    K: Lookup + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    pub fn new(name: impl Into<String>, dyntype: K::DynamicType) -> Arc<Self> {
        Self::pruned(name, dyntype, None)
    }

    /// An informer whose cached objects are first passed through `prune`, which drops
    /// fields no controller reads (the cache then holds less of every object).
    pub fn pruned(name: impl Into<String>, dyntype: K::DynamicType, prune: Option<fn(&mut K)>) -> Arc<Self> {
        let writer = Writer::new(dyntype.clone());
        Arc::new(Self {
            name: name.into(),
            store: writer.as_reader(),
            dyntype,
            writer: Mutex::new(Some(writer)),
            handlers: Arc::default(),
            synced: Arc::new(watch::channel(false).0),
            prune,
        })
    }

    /// The cache; filled once the first list is complete (see [`Informer::synced`]).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Resolves once the first list is in the cache. (kube-runtime's
    /// `Store::wait_until_ready` wakes only one of several concurrent waiters.)
    pub fn synced(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.synced.subscribe();
        async move {
            let _ = rx.wait_for(|synced| *synced).await;
        }
    }

    /// Calls `handler` for every change, on the informer's task: it must be quick (queue a
    /// key), never block.
    pub fn on_change(&self, handler: impl Fn(&Change<K>) + Send + Sync + 'static) {
        self.handlers.write().unwrap_or_else(|p| p.into_inner()).push(Box::new(handler));
    }

    /// Starts feeding the cache and the handlers from `events` until `shutdown`. Only the
    /// first call starts anything. Managed fields are dropped before caching: no controller
    /// reads them, and they are often the larger part of an object's metadata.
    pub fn start<S>(&self, events: S, shutdown: watch::Receiver<bool>) -> Option<JoinHandle<()>>
    where
        K: Resource,
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take()?;
        let prune = self.prune;
        let events = events.modify(move |obj: &mut K| {
            obj.meta_mut().managed_fields = None;
            if let Some(prune) = prune {
                prune(obj);
            }
        });
        let feed = Feed {
            name: self.name.clone(),
            dyntype: self.dyntype.clone(),
            writer,
            store: self.store.clone(),
            handlers: self.handlers.clone(),
            synced: self.synced.clone(),
        };
        Some(tokio::spawn(feed.run(events, shutdown)))
    }
}

struct Feed<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    name: String,
    dyntype: K::DynamicType,
    writer: Writer<K>,
    store: Store<K>,
    handlers: Arc<RwLock<Vec<Handler<K>>>>,
    synced: Arc<watch::Sender<bool>>,
}

impl<K> Feed<K>
where
    K: Lookup + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    async fn run<S>(mut self, events: S, mut shutdown: watch::Receiver<bool>)
    where
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    {
        let mut events = pin!(events);
        let mut failing = false;
        loop {
            let event = tokio::select! {
                event = events.next() => event,
                _ = crate::stopped(&mut shutdown) => break,
            };
            match event {
                None => break,
                Some(Err(e)) => {
                    // The stream backs off before its next attempt; say so once per outage.
                    if !failing {
                        tracing::warn!(informer = %self.name, error = %e, "watch failed; retrying with backoff");
                    }
                    failing = true;
                }
                Some(Ok(event)) => {
                    failing = false;
                    self.apply(event);
                }
            }
        }
        tracing::debug!(informer = %self.name, "informer stopped");
    }

    fn apply(&mut self, event: watcher::Event<K>) {
        match &event {
            watcher::Event::Apply(obj) => {
                let key = obj.to_object_ref(self.dyntype.clone());
                let old = self.store.get(&key);
                self.writer.apply_watcher_event(&event);
                if let Some(new) = self.store.get(&key) {
                    self.notify(&Change::Applied { old, new });
                }
            }
            watcher::Event::Delete(obj) => {
                self.writer.apply_watcher_event(&event);
                self.notify(&Change::Deleted(Arc::new(obj.clone())));
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => self.writer.apply_watcher_event(&event),
            watcher::Event::InitDone => {
                let mut before: HashMap<ObjectRef<K>, Arc<K>> =
                    self.store.state().into_iter().map(|o| (o.to_object_ref(self.dyntype.clone()), o)).collect();
                self.writer.apply_watcher_event(&event);
                for new in self.store.state() {
                    let old = before.remove(&new.to_object_ref(self.dyntype.clone()));
                    let unchanged = old.as_ref().is_some_and(|o| o.resource_version() == new.resource_version());
                    if !unchanged {
                        self.notify(&Change::Applied { old, new });
                    }
                }
                // Deleted while the watch was down.
                for (_, old) in before {
                    self.notify(&Change::Deleted(old));
                }
                self.synced.send_replace(true);
            }
        }
    }

    fn notify(&self, change: &Change<K>) {
        for handler in self.handlers.read().unwrap_or_else(|p| p.into_inner()).iter() {
            handler(change);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn cm(name: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn relists_turn_into_changes_and_deletions() {
        use watcher::Event::*;
        let informer = Informer::<ConfigMap>::new("test", ());
        let seen = Arc::new(Mutex::new(Vec::new()));
        informer.on_change({
            let seen = seen.clone();
            move |change| {
                let line = match change {
                    Change::Applied { old, new } => format!(
                        "applied {} {}->{}",
                        new.metadata.name.as_deref().unwrap_or(""),
                        old.as_ref().and_then(|o| o.metadata.resource_version.clone()).unwrap_or_default(),
                        new.metadata.resource_version.as_deref().unwrap_or("")
                    ),
                    Change::Deleted(old) => format!("deleted {}", old.metadata.name.as_deref().unwrap_or("")),
                };
                seen.lock().unwrap().push(line);
            }
        });
        let events = vec![
            Init,
            InitApply(cm("a", "1")),
            InitApply(cm("b", "2")),
            InitDone,
            Apply(cm("a", "3")),
            Delete(cm("b", "2")),
            Apply(cm("c", "4")),
            // A re-list after the watch was down: a unchanged, c gone, d new.
            Init,
            InitApply(cm("a", "3")),
            InitApply(cm("d", "5")),
            InitDone,
        ];
        let synced = informer.synced();
        let (_tx, rx) = watch::channel(false);
        let task = informer.start(futures::stream::iter(events.into_iter().map(Ok)), rx).unwrap();
        synced.await;
        task.await.unwrap();
        let mut first_list: Vec<String> = seen.lock().unwrap().drain(..2).collect();
        first_list.sort();
        assert_eq!(first_list, ["applied a ->1", "applied b ->2"]);
        assert_eq!(
            *seen.lock().unwrap(),
            ["applied a 1->3", "deleted b", "applied c ->4", "applied d ->5", "deleted c"]
        );
        let mut names: Vec<String> = informer.store().state().iter().filter_map(|o| o.metadata.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["a", "d"]);
    }
}
