//! Test and benchmark machinery, compiled only with the `fault-injection` feature: an
//! object-store layer ([`FaultyStore`]) that adds latency and injects faults, driven by a
//! shared [`FaultControl`] holding a [`FaultConfig`] of [`LatencyModel`]s and rates.
//! The default build of `silt` has none of it.
//!
//! [`FaultyStore`] sits directly above the backend and below
//! [`super::instrumented::InstrumentedStore`] (see [`super::ObjectStoreHandle::with_faults`]), so silt's request counters count what
//! silt asked for, injected failures included. What it does to each request, in order:
//!
//! 1. sleeps a latency drawn from the operation's [`LatencyModel`] (`put` for PUTs,
//!    multipart starts, copies and renames; `get` for GETs and HEADs; `other` for LIST and
//!    DELETE);
//! 2. with `error_rate` fails with a transient 500, with `slowdown_rate` a 503 SlowDown,
//!    with `hang_rate` never completes (until the caller drops the future);
//! 3. otherwise delegates; a PUT is then, with `lost_response_rate`, answered with an error
//!    although it was applied (the lost-write race: a conditional PUT lands, its answer is lost, the retry sees
//!    `AlreadyExists`);
//! 4. adds a transfer time of `per_mib` per MiB of PUT payload (before the PUT lands) or of
//!    GET body (after the inner GET answers; the whole body then counts as received).
//!
//! Injected errors are all [`object_store::Error::Generic`] with store `"faulty"` and a
//! message starting `injected`, as transient errors are from the S3 client.
//! Streams (LIST, DELETE) get the latency and the 500/503/hang faults before their first
//! item. Parts of a multipart upload are not delayed nor failed.
//!
//! The configuration lives in a [`FaultControl`], shared with the test, which may change or
//! clear it at any time; every change re-seeds the layer's [`crate::random::Rng`] from
//! [`FaultConfig::seed`], so a given configuration and request sequence replays exactly.
//!
//! Files: [`latency`] (the distributions), [`config`] (what to inject, and the named cloud
//! profiles with their sources), [`control`] (the shared handle), [`store`] (the layer).

mod config;
mod control;
mod latency;
mod store;

pub use config::FaultConfig;
pub use control::FaultControl;
pub use latency::LatencyModel;
pub use store::FaultyStore;
