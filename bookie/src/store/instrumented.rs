//! [`InstrumentedStore`]: an [`ObjectStore`] layer that counts every request.
//!
//! Invariant: every call made through the layer is counted once per request it makes
//! (a multi-range GET counts one GET per range) and once more in `errors` when it fails.
//! GET bytes are the byte range the store answered with.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

use crate::store::StoreStats;

/// Counts requests to `inner` into a shared [`StoreStats`].
#[derive(Debug)]
pub struct InstrumentedStore {
    inner: Arc<dyn ObjectStore>,
    stats: Arc<StoreStats>,
}

impl InstrumentedStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>, stats: Arc<StoreStats>) -> Self {
        Self { inner, stats }
    }

    fn count<T>(&self, result: object_store::Result<T>) -> object_store::Result<T> {
        if result.is_err() {
            self.stats.add_error();
        }
        result
    }
}

impl fmt::Display for InstrumentedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instrumented({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for InstrumentedStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.stats.add_put(payload.content_length() as u64);
        let result = self.inner.put_opts(location, payload, opts).await;
        self.count(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.stats.add_put(0);
        let result = self.inner.put_multipart_opts(location, opts).await;
        self.count(result)
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let head = options.head;
        let result = self.inner.get_opts(location, options).await;
        match &result {
            Ok(_) if head => self.stats.add_head(),
            Ok(found) => self
                .stats
                .add_get(1, found.range.end.saturating_sub(found.range.start)),
            Err(_) if head => self.stats.add_head(),
            Err(_) => self.stats.add_get(1, 0),
        }
        self.count(result)
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let result = self.inner.get_ranges(location, ranges).await;
        let bytes = result
            .as_ref()
            .map_or(0, |parts| parts.iter().map(|part| part.len() as u64).sum());
        self.stats.add_get(ranges.len() as u64, bytes);
        self.count(result)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let stats = Arc::clone(&self.stats);
        let counted = locations.inspect({
            let stats = Arc::clone(&stats);
            move |_| stats.add_delete()
        });
        self.inner
            .delete_stream(counted.boxed())
            .inspect(move |result| {
                if result.is_err() {
                    stats.add_error();
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.stats.add_list();
        let stats = Arc::clone(&self.stats);
        self.inner
            .list(prefix)
            .inspect(move |result| {
                if result.is_err() {
                    stats.add_error();
                }
            })
            .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.stats.add_list();
        let stats = Arc::clone(&self.stats);
        self.inner
            .list_with_offset(prefix, offset)
            .inspect(move |result| {
                if result.is_err() {
                    stats.add_error();
                }
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.stats.add_list();
        let result = self.inner.list_with_delimiter(prefix).await;
        self.count(result)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.stats.add_put(0);
        let result = self.inner.copy_opts(from, to, options).await;
        self.count(result)
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.stats.add_put(0);
        let result = self.inner.rename_opts(from, to, options).await;
        self.count(result)
    }
}
