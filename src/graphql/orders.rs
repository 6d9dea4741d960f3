//! Orders: the `Order` type with its client and contact, the `order`/`orders`
//! queries and the mutations, upsert by external id and batch upsert included.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::clients::Client;
use super::connection::{Conn, cost, first_not_limit, from_page};
use super::contacts::Contact;
use super::error::to_error;
use super::inputs::{OrderInput, OrderPatch};
use super::loaders::Loaders;
use super::types::{Deleted, OrderStatus, Outcome, SortKey};
use super::{actor, precondition, run, run_write, to_map};
use crate::auth::Scope;
use crate::services::orders::{self as svc, LineOut, OrderFilter, OrderOut};

/// An order.
pub struct Order(pub OrderOut);

/// One line of an order.
#[derive(SimpleObject)]
pub struct OrderLine {
    /// Stock keeping unit.
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i32,
    /// Minor units of the order's currency.
    pub unit_price_cents: super::types::Cents,
}

impl From<&LineOut> for OrderLine {
    fn from(l: &LineOut) -> Self {
        OrderLine {
            sku: l.sku.clone(),
            name: l.name.clone(),
            quantity: l.quantity,
            unit_price_cents: super::types::Cents(l.unit_price_cents),
        }
    }
}

#[Object]
impl Order {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The buying company.
    async fn client_id(&self) -> Option<Uuid> {
        self.0.client_id
    }
    /// The buying person.
    async fn contact_id(&self) -> Option<Uuid> {
        self.0.contact_id
    }
    /// Origin system (`api`, `shopify`...).
    async fn source(&self) -> &str {
        &self.0.source
    }
    /// Id in the origin system; unique per source.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    /// Human-facing order number.
    async fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }
    async fn status(&self) -> OrderStatus {
        self.0.status.into()
    }
    /// ISO 4217.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Minor units.
    async fn total_cents(&self) -> super::types::Cents {
        super::types::Cents(self.0.total_cents)
    }
    async fn ordered_at(&self) -> DateTime<Utc> {
        self.0.ordered_at
    }
    async fn lines(&self) -> Vec<OrderLine> {
        self.0.lines.iter().map(OrderLine::from).collect()
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

    /// The buying company, if any (`clients:read`).
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>> {
        let Some(id) = self.0.client_id else { return Ok(None) };
        actor(ctx)?.require(Scope::ClientsRead)?;
        Ok(Loaders::of(ctx)?.client.load_one(id).await.map_err(|e| to_error(&e))?.map(Client))
    }

    /// The buying person, if any (`contacts:read`).
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        let Some(id) = self.0.contact_id else { return Ok(None) };
        actor(ctx)?.require(Scope::ContactsRead)?;
        Ok(Loaders::of(ctx)?.contact.load_one(id).await.map_err(|e| to_error(&e))?.map(Contact))
    }
}

/// What `upsertOrder` answers.
#[derive(SimpleObject)]
pub struct OrderUpsert {
    /// Whether the order was created, updated or already up to date.
    pub result: Outcome,
    /// The order as stored.
    pub order: Order,
}

/// The result of one item of `batchUpsertOrders`.
#[derive(SimpleObject)]
pub struct OrderBatchItem {
    /// Position of the item in the `orders` argument.
    pub index: i32,
    /// Id of the stored order.
    pub id: Uuid,
    /// Whether it was created, updated or already up to date.
    pub result: Outcome,
}

