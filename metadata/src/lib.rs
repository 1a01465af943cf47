//! silt's metadata service: an `openraft` state machine holding topics and partition
//! indexes, its durable log and snapshot storage, and [`MetadataClient`], the one trait
//! brokers use to reach it.
//!
//! Start an embedded node with [`MetadataNode::open`] and talk to it through
//! [`MetadataNode::client`]. The write path ends here: `client/` → `state_machine.rs`
//! (via the Raft log in `log_store.rs`); `snapshot.rs` keeps the state machine's
//! snapshots, `network.rs` the (for now absent) cluster transport.

pub mod client;
pub mod error;
mod log_store;
mod network;
mod node;
mod snapshot;
mod state;
mod state_machine;
mod type_config;
pub mod types;

pub use client::{LocalClient, MetadataClient};
pub use error::{Error, Result};
pub use node::{MetadataNode, NodeConfig};
