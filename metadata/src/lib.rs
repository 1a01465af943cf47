//! silt's metadata service: an `openraft` state machine holding topics and partition
//! indexes, its durable log and snapshot storage, and [`MetadataClient`], the one trait
//! brokers use to reach it.
//!
//! Start an embedded node with [`MetadataNode::open`] and talk to it through
//! [`MetadataNode::client`], or reach a cluster with [`HttpClient`]. The public surface is
//! the items re-exported here, the command and view types in [`types`], the input limits
//! in [`limits`] and how commits are cut into Raft entries in [`proposal`]; every other module below is internal.
//!
//! The write path ends in `state/` (the deterministic [`types::Command`] application),
//! reached from `client/` through the Raft log (`log_store.rs`) and `state_machine.rs`, the
//! openraft adapter that applies entries and builds snapshots (kept as files by
//! `snapshot.rs`). `network.rs` (Raft RPCs to peers) and `server.rs` (the node's HTTP
//! routes, bodies in `wire.rs`) are the cluster transport, `gate.rs` admits only requests
//! carrying the cluster secret ([`secret`]); `node.rs` assembles a node.

pub mod backup;
mod changes;
mod client;
mod error;
mod gate;
pub mod limits;
mod liveness;
mod log_store;
mod network;
mod node;
mod producer_expiry;
pub mod proposal;
pub mod secret;
mod server;
mod snapshot;
mod state;
mod state_machine;
mod state_metrics;
pub mod tls;
mod type_config;
pub mod types;
mod wire;

pub use client::{HttpClient, LocalClient, MetadataClient};
pub use error::{Error, Result};
pub use node::{ClusterConfig, MetadataNode, NodeConfig, NodeSettings};
pub use secret::ClusterSecret;
pub use tls::ClusterTls;
