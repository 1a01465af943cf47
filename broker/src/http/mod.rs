//! The v1 HTTP/JSON API. Handlers are thin: they parse the request, call one service
//! (`write::Writer`, `read::Fetcher`, the metadata client) and map its answer; `error.rs`
//! is the one place errors become a status and a code. Bodies are parsed in
//! `produce_body.rs` (JSON) and `produce_binary.rs` (`application/x-silt-records`), with
//! the shared input rules in `validate.rs`; the byte budgets of bodies and fetch responses
//! in flight are `crate::budget`.

pub(crate) mod cluster;
pub(crate) mod error;
#[cfg(feature = "fault-injection")]
pub(crate) mod faults;
pub(crate) mod fetch;
pub(crate) mod groups;
pub(crate) mod health;
pub(crate) mod offsets;
pub(crate) mod openapi;
pub(crate) mod openapi_groups;
pub(crate) mod openapi_parts;
pub(crate) mod produce;
pub(crate) mod produce_binary;
pub(crate) mod produce_body;
pub(crate) mod produce_commit;
pub(crate) mod topic_config;
pub(crate) mod topics;
pub(crate) mod validate;

pub(crate) use error::ApiError;