/// Order queries.
#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// One order (`orders:read`).
    async fn order(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Order>> {
        Ok(Some(Order(run(ctx, move |c, a| svc::get(c, a, id)).await?)))
    }

    /// Orders, with the filters of `GET /v1/orders` (`orders:read`).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`endCursor` of the previous page.")] after: Option<String>,
        sort: Option<SortKey>,
        client_id: Option<Uuid>,
        contact_id: Option<Uuid>,
        status: Option<OrderStatus>,
        source: Option<String>,
        ordered_after: Option<DateTime<Utc>>,
        ordered_before: Option<DateTime<Utc>>,
        updated_after: Option<DateTime<Utc>>,
    ) -> Result<Option<Conn<Order>>> {
        let sort = sort.map(Into::into).unwrap_or_default();
        let filter = OrderFilter {
            limit: first.map(i64::from),
            after,
            sort: Some(sort),
            client_id,
            contact_id,
            status: status.map(Into::into),
            source,
            ordered_after,
            ordered_before,
            updated_after,
        };
        let page = run(ctx, move |c, a| svc::list(c, a, filter).map_err(first_not_limit)).await?;
        Ok(Some(from_page(page, sort, Order)))
    }
}

/// Order mutations (`orders:write`).
#[derive(Default)]
pub struct OrderMutation;

#[Object]
impl OrderMutation {
    /// Creates an order (as `POST /v1/orders`); `CONFLICT` when its
    /// `(source, externalId)` exists (use `upsertOrder`).
    async fn create_order(&self, ctx: &Context<'_>, input: OrderInput) -> Result<Option<Order>> {
        let body = to_map(&input)?;
        Ok(Some(Order(run_write(ctx, move |c, a| svc::create(c, a, body.clone())).await?)))
    }

    /// Updates an order (as `PATCH /v1/orders/{id}`).
    async fn update_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: OrderPatch,
        expected_version: Option<i32>,
    ) -> Result<Option<Order>> {
        let (patch, pre) = (to_map(&input)?, precondition(expected_version));
        Ok(Some(Order(run_write(ctx, move |c, a| svc::update(c, a, id, patch.clone(), &pre)).await?)))
    }

    /// Deletes an order (as `DELETE /v1/orders/{id}`).
    async fn delete_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        expected_version: Option<i32>,
    ) -> Result<Option<Deleted>> {
        let pre = precondition(expected_version);
        run_write(ctx, move |c, a| svc::delete(c, a, id, &pre)).await?;
        Ok(Some(Deleted { id }))
    }

    /// Creates or replaces the order with this `(source, externalId)` (as
    /// `PUT /v1/orders/external/{source}/{external_id}`).
    async fn upsert_order(
        &self,
        ctx: &Context<'_>,
        source: String,
        external_id: String,
        input: OrderInput,
        expected_version: Option<i32>,
    ) -> Result<Option<OrderUpsert>> {
        let (body, pre) = (to_map(&input)?, precondition(expected_version));
        let (out, outcome) =
            run_write(ctx, move |c, a| svc::upsert_external(c, a, &source, &external_id, body.clone(), &pre)).await?;
        Ok(Some(OrderUpsert { result: outcome.into(), order: Order(out) }))
    }

    /// Upserts up to 1,000 orders by `(source, externalId)` in one transaction
    /// (as `POST /v1/orders/batch`): any invalid item fails the whole batch
    /// with every failing field listed as `orders[i].field`, and nothing is written.
    async fn batch_upsert_orders(
        &self,
        ctx: &Context<'_>,
        orders: Vec<OrderInput>,
    ) -> Result<Option<Vec<OrderBatchItem>>> {
        let items = orders.iter().map(to_map).collect::<Result<Vec<_>, _>>()?;
        let body = json!({ "orders": items });
        let body = body.as_object().cloned().unwrap_or_default();
        // The bulk lane, as for `POST /v1/orders/batch`.
        let slot = crate::db::bulk_slot(ctx.data::<crate::db::DbPool>()?).await?;
        let out = run_write(ctx, move |c, a| svc::batch(c, a, body.clone())).await?;
        drop(slot);
        Ok(Some(
            out.data
                .into_iter()
                .map(|i| OrderBatchItem {
                    index: i32::try_from(i.index).unwrap_or(i32::MAX),
                    id: i.id,
                    result: i.result.into(),
                })
                .collect(),
        ))
    }
}
