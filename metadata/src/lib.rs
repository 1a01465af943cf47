//! silt's metadata service: an `openraft` state machine holding topics and partition
//! indexes, its durable log and snapshot storage, and [`MetadataClient`], the one trait
//! brokers use to reach it.
//!
//! Start an embedded node with [`MetadataNode::open`] and talk to it through
//! [`MetadataNode::client`]. The write path ends here: `client/` → `state_machine.rs`
//! (via the Raft log in `log_store.rs`); `snapshot.rs` keeps the state machine's
//! snapshots, `network.rs` (Raft RPCs to peers) and `server.rs` (the node's HTTP routes) the cluster
//! transport; `client/http.rs` reaches a cluster from a broker.

pub mod client;
pub mod error;
mod log_store;
mod network;
mod node;
mod server;
mod snapshot;
mod state;
mod state_machine;
mod tls;
mod type_config;
pub mod types;
pub mod wire;

pub use client::{HttpClient, LocalClient, MetadataClient};
pub use error::{Error, Result};
pub use node::{ClusterConfig, MetadataNode, NodeConfig};
