//! The audit trail lives in [`crate::record::audit`]; this name stays so
//! services read `audit::record(...)`.

pub use crate::record::audit::{Entry, record, record_many, set_fields};
