//! Rust client for silt, a durable, ordered, partitioned log on object storage.
//!
//! [`wire`] holds the JSON types of the v1 HTTP API (shared with the broker). With the
//! default `client` feature the crate also has [`Admin`], [`Producer`], [`Consumer`] and
//! [`Groups`] (consumer groups' committed offsets) and [`GroupConsumer`] (a group member
//! that heartbeats, follows rebalances and commits).

pub mod wire;

#[cfg(feature = "client")]
mod admin;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod consumer;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod group_consumer;
#[cfg(feature = "client")]
mod groups;
#[cfg(feature = "client")]
mod producer;

#[cfg(feature = "client")]
pub use admin::Admin;
#[cfg(feature = "client")]
pub use client::{Client, ClientConfig};
#[cfg(feature = "client")]
pub use consumer::{Consumer, ConsumerConfig};
#[cfg(feature = "client")]
pub use error::{Error, Result};
#[cfg(feature = "client")]
pub use group_consumer::{
    GroupConsumer, GroupConsumerConfig, GroupRecord, OffsetReset, Positions, RebalanceListener,
};
#[cfg(feature = "client")]
pub use groups::Groups;
#[cfg(feature = "client")]
pub use producer::{Producer, ProducerConfig, SendFuture};
