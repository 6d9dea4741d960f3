//! Merging duplicates (API.md §9): one transaction that moves everything the
//! merged records hold to the survivor and leaves a forwarding address.
//!
//! What a merge does to the GDPR, which no CRM we compared says:
//! - consent: every ledger event moves (copied to the survivor with its date,
//!   channel, proof and recorder: the ledger is append-only). Per purpose the
//!   latest event then wins, except that a withdrawal (an objection withdraws
//!   too) is never undone by a merge: when one of the records had withdrawn a
//!   purpose and a grant of another one is later, the merge records a new
//!   withdrawal on the survivor, its proof naming the merge;
//! - the suppression list is untouched; `restricted` and `suppressed` win;
//! - a record with an open data-subject request is not merged (409): the
//!   request's subject must not change under it;
//! - the merged ids answer 301 to the survivor, and a later request naming a
//!   merged id or its old email reaches the survivor (`contact_merges`; the
//!   email kept only as its HMAC, deleted with the survivor by an erasure).
//!
//! Lock order: the records in id order (`FOR UPDATE`), then what references
//! them, as every other writer of those tables does (see `orders::owners`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::clients::{self as client_svc, ClientOut};
use super::contacts::{self as contact_svc, ContactOut};
use super::stats::{self, Owner};
use super::suppression::SuppressionKey;
use super::{Errors, changed_fields, decode, events, to_doc};
use crate::auth::{Actor, Scope};
use crate::db::schema::{client_merges, clients, contact_merges, contacts};
use crate::domain::{Email, Status};
use crate::error::AppError;
use crate::models::client::Client;
use crate::models::contact::Contact;
use crate::record::sync::Shaped;

/// Most records merged into a survivor at once (Salesforce merges 3 in all).
pub const MAX_MERGED: usize = 2;

/// `POST /v1/contacts/merge` and `/v1/clients/merge`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The record that stays.
    #[validate(required)]
    #[schema(required = true)]
    pub survivor_id: Option<Uuid>,
    /// The 1 or 2 records merged into it, each once, then gone (their ids
    /// answer 301).
    #[validate(required, length(min = 1, max = 2))]
    #[schema(required = true, min_items = 1, max_items = 2)]
    pub merged_ids: Option<Vec<Uuid>>,
    /// Values the merged record takes, as in a merge patch of the survivor;
    /// otherwise the survivor's values, each empty one filled from the
    /// merged records in the order given.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Map<String, Value>>,
    /// Answer what the merge would give, and write nothing.
    pub dry_run: Option<bool>,
}

/// What a merge moved to the survivor.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Moved {
    pub orders: i64,
    /// Contacts: their interactions, consent events and notices.
    pub interactions: i64,
    pub consent_events: i64,
    pub notices: i64,
    /// Clients: their contacts.
    pub contacts: i64,
    /// Purposes whose withdrawal the merge kept over a later grant.
    pub withdrawals_kept: Vec<String>,
}

/// The result of a contact merge.
#[derive(Clone, Serialize, ToSchema)]
pub struct ContactMergeOut {
    /// The survivor, as it is (or would be, on a dry run) after the merge.
    pub survivor: ContactOut,
    pub merged_ids: Vec<Uuid>,
    pub moved: Moved,
    pub dry_run: bool,
}

/// The result of a client merge.
#[derive(Clone, Serialize, ToSchema)]
pub struct ClientMergeOut {
    /// The survivor, as it is (or would be, on a dry run) after the merge.
    pub survivor: ClientOut,
    pub merged_ids: Vec<Uuid>,
    pub moved: Moved,
    pub dry_run: bool,
}

/// Checked input: the survivor, the merged ids, the overrides, the dry run.
type Checked = (Uuid, Vec<Uuid>, Map<String, Value>, bool);

