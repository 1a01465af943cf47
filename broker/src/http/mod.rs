//! The v1 HTTP/JSON API: routes, request parsing and validation, and the error edge.

pub mod cluster;
pub mod error;
pub mod fetch;
pub mod health;
pub mod openapi;
pub mod produce;
pub mod produce_binary;
pub mod produce_body;
pub mod topics;
pub mod validate;

pub use error::ApiError;
