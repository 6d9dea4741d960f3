//! The db layer's transactions: a write aborted by a concurrent one runs
//! again (bounded, counted), then answers 503; pooled sessions bound idle
//! transactions.

use actix_web::http::Method;
use serde_json::json;

use crate::helpers::TestApp;

/// A real deadlock (two writers taking two rows in opposite orders) is run
/// again by the db layer: both writes succeed, and the retry is counted.
#[actix_web::test]
async fn a_deadlocked_write_runs_again_and_is_counted() {
    use diesel::prelude::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Barrier};

    let app = TestApp::new().await;
    let a = crate::clients::create_client(&app, json!({"name": "A"})).await["id"].as_str().unwrap().parse().unwrap();
    let b = crate::clients::create_client(&app, json!({"name": "B"})).await["id"].as_str().unwrap().parse().unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let runs = Arc::new(AtomicU32::new(0));
    let write = |first: uuid::Uuid, second: uuid::Uuid| {
        let (barrier, runs) = (barrier.clone(), runs.clone());
        clientele::db::transaction(&app.state.pool, move |conn| {
            use clientele::db::schema::clients;
            let run = runs.fetch_add(1, Ordering::SeqCst);
            diesel::update(clients::table.find(first)).set(clients::sector.eq("x")).execute(conn)?;
            if run < 2 {
                // Both hold their first row before either asks for its second.
                barrier.wait();
            }
            diesel::update(clients::table.find(second)).set(clients::sector.eq("y")).execute(conn)?;
            Ok(())
        })
    };
    let (r1, r2) = futures_util::future::join(write(a, b), write(b, a)).await;
    assert!(r1.is_ok() && r2.is_ok(), "{r1:?} {r2:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 3, "the victim of the deadlock ran twice");
    let metrics = String::from_utf8(app.send(Method::GET, "/metrics", None, None, &[]).await.raw).unwrap();
    assert!(metrics.contains("db_transaction_retries_total{cause=\"deadlock\"} 1"), "{metrics}");
}

/// A write that keeps colliding gives up after three runs with a 503 and
/// `Retry-After`, never a 500.
#[actix_web::test]
async fn a_write_that_keeps_colliding_answers_503() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let app = TestApp::new().await;
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let r: Result<(), _> = clientele::db::run_retrying(&app.state.pool, move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Err(clientele::error::AppError::Contention(clientele::error::SERIALIZATION_FAILURE))
    })
    .await;
    assert_eq!(runs.load(Ordering::SeqCst), clientele::db::MAX_ATTEMPTS);
    let res = actix_web::ResponseError::error_response(&r.unwrap_err());
    assert_eq!(res.status(), actix_web::http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
}

/// Every pooled connection bounds how long a transaction may sit idle, so an
/// abandoned one cannot hold locks and the xmin horizon back forever.
#[actix_web::test]
async fn pooled_connections_bound_idle_transactions() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        idle_in_transaction_session_timeout: String,
    }
    let app = TestApp::new().await;
    let s = clientele::db::run(&app.state.pool, |conn| {
        Ok(diesel::sql_query("SHOW idle_in_transaction_session_timeout").get_result::<Setting>(conn)?)
    })
    .await
    .unwrap();
    assert_eq!(s.idle_in_transaction_session_timeout, "30s");
}

/// Pooled connections run without JIT: a 10-condition segment's first page
/// spent 0.7 s of its 1.4 s compiling (EXPLAIN ANALYZE on the bench
/// database), a cost an OLTP service pays on every such request.
#[actix_web::test]
async fn pooled_connections_do_not_jit() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        jit: String,
    }
    let app = TestApp::new().await;
    let s = clientele::db::run(&app.state.pool, |conn| Ok(diesel::sql_query("SHOW jit").get_result::<Setting>(conn)?))
        .await
        .unwrap();
    assert_eq!(s.jit, "off");
}
