//! DataLoaders for the nested fields: the keys asked for by every row of one
//! level of a query are gathered and fetched together, through
//! `db::run`, with one round of statements per level whatever the number of
//! rows (see `services::related`).
//!
//! The loaders hold the caller's `Actor` and are built for each request by
//! the [`PerRequest`] extension, so nothing fetched for one token is ever
//! served to another. They do not cache across fields either: within a
//! request a mutation must see what the mutation before it wrote.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest};
use async_graphql::{Context, Request, ServerResult};
use diesel::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use super::error::log_internal;
use crate::auth::Actor;
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::services::clients::ClientOut;
use crate::services::consents::ConsentEvent;
use crate::services::contacts::{ContactOut, InteractionOut};
use crate::services::orders::OrderOut;
use crate::services::related::{self, ChildPage, Children};
use crate::services::stats::Owner;

/// An error shared by every field that waited on the failed batch.
pub type SharedError = Arc<AppError>;

type ByIdFetch<T> = fn(&mut PgConnection, &Actor, &[Uuid]) -> Result<HashMap<Uuid, T>, AppError>;
type ChildrenFetch<T> =
    fn(&mut PgConnection, &Actor, &[Uuid], &ChildPage) -> Result<HashMap<Uuid, Children<T>>, AppError>;

/// Loads rows by id (many-to-one fields).
pub struct ById<T> {
    pool: DbPool,
    actor: Actor,
    fetch: ByIdFetch<T>,
}

/// Loads one page of children per parent id (one-to-many fields). Keys
/// asking for different pages are fetched in one query per distinct page.
pub struct ChildrenOf<T> {
    pool: DbPool,
    actor: Actor,
    fetch: ChildrenFetch<T>,
}

fn shared(e: AppError) -> SharedError {
    // Logged once here rather than by each field that waited on the batch.
    log_internal(&e);
    Arc::new(e)
}

impl<T: Clone + Send + Sync + 'static> Loader<Uuid> for ById<T> {
    type Value = T;
    type Error = SharedError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, T>, SharedError> {
        let (actor, fetch, ids) = (self.actor.clone(), self.fetch, keys.to_vec());
        db::run(&self.pool, move |conn| fetch(conn, &actor, &ids)).await.map_err(shared)
    }
}

impl<T: Clone + Send + Sync + 'static> Loader<(Uuid, ChildPage)> for ChildrenOf<T> {
    type Value = Children<T>;
    type Error = SharedError;

    async fn load(&self, keys: &[(Uuid, ChildPage)]) -> Result<HashMap<(Uuid, ChildPage), Children<T>>, SharedError> {
        let mut by_page: HashMap<ChildPage, Vec<Uuid>> = HashMap::new();
        for (id, page) in keys {
            by_page.entry(*page).or_default().push(*id);
        }
        let (actor, fetch) = (self.actor.clone(), self.fetch);
        db::run(&self.pool, move |conn| {
            let mut out = HashMap::new();
            for (page, ids) in by_page {
                let mut found = fetch(conn, &actor, &ids, &page)?;
                for id in ids {
                    // A parent without children gets an empty page.
                    out.insert((id, page), found.remove(&id).unwrap_or_default());
                }
            }
            Ok(out)
        })
        .await
        .map_err(shared)
    }
}

/// The loaders of one request.
pub struct Loaders {
    /// `Contact.client`, `Order.client`.
    pub client: DataLoader<ById<ClientOut>>,
    /// `Order.contact`.
    pub contact: DataLoader<ById<ContactOut>>,
    /// `Client.contacts`.
    pub contacts_of_client: DataLoader<ChildrenOf<ContactOut>>,
    /// `Client.orders`.
    pub orders_of_client: DataLoader<ChildrenOf<OrderOut>>,
    /// `Contact.orders`.
    pub orders_of_contact: DataLoader<ChildrenOf<OrderOut>>,
    /// `Contact.interactions`.
    pub interactions_of_contact: DataLoader<ChildrenOf<InteractionOut>>,
    /// `Contact.consents`: the current state per purpose.
    pub consents_of_contact: DataLoader<ById<Vec<ConsentEvent>>>,
    /// Pages of a contact's orders that the root `contact(id)` fetched in its
    /// own hop (see [`Loaders::prefetched_orders`]), each taken once.
    prefetched: std::sync::Mutex<HashMap<(Uuid, ChildPage), Children<OrderOut>>>,
}

