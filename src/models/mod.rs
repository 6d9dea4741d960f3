//! Diesel rows and queries, one file per table.

pub mod audit;
pub mod client;
pub mod contact;
pub mod dsar;
pub mod export;
pub mod idempotency;
pub mod interaction;
pub mod order;
pub mod register;
