//! Finding unreferenced objects by listing the bucket: uploads nothing recorded (a broker
//! that died after its PUT, before it could commit or record an orphan). Each round lists
//! at most [`MAX_LISTED_PER_ROUND`] objects of `<prefix>/segments/`, page by page from
//! where the last round stopped; of each page, the segments whose ULID time is before the
//! commit horizon plus `gc.grace` (no commit can reference them any more) and that the
//! metadata service says are not in use
//! ([`MetadataClient::in_use`](silt_metadata::MetadataClient::in_use)) are deleted.

use std::collections::HashSet;
use std::sync::Mutex;

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectMeta;
use object_store::path::Path;
use silt_bookie::store::paths::{segment_id, segments_root};

use super::{GcError, Sweeper, delete};

/// Most objects one round lists; the next round goes on after the last one.
pub(crate) const MAX_LISTED_PER_ROUND: usize = 10_000;

/// Objects per page handled at once (one metadata read, one delete batch).
const PAGE: usize = 1000;

/// Where the next round's listing starts (`None`: at the beginning).
#[derive(Debug, Default)]
pub(crate) struct Cursor(Mutex<Option<Path>>);

impl Cursor {
    /// Takes the position, leaving the beginning.
    fn take(&self) -> Option<Path> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Sets the position.
    fn set(&self, position: Option<Path>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = position;
    }
}

/// When a listing is due: now, and the moments before which a segment's seal time and a
/// release are old enough.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListingDue {
    /// Segments sealed before this can no longer be committed.
    pub(crate) sealed_before: i64,
    /// Objects released before this are past their grace.
    pub(crate) released_before: i64,
}

impl Sweeper {
    /// Lists the next stretch of the bucket and deletes the segments due there that are
    /// not in use; answers how many went.
    pub(crate) async fn sweep_listing(&self, due: ListingDue) -> Result<u64, GcError> {
        let root = segments_root(&self.job.store.prefix);
        let listed = match self.cursor.take() {
            Some(after) => self.job.store.store.list_with_offset(Some(&root), &after),
            None => self.job.store.store.list(Some(&root)),
        };
        let mut pages = listed.take(MAX_LISTED_PER_ROUND).try_chunks(PAGE);
        let (mut count, mut deleted, mut last) = (0, 0, None);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| error.1)?;
            count += page.len();
            last = page.last().map(|meta| meta.location.clone());
            deleted += self.delete_unused(&page, due).await?;
            tokio::task::yield_now().await;
        }
        self.cursor
            .set(last.filter(|_| count == MAX_LISTED_PER_ROUND));
        Ok(deleted)
    }

    /// Deletes the segments of `page` sealed before the due time and not in use.
    async fn delete_unused(&self, page: &[ObjectMeta], due: ListingDue) -> Result<u64, GcError> {
        let old: Vec<String> = page
            .iter()
            .filter(|meta| sealed_before(&meta.location, due.sealed_before))
            .map(|meta| meta.location.to_string())
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        let used = (self.job.metadata).in_use(old.clone(), due.released_before, self.after_backup);
        let used: HashSet<String> = used.await?.into_iter().collect();
        let unused: Vec<String> = old.into_iter().filter(|o| !used.contains(o)).collect();
        if unused.is_empty() {
            return Ok(0);
        }
        let gone = delete::delete_batch(self.job.store.store.as_ref(), unused).await;
        let count = gone.len() as u64;
        if !gone.is_empty() {
            // Any of them the state listed as garbage leaves the list.
            self.job.metadata.forget_garbage(gone).await?;
        }
        Ok(count)
    }
}

/// Whether `path` names a segment (by [`segment_id`]) sealed before `before`.
fn sealed_before(path: &Path, before: i64) -> bool {
    segment_id(path).is_some_and(|id| i64::try_from(id.timestamp_ms()).is_ok_and(|t| t < before))
}
