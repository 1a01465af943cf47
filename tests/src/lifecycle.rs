//! Helpers of the lifecycle tests (garbage collection, retention, the lifecycle race): the
//! segment objects in the bucket, whether one exists, and polling a condition until a
//! deadline; [`long_run`] holds the long retention run's figures and readers.

pub mod long_run;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use silt_bookie::store::ObjectStoreHandle;

/// The segment objects under the store's prefix, by full name (as index entries name them).
pub async fn segments(store: &ObjectStoreHandle) -> BTreeSet<String> {
    let root = store.prefix.clone().join("segments");
    let listed: Vec<_> = store.store.list(Some(&root)).try_collect().await.unwrap();
    listed.into_iter().map(|o| o.location.to_string()).collect()
}

/// Whether `path` is in the store.
pub async fn exists(store: &ObjectStoreHandle, path: &object_store::path::Path) -> bool {
    store.store.head(path).await.is_ok()
}

/// Polls `check` every 100 ms until it holds; panics naming `what` after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
