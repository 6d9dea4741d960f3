//! Diesel rows and queries, one file per table.

pub mod client;
pub mod contact;
pub mod idempotency;
pub mod interaction;
pub mod order;
