//! The server's own controllers (custom resource definitions, token Secrets) follow the
//! store directly: every stored object under a prefix once at start, then each change
//! from the store's watch, until shutdown. No polling.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use kolibri_store::{EventType, ListOptions, StoreError};

use crate::ApiServer;

impl ApiServer {
    /// Calls `handle` with the key and value of every object under `prefix` (before
    /// returning), then from a task for every later change; a deletion has no value.
    pub(crate) async fn follow<F, Fut>(self: &Arc<Self>, prefix: &'static str, handle: F) -> Result<(), StoreError>
    where
        F: Fn(Arc<ApiServer>, String, Option<Bytes>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let listed = self.store.list(prefix, ListOptions::default()).await?;
        for kv in listed.items {
            handle(self.clone(), kv.key, Some(kv.value)).await;
        }
        let mut watch = self.store.watch(prefix, listed.revision).await?;
        let server = Arc::downgrade(self);
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    event = watch.next() => event,
                    _ = shutdown.changed() => return,
                };
                let Some(Ok(event)) = event else { return };
                let Some(server) = server.upgrade() else { return };
                let value = (event.event_type != EventType::Deleted).then(|| event.kv.value.clone());
                handle(server, event.kv.key.clone(), value).await;
            }
        });
        Ok(())
    }
}
