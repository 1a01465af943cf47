//! The pieces of the deterministic metadata state that [`crate::state_machine`] composes:
//! the topic registry ([`topics`]), per-partition indexes ([`index`]), idempotent producers
//! ([`producers`]) and the broker registry ([`brokers`]). Nothing here reads a clock,
//! randomness or I/O.

pub(crate) mod brokers;
pub(crate) mod index;
pub(crate) mod producers;
pub(crate) mod topics;
