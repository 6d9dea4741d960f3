//! Integration tests: the real `build_app()` in process, each test on its own
//! Postgres database cloned from a migrated template.

mod helpers;

mod auth;
mod cli;
mod clients;
mod contacts;
mod contention;
mod conventions;
mod exports;
mod fuzz;
mod gdpr;
mod graphql;
mod identity;
mod imports;
mod integrations;
mod orders;
mod quality;
mod reach;
mod record;
mod replicas;
mod scopes;
mod segments;
mod system;
mod tls;
mod transactions;
