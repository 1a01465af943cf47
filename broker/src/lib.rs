//! silt's stateless broker: the v1 HTTP/JSON API over the write path (`write/`: append →
//! seal → upload → commit) and the read path (`read/`: index → tiered chunk reads), and the
//! `silt` command (`cli/`). `node/` assembles a running broker from its configuration
//! (`config/`); `http/` holds the thin handlers and the one error edge.
//!
//! Test machinery (the object-store fault layer, `PUT /v1/admin/faults`, crash fail points,
//! modelled cloud latency, a short commit horizon) is compiled only with the `fault-injection` feature.

pub(crate) mod auth;
pub(crate) mod backup;
pub(crate) mod budget;
pub mod cli;
pub mod config;
pub(crate) mod cost;
pub(crate) mod failpoints;
pub(crate) mod gc;
pub(crate) mod groups;
pub(crate) mod http;
pub(crate) mod lease;
pub(crate) mod metrics;
pub mod node;
pub(crate) mod quota;
pub(crate) mod read;
pub(crate) mod reload;
pub(crate) mod retention;
pub(crate) mod server;
pub(crate) mod state;
pub(crate) mod test_horizon;
pub(crate) mod tls;
pub(crate) mod write;

/// The broker's borrowed JSON produce body, public only for the parse benchmark
/// (`benches/produce_parse.rs`).
#[doc(hidden)]
pub use http::produce_body::{BodySeed, ProduceBody, RecordIn};
