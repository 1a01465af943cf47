//! [`FaultyStore`]: the [`ObjectStore`] layer that sleeps, fails, hangs or loses responses
//! as its [`FaultControl`] says (what it does, in order, is in the module doc of
//! [`super`]).

use std::fmt;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

use super::{FaultConfig, FaultControl};
use crate::random::Rng;

/// Which latency model a request uses.
#[derive(Debug, Clone, Copy)]
enum Operation {
    Put,
    Get,
    Other,
}

/// A fault that replaces the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Error,
    SlowDown,
    Hang,
}

/// What happens to one request, drawn up front.
#[derive(Debug)]
struct Plan {
    latency: Duration,
    fault: Option<Fault>,
    lose_response: bool,
    config: FaultConfig,
}

/// The rng and the configuration generation it was seeded for.
#[derive(Debug)]
struct SeededRng {
    generation: u64,
    rng: Rng,
}

/// Adds latency and injects faults in front of `inner`, as its [`FaultControl`] says.
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    control: FaultControl,
    rng: Mutex<SeededRng>,
}

impl FaultyStore {
    /// Wraps `inner`, drawing from an rng seeded with the control's current seed.
    pub fn new(inner: Arc<dyn ObjectStore>, control: FaultControl) -> Self {
        let (generation, config) = control.read();
        Self {
            inner,
            control,
            rng: Mutex::new(SeededRng {
                generation,
                rng: Rng::seed(config.seed),
            }),
        }
    }

    /// The control of this store.
    pub fn control(&self) -> &FaultControl {
        &self.control
    }

    /// Draws the latency and fault of one request.
    fn plan(&self, operation: Operation) -> Plan {
        let (generation, config) = self.control.read();
        let mut seeded = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        if seeded.generation != generation {
            seeded.generation = generation;
            seeded.rng = Rng::seed(config.seed);
        }
        let rng = &mut seeded.rng;
        let model = match operation {
            Operation::Put => config.put,
            Operation::Get => config.get,
            Operation::Other => config.other,
        };
        let latency = model.sample(rng);
        // Every draw is made whatever the outcome, so one request's rates do not shift
        // the random sequence of the next.
        let error = rng.chance(config.error_rate);
        let slowdown = rng.chance(config.slowdown_rate);
        let hang = rng.chance(config.hang_rate);
        let lost = rng.chance(config.lost_response_rate);
        let fault = if error {
            Some(Fault::Error)
        } else if slowdown {
            Some(Fault::SlowDown)
        } else if hang {
            Some(Fault::Hang)
        } else {
            None
        };
        Plan {
            latency,
            fault,
            lose_response: matches!(operation, Operation::Put) && fault.is_none() && lost,
            config,
        }
    }

    /// Sleeps the plan's latency, then fails or hangs as planned.
    async fn before(&self, plan: &Plan, what: &str, location: &Path) -> object_store::Result<()> {
        sleep(plan.latency).await;
        match plan.fault {
            None => Ok(()),
            Some(fault) => Err(fail(&self.control, fault, what, location).await),
        }
    }

    /// Delays and faults a stream before its first item.
    fn faulty_stream<T: Send + 'static>(
        &self,
        what: &'static str,
        location: Path,
        inner: BoxStream<'static, object_store::Result<T>>,
    ) -> BoxStream<'static, object_store::Result<T>> {
        let plan = self.plan(Operation::Other);
        let control = self.control.clone();
        futures::stream::once(async move {
            sleep(plan.latency).await;
            match plan.fault {
                None => inner,
                Some(fault) => {
                    let error = fail(&control, fault, what, &location).await;
                    futures::stream::iter([Err(error)]).boxed()
                }
            }
        })
        .flatten()
        .boxed()
    }
}

/// Counts `fault` and returns its error; a hang never returns.
async fn fail(
    control: &FaultControl,
    fault: Fault,
    what: &str,
    location: &Path,
) -> object_store::Error {
    let shared = &control.shared;
    let message = match fault {
        Fault::Error => {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            format!("injected 500 internal error on {what} {location}")
        }
        Fault::SlowDown => {
            shared.slowdowns.fetch_add(1, Ordering::Relaxed);
            format!("injected 503 SlowDown (please reduce your request rate) on {what} {location}")
        }
        Fault::Hang => {
            shared.hangs.fetch_add(1, Ordering::Relaxed);
            std::future::pending::<()>().await;
            format!("injected hang on {what} {location} ended")
        }
    };
    injected(message)
}

fn injected(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "faulty",
        source: message.into(),
    }
}

