//! Erasure of one person (a DSAR erasure or a retention sweep).
//!
//! The columns to clear come from the database itself: every column commented
//! `'pii'`. Each table holding such a column must have a [`RULE`] saying how to
//! find the subject's rows and whether to delete them or scrub (null) their
//! personal columns; a `pii` column in a table without a rule makes erasure
//! fail loudly rather than leave data behind.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Bytea, Text, Uuid as SqlUuid};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::events;
use super::suppression::{self, Reason, SuppressionKey};
use crate::auth::Actor;
use crate::db::Count;
use crate::db::schema::contacts;
use crate::domain::Email;
use crate::error::AppError;
use crate::models::contact::Contact;

/// What to do with the subject's rows of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Delete the rows.
    Delete,
    /// Keep the rows, set their `pii` columns to NULL.
    Scrub,
}

/// How to find the subject's rows: `$1` is the contact id, `$2` the email HMAC.
struct Rule {
    table: &'static str,
    locate: &'static str,
    action: Action,
    why: &'static str,
}

/// One rule per table holding personal data, applied in this order (the
/// contact itself last, as others reference it).
const RULES: &[Rule] = &[
    Rule {
        table: "orders",
        locate: "contact_id = $1",
        action: Action::Scrub,
        why: "kept for the accounting duty (10 years, French Commercial Code art. L123-22), detached from the person",
    },
    Rule { table: "interactions", locate: "contact_id = $1", action: Action::Delete, why: "" },
    Rule { table: "consent_events", locate: "contact_id = $1", action: Action::Delete, why: "" },
    Rule { table: "idempotency_keys", locate: "resource_id = $1", action: Action::Delete, why: "" },
    Rule {
        table: "dsar_requests",
        locate: "subject_contact_id = $1 OR subject_hmac = $2 OR verify_contact_id = $1",
        action: Action::Scrub,
        why: "the record of the request is kept to demonstrate compliance, without personal data",
    },
    Rule {
        table: "events",
        // The contact's own events, and the verification links of requests
        // about it (`dsar.verification_requested` names the contact). Other
        // `dsar.*` events carry a status, no personal data, and may still be
        // on their way to the submitter's callback.
        locate: "resource_id = $1::text OR (type = 'dsar.verification_requested' AND resource_id IN \
                 (SELECT id::text FROM dsar_requests WHERE subject_contact_id = $1 OR subject_hmac = $2 \
                  OR verify_contact_id = $1))",
        action: Action::Scrub,
        why: "the change feed keeps the fact of each change, without the person's data",
    },
    // The forwarding addresses of contacts merged into this one.
    Rule { table: "contact_merges", locate: "survivor_id = $1", action: Action::Delete, why: "" },
    Rule { table: "contacts", locate: "id = $1", action: Action::Delete, why: "" },
];

#[derive(QueryableByName)]
struct PiiColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// Every column commented `'pii'`, grouped by table.
pub fn pii_columns(conn: &mut PgConnection) -> QueryResult<BTreeMap<String, Vec<String>>> {
    let rows: Vec<PiiColumn> = diesel::sql_query(
        "SELECT c.relname::text AS table_name, a.attname::text AS column_name \
         FROM pg_description d \
         JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE d.description = 'pii' AND d.objsubid > 0 AND n.nspname = current_schema() \
         ORDER BY 1, 2",
    )
    .load(conn)?;
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        map.entry(r.table_name).or_default().push(r.column_name);
    }
    Ok(map)
}

/// Tables holding `pii` columns that no rule covers (must be empty).
pub fn uncovered_tables(conn: &mut PgConnection) -> QueryResult<Vec<String>> {
    Ok(pii_columns(conn)?.into_keys().filter(|t| !RULES.iter().any(|r| r.table == t)).collect())
}

/// Something kept, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Retained {
    pub kind: String,
    pub count: i64,
    pub why: String,
}

/// What an erasure did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ErasureResult {
    /// Rows deleted, per kind.
    pub deleted: BTreeMap<String, i64>,
    /// Rows kept with their personal data cleared, per kind.
    pub anonymised: BTreeMap<String, i64>,
    /// What is kept and the reason.
    pub retained: Vec<Retained>,
    /// The email's HMAC is on the suppression list.
    pub suppressed: bool,
}

