//! Clients (companies): the `Client` type with its nested contacts and
//! orders, the `client`/`clients` queries and the create, update and delete
//! mutations.

use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::connection::{
    Conn, CountedConn, child_page, cost, first_not_limit, from_children, from_children_counted, from_page_counted,
};
use super::contacts::Contact;
use super::inputs::{ClientInput, ClientPatch};
use super::loaders::Loaders;
use super::orders::Order;
use super::types::{Address, Deleted, SortKey, Stats, Status};
use super::{actor, precondition, run, run_write, to_map};
use crate::auth::Scope;
use crate::services::clients::{self, ClientFilter, ClientOut};

/// A company.
pub struct Client(pub ClientOut);

#[Object]
impl Client {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Company name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Lifecycle status; becomes `CUSTOMER` with the first order that is not cancelled.
    async fn status(&self) -> Status {
        self.0.status.into()
    }
    /// SIREN (9 digits).
    async fn siren(&self) -> Option<&str> {
        self.0.siren.as_deref()
    }
    /// SIRET (14 digits).
    async fn siret(&self) -> Option<&str> {
        self.0.siret.as_deref()
    }
    /// EU VAT number.
    async fn vat_number(&self) -> Option<&str> {
        self.0.vat_number.as_deref()
    }
    /// NAF/APE code.
    async fn naf_code(&self) -> Option<&str> {
        self.0.naf_code.as_deref()
    }
    async fn sector(&self) -> Option<&str> {
        self.0.sector.as_deref()
    }
    async fn employee_count(&self) -> Option<i32> {
        self.0.employee_count
    }
    /// Annual revenue in minor units of `currency`.
    async fn annual_revenue_cents(&self) -> Option<super::types::Cents> {
        self.0.annual_revenue_cents.map(super::types::Cents)
    }
    /// ISO 4217 code.
    async fn currency(&self) -> Option<&str> {
        self.0.currency.as_deref()
    }
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }
    async fn billing_address(&self) -> Option<Address> {
        self.0.billing_address.clone().map(Address::from)
    }
    async fn acquisition_channel(&self) -> Option<&str> {
        self.0.acquisition_channel.as_deref()
    }
    /// Account owner.
    async fn owner(&self) -> Option<&str> {
        self.0.owner.as_deref()
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

    /// The people of this company, oldest first (`contacts:read`).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Option<CountedConn<Contact>>> {
        let page = child_page(first, after.as_deref())?;
        actor(ctx)?.require(Scope::ContactsRead)?;
        let children = Loaders::of(ctx)?.contacts_of_client.load_one((self.0.id, page)).await;
        let children = children.map_err(|e| super::error::to_error(&e))?.unwrap_or_default();
        Ok(Some(from_children_counted(children, Contact)))
    }

    /// The orders of this company, oldest first (`orders:read`).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Option<Conn<Order>>> {
        let page = child_page(first, after.as_deref())?;
        actor(ctx)?.require(Scope::OrdersRead)?;
        let children = Loaders::of(ctx)?.orders_of_client.load_one((self.0.id, page)).await;
        let children = children.map_err(|e| super::error::to_error(&e))?.unwrap_or_default();
        Ok(Some(from_children(children, Order)))
    }
}

/// Client queries.
#[derive(Default)]
pub struct ClientQuery;

#[Object]
impl ClientQuery {
    /// One client (`clients:read`); the id of a client merged into another
    /// gives the survivor.
    async fn client(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Client>> {
        Ok(Some(Client(
            run(ctx, move |c, a| match clients::get(c, a, id) {
                Err(crate::error::AppError::NotFound(what)) => match crate::services::merge::client_survivor(c, id)? {
                    Some(survivor) => clients::get(c, a, survivor),
                    None => Err(crate::error::AppError::NotFound(what)),
                },
                other => other,
            })
            .await?,
        )))
    }

    /// Clients, with the filters of `GET /v1/clients` (`clients:read`).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn clients(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`endCursor` of the previous page.")] after: Option<String>,
        sort: Option<SortKey>,
        status: Option<Status>,
        sector: Option<String>,
        naf_code: Option<String>,
        #[graphql(desc = "Clients carrying this tag.")] tag: Option<String>,
        #[graphql(desc = "Name prefix, case-insensitive.")] q: Option<String>,
        employee_count_gte: Option<i32>,
        employee_count_lte: Option<i32>,
        annual_revenue_gte: Option<i64>,
        annual_revenue_lte: Option<i64>,
        #[graphql(name = "spentLast12mGte")] spent_last_12m_gte: Option<i64>,
        last_order_before: Option<DateTime<Utc>>,
        last_order_after: Option<DateTime<Utc>>,
        updated_after: Option<DateTime<Utc>>,
        #[graphql(desc = "A segment filter (API.md §12), ANDed with the arguments above.")] filter: Option<
            super::segments::SegmentFilter,
        >,
    ) -> Result<Option<CountedConn<Client>>> {
        let sort = sort.map(Into::into).unwrap_or_default();
        let segment = super::segments::segment_json(filter);
        let filter_args = ClientFilter {
            limit: first.map(i64::from),
            after,
            sort: Some(sort),
            status: status.map(Into::into),
            sector,
            naf_code,
            tag,
            q,
            employee_count_gte,
            employee_count_lte,
            annual_revenue_gte,
            annual_revenue_lte,
            spent_last_12m_gte,
            last_order_before,
            last_order_after,
            updated_after,
        };
        let (page, cond) =
            run(ctx, move |c, a| clients::list_with(c, a, filter_args, segment.as_ref()).map_err(first_not_limit))
                .await?;
        let total = super::segments::Total(Some((crate::services::segments::Resource::Clients, cond)));
        Ok(Some(from_page_counted(page, sort, total, Client)))
    }
}

/// Client mutations (`clients:write`).
#[derive(Default)]
pub struct ClientMutation;

#[Object]
impl ClientMutation {
    /// Creates a client (as `POST /v1/clients`).
    async fn create_client(&self, ctx: &Context<'_>, input: ClientInput) -> Result<Option<Client>> {
        let body = to_map(&input)?;
        Ok(Some(Client(run_write(ctx, move |c, a| clients::create(c, a, body.clone())).await?)))
    }

    /// Updates a client (as `PATCH /v1/clients/{id}`); with `expectedVersion`,
    /// fails with `PRECONDITION_FAILED` if someone else wrote it first.
    async fn update_client(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: ClientPatch,
        expected_version: Option<i32>,
    ) -> Result<Option<Client>> {
        let (patch, pre) = (to_map(&input)?, precondition(expected_version));
        Ok(Some(Client(run_write(ctx, move |c, a| clients::update(c, a, id, patch.clone(), &pre)).await?)))
    }

    /// Deletes a client (as `DELETE /v1/clients/{id}`); `CONFLICT` while orders reference it.
    async fn delete_client(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        expected_version: Option<i32>,
    ) -> Result<Option<Deleted>> {
        let pre = precondition(expected_version);
        run_write(ctx, move |c, a| clients::delete(c, a, id, &pre)).await?;
        Ok(Some(Deleted { id }))
    }
}
