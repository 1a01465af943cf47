//! [`Inflight`]: single-flight of chunk reads below the memory tier.
//!
//! The first reader of a chunk that misses memory starts one read task (spool, disk cache,
//! ranged GET); every concurrent reader of the same `(object, position)` awaits that
//! task's result instead of issuing its own GET.
//!
//! Invariants: at most one entry per key, so at most one read of a chunk is in flight at
//! a time; the entry is removed when the read task ends, however it ends (success, error,
//! panic, runtime shutdown), by a guard the task owns, so a failure is never cached. The
//! read runs on its own task: a reader that is cancelled (client gone) neither cancels the
//! read for the others nor leaves it unpolled. The map's mutex is never held across an
//! `.await` or while a task is spawned or dropped.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Key of a chunk read: object path and byte position.
pub(crate) type ReadKey = (String, u64);

/// The result every waiter of one read clones.
type SharedResult = Result<Bytes, Arc<Error>>;
type SharedRead = Shared<BoxFuture<'static, SharedResult>>;

/// What [`Inflight::join_or_start`] did.
pub(crate) enum Flight {
    /// Another read of the chunk was in flight; its result is awaited.
    Joined(SharedRead),
    /// No read was in flight and the chunk was already in memory.
    Ready(Bytes),
    /// This caller started the read.
    Started(SharedRead),
}

/// Reads in flight, by chunk.
#[derive(Default)]
pub(crate) struct Inflight {
    reads: Mutex<HashMap<ReadKey, SharedRead>>,
}

impl fmt::Debug for Inflight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflight")
            .field("reads", &self.lock().len())
            .finish()
    }
}

impl Inflight {
    fn lock(&self) -> MutexGuard<'_, HashMap<ReadKey, SharedRead>> {
        // Each statement leaves the map consistent, so a poisoned lock is still usable.
        self.reads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads in flight now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Joins the read of `key` in flight; else answers `ready()` if it has the chunk (a read
    /// that ended between the caller's memory miss and now left it there); else spawns
    /// `start()` as the one read of `key`. Must be called inside a tokio runtime.
    pub(crate) fn join_or_start<F>(
        self: &Arc<Self>,
        key: ReadKey,
        ready: impl FnOnce() -> Option<Bytes>,
        start: impl FnOnce() -> F,
    ) -> Flight
    where
        F: Future<Output = Result<Bytes>> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel::<SharedResult>();
        let shared = {
            let mut reads = self.lock();
            if let Some(shared) = reads.get(&key) {
                return Flight::Joined(shared.clone());
            }
            if let Some(bytes) = ready() {
                return Flight::Ready(bytes);
            }
            let shared = async move {
                receiver.await.unwrap_or_else(|_| {
                    Err(Arc::new(Error::io(
                        "reading a chunk",
                        std::io::Error::other(
                            "the read task ended without an answer (runtime shutting down?)",
                        ),
                    )))
                })
            }
            .boxed()
            .shared();
            reads.insert(key.clone(), shared.clone());
            shared
        };
        let guard = RemoveOnDrop {
            inflight: Arc::clone(self),
            key,
        };
        let read = start();
        tokio::spawn(async move {
            let result = read.await.map_err(Arc::new);
            // Leave the map before answering: a reader arriving after this finds the
            // chunk in memory (the read inserted it) or starts a fresh read.
            drop(guard);
            // Every waiter may be gone; the read still warmed the tiers.
            let _ = sender.send(result);
        });
        Flight::Started(shared)
    }
}

/// Removes its key from the map when the read task ends or is dropped.
struct RemoveOnDrop {
    inflight: Arc<Inflight>,
    key: ReadKey,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        self.inflight.lock().remove(&self.key);
    }
}

/// An error for one waiter of a shared read. [`Error`] is not `Clone` (its sources are
/// not), so each waiter gets a rebuilt error that keeps what callers act on: the code,
/// [`Error::is_corrupt`], [`Error::is_not_found`] and the message.
pub(crate) fn rebuild_error(shared: &Error) -> Error {
    match shared {
        Error::Corrupt { what } => Error::corrupt(what.clone()),
        Error::UnsupportedVersion { what, version } => Error::UnsupportedVersion {
            what,
            version: *version,
        },
        Error::ObjectStore(object_store::Error::NotFound { path, source }) => {
            Error::ObjectStore(object_store::Error::NotFound {
                path: path.clone(),
                source: source.to_string().into(),
            })
        }
        Error::Io { context, source } => Error::io(
            context.clone(),
            std::io::Error::new(source.kind(), source.to_string()),
        ),
        other => Error::ObjectStore(object_store::Error::Generic {
            store: "shared chunk read",
            source: other.to_string().into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilt_errors_keep_code_and_kind() {
        let corrupt = rebuild_error(&Error::corrupt("chunk x@1 is bad"));
        assert!(corrupt.is_corrupt());
        assert_eq!(corrupt.to_string(), "corrupt data: chunk x@1 is bad");
        let missing = rebuild_error(&Error::ObjectStore(object_store::Error::NotFound {
            path: "a/b".into(),
            source: "gone".into(),
        }));
        assert!(missing.is_not_found());
        assert_eq!(missing.code(), "object_not_found");
        let io = rebuild_error(&Error::io(
            "reading spool file f",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
        assert_eq!(io.code(), "io");
        assert!(io.is_not_found());
        let other = rebuild_error(&Error::ObjectStore(object_store::Error::Generic {
            store: "S3",
            source: "503 slow down".into(),
        }));
        assert_eq!(other.code(), "object_store");
        assert!(other.to_string().contains("503 slow down"), "{other}");
    }

    #[tokio::test]
    async fn a_failed_read_is_not_cached() {
        let inflight = Arc::new(Inflight::default());
        let key = ("o".to_owned(), 0);
        let Flight::Started(first) =
            inflight.join_or_start(key.clone(), || None, || async { Err(Error::corrupt("x")) })
        else {
            panic!("nothing was in flight");
        };
        assert!(first.await.is_err());
        assert_eq!(inflight.len(), 0);
        let Flight::Started(second) =
            inflight.join_or_start(key, || None, || async { Ok(Bytes::from_static(b"ok")) })
        else {
            panic!("the failed read left the map");
        };
        assert_eq!(second.await.unwrap(), &b"ok"[..]);
    }
}
