//! [`FaultyStore`]: an [`ObjectStore`] layer that adds latency and injects faults.
//!
//! It sits directly above the backend and below [`super::instrumented::InstrumentedStore`]
//! (see [`super::ObjectStoreHandle::with_faults`]), so silt's request counters count what
//! silt asked for, injected failures included. What it does to each request, in order:
//!
//! 1. sleeps a latency drawn from the operation's [`LatencyModel`] (`put` for PUTs,
//!    multipart starts, copies and renames; `get` for GETs and HEADs; `other` for LIST and
//!    DELETE);
//! 2. with `error_rate` fails with a transient 500, with `slowdown_rate` a 503 SlowDown,
//!    with `hang_rate` never completes (until the caller drops the future);
//! 3. otherwise delegates; a PUT is then, with `lost_response_rate`, answered with an error
//!    although it was applied (the lost-write race of STYLE §6);
//! 4. adds a transfer time of `per_mib` per MiB of PUT payload (before the PUT lands) or of
//!    GET body (after the inner GET answers; the whole body then counts as received).
//!
//! Injected errors are all [`object_store::Error::Generic`] with store `"faulty"` and a
//! message starting `injected`, as transient errors are from the S3 client.
//! Streams (LIST, DELETE) get the latency and the 500/503/hang faults before their first
//! item. Parts of a multipart upload are not delayed nor failed.
//!
//! The configuration lives in a [`FaultControl`], shared with the test, which may change or
//! clear it at any time; every change re-seeds the layer's [`Rng`] from
//! [`FaultConfig::seed`], so a given configuration and request sequence replays exactly.
//!
//! # Cloud profiles
//!
//! [`FaultConfig::profile`] names latency models of real stores, from published figures
//! plus stated assumptions (no errors: add rates to taste):
//!
//! * `"s3-standard"`: AWS's S3 performance guidelines quote first-byte latencies of
//!   100–200 ms as what caching avoids, and the "Optimizing Amazon S3 performance"
//!   whitepaper says small requests (< 512 KB) have a median "in the tens of
//!   milliseconds" and advises retrying them after 2 s. Assumed: small PUT p50 25 ms,
//!   p99 250 ms (log-normal, so p99.9 ≈ 530 ms); GET first byte p50 15 ms, p99 100 ms;
//!   LIST/DELETE p50 20 ms, p99 150 ms; 12 ms per MiB, ≈ 85 MB/s for one stream (the
//!   often-measured per-connection throughput).
//! * `"s3-express"`: AWS describes S3 Express One Zone as "single-digit millisecond" data
//!   access. Assumed: PUT p50 5 ms, p99 15 ms; GET p50 3 ms, p99 10 ms; LIST/DELETE p50
//!   4 ms, p99 12 ms; 8 ms per MiB.
//!
//! A log-normal with medians `p50` and 99th percentile `p99` has `mu = ln p50` and
//! `sigma = (ln p99 - ln p50) / 2.326` (2.326 is the standard normal's 99th percentile).

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
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

use crate::random::Rng;

/// The 99th percentile of the standard normal distribution.
const Z_99: f64 = 2.326;
/// Bytes in a MiB.
const MIB: f64 = 1024.0 * 1024.0;
/// Longest latency one sample may add (guards against absurd log-normal tails).
const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// A request-latency distribution.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum LatencyModel {
    /// No added latency.
    #[default]
    None,
    /// The same latency for every request.
    Fixed(Duration),
    /// Log-normal with the given median and 99th percentile (`p99 < p50` is read as `p50`).
    LogNormal {
        /// Median latency.
        p50: Duration,
        /// 99th-percentile latency.
        p99: Duration,
    },
}

impl LatencyModel {
    /// Draws one latency. `None` and `Fixed` draw nothing from `rng`; `LogNormal` draws two
    /// numbers.
    pub fn sample(&self, rng: &mut Rng) -> Duration {
        match *self {
            LatencyModel::None => Duration::ZERO,
            LatencyModel::Fixed(latency) => latency,
            LatencyModel::LogNormal { p50, p99 } => {
                let normal = rng.next_standard_normal();
                if p50.is_zero() {
                    return Duration::ZERO;
                }
                let mu = p50.as_secs_f64().ln();
                let sigma = ((p99.max(p50).as_secs_f64().ln() - mu) / Z_99).max(0.0);
                let seconds = (mu + sigma * normal).exp();
                Duration::try_from_secs_f64(seconds)
                    .unwrap_or(MAX_LATENCY)
                    .min(MAX_LATENCY)
            }
        }
    }
}