async fn sleep(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

fn location_of(prefix: Option<&Path>) -> Path {
    prefix.cloned().unwrap_or_default()
}

impl fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyStore")
            .field("inner", &self.inner)
            .field("config", &self.control.current())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let plan = self.plan(Operation::Put);
        self.before(&plan, "put", location).await?;
        sleep(plan.config.transfer_time(payload.content_length() as u64)).await;
        let result = self.inner.put_opts(location, payload, opts).await?;
        if plan.lose_response {
            self.control
                .shared
                .lost_responses
                .fetch_add(1, Ordering::Relaxed);
            return Err(injected(format!(
                "injected lost response: put {location} was applied but its answer dropped"
            )));
        }
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let plan = self.plan(Operation::Put);
        self.before(&plan, "multipart put", location).await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let plan = self.plan(Operation::Get);
        let head = options.head;
        self.before(&plan, if head { "head" } else { "get" }, location)
            .await?;
        let result = self.inner.get_opts(location, options).await?;
        if !head {
            let bytes = result.range.end.saturating_sub(result.range.start);
            sleep(plan.config.transfer_time(bytes)).await;
        }
        Ok(result)
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let plan = self.plan(Operation::Get);
        self.before(&plan, "get", location).await?;
        let parts = self.inner.get_ranges(location, ranges).await?;
        let bytes = parts.iter().map(|part| part.len() as u64).sum();
        sleep(plan.config.transfer_time(bytes)).await;
        Ok(parts)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let inner = self.inner.delete_stream(locations);
        self.faulty_stream("delete", Path::default(), inner)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let inner = self.inner.list(prefix);
        self.faulty_stream("list", location_of(prefix), inner)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let inner = self.inner.list_with_offset(prefix, offset);
        self.faulty_stream("list", location_of(prefix), inner)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let plan = self.plan(Operation::Other);
        self.before(&plan, "list", &location_of(prefix)).await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let plan = self.plan(Operation::Put);
        self.before(&plan, "copy", to).await?;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        let plan = self.plan(Operation::Put);
        self.before(&plan, "rename", to).await?;
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutMode};

    use super::*;
    use crate::store::ObjectStoreHandle;
    use crate::upload::upload_segment;

    fn faulty(config: FaultConfig) -> (Arc<InMemory>, FaultControl, FaultyStore) {
        let memory = Arc::new(InMemory::new());
        let control = FaultControl::new(config);
        let store = FaultyStore::new(Arc::clone(&memory) as Arc<dyn ObjectStore>, control.clone());
        (memory, control, store)
    }

    fn put_create() -> PutOptions {
        PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        }
    }

    #[tokio::test]
    async fn errors_and_slowdowns_at_rate_one_fail_every_put_and_at_zero_none() {
        let path = Path::from("a");
        for (config, needle) in [
            (
                FaultConfig {
                    error_rate: 1.0,
                    ..FaultConfig::default()
                },
                "500",
            ),
            (
                FaultConfig {
                    slowdown_rate: 1.0,
                    ..FaultConfig::default()
                },
                "SlowDown",
            ),
        ] {
            let (memory, control, store) = faulty(config);
            for _ in 0..20 {
                let error = store
                    .put(&path, PutPayload::from_static(b"x"))
                    .await
                    .unwrap_err();
                assert!(
                    matches!(error, object_store::Error::Generic { .. }),
                    "{error}"
                );
                assert!(error.to_string().contains(needle), "{error}");
            }
            // Nothing reached the backend.
            assert!(memory.head(&path).await.is_err());
            assert_eq!(control.injected_total(), 20);
            assert!(store.get(&path).await.is_err());
        }
        let (_, control, store) = faulty(FaultConfig {
            seed: 5,
            ..FaultConfig::default()
        });
        for _ in 0..20 {
            store
                .put(&path, PutPayload::from_static(b"x"))
                .await
                .unwrap();
        }
        assert_eq!(control.injected_total(), 0);
    }

    #[tokio::test]
    async fn partial_error_rate_is_roughly_honoured_and_replays_from_its_seed() {
        let config = FaultConfig {
            error_rate: 0.3,
            seed: 11,
            ..FaultConfig::default()
        };
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            let (_, _, store) = faulty(config.clone());
            let mut run = Vec::new();
            for index in 0..400 {
                let path = Path::from(format!("k{index}"));
                run.push(
                    store
                        .put(&path, PutPayload::from_static(b"x"))
                        .await
                        .is_ok(),
                );
            }
            outcomes.push(run);
        }
        assert_eq!(outcomes[0], outcomes[1]);
        let failures = outcomes[0].iter().filter(|ok| !**ok).count();
        assert!((80..160).contains(&failures), "{failures}");
    }

    #[tokio::test]
    async fn lost_response_lands_the_put_and_upload_recognises_it() {
        let (memory, control, store) = faulty(FaultConfig {
            lost_response_rate: 1.0,
            ..FaultConfig::default()
        });
        let path = Path::from("segments/00/lost.seg");
        let bytes = Bytes::from_static(b"segment bytes");
        let error = store
            .put_opts(&path, PutPayload::from_bytes(bytes.clone()), put_create())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("lost response"), "{error}");
        let landed = memory.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(landed, bytes);
        assert_eq!(control.injected_lost_responses(), 1);

        // The retry of the same bytes gets AlreadyExists (the inner put fails, so no
        // response is "lost") and the upload reads the object back: success.
        let handle = ObjectStoreHandle::new(
            Arc::clone(&memory) as Arc<dyn ObjectStore>,
            Path::default(),
            "memory://",
        )
        .with_faults(control.clone());
        upload_segment(&handle, &path, bytes.clone()).await.unwrap();
        // Different bytes are still a real collision.
        let error = upload_segment(&handle, &path, Bytes::from_static(b"other"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "already_exists");
        // A fresh name: the first attempt lands and loses its response, the retry sees
        // AlreadyExists with the same bytes.
        let fresh = Path::from("segments/01/fresh.seg");
        upload_segment(&handle, &fresh, bytes.clone())
            .await
            .unwrap();
        assert_eq!(control.injected_lost_responses(), 2);
        assert!(handle.stats.snapshot().puts >= 2);
    }

    #[tokio::test]
    async fn clear_restores_normal_behaviour() {
        let (_, control, store) = faulty(FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        });
        let path = Path::from("a");
        assert!(
            store
                .put(&path, PutPayload::from_static(b"x"))
                .await
                .is_err()
        );
        assert!(
            store
                .list(None)
                .collect::<Vec<_>>()
                .await
                .iter()
                .any(|item| item.is_err())
        );
        control.clear();
        assert_eq!(control.current(), FaultConfig::default());
        store
            .put(&path, PutPayload::from_static(b"x"))
            .await
            .unwrap();
        let got = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"x");
        let listed: Vec<_> = store.list(None).collect().await;
        assert_eq!(listed.len(), 1);
        assert!(listed[0].is_ok());
        store.delete(&path).await.unwrap();
        assert_eq!(control.injected_errors(), 2);
    }

    #[tokio::test]
    async fn a_hang_is_cancellable() {
        let (memory, control, store) = faulty(FaultConfig {
            hang_rate: 1.0,
            ..FaultConfig::default()
        });
        let path = Path::from("a");
        // Real time, but the assertion is only that the timeout (not the store) ends it.
        let put = store.put(&path, PutPayload::from_static(b"x"));
        let outcome = tokio::time::timeout(Duration::from_millis(20), put).await;
        assert!(outcome.is_err(), "a hung put completed");
        assert_eq!(control.injected_hangs(), 1);
        assert!(memory.head(&path).await.is_err());
        let get = tokio::time::timeout(Duration::from_millis(20), store.get(&path)).await;
        assert!(get.is_err(), "a hung get completed");
        control.clear();
        store
            .put(&path, PutPayload::from_static(b"x"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn with_faults_keeps_counting_in_stats() {
        let control = FaultControl::new(FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        });
        let handle = ObjectStoreHandle::in_memory().with_faults(control.clone());
        let path = Path::from("a");
        assert!(
            handle
                .store
                .put(&path, PutPayload::from_static(b"xyz"))
                .await
                .is_err()
        );
        control.clear();
        handle
            .store
            .put(&path, PutPayload::from_static(b"xyz"))
            .await
            .unwrap();
        handle
            .store
            .get(&path)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let stats = handle.stats.snapshot();
        assert_eq!(stats.puts, 2);
        assert_eq!(stats.put_bytes, 6);
        assert_eq!(stats.gets, 1);
        assert_eq!(stats.errors, 1);
        assert!(
            handle.store.to_string().contains("Faulty"),
            "{}",
            handle.store
        );
        // Faults replace, not stack: a second call rebuilds over the same backend.
        let again = handle.with_faults(FaultControl::default());
        assert_eq!(again.store.to_string().matches("Faulty").count(), 1);
        assert_eq!(again.stats.snapshot().puts, 2);
        again.store.head(&path).await.unwrap();
    }
}
