//! Sales statistics of clients and contacts (`stats` in API.md §4).
//!
//! Counted orders are those whose status is a sale (`pending`, `paid`,
//! `fulfilled`); cancelled and refunded orders do not count. Amounts are
//! summed in minor units whatever the currency. The lifetime figures are
//! stored on the client or contact row and refreshed in the transaction of
//! every order write. `spent_last_12m_cents` is stored too, against the
//! window of `spend_window`: order writes add what falls inside it, and
//! [`sweep_window`] (a job, every minute) moves the window with the clock and
//! takes out the orders it leaves behind, so reads and filters use a column.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Uuid as SqlUuid};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// SQL list of the order statuses that count as a sale.
pub const SALE_STATUSES_SQL: &str = "('pending', 'paid', 'fulfilled')";

/// Read-only sales figures.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Stats {
    /// Orders that count as a sale.
    pub orders_count: i64,
    /// Sum of their totals, in minor units.
    pub total_spent_cents: i64,
    /// Sum over the last 12 months.
    pub spent_last_12m_cents: i64,
    /// Date of the first counted order.
    pub first_order_at: Option<DateTime<Utc>>,
    /// Date of the last counted order.
    pub last_order_at: Option<DateTime<Utc>>,
    /// Total of the last counted order.
    pub last_order_total_cents: Option<i64>,
}

/// Whose stats: the column of `orders` that links to it, and its table.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    /// A company.
    Client,
    /// A person.
    Contact,
}

impl Owner {
    fn table(self) -> &'static str {
        match self {
            Owner::Client => "clients",
            Owner::Contact => "contacts",
        }
    }
    fn column(self) -> &'static str {
        match self {
            Owner::Client => "client_id",
            Owner::Contact => "contact_id",
        }
    }
}

/// One order as the stats see it: who bought, whether it counts, when, how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sale {
    pub order_id: Uuid,
    pub client_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// Whether its status is a sale ([`SALE_STATUSES_SQL`]).
    pub counted: bool,
    pub total_cents: i64,
    pub ordered_at: DateTime<Utc>,
}

impl Sale {
    /// Whether an order status counts as a sale.
    pub fn counts(status: &str) -> bool {
        SALE_STATUSES.contains(&status)
    }

    fn owners(&self) -> impl Iterator<Item = (Owner, Uuid)> {
        [(Owner::Client, self.client_id), (Owner::Contact, self.contact_id)]
            .into_iter()
            .filter_map(|(o, id)| id.map(|id| (o, id)))
    }
}

/// What a set of order writes changes in one owner's stats.
#[derive(Debug, Default, Clone)]
struct Delta {
    count: i64,
    total: i64,
    /// Earliest and latest `ordered_at` of the counted orders added…
    add_first: Option<DateTime<Utc>>,
    /// …the latest with its id and total (the order that may become the last)…
    add_last: Option<(DateTime<Utc>, Uuid, i64)>,
    /// …and of the counted orders taken away (their old state): the
    /// earliest date, and the latest date with its order id.
    rem_first: Option<DateTime<Utc>>,
    rem_last: Option<(DateTime<Utc>, Uuid)>,
    /// Contacts: the retention clock moves forward to this date.
    touch: Option<DateTime<Utc>>,
    /// Whether an order of this owner was written at all (promotion check).
    written: bool,
}

/// The stats changes of one transaction's order writes, applied in one
/// statement per kind of owner by [`StatsChanges::apply`].
///
/// Stored stats move by deltas instead of being recomputed from every order
/// of the owner: a write to a client with 100,000 orders costs what a write
/// to a new client does. The last order is the greatest `(ordered_at, id)`,
/// stored with its id (`last_order_id`). The earliest date, and the last
/// order with its total, move by delta only when the orders taken away cannot
/// have held them (the earliest date is not theirs, the last order is not
/// one of them) or an added order supersedes them; otherwise they are looked
/// up with two index probes. Count and total are always exact by delta.
/// Deltas apply to the row as locked at update time, so concurrent writers
/// to one owner add up instead of overwriting each other's figures.
#[derive(Debug, Default)]
pub struct StatsChanges {
    owners: BTreeMap<(u8, Uuid), Delta>,
    /// Every counted sale added (+) or taken away (−), for the 12-month
    /// spend: which of them fall in the window is decided in SQL against the
    /// stored window start.
    window: Vec<((u8, Uuid), DateTime<Utc>, i64)>,
}

