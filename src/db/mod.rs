//! Database access: the r2d2 pool, the helpers that run diesel on the
//! blocking pool (re-running a write whose transaction Postgres aborted for
//! a concurrent one), database creation and embedded migrations.

pub mod schema;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Migrations compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Advisory lock key held while migrating, so two replicas never race.
const MIGRATION_LOCK_KEY: i64 = 0x636c_6965_6e74; // "client"

/// The connection pool shared by every request, behind a fair gate.
///
/// r2d2 wakes its waiters in no particular order, so under load some
/// requests waited far longer than others (p99 in the hundreds of ms with 32
/// connections on an 8-connection pool). The gate is a FIFO semaphore with as
/// many permits as the pool has connections: requests queue in arrival order
/// on the async side, and only a request holding a permit takes a blocking
/// thread and a connection. Waiting longer than the pool timeout is a 503,
/// as before.
///
/// Bulk writes (a batch of 1,000 orders runs for a large fraction of a
/// second) first take a slot of a second, smaller FIFO lane: they queue for
/// up to the bulk timeout instead of the pool timeout, and they never hold
/// more than their slots' share of the connections, so interactive requests
/// keep the rest of the pool.
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<ConnectionManager<PgConnection>>,
    gate: Arc<Semaphore>,
    timeout: Duration,
    bulk: Arc<Semaphore>,
    bulk_slots: usize,
    bulk_waiting: Arc<std::sync::atomic::AtomicUsize>,
    bulk_timeout: Duration,
    retries: prometheus::IntCounterVec,
    /// The free-text guard's mode, in force on the blocking thread of every run.
    text: crate::services::sensitive::Mode,
}

/// A place in the bulk lane, held until the bulk write is done.
pub type BulkSlot = tokio::sync::OwnedSemaphorePermit;

impl DbPool {
    /// Gates an r2d2 pool (its size gives the number of permits), with a
    /// quarter of it (at least one connection) for bulk writes, which queue
    /// for up to 30 s.
    pub fn new(pool: Pool<ConnectionManager<PgConnection>>, timeout: Duration) -> DbPool {
        let size = pool.max_size();
        DbPool {
            pool,
            gate: Arc::new(Semaphore::new(size as usize)),
            timeout,
            bulk: Arc::new(Semaphore::new((size / 4).max(1) as usize)),
            bulk_slots: (size / 4).max(1) as usize,
            bulk_waiting: Arc::default(),
            bulk_timeout: Duration::from_secs(30),
            retries: prometheus::IntCounterVec::new(
                prometheus::Opts::new(
                    "db_transaction_retries_total",
                    "write transactions run again after Postgres aborted them for a concurrent one, by cause",
                ),
                &["cause"],
            )
            .expect("valid metric"),
            text: crate::services::sensitive::Mode::default(),
        }
    }

    /// Sets the free-text guard's mode of every service call on this pool.
    pub fn with_text_mode(mut self, mode: crate::services::sensitive::Mode) -> DbPool {
        self.text = mode;
        self
    }

    /// Sets the bulk lane: how many bulk writes run at once, and how long one
    /// waits for its turn before a 503.
    pub fn with_bulk(mut self, slots: u32, timeout: Duration) -> DbPool {
        self.bulk = Arc::new(Semaphore::new(slots.max(1) as usize));
        self.bulk_slots = slots.max(1) as usize;
        self.bulk_timeout = timeout;
        self
    }

    /// The retry counter (`db_transaction_retries_total`), for `/metrics`.
    pub fn retries(&self) -> &prometheus::IntCounterVec {
        &self.retries
    }