/// Runs a batch on the current (actix/tokio) runtime, in the span of the
/// request that started it.
fn spawner(fut: futures_util::future::BoxFuture<'static, ()>) {
    actix_web::rt::spawn(fut.in_current_span());
}

/// How long a loader waits for more keys before it fetches. The fields of one
/// level are resolved in the same poll of the request's future, so every key
/// of the level is in before the batch's task first runs: the default 1 ms
/// (async-graphql's) only added a millisecond per level to every nested
/// query, a third of `contact { orders }` at 8 connections (issue 13).
const GATHER: std::time::Duration = std::time::Duration::ZERO;

fn by_id<T: Clone + Send + Sync + 'static>(pool: &DbPool, actor: &Actor, fetch: ByIdFetch<T>) -> DataLoader<ById<T>> {
    DataLoader::new(ById { pool: pool.clone(), actor: actor.clone(), fetch }, spawner).delay(GATHER)
}

fn children<T: Clone + Send + Sync + 'static>(
    pool: &DbPool,
    actor: &Actor,
    fetch: ChildrenFetch<T>,
) -> DataLoader<ChildrenOf<T>> {
    DataLoader::new(ChildrenOf { pool: pool.clone(), actor: actor.clone(), fetch }, spawner).delay(GATHER)
}

impl Loaders {
    /// Loaders acting as `actor`.
    pub fn new(pool: DbPool, actor: Actor) -> Self {
        let (p, a) = (&pool, &actor);
        Loaders {
            client: by_id(p, a, related::clients_by_ids),
            contact: by_id(p, a, related::contacts_by_ids),
            contacts_of_client: children(p, a, related::contacts_of_clients),
            orders_of_client: children(p, a, |c, a, ids, page| related::orders_of(c, a, Owner::Client, ids, page)),
            orders_of_contact: children(p, a, |c, a, ids, page| related::orders_of(c, a, Owner::Contact, ids, page)),
            interactions_of_contact: children(p, a, related::interactions_of_contacts),
            consents_of_contact: by_id(p, a, related::consents_of_contacts),
            prefetched: std::sync::Mutex::default(),
        }
    }

    /// Keeps a page of a contact's orders for `Contact.orders` to take.
    pub fn prefetch_orders(&self, contact: Uuid, page: ChildPage, orders: Children<OrderOut>) {
        if let Ok(mut m) = self.prefetched.lock() {
            m.insert((contact, page), orders);
        }
    }

    /// The page the root `contact(id)` fetched with the contact, if it is
    /// this one: `contact { orders }` then takes one blocking-pool hop and
    /// one spawned batch fewer (a query; a mutation never prefetches).
    pub fn prefetched_orders(&self, contact: Uuid, page: ChildPage) -> Option<Children<OrderOut>> {
        self.prefetched.lock().ok()?.remove(&(contact, page))
    }

    /// The loaders of the request being resolved.
    pub fn of<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Loaders> {
        super::actor(ctx)?;
        // Present whenever an Actor is: the PerRequest extension adds them.
        ctx.data_opt::<Loaders>().ok_or_else(|| AppError::Internal("the request has no loaders".into()).into())
    }
}

/// Builds the [`Loaders`] of each request from its `Actor` and the schema's pool.
pub struct PerRequest;

impl ExtensionFactory for PerRequest {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let actor = request.data.get(&TypeId::of::<Actor>()).and_then(|d| d.downcast_ref::<Actor>()).cloned();
        if let (Some(actor), Some(pool)) = (actor, ctx.data_opt::<DbPool>()) {
            request.data.insert(Loaders::new(pool.clone(), actor));
        }
        next.run(ctx, request).await
    }
}
