//! The outbox lives in [`crate::record`], the order of record; this name
//! stays so services read `events::change(...)`.

pub use crate::record::events::{Change, emit, purge};
pub use crate::record::{change, change_many};
