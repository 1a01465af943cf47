//! Object-store wiring: URL parsing, backend construction and the instrumented layer.
//!
//! Owns [`open_store`] (the only place a backend is built) and [`ObjectStoreHandle`] (what
//! the rest of silt passes around). Layers, bottom up: backend (S3 with its own
//! `RetryConfig`, local file system, or in-memory) → optionally `faults::FaultyStore`
//! (tests and benchmarks, with the `fault-injection` feature: `ObjectStoreHandle::with_faults`) →
//! [`instrumented::InstrumentedStore`], which counts every request into [`StoreStats`];
//! the tiered read cache sits above. The same counters are billed per topic in
//! [`cost`] (callers name the topics of a request with [`cost::attributed`]).
//!
//! Invariants: every object name is built by [`paths`]; the handle's `prefix` starts every
//! name; S3 is always configured for conditional PUT (`PutMode::Create`); a write to the
//! local file system store (`file://` or a plain path, `silt dev`'s default) is durable when
//! it returns, as an S3 PUT is: `object_store`'s `LocalFileSystem::with_fsync` writes the
//! object to a staging file, fsyncs it, links (or renames) it into place and fsyncs the
//! directory holding it (and any directory it had to create) before the PUT returns, on a
//! blocking thread. That is one file fsync and one directory fsync per segment object.

pub mod cost;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod instrumented;
pub mod paths;
pub mod retry;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;

use crate::error::{Error, Result};
#[cfg(feature = "fault-injection")]
use faults::{FaultControl, FaultyStore};
use instrumented::InstrumentedStore;

/// An object store plus the prefix every silt object name starts with.
#[derive(Debug, Clone)]
pub struct ObjectStoreHandle {
    /// The (instrumented) store.
    pub store: Arc<dyn ObjectStore>,
    /// Prefix of every object name (empty for file and memory stores).
    pub prefix: Path,
    /// Request counters of `store`.
    pub stats: Arc<StoreStats>,
    /// The URL the store was opened from.
    pub url: String,
    /// The backend below every layer, kept so layers can be rebuilt over it.
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    backend: Arc<dyn ObjectStore>,
}

impl ObjectStoreHandle {
    /// Wraps `backend` in the instrumented layer.
    pub fn new(backend: Arc<dyn ObjectStore>, prefix: Path, url: impl Into<String>) -> Self {
        let stats = Arc::new(StoreStats::default());
        let store: Arc<dyn ObjectStore> = Arc::new(InstrumentedStore::new(
            Arc::clone(&backend),
            Arc::clone(&stats),
        ));
        Self {
            store,
            prefix,
            stats,
            url: url.into(),
            backend,
        }
    }

    /// Puts a [`FaultyStore`] driven by `control` between the backend and the instrumented
    /// layer, so `stats` keeps counting every request silt makes (injected failures count
    /// as errors). The counters carry on; a second call replaces the first one's faults
    /// rather than stacking. Clones of the handle taken before keep the old `store`.
    #[cfg(feature = "fault-injection")]
    pub fn with_faults(self, control: FaultControl) -> ObjectStoreHandle {
        let faulty: Arc<dyn ObjectStore> =
            Arc::new(FaultyStore::new(Arc::clone(&self.backend), control));
        let store: Arc<dyn ObjectStore> =
            Arc::new(InstrumentedStore::new(faulty, Arc::clone(&self.stats)));
        Self { store, ..self }
    }

    /// A fresh in-memory store (tests).
    pub fn in_memory() -> Self {
        Self::new(Arc::new(InMemory::new()), Path::default(), "memory://")
    }
}

/// Request counters of an object store; every attempt counts (retries included, for S3
/// only as seen from above its own retry layer).
#[derive(Debug, Default)]
pub struct StoreStats {
    puts: AtomicU64,
    put_bytes: AtomicU64,
    gets: AtomicU64,
    get_bytes: AtomicU64,
    heads: AtomicU64,
    deletes: AtomicU64,
    lists: AtomicU64,
    errors: AtomicU64,
    /// The same requests, billed per topic.
    costs: Arc<cost::TopicCosts>,
}