fn key(owner: Owner, id: Uuid) -> (u8, Uuid) {
    (matches!(owner, Owner::Contact) as u8, id)
}

impl StatsChanges {
    /// Records that an order went from `old` to `new` (`None`: absent).
    pub fn order(&mut self, old: Option<&Sale>, new: Option<&Sale>) {
        if let (Some(o), Some(n)) = (old, new) {
            // Same buyers, same counted sale: no figure moves.
            if o == n {
                return;
            }
        }
        if let Some(o) = old {
            for (owner, id) in o.owners() {
                let d = self.owners.entry(key(owner, id)).or_default();
                d.written = true;
                if o.counted {
                    self.window.push((key(owner, id), o.ordered_at, -o.total_cents));
                    d.count -= 1;
                    d.total -= o.total_cents;
                    d.rem_first = Some(d.rem_first.map_or(o.ordered_at, |f| f.min(o.ordered_at)));
                    let candidate = (o.ordered_at, o.order_id);
                    d.rem_last = Some(d.rem_last.map_or(candidate, |l| l.max(candidate)));
                }
            }
        }
        if let Some(n) = new {
            for (owner, id) in n.owners() {
                let d = self.owners.entry(key(owner, id)).or_default();
                d.written = true;
                if n.counted {
                    self.window.push((key(owner, id), n.ordered_at, n.total_cents));
                    d.count += 1;
                    d.total += n.total_cents;
                    d.add_first = Some(d.add_first.map_or(n.ordered_at, |f| f.min(n.ordered_at)));
                    let candidate = (n.ordered_at, n.order_id, n.total_cents);
                    d.add_last = Some(d.add_last.map_or(candidate, |l| l.max(candidate)));
                }
            }
        }
    }

    /// Moves a buyer's `last_interaction_at` forward to `at`.
    pub fn touch(&mut self, contact_id: Uuid, at: DateTime<Utc>) {
        let d = self.owners.entry(key(Owner::Contact, contact_id)).or_default();
        d.touch = Some(d.touch.map_or(at, |t| t.max(at)));
    }

    /// Writes the changes (rows locked in id order) and promotes to customer
    /// the prospects among the owners written that have an order that is not
    /// cancelled. Returns the promoted ids of each kind.
    pub fn apply(self, conn: &mut PgConnection) -> QueryResult<[(Owner, Vec<Uuid>); 2]> {
        // An order near the window's start could be one the sweep is moving
        // out: wait for it, and keep it from running until this commits.
        // Orders well inside the window (nearly all writes) take no lock.
        let near = Utc::now().checked_sub_months(Months::new(12)).unwrap_or_default() + SWEEP_MARGIN;
        if self.window.iter().any(|(_, at, _)| *at < near) {
            lock_window(conn, false)?;
        }
        let mut out = [(Owner::Client, Vec::new()), (Owner::Contact, Vec::new())];
        for (kind, slot) in out.iter_mut().enumerate() {
            let owner = slot.0;
            let deltas: Vec<(Uuid, &Delta)> = self
                .owners
                .range((kind as u8, Uuid::nil())..=(kind as u8, Uuid::max()))
                .map(|(k, d)| (k.1, d))
                .collect();
            let window: Vec<&((u8, Uuid), DateTime<Utc>, i64)> =
                self.window.iter().filter(|(k, _, _)| k.0 == kind as u8).collect();
            let recompute = apply_deltas(conn, owner, &deltas, &window)?;
            find_extremes(conn, owner, &recompute)?;
            let written: Vec<Uuid> = deltas.iter().filter(|(_, d)| d.written).map(|(id, _)| *id).collect();
            slot.1 = promote(conn, owner, &written)?;
        }
        Ok(out)
    }
}