    /// Bulk writes running and queued now (for `/metrics`).
    pub fn bulk_state(&self) -> (usize, usize) {
        let running = self.bulk_slots.saturating_sub(self.bulk.available_permits());
        (running, self.bulk_waiting.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// Counts a queued bulk write for as long as it waits (dropped or not).
struct Waiting(Arc<std::sync::atomic::AtomicUsize>);

impl Waiting {
    fn new(counter: &Arc<std::sync::atomic::AtomicUsize>) -> Waiting {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Waiting(counter.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Waits, in arrival order, for a slot of the bulk lane (503 after the bulk
/// timeout). Taken before reading a bulk body, so that queued requests hold
/// no parsed body in memory.
pub async fn bulk_slot(pool: &DbPool) -> Result<BulkSlot, AppError> {
    let _waiting = Waiting::new(&pool.bulk_waiting);
    match tokio::time::timeout(pool.bulk_timeout, pool.bulk.clone().acquire_owned()).await {
        Ok(Ok(slot)) => Ok(slot),
        _ => Err(AppError::Unavailable("timed out waiting for a bulk write slot".into())),
    }
}

impl std::ops::Deref for DbPool {
    type Target = Pool<ConnectionManager<PgConnection>>;
    fn deref(&self) -> &Self::Target {
        &self.pool
    }
}

/// Session settings of every pooled connection, sent once when r2d2 opens it.
#[derive(Debug, Clone, Copy)]
struct SessionSettings {
    /// `idle_in_transaction_session_timeout`; zero leaves Postgres's (off).
    idle_in_transaction: Duration,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        // A transaction left open (a bug, a hung blocking thread) holds its
        // locks and the xmin horizon that readers of the event feed and
        // VACUUM wait behind: Postgres ends the session after this long idle
        // in it, and r2d2 drops the broken connection.
        //
        // No JIT: its compile time (0.7 s of a 1.4 s segment page on the
        // bench database) is paid on every request of an OLTP service,
        // whose queries are short or index-bound.
        let mut sql = String::from("SET jit = off");
        if !self.idle_in_transaction.is_zero() {
            sql.push_str(&format!(
                "; SET idle_in_transaction_session_timeout = {}",
                self.idle_in_transaction.as_millis().clamp(1, i32::MAX as u128)
            ));
        }
        conn.batch_execute(&sql).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Builds the pool without connecting: the service starts (and reports not
/// ready) even when Postgres is down, and recovers when it comes back. Every
/// connection gets `jit = off` and `idle_in_transaction_session_timeout`
/// (zero: none).
pub fn build_pool(url: &str, size: u32, timeout: Duration, idle_in_transaction: Duration) -> DbPool {
    let pool = Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(timeout)
        // A broken connection surfaces as an error (503) and is dropped by
        // r2d2's `has_broken`; a `SELECT 1` on every checkout would double
        // the round trips of every request.
        .test_on_check_out(false)
        .connection_customizer(Box::new(SessionSettings { idle_in_transaction }))
        .build_unchecked(ConnectionManager::new(url));
    DbPool::new(pool, timeout)
}

/// Runs blocking diesel work on actix's blocking pool with a pooled
/// connection, keeping the caller's tracing span. Async workers never block.
pub async fn run<F, T>(pool: &DbPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let permit = match tokio::time::timeout(pool.timeout, pool.gate.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(AppError::Unavailable("timed out waiting for a database connection".into())),
    };
    let (text, pool) = (pool.text, pool.pool.clone());
    let span = tracing::Span::current();
    actix_web::web::block(move || {
        let _entered = span.enter();
        let _permit = permit;
        let mut conn = pool.get()?;
        crate::services::sensitive::with_mode(text, || f(&mut conn))
    })
    .await?
}

/// Most runs of a write whose transaction a concurrent one aborted.
pub const MAX_ATTEMPTS: u32 = 3;

/// Runs a write like [`run`], running `f` again (up to [`MAX_ATTEMPTS`] in
/// all, after a short jittered pause) when it fails with
/// [`AppError::Contention`]: Postgres aborted its transaction for a
/// concurrent one (deadlock, serialization failure) or rows it read moved
/// before it locked them. Each run again counts in
/// `db_transaction_retries_total`; the last failure answers 503 with
/// `Retry-After`.
///
/// `f` must write in one transaction (the services open their own; see
/// [`transaction`] otherwise), so that an aborted run left nothing behind and
/// the next one starts afresh: it takes its inputs by reference or clones them.
pub async fn run_retrying<F, T>(pool: &DbPool, mut f: F) -> Result<T, AppError>
where
    F: FnMut(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let retries = pool.retries.clone();
    run(pool, move |conn| {
        let mut attempt = 1;
        carried::clear();
        let out = loop {
            match f(conn) {
                Err(AppError::Contention(cause)) if attempt < MAX_ATTEMPTS => {
                    retries.with_label_values(&[cause]).inc();
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                Err(AppError::Contention(cause)) => {
                    tracing::warn!(cause, attempts = attempt, "write aborted by concurrent ones, giving up");
                    break Err(AppError::Contention(cause));
                }
                other => break other,
            }
        };
        carried::clear();
        out
    })
    .await
}

/// Rows a run of a write found it had to lock out of the lock order, and
/// could not (another writer held them): the next run of the same write
/// ([`run_retrying`], on the same blocking thread) locks them with the
/// others, in order and waiting, instead of failing on them again. Without
/// it, a write on owners that keep moving (an order whose buyer changes
/// company while it is upserted) could fail every run in the same way.
pub mod carried {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use uuid::Uuid;

    thread_local! {
        static ROWS: RefCell<BTreeSet<(&'static str, Uuid)>> = const { RefCell::new(BTreeSet::new()) };
    }

    /// Notes that the next run must lock row `id` of `table`.
    pub fn add(table: &'static str, ids: impl IntoIterator<Item = Uuid>) {
        ROWS.with(|r| r.borrow_mut().extend(ids.into_iter().map(|id| (table, id))));
    }

    /// The rows of `table` an earlier run of this write noted.
    pub fn of(table: &'static str) -> Vec<Uuid> {
        ROWS.with(|r| r.borrow().iter().filter(|(t, _)| *t == table).map(|(_, id)| *id).collect())
    }

    pub(super) fn clear() {
        ROWS.with(|r| r.borrow_mut().clear());
    }
}

/// The pause before run `attempt + 1`: 5 to 15 ms, then 10 to 30 ms, so that
/// the transactions that collided do not collide again in step.
fn backoff(attempt: u32) -> Duration {
    let mut b = [0u8; 2];
    let jitter = if getrandom::fill(&mut b).is_ok() { u16::from_le_bytes(b) as u64 % 1000 } else { 500 };
    Duration::from_micros(u64::from(attempt) * (5_000 + jitter * 10))
}

/// Runs `f` in one transaction on a pooled connection, run again whole when
/// Postgres aborts it for a concurrent one (see [`run_retrying`]).
pub async fn transaction<F, T>(pool: &DbPool, mut f: F) -> Result<T, AppError>
where
    F: FnMut(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    run_retrying(pool, move |conn| conn.transaction(&mut f)).await
}

/// True when a connection can be had and answers.
pub async fn ping(pool: &DbPool) -> bool {
    run(pool, |conn| conn.batch_execute("SELECT 1").map_err(AppError::from)).await.is_ok()
}

/// A `SELECT count(*) AS n` row, for raw queries.
#[derive(QueryableByName)]
pub struct Count {
    /// The count.
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Errors of the startup database steps.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The URL cannot be parsed or names no database.
    #[error("invalid DATABASE_URL: {0}")]
    Url(String),
    /// Postgres refused the connection.
    #[error("cannot connect to Postgres: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Creates the database named in `url` if it does not exist yet, connecting
/// to the server's `postgres` maintenance database.
pub fn create_database_if_missing(url: &str) -> Result<(), SetupError> {
    let mut parsed = url::Url::parse(url).map_err(|e| SetupError::Url(e.to_string()))?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if name.is_empty() {
        return Err(SetupError::Url("no database name in the path".into()));
    }
    if let Ok(mut conn) = PgConnection::establish(url) {
        return conn.batch_execute("SELECT 1").map_err(SetupError::from);
    }
    parsed.set_path("/postgres");
    let mut admin = PgConnection::establish(parsed.as_str())?;
    let exists = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(&name)
        .get_result::<Count>(&mut admin)?
        .n
        > 0;
    if !exists {
        let quoted = name.replace('"', "\"\"");
        match admin.batch_execute(&format!("CREATE DATABASE \"{quoted}\"")) {
            // A concurrent replica may have created it first.
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {}
            other => other?,
        }
        tracing::info!(database = %name, "created database");
    }
    Ok(())
}

/// Applies pending migrations under a Postgres advisory lock; returns how
/// many were applied.
pub fn migrate(conn: &mut PgConnection) -> Result<usize, SetupError> {
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
    let result =
        conn.run_pending_migrations(MIGRATIONS).map(|v| v.len()).map_err(|e| SetupError::Migration(e.to_string()));
    conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
    result
}

/// Creates the database if needed and migrates it: what `serve` and
/// `migrate` do before anything else.
pub fn prepare(url: &str) -> Result<usize, SetupError> {
    create_database_if_missing(url)?;
    let mut conn = PgConnection::establish(url)?;
    migrate(&mut conn)
}