/// A point-in-time copy of [`StoreStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStatsSnapshot {
    /// PUT requests (including multipart starts and copies).
    pub puts: u64,
    /// Bytes sent in PUTs.
    pub put_bytes: u64,
    /// GET requests (each range of a multi-range read counts).
    pub gets: u64,
    /// Bytes received by GETs.
    pub get_bytes: u64,
    /// HEAD requests.
    pub heads: u64,
    /// DELETE requests.
    pub deletes: u64,
    /// LIST requests.
    pub lists: u64,
    /// Requests that failed (any error, including not found).
    pub errors: u64,
}

impl StoreStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StoreStatsSnapshot {
        StoreStatsSnapshot {
            puts: self.puts.load(Ordering::Relaxed),
            put_bytes: self.put_bytes.load(Ordering::Relaxed),
            gets: self.gets.load(Ordering::Relaxed),
            get_bytes: self.get_bytes.load(Ordering::Relaxed),
            heads: self.heads.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            lists: self.lists.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    /// The per-topic tallies of the same requests ([`cost`]).
    pub fn costs(&self) -> &Arc<cost::TopicCosts> {
        &self.costs
    }

    pub(crate) fn add_put(&self, bytes: u64) {
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.put_bytes.fetch_add(bytes, Ordering::Relaxed);
        cost::bill(&self.costs, cost::CostOp::Put, 1, bytes);
    }

    pub(crate) fn add_get(&self, count: u64, bytes: u64) {
        self.gets.fetch_add(count, Ordering::Relaxed);
        self.get_bytes.fetch_add(bytes, Ordering::Relaxed);
        cost::bill(&self.costs, cost::CostOp::Get, count, bytes);
    }

    pub(crate) fn add_head(&self) {
        self.heads.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_delete(&self) {
        self.deletes.fetch_add(1, Ordering::Relaxed);
        cost::bill(&self.costs, cost::CostOp::Delete, 1, 0);
    }

    pub(crate) fn add_list(&self) {
        self.lists.fetch_add(1, Ordering::Relaxed);
        cost::bill(&self.costs, cost::CostOp::List, 1, 0);
    }

    pub(crate) fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Opens the object store named by `url`:
///
/// * `file:///abs/dir` or a plain path: local file system rooted there (created);
/// * `s3://bucket/some/prefix`: S3 configured from the environment (`AWS_ENDPOINT_URL`,
///   keys, `AWS_REGION`, `AWS_ALLOW_HTTP`, …), conditional PUT forced on;
/// * `memory://`: in-memory (tests).
pub fn open_store(url: &str) -> Result<ObjectStoreHandle> {
    let invalid = |reason: String| Error::InvalidStoreUrl {
        url: url.to_owned(),
        reason,
    };
    if url.trim().is_empty() {
        return Err(invalid("empty url".into()));
    }
    if !url.contains("://") {
        return open_local(url, std::path::PathBuf::from(url));
    }
    let parsed = url::Url::parse(url).map_err(|error| invalid(error.to_string()))?;
    match parsed.scheme() {
        "memory" => Ok(ObjectStoreHandle::new(
            Arc::new(InMemory::new()),
            Path::default(),
            url,
        )),
        "file" => {
            let dir = parsed
                .to_file_path()
                .map_err(|()| invalid("file url must name an absolute local path".into()))?;
            open_local(url, dir)
        }
        "s3" => {
            let bucket = parsed
                .host_str()
                .filter(|bucket| !bucket.is_empty())
                .ok_or_else(|| invalid("s3 url has no bucket".into()))?;
            let prefix = Path::parse(parsed.path().trim_matches('/'))
                .map_err(|error| invalid(format!("bad prefix: {error}")))?;
            // reqwest is built without a default crypto provider; install ring once. An
            // error only means a provider is already installed.
            let _ = rustls::crypto::ring::default_provider().install_default();
            // Unsigned payload: SigV4 would otherwise SHA-256 every PUT body (13% of the
            // broker's CPU under bulk produce, measured); every silt batch carries its own
            // CRC32C and TLS protects the transfer. `AWS_UNSIGNED_PAYLOAD=false` signs.
            let unsigned = std::env::var("AWS_UNSIGNED_PAYLOAD")
                .map(|v| !v.eq_ignore_ascii_case("false"))
                .unwrap_or(true);
            let s3 = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                .with_unsigned_payload(unsigned)
                .build()
                .map_err(|error| invalid(format!("s3 configuration: {error}")))?;
            Ok(ObjectStoreHandle::new(Arc::new(s3), prefix, url))
        }
        other => Err(invalid(format!("unknown scheme {other:?}"))),
    }
}

/// The local file system store rooted at `dir` (created, durably), with fsync on: a PUT,
/// copy, rename or multipart completion returns only once the file and the directory entry
/// naming it are on stable storage.
fn open_local(url: &str, dir: std::path::PathBuf) -> Result<ObjectStoreHandle> {
    create_dir_durably(&dir)
        .map_err(|error| Error::io(format!("creating store directory {}", dir.display()), error))?;
    let local = LocalFileSystem::new_with_prefix(&dir)
        .map_err(|error| Error::InvalidStoreUrl {
            url: url.to_owned(),
            reason: error.to_string(),
        })?
        .with_fsync(true);
    Ok(ObjectStoreHandle::new(
        Arc::new(local),
        Path::default(),
        url,
    ))
}

/// Creates `dir` and its missing ancestors, then fsyncs every directory whose entries
/// changed (each new one and the deepest ancestor that already existed), so the root of a
/// new store survives a power loss along with the first objects written under it.
fn create_dir_durably(dir: &std::path::Path) -> std::io::Result<()> {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    if existing == dir {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let mut changed = dir.parent();
    while let Some(path) = changed {
        sync_dir(path)?;
        if path == existing {
            break;
        }
        changed = path.parent();
    }
    sync_dir(dir)
}

/// Fsyncs a directory's entries (Unix; a no-op elsewhere, where directories cannot be
/// opened as files).
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;

    #[tokio::test]
    async fn memory_store_counts_requests() {
        let handle = open_store("memory://").unwrap();
        let path = Path::from("a/b");
        handle
            .store
            .put(&path, PutPayload::from_static(b"hello"))
            .await
            .unwrap();
        let bytes = handle
            .store
            .get(&path)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"hello");
        handle.store.head(&path).await.unwrap();
        assert!(handle.store.get(&Path::from("missing")).await.is_err());
        handle.store.delete(&path).await.unwrap();
        let stats = handle.stats.snapshot();
        assert_eq!(stats.puts, 1);
        assert_eq!(stats.put_bytes, 5);
        assert_eq!(stats.gets, 2); // the failed GET counts too
        assert_eq!(stats.get_bytes, 5);
        assert_eq!(stats.heads, 1);
        assert_eq!(stats.deletes, 1);
        assert_eq!(stats.errors, 1);
    }

    #[test]
    fn local_urls_create_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        let handle = open_store(plain.to_str().unwrap()).unwrap();
        assert!(plain.is_dir());
        assert_eq!(handle.prefix, Path::default());
        let file = dir.path().join("file");
        let url = format!("file://{}", file.display());
        open_store(&url).unwrap();
        assert!(file.is_dir());
    }

    /// The behaviour (file and directory fsynced before a PUT returns) is checked with
    /// strace in `tests/local_store_fsync.rs`; this checks the setting everywhere.
    #[test]
    fn local_stores_fsync_their_writes() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            dir.path().join("plain").display().to_string(),
            format!("file://{}", dir.path().join("file").display()),
        ] {
            let handle = open_store(&url).unwrap();
            let backend = format!("{:?}", handle.backend);
            assert!(
                backend.starts_with("LocalFileSystem") && backend.contains("fsync: true"),
                "{url}: {backend}"
            );
        }
    }

    #[test]
    fn s3_url_sets_bucket_and_prefix() {
        let handle = open_store("s3://bucket/some/prefix/").unwrap();
        assert_eq!(handle.prefix.as_ref(), "some/prefix");
        assert_eq!(handle.url, "s3://bucket/some/prefix/");
    }

    #[test]
    fn unknown_urls_are_rejected_with_their_name() {
        for url in ["ftp://x/y", "", "s3:///prefix", "file://relative/host"] {
            let error = open_store(url).unwrap_err();
            assert_eq!(error.code(), "invalid_store_url", "{url}");
        }
        let message = open_store("gs://bucket").unwrap_err().to_string();
        assert!(
            message.contains("gs://bucket") && message.contains("s3://"),
            "{message}"
        );
    }
}
