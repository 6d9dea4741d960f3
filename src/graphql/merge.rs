//! Merges of duplicates (as `POST /v1/contacts/merge` and `/v1/clients/merge`).

use std::sync::Arc;

use async_graphql::{Context, Object, Result, SimpleObject};
use uuid::Uuid;

use super::clients::Client;
use super::contacts::Contact;
use super::inputs::{ClientPatch, ContactPatch};
use super::{run_write, to_map};
use crate::services::merge::{self, Moved};
use crate::services::suppression::SuppressionKey;

/// What a merge moved to the survivor.
#[derive(SimpleObject)]
pub struct MergeMoved {
    pub orders: i64,
    pub interactions: i64,
    pub consent_events: i64,
    pub notices: i64,
    pub contacts: i64,
    /// Purposes whose withdrawal the merge kept over a later grant.
    pub withdrawals_kept: Vec<String>,
}

impl From<Moved> for MergeMoved {
    fn from(m: Moved) -> Self {
        MergeMoved {
            orders: m.orders,
            interactions: m.interactions,
            consent_events: m.consent_events,
            notices: m.notices,
            contacts: m.contacts,
            withdrawals_kept: m.withdrawals_kept,
        }
    }
}

/// A contact merge: the survivor as it is (or would be, on a dry run).
#[derive(SimpleObject)]
pub struct ContactMerge {
    pub survivor: Contact,
    pub merged_ids: Vec<Uuid>,
    pub moved: MergeMoved,
    pub dry_run: bool,
}

/// A client merge: the survivor as it is (or would be, on a dry run).
#[derive(SimpleObject)]
pub struct ClientMerge {
    pub survivor: Client,
    pub merged_ids: Vec<Uuid>,
    pub moved: MergeMoved,
    pub dry_run: bool,
}

fn body(
    survivor_id: Uuid,
    merged_ids: Vec<Uuid>,
    fields: Option<serde_json::Map<String, serde_json::Value>>,
    dry_run: Option<bool>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("survivor_id".into(), serde_json::json!(survivor_id));
    m.insert("merged_ids".into(), serde_json::json!(merged_ids));
    if let Some(f) = fields {
        m.insert("fields".into(), serde_json::Value::Object(f));
    }
    if let Some(d) = dry_run {
        m.insert("dry_run".into(), serde_json::Value::Bool(d));
    }
    m
}

/// Merge mutations.
#[derive(Default)]
pub struct MergeMutation;

#[Object]
impl MergeMutation {
    /// Merges 1 or 2 contacts into a survivor (`contacts:write`), as `POST
    /// /v1/contacts/merge`: orders, interactions, notices and consent events
    /// move; a withdrawal is never undone; 409 `open_request` while a
    /// data-subject request about one of them is open. The merged ids then
    /// resolve to the survivor in `contact(id:)`.
    async fn merge_contacts(
        &self,
        ctx: &Context<'_>,
        survivor_id: Uuid,
        merged_ids: Vec<Uuid>,
        #[graphql(desc = "Values the merged contact takes (a merge patch of the survivor).")] fields: Option<
            ContactPatch,
        >,
        #[graphql(desc = "Answer what the merge would give, and write nothing.")] dry_run: Option<bool>,
    ) -> Result<ContactMerge> {
        let fields = fields.as_ref().map(to_map).transpose()?;
        let input = body(survivor_id, merged_ids, fields, dry_run);
        let key = ctx.data::<Arc<SuppressionKey>>()?.clone();
        let out = run_write(ctx, move |c, a| merge::contacts(c, a, &key, input.clone())).await?;
        Ok(ContactMerge {
            survivor: Contact(out.survivor),
            merged_ids: out.merged_ids,
            moved: out.moved.into(),
            dry_run: out.dry_run,
        })
    }

    /// Merges 1 or 2 clients into a survivor (`clients:write`), as `POST
    /// /v1/clients/merge`: contacts and orders move, stats are recomputed.
    async fn merge_clients(
        &self,
        ctx: &Context<'_>,
        survivor_id: Uuid,
        merged_ids: Vec<Uuid>,
        #[graphql(desc = "Values the merged client takes (a merge patch of the survivor).")] fields: Option<
            ClientPatch,
        >,
        #[graphql(desc = "Answer what the merge would give, and write nothing.")] dry_run: Option<bool>,
    ) -> Result<ClientMerge> {
        let fields = fields.as_ref().map(to_map).transpose()?;
        let input = body(survivor_id, merged_ids, fields, dry_run);
        let out = run_write(ctx, move |c, a| merge::clients(c, a, input.clone())).await?;
        Ok(ClientMerge {
            survivor: Client(out.survivor),
            merged_ids: out.merged_ids,
            moved: out.moved.into(),
            dry_run: out.dry_run,
        })
    }
}
