//! Retention sweeps: contacts inactive past their status's policy are erased,
//! each erasure audited as a DSAR erasure is. Restricted contacts are kept
//! (a restriction freezes the data while a claim is examined).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::audit;
use super::erasure;
use super::suppression::{Reason, SuppressionKey};
use crate::auth::{Actor, Scope};
use crate::error::AppError;

/// Query of `POST /v1/retention/run`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunParams {
    /// List what is due without erasing (default true: erasing must be asked for).
    pub dry_run: Option<bool>,
}

/// A contact past its retention period.
#[derive(Debug, Clone, Serialize, ToSchema, QueryableByName)]
pub struct Due {
    #[diesel(sql_type = SqlUuid)]
    pub contact_id: Uuid,
    #[diesel(sql_type = Text)]
    pub status: String,
    /// When the retention clock started.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_activity_at: Option<DateTime<Utc>>,
}

/// Answer of a sweep.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunOut {
    pub dry_run: bool,
    /// Contacts past their retention period (at most 1,000 per run).
    pub due: Vec<Due>,
    /// How many were erased.
    pub erased: usize,
}

/// Most contacts handled by one run.
const BATCH: i64 = 1000;

fn due(conn: &mut PgConnection) -> QueryResult<Vec<Due>> {
    diesel::sql_query(
        "SELECT c.id AS contact_id, c.status, \
           CASE p.basis WHEN 'last_interaction' THEN coalesce(c.last_interaction_at, c.created_at) \
                ELSE coalesce(c.last_order_at, c.last_interaction_at, c.created_at) END AS last_activity_at \
         FROM contacts c JOIN retention_policies p ON p.status = c.status AND p.days IS NOT NULL \
         WHERE NOT c.restricted AND \
           CASE p.basis WHEN 'last_interaction' THEN coalesce(c.last_interaction_at, c.created_at) \
                ELSE coalesce(c.last_order_at, c.last_interaction_at, c.created_at) END \
           < now() - make_interval(days => p.days) \
         ORDER BY c.id LIMIT $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(BATCH)
    .load(conn)
}

/// `POST /v1/retention/run` (`retention:run`): lists (dry run) or erases
/// what is due, one transaction per contact.
pub fn run(conn: &mut PgConnection, actor: &Actor, key: &SuppressionKey, dry_run: bool) -> Result<RunOut, AppError> {
    actor.require(Scope::RetentionRun)?;
    let due = due(conn)?;
    let mut erased = 0;
    if !dry_run {
        for d in &due {
            let done = conn.transaction(|conn| {
                // Re-check under lock: the contact may have been active meanwhile.
                let still_due = super::retention::due_one(conn, d.contact_id)?;
                match erasure::lock_contact(conn, d.contact_id)? {
                    Some(contact) if still_due => {
                        erasure::erase(conn, actor, key, &contact, Reason::Retention)?;
                        Ok::<_, AppError>(true)
                    }
                    _ => Ok(false),
                }
            })?;
            erased += done as usize;
        }
        conn.transaction(|conn| {
            audit::record(conn, actor, "retention.run", "retention", "contacts", vec![format!("erased:{erased}")])
        })?;
    }
    Ok(RunOut { dry_run, due, erased })
}

/// True when one contact is still past its retention period.
pub fn due_one(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Hit {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        due: bool,
    }
    let hits: Vec<Hit> = diesel::sql_query(
        "SELECT true AS due FROM contacts c JOIN retention_policies p ON p.status = c.status AND p.days IS NOT NULL \
         WHERE c.id = $1 AND NOT c.restricted AND \
           CASE p.basis WHEN 'last_interaction' THEN coalesce(c.last_interaction_at, c.created_at) \
                ELSE coalesce(c.last_order_at, c.last_interaction_at, c.created_at) END \
           < now() - make_interval(days => p.days)",
    )
    .bind::<SqlUuid, _>(id)
    .load(conn)?;
    Ok(hits.iter().any(|h| h.due))
}
