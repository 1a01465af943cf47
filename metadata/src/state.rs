//! The pieces of the deterministic metadata state that [`crate::state_machine`] composes:
//! the topic registry ([`topics`]) and per-partition indexes ([`index`]). Nothing here
//! reads a clock, randomness or I/O.

pub(crate) mod index;
pub(crate) mod topics;
