//! silt's stateless broker: the v1 HTTP/JSON API over the write path (append → seal →
//! upload → commit) and the read path (index → tiered chunk reads), and the `silt` command.

pub mod cli;
pub mod config;
pub mod failpoints;
pub mod http;
pub mod metrics;
pub mod node;
pub mod read;
pub mod server;
pub mod state;
pub mod write;