/// Applies the deltas in one statement; returns the owners whose earliest,
/// latest or last-total figures a delta cannot give (to look up).
fn apply_deltas(
    conn: &mut PgConnection,
    owner: Owner,
    deltas: &[(Uuid, &Delta)],
    window: &[&((u8, Uuid), DateTime<Utc>, i64)],
) -> QueryResult<Vec<Uuid>> {
    use diesel::sql_types::{BigInt, Bool, Nullable, Timestamptz};
    let deltas: Vec<&(Uuid, &Delta)> = deltas
        .iter()
        .filter(|(_, d)| {
            d.count != 0 || d.total != 0 || d.add_first.is_some() || d.rem_first.is_some() || d.touch.is_some()
        })
        .collect();
    if deltas.is_empty() {
        return Ok(Vec::new());
    }
    let col = |f: fn(&Delta) -> Option<DateTime<Utc>>| -> Vec<Option<DateTime<Utc>>> {
        deltas.iter().map(|(_, d)| f(d)).collect()
    };
    let ids_of = |f: fn(&Delta) -> Option<Uuid>| -> Vec<Option<Uuid>> { deltas.iter().map(|(_, d)| f(d)).collect() };
    let ids: Vec<Uuid> = deltas.iter().map(|(id, _)| *id).collect();
    let counts: Vec<i64> = deltas.iter().map(|(_, d)| d.count).collect();
    let totals: Vec<i64> = deltas.iter().map(|(_, d)| d.total).collect();
    let last_totals: Vec<Option<i64>> = deltas.iter().map(|(_, d)| d.add_last.map(|l| l.2)).collect();
    // Whether deltas give the figures: the earliest date is not (only) that
    // of orders taken away, or an added order is as early; the last order is
    // not one taken away, or an added order comes after it (or is it,
    // rewritten). With no stored last order, any added one is newer;
    // `last_order_id` NULL (rows older than it) with a tie on the date
    // compares NULL: look it up.
    let newer = "(d.add_last, d.add_id) >= (coalesce(t.last_order_at, '-infinity'), \
                 CASE WHEN t.last_order_at IS NULL THEN '00000000-0000-0000-0000-000000000000' \
                 ELSE t.last_order_id END)";
    let safe = format!(
        "((d.rem_first IS NULL OR d.rem_first > t.first_order_at OR d.add_first <= t.first_order_at) \
          AND ({newer} \
               OR ((d.rem_last IS NULL OR (d.rem_last, d.rem_id) < (t.last_order_at, t.last_order_id)) \
                   AND (d.add_last IS NULL OR (d.add_last, d.add_id) < (t.last_order_at, t.last_order_id)))))"
    );
    let touch = match owner {
        Owner::Client => "",
        Owner::Contact => {
            ", last_interaction_at = CASE WHEN d.touch > coalesce(t.last_interaction_at, '-infinity') \
               THEN d.touch ELSE t.last_interaction_at END, \
             updated_at = CASE WHEN d.touch > coalesce(t.last_interaction_at, '-infinity') \
               THEN now() ELSE t.updated_at END"
        }
    };
    let touch_needed = match owner {
        Owner::Client => "false",
        Owner::Contact => "d.touch > coalesce(t.last_interaction_at, '-infinity')",
    };
    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Bool)]
        safe: bool,
    }
    let applied: Vec<Applied> = diesel::sql_query(format!(
        "UPDATE {table} t SET orders_count = t.orders_count + d.count, \
           total_spent_cents = t.total_spent_cents + d.total, \
           spent_last_12m_cents = t.spent_last_12m_cents + coalesce(w.d12, 0), \
           first_order_at = CASE WHEN {safe} THEN least(t.first_order_at, d.add_first) ELSE t.first_order_at END, \
           last_order_at = CASE WHEN {safe} THEN greatest(t.last_order_at, d.add_last) ELSE t.last_order_at END, \
           last_order_total_cents = CASE WHEN {safe} AND {newer} THEN d.last_total ELSE t.last_order_total_cents END, \
           last_order_id = CASE WHEN {safe} AND {newer} THEN d.add_id ELSE t.last_order_id END{touch} \
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::uuid[], \
                     $7::bigint[], $8::timestamptz[], $9::timestamptz[], $10::uuid[], $11::timestamptz[]) \
              AS d(id, count, total, add_first, add_last, add_id, last_total, rem_first, rem_last, rem_id, touch) \
         LEFT JOIN (SELECT s.id, (sum(s.amount) FILTER (WHERE s.at >= (SELECT window_start FROM spend_window)))::bigint \
                      AS d12 \
                    FROM unnest($12::uuid[], $13::timestamptz[], $14::bigint[]) AS s(id, at, amount) GROUP BY s.id) w \
           ON w.id = d.id \
         WHERE t.id = d.id AND (d.count <> 0 OR d.total <> 0 OR d.add_first IS NOT NULL \
                                OR d.rem_first IS NOT NULL OR {touch_needed}) \
         RETURNING t.id, coalesce({safe}, false) AS safe",
        table = owner.table()
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<BigInt>, _>(&counts)
    .bind::<Array<BigInt>, _>(&totals)
    .bind::<Array<Nullable<Timestamptz>>, _>(&col(|d| d.add_first))
    .bind::<Array<Nullable<Timestamptz>>, _>(&col(|d| d.add_last.map(|l| l.0)))
    .bind::<Array<Nullable<SqlUuid>>, _>(&ids_of(|d| d.add_last.map(|l| l.1)))
    .bind::<Array<Nullable<BigInt>>, _>(&last_totals)
    .bind::<Array<Nullable<Timestamptz>>, _>(&col(|d| d.rem_first))
    .bind::<Array<Nullable<Timestamptz>>, _>(&col(|d| d.rem_last.map(|l| l.0)))
    .bind::<Array<Nullable<SqlUuid>>, _>(&ids_of(|d| d.rem_last.map(|l| l.1)))
    .bind::<Array<Nullable<Timestamptz>>, _>(&col(|d| d.touch))
    .bind::<Array<SqlUuid>, _>(window.iter().map(|w| w.0.1).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(window.iter().map(|w| w.1).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(window.iter().map(|w| w.2).collect::<Vec<_>>())
    .load(conn)?;
    Ok(applied.into_iter().filter(|a| !a.safe).map(|a| a.id).collect())
}

/// Looks up, for owners whose deltas could not give them, the earliest and
/// the last counted order (count and total are exact by delta): two index
/// probes per owner, `(owner, ordered_at)` forward and backward, whatever
/// its number of orders.
fn find_extremes(conn: &mut PgConnection, owner: Owner, ids: &[Uuid]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    let (table, col) = (owner.table(), owner.column());
    diesel::sql_query(format!(
        "UPDATE {table} t SET first_order_at = f.ordered_at, last_order_at = l.ordered_at, \
           last_order_total_cents = l.total_cents, last_order_id = l.id \
         FROM unnest($1::uuid[]) AS ids(id) \
         LEFT JOIN LATERAL (SELECT ordered_at FROM orders WHERE {col} = ids.id AND status IN {SALE_STATUSES_SQL} \
                            ORDER BY ordered_at LIMIT 1) f ON true \
         LEFT JOIN LATERAL (SELECT ordered_at, total_cents, id FROM orders \
                            WHERE {col} = ids.id AND status IN {SALE_STATUSES_SQL} \
                            ORDER BY ordered_at DESC, id DESC LIMIT 1) l ON true \
         WHERE t.id = ids.id"
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .execute(conn)
    .map(drop)
}

/// Recomputes the stored stats of clients or contacts from their orders (one
/// statement for any number of them, rows locked in id order).
pub fn recompute_many(conn: &mut PgConnection, owner: Owner, ids: &[Uuid]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    lock_window(conn, false)?;
    let (table, col) = (owner.table(), owner.column());
    diesel::sql_query(format!(
        "UPDATE {table} t SET orders_count = s.n, total_spent_cents = s.total, first_order_at = s.first, \
         last_order_at = s.last, last_order_total_cents = l.total_cents, last_order_id = l.id, \
         spent_last_12m_cents = s.w12 \
         FROM unnest($1::uuid[]) AS ids(id) CROSS JOIN LATERAL ( \
           SELECT count(*) AS n, coalesce(sum(total_cents), 0)::bigint AS total, min(ordered_at) AS first, \
                  max(ordered_at) AS last, coalesce(sum(total_cents) FILTER ( \
                    WHERE ordered_at >= (SELECT window_start FROM spend_window)), 0)::bigint AS w12 \
           FROM orders WHERE {col} = ids.id AND status IN {SALE_STATUSES_SQL}) s \
         LEFT JOIN LATERAL (SELECT id, total_cents FROM orders WHERE {col} = ids.id AND status IN {SALE_STATUSES_SQL} \
                            ORDER BY ordered_at DESC, id DESC LIMIT 1) l ON true \
         WHERE t.id = ids.id"
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .execute(conn)
    .map(drop)
}

/// Promotes to customer the prospects among `ids` that have an order that is
/// not cancelled; returns them.
fn promote(conn: &mut PgConnection, owner: Owner, ids: &[Uuid]) -> QueryResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Promoted {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let (table, col) = (owner.table(), owner.column());
    let promoted: Vec<Promoted> = diesel::sql_query(format!(
        "UPDATE {table} SET status = 'customer', version = version + 1, updated_at = now() \
         WHERE id = ANY($1) AND status = 'prospect' \
         AND EXISTS (SELECT 1 FROM orders WHERE {col} = {table}.id AND status <> 'cancelled') RETURNING id"
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    Ok(promoted.into_iter().map(|p| p.id).collect())
}

/// The statuses of [`SALE_STATUSES_SQL`], for the query builder.
const SALE_STATUSES: [&str; 3] = ["pending", "paid", "fulfilled"];

/// Writers touching an order this close to the window's start (by the
/// clock) take the window's lock; the sweep never moves the window further
/// than this ahead of the database's clock.
const SWEEP_MARGIN: chrono::Duration = chrono::Duration::days(7);

/// Takes the window's row lock: shared for writers, exclusive for the sweep.
fn lock_window(conn: &mut PgConnection, exclusive: bool) -> QueryResult<()> {
    let mode = if exclusive { "UPDATE" } else { "SHARE" };
    diesel::sql_query(format!("SELECT 1 FROM spend_window FOR {mode}")).execute(conn).map(drop)
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// The window's new start.
    pub window_start: DateTime<Utc>,
    /// Orders that left the window.
    pub orders: i64,
}

/// Moves the 12-month window to `now` minus 12 months and takes the orders
/// it leaves behind out of the stored spends, in one transaction (the
/// caller's). `now` is a parameter so tests move time; it may not run more
/// than [`SWEEP_MARGIN`] ahead of the database's clock (the writers' lock
/// rule relies on it), and the window never moves back.
pub fn sweep_window(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Swept> {
    use diesel::sql_types::{BigInt, Timestamptz};
    #[derive(QueryableByName)]
    struct Window {
        #[diesel(sql_type = Timestamptz)]
        old: DateTime<Utc>,
        #[diesel(sql_type = Timestamptz)]
        new: DateTime<Utc>,
    }
    lock_window(conn, true)?;
    let w: Window = diesel::sql_query(
        "SELECT window_start AS old, greatest(window_start, \
           least($1::timestamptz, now() + interval '7 days') - interval '12 months') AS new FROM spend_window",
    )
    .bind::<Timestamptz, _>(now)
    .get_result(conn)?;
    if w.new <= w.old {
        return Ok(Swept { window_start: w.old, orders: 0 });
    }
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut moved = 0;
    for owner in [Owner::Client, Owner::Contact] {
        let (table, col) = (owner.table(), owner.column());
        let c: Count = diesel::sql_query(format!(
            "WITH aged AS (SELECT {col} AS id, sum(total_cents)::bigint AS amount, count(*) AS n FROM orders \
               WHERE ordered_at >= $1 AND ordered_at < $2 AND status IN {SALE_STATUSES_SQL} AND {col} IS NOT NULL \
               GROUP BY {col} ORDER BY {col}), \
             upd AS (UPDATE {table} t SET spent_last_12m_cents = t.spent_last_12m_cents - aged.amount \
               FROM aged WHERE t.id = aged.id RETURNING aged.n) \
             SELECT coalesce(sum(n), 0)::bigint AS n FROM upd"
        ))
        .bind::<Timestamptz, _>(w.old)
        .bind::<Timestamptz, _>(w.new)
        .get_result(conn)?;
        moved = moved.max(c.n);
    }
    diesel::sql_query("UPDATE spend_window SET window_start = $1").bind::<Timestamptz, _>(w.new).execute(conn)?;
    Ok(Swept { window_start: w.new, orders: moved })
}
