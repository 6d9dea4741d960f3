//! Integration tests: the real `build_app()` in process, each test on its own
//! Postgres database cloned from a migrated template.

mod helpers;

mod auth;
mod cli;
mod clients;
mod contacts;
mod contention;
mod conventions;
mod fuzz;
mod gdpr;
mod graphql;
mod identity;
mod integrations;
mod orders;
mod reach;
mod record;
mod replicas;
mod scopes;
mod system;
mod tls;
mod transactions;