fn check_input(body: Map<String, Value>) -> Result<Checked, AppError> {
    let (input, errors) = decode::<MergeInput>(body);
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    errors.finish()?;
    let survivor = input.survivor_id.expect("required");
    let merged = input.merged_ids.expect("required");
    let mut errors = Errors::default();
    let mut seen = BTreeSet::new();
    for (i, id) in merged.iter().enumerate() {
        if *id == survivor {
            errors.push(format!("merged_ids[{i}]"), "is_survivor", "the survivor cannot be merged into itself");
        } else if !seen.insert(*id) {
            errors.push(format!("merged_ids[{i}]"), "duplicate", "listed twice");
        }
    }
    errors.finish()?;
    Ok((survivor, merged, input.fields.unwrap_or_default(), input.dry_run.unwrap_or(false)))
}

/// Fills the survivor document's empty fields from the merged ones (in the
/// order given); `tags` are the union, `custom_fields` keep the survivor's
/// keys over the others'.
fn fill(survivor: &mut Map<String, Value>, merged: &[Map<String, Value>]) {
    for m in merged {
        for (k, v) in m {
            if v.is_null() {
                continue;
            }
            match (k.as_str(), survivor.get_mut(k)) {
                ("tags", Some(Value::Array(tags))) => {
                    for t in v.as_array().into_iter().flatten() {
                        if !tags.contains(t) {
                            tags.push(t.clone());
                        }
                    }
                }
                ("custom_fields", Some(Value::Object(cf))) => {
                    for (ck, cv) in v.as_object().into_iter().flatten() {
                        cf.entry(ck.clone()).or_insert_with(|| cv.clone());
                    }
                }
                (_, Some(slot)) if slot.is_null() => *slot = v.clone(),
                (_, None) => {
                    survivor.insert(k.clone(), v.clone());
                }
                _ => {}
            }
        }
    }
}

/// The furthest lifecycle: a customer stays one whoever it is merged with.
fn rank(status: &Value) -> u8 {
    match status.as_str() {
        Some(s) if s == Status::Customer.as_str() => 2,
        Some(s) if s == Status::FormerCustomer.as_str() => 1,
        _ => 0,
    }
}

/// Applies the caller's overrides as a merge patch on the merged document.
fn overridden(doc: Map<String, Value>, fields: Map<String, Value>) -> Result<Map<String, Value>, AppError> {
    super::patched(&Value::Object(doc), fields).map_err(|e| match e {
        AppError::Validation(errs) => AppError::Validation(
            errs.into_iter()
                .map(|mut f| {
                    f.field = format!("fields.{}", f.field);
                    f
                })
                .collect(),
        ),
        other => other,
    })
}

/// Rolls a dry run back with its answer.
enum Outcome<T> {
    Failed(AppError),
    DryRun(T),
}

impl<T> From<diesel::result::Error> for Outcome<T> {
    fn from(e: diesel::result::Error) -> Self {
        Outcome::Failed(e.into())
    }
}

impl<T> From<AppError> for Outcome<T> {
    fn from(e: AppError) -> Self {
        Outcome::Failed(e)
    }
}

fn in_transaction<T>(
    conn: &mut PgConnection,
    dry_run: bool,
    f: impl FnOnce(&mut PgConnection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    match conn.transaction::<T, Outcome<T>, _>(|conn| {
        let out = f(conn)?;
        if dry_run { Err(Outcome::DryRun(out)) } else { Ok(out) }
    }) {
        Ok(out) | Err(Outcome::DryRun(out)) => Ok(out),
        Err(Outcome::Failed(e)) => Err(e),
    }
}

fn already_merged(conn: &mut PgConnection, table: &str, ids: &[Uuid]) -> QueryResult<BTreeSet<Uuid>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = SqlUuid)]
        merged_id: Uuid,
    }
    let rows: Vec<Id> = diesel::sql_query(format!("SELECT merged_id FROM {table} WHERE merged_id = ANY($1)"))
        .bind::<Array<SqlUuid>, _>(ids)
        .load(conn)?;
    Ok(rows.into_iter().map(|r| r.merged_id).collect())
}