/// What a [`FaultyStore`] does to requests. The default injects nothing.
///
/// Rates are probabilities per request in `[0, 1]`; they are tried in field order (a request
/// that draws an error is not also slowed down).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// Latency before each PUT (also multipart start, copy, rename). Default none.
    pub put: LatencyModel,
    /// Latency to first byte of each GET and HEAD. Default none.
    pub get: LatencyModel,
    /// Latency of every other request (LIST, DELETE). Default none.
    pub other: LatencyModel,
    /// Transfer time per MiB of PUT payload or GET body, added pro rata. Default zero.
    pub per_mib: Duration,
    /// Probability of a transient 500 (an `object_store::Error::Generic`). Default 0.
    pub error_rate: f64,
    /// Probability of a 503 SlowDown (also `Generic`, its message says `SlowDown`).
    /// Default 0.
    pub slowdown_rate: f64,
    /// Probability that a request never completes until it is cancelled. Default 0.
    pub hang_rate: f64,
    /// Probability that a PUT is applied but answered with an error, as if its response
    /// were lost. Default 0.
    pub lost_response_rate: f64,
    /// Seed of the random draws. Default 0.
    pub seed: u64,
}

/// The profiles [`FaultConfig::profile`] knows.
const PROFILE_NAMES: &[&str] = &["s3-standard", "s3-express"];

impl FaultConfig {
    /// The latency model of a named cloud store (see the module doc for the figures), or
    /// `None` for an unknown name. Profiles inject no errors.
    pub fn profile(name: &str) -> Option<FaultConfig> {
        let log_normal = |p50_ms: u64, p99_ms: u64| LatencyModel::LogNormal {
            p50: Duration::from_millis(p50_ms),
            p99: Duration::from_millis(p99_ms),
        };
        match name {
            "s3-standard" => Some(FaultConfig {
                put: log_normal(25, 250),
                get: log_normal(15, 100),
                other: log_normal(20, 150),
                per_mib: Duration::from_millis(12),
                ..FaultConfig::default()
            }),
            "s3-express" => Some(FaultConfig {
                put: log_normal(5, 15),
                get: log_normal(3, 10),
                other: log_normal(4, 12),
                per_mib: Duration::from_millis(8),
                ..FaultConfig::default()
            }),
            _ => None,
        }
    }

    /// The names [`FaultConfig::profile`] accepts.
    pub fn profile_names() -> &'static [&'static str] {
        PROFILE_NAMES
    }

    /// Transfer time of `bytes` at `per_mib`.
    fn transfer_time(&self, bytes: u64) -> Duration {
        if self.per_mib.is_zero() || bytes == 0 {
            return Duration::ZERO;
        }
        self.per_mib.mul_f64(bytes as f64 / MIB).min(MAX_LATENCY)
    }
}

/// Shared, runtime-changeable fault configuration plus counters of injected faults.
///
/// Cloning is cheap and every clone controls the same stores.
#[derive(Debug, Clone, Default)]
pub struct FaultControl {
    shared: Arc<ControlShared>,
}

#[derive(Debug, Default)]
struct ControlShared {
    /// The configuration and a generation bumped by every change (stores re-seed on it).
    config: RwLock<(u64, FaultConfig)>,
    errors: AtomicU64,
    slowdowns: AtomicU64,
    hangs: AtomicU64,
    lost_responses: AtomicU64,
}

impl FaultControl {
    /// A control starting with `config`.
    pub fn new(config: FaultConfig) -> Self {
        let control = Self::default();
        control.set(config);
        control
    }

    /// Replaces the configuration; requests already sleeping or hanging are not affected.
    pub fn set(&self, config: FaultConfig) {
        let mut guard = self
            .shared
            .config
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        guard.0 = guard.0.wrapping_add(1);
        guard.1 = config;
    }

    /// Removes every fault and latency (same as `set(FaultConfig::default())`).
    pub fn clear(&self) {
        self.set(FaultConfig::default());
    }

