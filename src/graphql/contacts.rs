//! Contacts (people) and their interactions: the `Contact` and `Interaction`
//! types with the nested client, orders and interactions, the
//! `contact`/`contacts` queries and the contact and interaction mutations.

use async_graphql::{Context, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::clients::Client;
use super::connection::{Conn, CountedConn, child_page, cost, first_not_limit, from_children, from_page_counted};
use super::consents::Consent;
use super::error::to_error;
use super::inputs::{ContactInput, ContactPatch, InteractionInput};
use super::loaders::Loaders;
use super::orders::Order;
use super::types::{Deleted, Direction, InteractionKind, LawfulBasis, SortKey, Stats, Status};
use super::{actor, precondition, run, run_write, to_map};
use std::sync::Arc;

use crate::auth::Scope;
use crate::services::contacts::{self, ContactFilter, ContactOut, InteractionOut};
use crate::services::related::{self, ChildPage};
use crate::services::stats::Owner;
use crate::services::suppression::SuppressionKey;

/// A person.
pub struct Contact(pub ContactOut);

/// The page of orders a `contact(id)` query asks for, when it asks for one
/// page of them, plainly (no alias asking for another, no directive): the
/// root resolver fetches it in the same blocking-pool hop as the contact
/// (issue 13). Anything else is left to `Contact.orders` and its loader.
fn orders_asked(ctx: &Context<'_>) -> Option<ChildPage> {
    let fields = ctx.look_ahead().field("orders").selection_fields();
    let [field] = fields.as_slice() else { return None };
    if !field.directives().ok()?.is_empty() {
        return None;
    }
    let (mut first, mut after) = (None, None);
    for (name, value) in field.arguments().ok()? {
        match (name.as_str(), value) {
            ("first", async_graphql::Value::Number(n)) => first = Some(i32::try_from(n.as_i64()?).ok()?),
            ("after", async_graphql::Value::String(s)) => after = Some(s),
            (_, async_graphql::Value::Null) => {}
            _ => return None,
        }
    }
    child_page(first, after.as_deref()).ok()
}

#[Object]
impl Contact {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The company this person works for.
    async fn client_id(&self) -> Option<Uuid> {
        self.0.client_id
    }
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// E.164.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn job_title(&self) -> Option<&str> {
        self.0.job_title.as_deref()
    }
    async fn birth_date(&self) -> Option<NaiveDate> {
        self.0.birth_date
    }
    async fn status(&self) -> Status {
        self.0.status.into()
    }
    /// Acquisition channel.
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    async fn lawful_basis(&self) -> LawfulBasis {
        self.0.lawful_basis.into()
    }
    /// Set by a restriction request: writes other than by a request are refused.
    async fn restricted(&self) -> bool {
        self.0.restricted
    }
    /// Last contact initiated by the person (the clock of prospect retention).
    async fn last_interaction_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_interaction_at
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    /// Free-form object.
    async fn custom_fields(&self) -> &Value {
        &self.0.custom_fields
    }
    /// Read-only sales figures.
    async fn stats(&self) -> Stats {
        self.0.stats.clone().into()
    }
    async fn audience(&self) -> super::types::Audience {
        self.0.audience.into()
    }
    /// Where the data came from (snake_case keys, as in REST).
    async fn provenance(&self) -> Option<&Value> {
        self.0.provenance.as_ref()
    }
    /// Data not obtained from the person: when the Art. 14 notice is due.
    async fn art14_notice_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.art14_notice_due_at
    }
    async fn art14_notice_sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.art14_notice_sent_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Incremented by every write; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// The company of this person, if any (`clients:read`).
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>> {
        let Some(id) = self.0.client_id else { return Ok(None) };
        actor(ctx)?.require(Scope::ClientsRead)?;
        let found = Loaders::of(ctx)?.client.load_one(id).await.map_err(|e| to_error(&e))?;
        Ok(found.map(Client))
    }

    /// The orders of this person, oldest first (`orders:read`).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Option<Conn<Order>>> {
        let page = child_page(first, after.as_deref())?;
        actor(ctx)?.require(Scope::OrdersRead)?;
        let loaders = Loaders::of(ctx)?;
        if let Some(found) = loaders.prefetched_orders(self.0.id, page) {
            return Ok(Some(from_children(found, Order)));
        }
        let children = loaders.orders_of_contact.load_one((self.0.id, page)).await;
        Ok(Some(from_children(children.map_err(|e| to_error(&e))?.unwrap_or_default(), Order)))
    }

    /// The current consent state, one event per purpose (the latest), purposes
    /// in order (`consents:read`).
    async fn consents(&self, ctx: &Context<'_>) -> Result<Option<Vec<Consent>>> {
        actor(ctx)?.require(Scope::ConsentsRead)?;
        let found = Loaders::of(ctx)?.consents_of_contact.load_one(self.0.id).await.map_err(|e| to_error(&e))?;
        Ok(Some(found.unwrap_or_default().into_iter().map(Consent).collect()))
    }

    /// Calls, emails, meetings and notes with this person, oldest first (`contacts:read`).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn interactions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Option<Conn<Interaction>>> {
        let page = child_page(first, after.as_deref())?;
        actor(ctx)?.require(Scope::ContactsRead)?;
        let children = Loaders::of(ctx)?.interactions_of_contact.load_one((self.0.id, page)).await;
        Ok(Some(from_children(children.map_err(|e| to_error(&e))?.unwrap_or_default(), Interaction)))
    }
}