/// Erases `contact` (locked by the caller's transaction): deletes or scrubs
/// every row holding its personal data, suppresses its email, audits.
pub fn erase(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    contact: &Contact,
    reason: Reason,
) -> Result<ErasureResult, AppError> {
    let pii = pii_columns(conn)?;
    if let Some(t) = pii.keys().find(|t| !RULES.iter().any(|r| r.table == t.as_str())) {
        return Err(AppError::Internal(format!("personal-data table `{t}` has no erasure rule").into()));
    }
    let hmac = contact.email.as_deref().and_then(|e| Email::parse(e).ok()).map(|e| key.hmac(&e));
    let mut result = ErasureResult::default();
    for rule in RULES {
        let count = match rule.action {
            Action::Delete => diesel::sql_query(format!("DELETE FROM {} WHERE {}", rule.table, rule.locate))
                .bind::<SqlUuid, _>(contact.id)
                .bind::<Bytea, _>(hmac.clone().unwrap_or_default())
                .execute(conn)?,
            Action::Scrub => {
                let cols = pii.get(rule.table).cloned().unwrap_or_default();
                if cols.is_empty() {
                    // Nothing personal in the rows themselves: count what is kept
                    // (the link to the person goes with the contact, ON DELETE SET NULL).
                    diesel::sql_query(format!("SELECT count(*) AS n FROM {} WHERE {}", rule.table, rule.locate))
                        .bind::<SqlUuid, _>(contact.id)
                        .bind::<Bytea, _>(hmac.clone().unwrap_or_default())
                        .get_result::<Count>(conn)?
                        .n as usize
                } else {
                    let set = cols.iter().map(|c| format!("{c} = NULL")).collect::<Vec<_>>().join(", ");
                    diesel::sql_query(format!("UPDATE {} SET {set} WHERE {}", rule.table, rule.locate))
                        .bind::<SqlUuid, _>(contact.id)
                        .bind::<Bytea, _>(hmac.clone().unwrap_or_default())
                        .execute(conn)?
                }
            }
        } as i64;
        match rule.action {
            Action::Delete => {
                result.deleted.insert(rule.table.into(), count);
            }
            Action::Scrub => {
                result.anonymised.insert(rule.table.into(), count);
                if count > 0 {
                    result.retained.push(Retained { kind: rule.table.into(), count, why: rule.why.into() });
                }
            }
        }
    }
    if let Some(h) = &hmac {
        suppression::add(conn, h, reason)?;
        result.suppressed = true;
    }
    // Export files made before now may hold the person: they expire now,
    // and the export sweep deletes them with their rows.
    let exports =
        diesel::sql_query("UPDATE export_jobs SET expires_at = now() WHERE expires_at IS NULL OR expires_at > now()")
            .execute(conn)? as i64;
    result.deleted.insert("export_jobs".into(), exports);
    let fields = pii.get("contacts").cloned().unwrap_or_default();
    events::change(conn, actor, "contact.erased", "contact", contact.id, fields, None)?;
    Ok(result)
}

/// Scrubs the personal columns of requests about an unknown subject (by email HMAC).
pub fn scrub_requests_by_hmac(conn: &mut PgConnection, hmac: &[u8]) -> Result<i64, AppError> {
    let pii = pii_columns(conn)?;
    let cols = pii.get("dsar_requests").cloned().unwrap_or_default();
    if cols.is_empty() {
        return Ok(0);
    }
    let set = cols.iter().map(|c| format!("{c} = NULL")).collect::<Vec<_>>().join(", ");
    Ok(diesel::sql_query(format!("UPDATE dsar_requests SET {set} WHERE subject_hmac = $1"))
        .bind::<Bytea, _>(hmac)
        .execute(conn)? as i64)
}

/// Locks and loads a contact for erasure.
pub fn lock_contact(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Contact>> {
    contacts::table.find(id).select(Contact::as_select()).for_update().first(conn).optional()
}
