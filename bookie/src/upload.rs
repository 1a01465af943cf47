//! Upload of one sealed segment as one object, written only if absent.
//!
//! Invariants: the object is written with `PutMode::Create`, so an existing object is
//! never overwritten. When the name is taken (a retried PUT whose first attempt landed,
//! or recovery re-uploading a spooled segment), the existing object is read back: equal
//! bytes mean the upload already happened (`Ok`), different bytes are a real collision
//! ([`Error::AlreadyExists`]). Only `Generic` errors (transient by elimination) and
//! attempts that time out are retried here, at most [`MAX_ATTEMPTS`] times with exponential
//! backoff (`store::retry`); `NotFound`,
//! `AlreadyExists` and `Precondition` are never retried. S3 also retries inside
//! `object_store` (its `RetryConfig`).

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::store::ObjectStoreHandle;
use crate::store::cost::{Shares, attributed};
use crate::store::retry::{RetryPolicy, retrying};

/// Attempts made for a PUT failing with a generic (possibly transient) error or a
/// timeout (see [`RetryPolicy::for_bytes`]).
pub const MAX_ATTEMPTS: u32 = 5;

/// Uploads `bytes` to `path` if absent; idempotent for identical bytes. Every request it
/// makes (retries and the read-back included) is billed to the segment's topics by the
/// share of their chunks' bytes ([`crate::store::cost`]).
pub async fn upload_segment(store: &ObjectStoreHandle, path: &Path, bytes: Bytes) -> Result<()> {
    let span = tracing::info_span!("segment_upload", segment = %path, bytes = bytes.len());
    let shares = Shares::of_segment(&bytes);
    let upload = upload_with_retry(store, path, bytes).instrument(span);
    attributed(store.stats.costs(), upload, |_| shares).await
}

async fn upload_with_retry(store: &ObjectStoreHandle, path: &Path, bytes: Bytes) -> Result<()> {
    let policy = RetryPolicy::for_bytes(bytes.len() as u64);
    let put = retrying("segment PUT", policy, || {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        store
            .store
            .put_opts(path, PutPayload::from_bytes(bytes.clone()), options)
    })
    .await;
    match put {
        Ok(_) => Ok(()),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => compare_existing(store, path, &bytes).await,
        Err(error) => Err(error.into()),
    }
}

async fn compare_existing(store: &ObjectStoreHandle, path: &Path, bytes: &Bytes) -> Result<()> {
    let existing = retrying(
        "segment GET (upload check)",
        RetryPolicy::for_bytes(bytes.len() as u64),
        || async { store.store.get(path).await?.bytes().await },
    )
    .await?;
    if existing == *bytes {
        tracing::info!("segment already uploaded with identical bytes");
        Ok(())
    } else {
        Err(Error::AlreadyExists {
            path: path.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use futures::stream::BoxStream;
    use object_store::local::LocalFileSystem;
    use object_store::memory::InMemory;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
        PutMultipartOptions, PutResult,
    };
    use ulid::Ulid;

    use super::*;
    use crate::store::paths::segment_path;

    async fn exercise(store: ObjectStoreHandle) {
        let path = segment_path(&store.prefix, Ulid::from_parts(1, 1));
        let bytes = Bytes::from_static(b"segment bytes");
        upload_segment(&store, &path, bytes.clone()).await.unwrap();
        let stored = store.store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(stored, bytes);
        // A retried upload of the same bytes is a success.
        upload_segment(&store, &path, bytes.clone()).await.unwrap();
        // Different bytes under the same name are a collision, and nothing is overwritten.
        let error = upload_segment(&store, &path, Bytes::from_static(b"other"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "already_exists");
        let stored = store.store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(stored, bytes);
        let stats = store.stats.snapshot();
        assert_eq!(stats.puts, 3);
    }

    /// Fails the first `failures` PUTs with a generic error, after (optionally) landing them.
    #[derive(Debug)]
    struct FlakyPuts {
        inner: InMemory,
        failures: AtomicU32,
        land_before_failing: bool,
    }

    impl std::fmt::Display for FlakyPuts {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("FlakyPuts")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for FlakyPuts {
        async fn put_opts(
            &self,
            location: &Path,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            let fail = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if !fail {
                return self.inner.put_opts(location, payload, opts).await;
            }
            if self.land_before_failing {
                self.inner.put_opts(location, payload, opts).await?;
            }
            Err(object_store::Error::Generic {
                store: "flaky",
                source: "connection reset".into(),
            })
        }
        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }
        async fn get_opts(
            &self,
            location: &Path,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.inner.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            self.inner.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&Path>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &Path,
            to: &Path,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    fn flaky(failures: u32, land_before_failing: bool) -> ObjectStoreHandle {
        let store = FlakyPuts {
            inner: InMemory::new(),
            failures: AtomicU32::new(failures),
            land_before_failing,
        };
        ObjectStoreHandle::new(Arc::new(store), Path::default(), "flaky://")
    }

    #[tokio::test]
    async fn generic_errors_are_retried_and_a_landed_put_is_recognised() {
        let path = segment_path(&Path::default(), Ulid::from_parts(2, 2));
        let bytes = Bytes::from_static(b"payload");
        // Two transient failures, then success.
        let store = flaky(2, false);
        upload_segment(&store, &path, bytes.clone()).await.unwrap();
        assert_eq!(store.stats.snapshot().puts, 3);
        // The first PUT landed but its answer was lost: the retry sees AlreadyExists,
        // reads the object back and finds the same bytes.
        let store = flaky(1, true);
        upload_segment(&store, &path, bytes.clone()).await.unwrap();
        assert_eq!(store.stats.snapshot().puts, 2);
        // Persistent failure: gives up after MAX_ATTEMPTS.
        let store = flaky(100, false);
        let error = upload_segment(&store, &path, bytes).await.unwrap_err();
        assert_eq!(error.code(), "object_store");
        assert_eq!(store.stats.snapshot().puts, u64::from(MAX_ATTEMPTS));
    }

    #[tokio::test]
    async fn upload_to_memory() {
        exercise(ObjectStoreHandle::in_memory()).await;
    }

    #[tokio::test]
    async fn upload_to_local_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        exercise(ObjectStoreHandle::new(
            Arc::new(local),
            Path::default(),
            "file://",
        ))
        .await;
    }
}