/// A call, email, meeting or note with a contact.
pub struct Interaction(pub InteractionOut);

#[Object]
impl Interaction {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn contact_id(&self) -> Uuid {
        self.0.contact_id
    }
    async fn kind(&self) -> InteractionKind {
        self.0.kind.into()
    }
    async fn direction(&self) -> Direction {
        self.0.direction.into()
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// The token subject that recorded it.
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Contact queries.
#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// One contact (`contacts:read`); the id of a contact merged into
    /// another gives the survivor.
    async fn contact(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Contact>> {
        let orders = orders_asked(ctx);
        let (found, prefetched) = run(ctx, move |c, a| {
            let found = match contacts::get(c, a, id) {
                Err(crate::error::AppError::NotFound(what)) => match crate::services::merge::contact_survivor(c, id)? {
                    Some(survivor) => contacts::get(c, a, survivor),
                    None => Err(crate::error::AppError::NotFound(what)),
                },
                other => other,
            }?;
            // A scope the token lacks fails the field itself, later.
            let prefetched = match orders {
                Some(page) if a.has(Scope::OrdersRead) => {
                    let mut all = related::orders_of(c, a, Owner::Contact, &[found.id], &page)?;
                    Some((page, all.remove(&found.id).unwrap_or_default()))
                }
                _ => None,
            };
            Ok((found, prefetched))
        })
        .await?;
        if let Some((page, orders)) = prefetched {
            Loaders::of(ctx)?.prefetch_orders(found.id, page, orders);
        }
        Ok(Some(Contact(found)))
    }

    /// Contacts, with the filters of `GET /v1/contacts` (`contacts:read`).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`endCursor` of the previous page.")] after: Option<String>,
        sort: Option<SortKey>,
        status: Option<Status>,
        client_id: Option<Uuid>,
        #[graphql(desc = "Exact email, case-insensitive.")] email: Option<String>,
        tag: Option<String>,
        #[graphql(desc = "Prefix of the first name, last name or email, case-insensitive.")] q: Option<String>,
        #[graphql(desc = "A segment: current consent granted for this purpose, not suppressed, not restricted.")]
        consent: Option<String>,
        audience: Option<super::types::Audience>,
        updated_after: Option<DateTime<Utc>>,
        #[graphql(desc = "A segment filter (API.md §12), ANDed with the arguments above.")] filter: Option<
            super::segments::SegmentFilter,
        >,
    ) -> Result<Option<CountedConn<Contact>>> {
        let sort = sort.map(Into::into).unwrap_or_default();
        let filter_args = ContactFilter {
            limit: first.map(i64::from),
            after,
            sort: Some(sort),
            status: status.map(Into::into),
            client_id,
            email,
            tag,
            q,
            consent,
            audience: audience.map(Into::into),
            updated_after,
        };
        let segment = super::segments::segment_json(filter);
        let (page, cond) =
            run(ctx, move |c, a| contacts::list_with(c, a, filter_args, segment.as_ref()).map_err(first_not_limit))
                .await?;
        let total = super::segments::Total(Some((crate::services::segments::Resource::Contacts, cond)));
        Ok(Some(from_page_counted(page, sort, total, Contact)))
    }
}

/// Contact and interaction mutations (`contacts:write`).
#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Creates a contact (as `POST /v1/contacts`).
    async fn create_contact(&self, ctx: &Context<'_>, input: ContactInput) -> Result<Option<Contact>> {
        let body = to_map(&input)?;
        let key = ctx.data::<Arc<SuppressionKey>>()?.clone();
        Ok(Some(Contact(run_write(ctx, move |c, a| contacts::create(c, a, &key, body.clone())).await?)))
    }

    /// Updates a contact (as `PATCH /v1/contacts/{id}`).
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: ContactPatch,
        expected_version: Option<i32>,
    ) -> Result<Option<Contact>> {
        let (patch, pre) = (to_map(&input)?, precondition(expected_version));
        let key = ctx.data::<Arc<SuppressionKey>>()?.clone();
        Ok(Some(Contact(run_write(ctx, move |c, a| contacts::update(c, a, &key, id, patch.clone(), &pre)).await?)))
    }

    /// Deletes a contact and its interactions; its orders stay, detached
    /// (as `DELETE /v1/contacts/{id}`; erasure with proof is a data-subject request).
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        expected_version: Option<i32>,
    ) -> Result<Option<Deleted>> {
        let pre = precondition(expected_version);
        run_write(ctx, move |c, a| contacts::delete(c, a, id, &pre)).await?;
        Ok(Some(Deleted { id }))
    }

    /// Records an interaction (as `POST /v1/contacts/{id}/interactions`).
    async fn create_interaction(
        &self,
        ctx: &Context<'_>,
        contact_id: Uuid,
        input: InteractionInput,
    ) -> Result<Option<Interaction>> {
        let body = to_map(&input)?;
        Ok(Some(Interaction(
            run_write(ctx, move |c, a| contacts::add_interaction(c, a, contact_id, body.clone())).await?,
        )))
    }
}
