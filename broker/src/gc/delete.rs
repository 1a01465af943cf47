//! Batched, throttled deletion: one `delete_stream` call per batch (S3 DeleteObjects, up
//! to 1000 keys a request; the local file store deletes one by one), then a pause that
//! keeps the rate at or below [`MAX_DELETES_PER_SECOND`], so a large backlog does not
//! compete with produce traffic for the store's request rate.

use std::time::Duration;

use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use tracing::warn;

/// Most objects deleted per second by one collector.
pub(crate) const MAX_DELETES_PER_SECOND: u64 = 1000;

/// Deletes `names` with one `delete_stream` call and answers the names known gone: all of
/// them when every delete succeeded or found nothing, else those the store confirmed.
/// Then waits long enough to keep the rate at or below [`MAX_DELETES_PER_SECOND`].
pub(crate) async fn delete_batch(store: &dyn ObjectStore, names: Vec<String>) -> Vec<String> {
    let count = names.len() as u64;
    let locations = names.iter().map(|name| Ok(Path::from(name.as_str())));
    let results: Vec<_> = store
        .delete_stream(futures::stream::iter(locations.collect::<Vec<_>>()).boxed())
        .collect()
        .await;
    let gone = confirmed(names, results);
    pace(count).await;
    gone
}

/// The names known gone after `results`: every name if no delete failed but for a missing
/// object (deleting twice is harmless), else only the paths reported deleted.
fn confirmed(names: Vec<String>, results: Vec<object_store::Result<Path>>) -> Vec<String> {
    let failed = |r: &object_store::Result<Path>| matches!(r, Err(e) if !matches!(e, object_store::Error::NotFound { .. }));
    if !results.iter().any(failed) {
        return names;
    }
    for error in results.iter().filter_map(|r| r.as_ref().err()) {
        warn!(%error, "an object could not be deleted; it stays listed for the next round");
    }
    results
        .into_iter()
        .filter_map(Result::ok)
        .map(|path| path.to_string())
        .collect()
}

/// Sleeps as long as `deleted` deletes take at [`MAX_DELETES_PER_SECOND`], then yields.
async fn pace(deleted: u64) {
    let millis = deleted.saturating_mul(1000) / MAX_DELETES_PER_SECOND;
    tokio::time::sleep(Duration::from_millis(millis)).await;
    tokio::task::yield_now().await;
}