/// 404 for an unknown survivor, 422 naming each merged id that is unknown
/// (or already merged into another record).
fn missing(
    conn: &mut PgConnection,
    table: &str,
    what: &'static str,
    survivor: Uuid,
    merged: &[Uuid],
    found: &BTreeSet<Uuid>,
) -> Result<(), AppError> {
    if !found.contains(&survivor) {
        return Err(AppError::NotFound(what));
    }
    let gone = already_merged(conn, table, merged)?;
    let mut errors = Errors::default();
    for (i, id) in merged.iter().enumerate() {
        if gone.contains(id) {
            errors.push(format!("merged_ids[{i}]"), "already_merged", "this record was merged into another one");
        } else if !found.contains(id) {
            errors.push(format!("merged_ids[{i}]"), "not_found", "the referenced resource does not exist");
        }
    }
    errors.finish()
}

#[derive(QueryableByName)]
struct State {
    #[diesel(sql_type = SqlUuid)]
    contact_id: Uuid,
    #[diesel(sql_type = Text)]
    purpose: String,
    #[diesel(sql_type = Text)]
    status: String,
}

fn consent_states(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<Vec<State>> {
    diesel::sql_query("SELECT contact_id, purpose, status FROM consent_state WHERE contact_id = ANY($1)")
        .bind::<Array<SqlUuid>, _>(ids)
        .load(conn)
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str, a: Uuid, b: &[Uuid]) -> QueryResult<i64> {
    Ok(diesel::sql_query(sql).bind::<SqlUuid, _>(a).bind::<Array<SqlUuid>, _>(b).get_result::<N>(conn)?.n)
}

/// Moves the orders in `orders_where` to their new owner: a new version, an
/// `order.updated` event each (mirrors follow `contact_id`/`client_id`).
fn move_orders(
    conn: &mut PgConnection,
    set: &str,
    merged: &[Uuid],
    survivor: Uuid,
) -> Result<Vec<events::Change>, AppError> {
    let ids: Vec<Uuid> = diesel::sql_query(format!(
        "UPDATE orders SET {set} = $1, version = version + 1, updated_at = now() WHERE {set} = ANY($2) RETURNING id"
    ))
    .bind::<SqlUuid, _>(survivor)
    .bind::<Array<SqlUuid>, _>(merged)
    .load::<OrderId>(conn)?
    .into_iter()
    .map(|r| r.id)
    .collect();
    let shaped = super::orders::OrderOut::load(conn, &ids)?;
    let mut ids = ids;
    ids.sort_unstable();
    Ok(ids
        .into_iter()
        .filter_map(|id| shaped.get(&id).map(|o| (id, o)))
        .map(|(id, o)| events::Change {
            kind: "order.updated".into(),
            resource_type: "order".into(),
            resource_id: id.to_string(),
            fields: vec![set.into()],
            data: Some(to_doc(o)),
        })
        .collect())
}

#[derive(QueryableByName)]
struct OrderId {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

fn merged_events(merged: &[Uuid], survivor: Uuid, resource: &str, kind: &str) -> Vec<events::Change> {
    merged
        .iter()
        .map(|id| events::Change {
            kind: kind.into(),
            resource_type: resource.into(),
            resource_id: id.to_string(),
            fields: vec![],
            data: Some(json!({"survivor_id": survivor, "merged_ids": merged})),
        })
        .collect()
}

/// `POST /v1/contacts/merge` (`contacts:write`).
pub fn contacts(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    body: Map<String, Value>,
) -> Result<ContactMergeOut, AppError> {
    actor.require(Scope::ContactsWrite)?;
    let (survivor_id, merged_ids, fields, dry_run) = check_input(body)?;
    let mut all: Vec<Uuid> = merged_ids.iter().copied().chain([survivor_id]).collect();
    all.sort_unstable();
    in_transaction(conn, dry_run, |conn| {
        let rows: Vec<Contact> = contacts::table
            .filter(contacts::id.eq_any(&all))
            .order(contacts::id)
            .select(Contact::as_select())
            .for_update()
            .load(conn)?;
        let found: BTreeSet<Uuid> = rows.iter().map(|c| c.id).collect();
        missing(conn, "contact_merges", "contact", survivor_id, &merged_ids, &found)?;
        let by_id: BTreeMap<Uuid, &Contact> = rows.iter().map(|c| (c.id, c)).collect();
        let survivor = by_id[&survivor_id];
        let merged: Vec<&Contact> = merged_ids.iter().map(|id| by_id[id]).collect();
        let hmacs: Vec<Vec<u8>> = rows
            .iter()
            .filter_map(|c| c.email.as_deref().and_then(|e| Email::parse(e).ok()).map(|e| key.hmac(&e)))
            .collect();
        let open = diesel::sql_query(
            "SELECT count(*) AS n FROM dsar_requests WHERE status IN ('received', 'identity_unverified') \
             AND (subject_contact_id = ANY($1) OR verify_contact_id = ANY($1) OR subject_hmac = ANY($2))",
        )
        .bind::<Array<SqlUuid>, _>(&all)
        .bind::<Array<diesel::sql_types::Bytea>, _>(&hmacs)
        .get_result::<N>(conn)?
        .n;
        if open > 0 {
            return Err(AppError::Conflict {
                code: "open_request",
                detail: "a data-subject request about one of these contacts is open; close it before merging".into(),
                field: Some("merged_ids".into()),
            });
        }

        // The merged document: the survivor's, filled from the others.
        let doc = |c: &Contact| match serde_json::to_value(ContactOut::from_row(c.clone()).input()) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut target = doc(survivor);
        let others: Vec<Map<String, Value>> = merged.iter().map(|c| doc(c)).collect();
        if let Some(best) =
            others.iter().filter(|o| rank(&o["status"]) > rank(&target["status"])).max_by_key(|o| rank(&o["status"]))
        {
            target.insert("status".into(), best["status"].clone());
            target.insert("lawful_basis".into(), best["lawful_basis"].clone());
        }
        let latest_touch = rows.iter().filter_map(|c| c.last_interaction_at).max();
        fill(&mut target, &others);
        if let Some(t) = latest_touch {
            target.insert("last_interaction_at".into(), json!(t));
        }
        let write = contact_svc::validate(overridden(target, fields)?)?;
        let current = crate::models::contact::ContactWrite::from(survivor);
        let before = consent_states(conn, &all)?;
        let suppressed = count(
            conn,
            "SELECT count(*) AS n FROM contacts WHERE suppressed AND (id = $1 OR id = ANY($2))",
            survivor_id,
            &merged_ids,
        )? > 0;

        // Move what references the merged contacts, then forward them.
        let mut moved = Moved {
            interactions: diesel::sql_query("UPDATE interactions SET contact_id = $1 WHERE contact_id = ANY($2)")
                .bind::<SqlUuid, _>(survivor_id)
                .bind::<Array<SqlUuid>, _>(&merged_ids)
                .execute(conn)? as i64,
            notices: diesel::sql_query("UPDATE contact_notices SET contact_id = $1 WHERE contact_id = ANY($2)")
                .bind::<SqlUuid, _>(survivor_id)
                .bind::<Array<SqlUuid>, _>(&merged_ids)
                .execute(conn)? as i64,
            ..Moved::default()
        };
        let mut changes = move_orders(conn, "contact_id", &merged_ids, survivor_id)?;
        moved.orders = changes.len() as i64;
        // The ledger is append-only: copies with new ids, then the merged
        // contacts' own go with them. The state trigger recomputes each.
        moved.consent_events = count(
            conn,
            "WITH c AS (INSERT INTO consent_events (id, contact_id, purpose, status, channel, collected_at, proof, \
             recorded_by, recorded_at) SELECT gen_random_uuid(), $1, purpose, status, channel, collected_at, proof, \
             recorded_by, recorded_at FROM consent_events WHERE contact_id = ANY($2) ORDER BY collected_at, id \
             RETURNING 1) SELECT count(*) AS n FROM c",
            survivor_id,
            &merged_ids,
        )?;
        diesel::sql_query("UPDATE contact_merges SET survivor_id = $1 WHERE survivor_id = ANY($2)")
            .bind::<SqlUuid, _>(survivor_id)
            .bind::<Array<SqlUuid>, _>(&merged_ids)
            .execute(conn)?;
        diesel::delete(contacts::table.filter(contacts::id.eq_any(&merged_ids))).execute(conn)?;
        for c in &merged {
            diesel::insert_into(contact_merges::table)
                .values((
                    contact_merges::merged_id.eq(c.id),
                    contact_merges::survivor_id.eq(survivor_id),
                    contact_merges::email_hmac.eq(c
                        .email
                        .as_deref()
                        .and_then(|e| Email::parse(e).ok())
                        .map(|e| key.hmac(&e))),
                    contact_merges::merged_by.eq(&actor.sub),
                ))
                .execute(conn)?;
        }

        // A withdrawal is never undone by a merge.
        let after = consent_states(conn, &[survivor_id])?;
        let withdrawn: BTreeSet<&str> =
            before.iter().filter(|s| s.status == "withdrawn").map(|s| s.purpose.as_str()).collect();
        let now = Utc::now();
        for s in after.iter().filter(|s| s.status == "granted" && withdrawn.contains(s.purpose.as_str())) {
            let from: Vec<Uuid> = before
                .iter()
                .filter(|b| b.purpose == s.purpose && b.status == "withdrawn")
                .map(|b| b.contact_id)
                .collect();
            diesel::sql_query(
                "INSERT INTO consent_events (id, contact_id, purpose, status, channel, collected_at, proof, recorded_by) \
                 VALUES ($1, $2, $3, 'withdrawn', NULL, $4, $5, $6)",
            )
            .bind::<SqlUuid, _>(Uuid::now_v7())
            .bind::<SqlUuid, _>(survivor_id)
            .bind::<Text, _>(&s.purpose)
            .bind::<diesel::sql_types::Timestamptz, _>(now)
            .bind::<diesel::sql_types::Jsonb, _>(json!({
                "method": "merge",
                "wording": "a withdrawal of a merged record is kept: a merge never undoes it",
                "withdrawn_by": from,
            }))
            .bind::<Text, _>(&actor.sub)
            .execute(conn)?;
            moved.withdrawals_kept.push(s.purpose.clone());
        }

        let restricted = rows.iter().any(|c| c.restricted);
        let row: Contact = diesel::update(contacts::table.find(survivor_id))
            .set((
                &write,
                contacts::restricted.eq(restricted),
                contacts::suppressed.eq(suppressed),
                contacts::version.eq(contacts::version + 1),
                contacts::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Contact::as_returning())
            .get_result(conn)?;
        stats::recompute_many(conn, Owner::Contact, &[survivor_id])?;
        let row = crate::models::contact::find(conn, row.id, false)?.unwrap_or(row);
        let out = contact_svc::out(conn, row)?;
        let mut fields = changed_fields(&to_doc(&current), &to_doc(&write));
        if restricted != survivor.restricted {
            fields.push("restricted".into());
        }
        changes.push(events::Change {
            kind: "contact.updated".into(),
            resource_type: "contact".into(),
            resource_id: survivor_id.to_string(),
            fields,
            data: Some(to_doc(&out)),
        });
        changes.extend(merged_events(&merged_ids, survivor_id, "contact", "contact.merged"));
        events::change_many(conn, actor, changes)?;
        Ok(ContactMergeOut { survivor: out, merged_ids: merged_ids.clone(), moved, dry_run })
    })
}

/// `POST /v1/clients/merge` (`clients:write`).
pub fn clients(conn: &mut PgConnection, actor: &Actor, body: Map<String, Value>) -> Result<ClientMergeOut, AppError> {
    actor.require(Scope::ClientsWrite)?;
    let (survivor_id, merged_ids, fields, dry_run) = check_input(body)?;
    let mut all: Vec<Uuid> = merged_ids.iter().copied().chain([survivor_id]).collect();
    all.sort_unstable();
    in_transaction(conn, dry_run, |conn| {
        let rows: Vec<Client> = clients::table
            .filter(clients::id.eq_any(&all))
            .order(clients::id)
            .select(Client::as_select())
            .for_no_key_update()
            .load(conn)?;
        let found: BTreeSet<Uuid> = rows.iter().map(|c| c.id).collect();
        missing(conn, "client_merges", "client", survivor_id, &merged_ids, &found)?;
        let by_id: BTreeMap<Uuid, &Client> = rows.iter().map(|c| (c.id, c)).collect();
        let survivor = by_id[&survivor_id];
        let doc = |c: &Client| match serde_json::to_value(ClientOut::from_row(c.clone()).input()) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut target = doc(survivor);
        let others: Vec<Map<String, Value>> = merged_ids.iter().map(|id| doc(by_id[id])).collect();
        if let Some(best) =
            others.iter().filter(|o| rank(&o["status"]) > rank(&target["status"])).max_by_key(|o| rank(&o["status"]))
        {
            target.insert("status".into(), best["status"].clone());
        }
        fill(&mut target, &others);
        let write = client_svc::validate(overridden(target, fields)?)?;
        let current = crate::models::client::ClientWrite::from(survivor);

        let mut changes = move_orders(conn, "client_id", &merged_ids, survivor_id)?;
        let mut moved = Moved { orders: changes.len() as i64, ..Moved::default() };
        let contact_ids: Vec<Uuid> = diesel::update(contacts::table.filter(contacts::client_id.eq_any(&merged_ids)))
            .set((
                contacts::client_id.eq(survivor_id),
                contacts::version.eq(contacts::version + 1),
                contacts::updated_at.eq(diesel::dsl::now),
            ))
            .returning(contacts::id)
            .get_results(conn)?;
        moved.contacts = contact_ids.len() as i64;
        for id in &contact_ids {
            if let Some(row) = crate::models::contact::find(conn, *id, false)? {
                let out = contact_svc::out(conn, row)?;
                changes.push(events::Change {
                    kind: "contact.updated".into(),
                    resource_type: "contact".into(),
                    resource_id: id.to_string(),
                    fields: vec!["client_id".into()],
                    data: Some(to_doc(&out)),
                });
            }
        }
        diesel::sql_query("UPDATE client_merges SET survivor_id = $1 WHERE survivor_id = ANY($2)")
            .bind::<SqlUuid, _>(survivor_id)
            .bind::<Array<SqlUuid>, _>(&merged_ids)
            .execute(conn)?;
        // Gone first: the survivor may take a SIREN, SIRET or VAT number
        // only one client may hold.
        diesel::delete(clients::table.filter(clients::id.eq_any(&merged_ids))).execute(conn)?;
        for id in &merged_ids {
            diesel::insert_into(client_merges::table)
                .values((
                    client_merges::merged_id.eq(*id),
                    client_merges::survivor_id.eq(survivor_id),
                    client_merges::merged_by.eq(&actor.sub),
                ))
                .execute(conn)?;
        }
        diesel::update(clients::table.find(survivor_id))
            .set((&write, clients::version.eq(clients::version + 1), clients::updated_at.eq(diesel::dsl::now)))
            .execute(conn)?;
        stats::recompute_many(conn, Owner::Client, &[survivor_id])?;
        let out = client_svc::out_by_id(conn, survivor_id)?.ok_or(AppError::NotFound("client"))?;
        changes.push(events::Change {
            kind: "client.updated".into(),
            resource_type: "client".into(),
            resource_id: survivor_id.to_string(),
            fields: changed_fields(&to_doc(&current), &to_doc(&write)),
            data: Some(to_doc(&out)),
        });
        changes.extend(merged_events(&merged_ids, survivor_id, "client", "client.merged"));
        events::change_many(conn, actor, changes)?;
        Ok(ClientMergeOut { survivor: out, merged_ids: merged_ids.clone(), moved, dry_run })
    })
}

/// Where a merged contact went (its survivor now), if it was merged.
pub fn contact_survivor(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Uuid>> {
    contact_merges::table.find(id).select(contact_merges::survivor_id).first(conn).optional()
}

/// The survivor of the contact whose email had this HMAC, if it was merged.
pub fn contact_survivor_by_hmac(conn: &mut PgConnection, hmac: &[u8]) -> QueryResult<Option<Uuid>> {
    contact_merges::table
        .filter(contact_merges::email_hmac.eq(hmac))
        .select(contact_merges::survivor_id)
        .first(conn)
        .optional()
}

/// Where a merged client went, if it was merged.
pub fn client_survivor(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Uuid>> {
    client_merges::table.find(id).select(client_merges::survivor_id).first(conn).optional()
}