    /// A copy of the configuration in force.
    pub fn current(&self) -> FaultConfig {
        self.read().1
    }

    /// Transient 500s injected so far.
    pub fn injected_errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// 503 SlowDowns injected so far.
    pub fn injected_slowdowns(&self) -> u64 {
        self.shared.slowdowns.load(Ordering::Relaxed)
    }

    /// Requests made to hang so far.
    pub fn injected_hangs(&self) -> u64 {
        self.shared.hangs.load(Ordering::Relaxed)
    }

    /// PUTs applied whose response was then dropped, so far.
    pub fn injected_lost_responses(&self) -> u64 {
        self.shared.lost_responses.load(Ordering::Relaxed)
    }

    /// Every fault injected so far (errors, slowdowns, hangs, lost responses).
    pub fn injected_total(&self) -> u64 {
        self.injected_errors()
            + self.injected_slowdowns()
            + self.injected_hangs()
            + self.injected_lost_responses()
    }

    fn read(&self) -> (u64, FaultConfig) {
        self.shared
            .config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

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

    fn percentile(samples: &mut [Duration], quantile: f64) -> Duration {
        samples.sort();
        let index = ((samples.len() as f64 - 1.0) * quantile).round() as usize;
        samples[index]
    }

    fn within(actual: Duration, expected: Duration, tolerance: f64) -> bool {
        let ratio = actual.as_secs_f64() / expected.as_secs_f64();
        (1.0 - tolerance..=1.0 + tolerance).contains(&ratio)
    }

    fn put_create() -> PutOptions {
        PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        }
    }

    #[test]
    fn log_normal_percentiles_match_the_model() {
        let p50 = Duration::from_millis(25);
        let p99 = Duration::from_millis(250);
        let model = LatencyModel::LogNormal { p50, p99 };
        let mut rng = Rng::seed(1);
        let mut samples: Vec<Duration> = (0..4000).map(|_| model.sample(&mut rng)).collect();
        let median = percentile(&mut samples, 0.50);
        let tail = percentile(&mut samples, 0.99);
        assert!(within(median, p50, 0.15), "p50 {median:?}");
        assert!(within(tail, p99, 0.35), "p99 {tail:?}");
        assert!(samples.iter().all(|sample| *sample > Duration::ZERO));
    }

    #[test]
    fn fixed_none_and_degenerate_models() {
        let mut rng = Rng::seed(2);
        let fixed = Duration::from_millis(7);
        assert_eq!(LatencyModel::Fixed(fixed).sample(&mut rng), fixed);
        assert_eq!(LatencyModel::None.sample(&mut rng), Duration::ZERO);
        // p99 below p50 collapses to a fixed p50.
        let flat = LatencyModel::LogNormal {
            p50: fixed,
            p99: Duration::from_millis(1),
        };
        assert!(within(flat.sample(&mut rng), fixed, 1e-6));
        let zero = LatencyModel::LogNormal {
            p50: Duration::ZERO,
            p99: Duration::ZERO,
        };
        assert_eq!(zero.sample(&mut rng), Duration::ZERO);
    }

    #[test]
    fn profiles_are_named_and_faultless() {
        for name in FaultConfig::profile_names() {
            let config = FaultConfig::profile(name).unwrap();
            assert_eq!(config.error_rate, 0.0, "{name}");
            assert_eq!(config.lost_response_rate, 0.0, "{name}");
            assert!(config.per_mib > Duration::ZERO, "{name}");
        }
        assert!(FaultConfig::profile("s3-glacier").is_none());
        let standard = FaultConfig::profile("s3-standard").unwrap();
        let mut rng = Rng::seed(3);
        let mut samples: Vec<Duration> = (0..2000).map(|_| standard.get.sample(&mut rng)).collect();
        assert!(within(
            percentile(&mut samples, 0.5),
            Duration::from_millis(15),
            0.2
        ));
        // A 64 MiB body at 12 ms/MiB.
        assert_eq!(
            standard.transfer_time(64 * 1024 * 1024),
            Duration::from_millis(768)
        );
        let express = FaultConfig::profile("s3-express").unwrap();
        let mut samples: Vec<Duration> = (0..2000).map(|_| express.put.sample(&mut rng)).collect();
        assert!(percentile(&mut samples, 0.99) < Duration::from_millis(25));
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
