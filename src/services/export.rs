//! Access (Art. 15) and portability (Art. 20) exports: JSON, or a ZIP of one
//! CSV per kind of record. They hold the subject's data only: no colleague at
//! the same client (Art. 15(4)).

use std::io::Write;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::consents::{current_of, events_of};
use super::contacts::{self, interactions_of, provided};
use super::orders::all_for_contact;
use super::register::register_unchecked;
use crate::db::schema::{clients, dsar_requests};
use crate::error::AppError;
use crate::models::contact::Contact;

/// Which right the export serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Art. 15: everything held, with the register's information.
    Access,
    /// Art. 20: what the person provided, machine-readable.
    Portability,
}

fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Builds the export document of `contact` (`None`: nothing held).
pub fn document(conn: &mut PgConnection, kind: Kind, contact: Option<Contact>) -> Result<Value, AppError> {
    let Some(contact) = contact else {
        return Ok(json!({"data_held": false, "detail": "no personal data is held about this subject"}));
    };
    let id = contact.id;
    let client_id = contact.client_id;
    let out = contacts::out(conn, contact)?;
    let orders = all_for_contact(conn, id)?;
    let history = events_of(conn, id)?;
    if kind == Kind::Portability {
        return Ok(json!({
            "data_held": true,
            "contact": provided(&out),
            "orders": to_value(&orders),
            "consents": to_value(&history),
        }));
    }
    let client = match client_id {
        Some(cid) => clients::table
            .find(cid)
            .select((clients::id, clients::name))
            .first::<(Uuid, String)>(conn)
            .optional()?
            .map(|(id, name)| json!({"id": id, "name": name})),
        None => None,
    };
    type Req = (Uuid, String, String, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>);
    let requests: Vec<Req> = dsar_requests::table
        .filter(dsar_requests::subject_contact_id.eq(id))
        .order(dsar_requests::received_at)
        .select((
            dsar_requests::id,
            dsar_requests::type_,
            dsar_requests::status,
            dsar_requests::received_at,
            dsar_requests::closed_at,
        ))
        .load(conn)?;
    let register = register_unchecked(conn)?;
    // Art. 15(1)(g): where the data came from, when not from the person.
    let source = json!({
        "provenance": out.provenance,
        "acquisition_channel": out.source,
        "art14_notice_due_at": out.art14_notice_due_at,
        "art14_notice_sent_at": out.art14_notice_sent_at,
    });
    Ok(json!({
        "data_held": true,
        "source": source,
        "contact": to_value(&out),
        "client": client,
        "orders": to_value(&orders),
        "consents": {"current": to_value(&current_of(&history)), "history": to_value(&history)},
        "interactions": to_value(&interactions_of(conn, id)?),
        "requests": requests.into_iter().map(|r| json!({
            "id": r.0, "type": r.1, "status": r.2, "received_at": r.3, "closed_at": r.4
        })).collect::<Vec<_>>(),
        "processing": {
            "purposes": to_value(&register.purposes),
            "activities": to_value(&register.activities),
            "retention_policies": to_value(&register.retention_policies),
            "source": out.source,
            "lawful_basis": out.lawful_basis,
            "right_to_complain": super::dsar::COMPLAINT_NOTICE,
        },
    }))
}

/// Flattens a JSON value to a CSV cell.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes rows (JSON objects) as CSV, columns in the order first seen.
fn csv_of(rows: &[Value]) -> Result<Vec<u8>, AppError> {
    let mut headers: Vec<String> = Vec::new();
    for r in rows {
        for k in r.as_object().into_iter().flat_map(|m| m.keys()) {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).map_err(AppError::internal)?;
    for r in rows {
        w.write_record(headers.iter().map(|h| cell(&r[h]))).map_err(AppError::internal)?;
    }
    w.into_inner().map_err(|e| AppError::Internal(e.to_string().into()))
}

fn rows(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// The export as a ZIP of one CSV per kind of record.
pub fn zip(doc: &Value) -> Result<Vec<u8>, AppError> {
    let mut files: Vec<(&str, Vec<Value>)> = vec![("contact.csv", rows(&doc["contact"]))];
    let orders = rows(&doc["orders"]);
    let lines: Vec<Value> = orders
        .iter()
        .flat_map(|o| {
            rows(&o["lines"]).into_iter().map(move |mut l| {
                l["order_id"] = o["id"].clone();
                l
            })
        })
        .collect();
    let orders_flat: Vec<Value> = orders
        .into_iter()
        .map(|mut o| {
            o.as_object_mut().map(|m| m.remove("lines"));
            o
        })
        .collect();
    files.push(("orders.csv", orders_flat));
    files.push(("order_lines.csv", lines));
    let history = if doc["consents"]["history"].is_null() { &doc["consents"] } else { &doc["consents"]["history"] };
    files.push(("consents.csv", rows(history)));
    if !doc["interactions"].is_null() {
        files.push(("interactions.csv", rows(&doc["interactions"])));
        files.push(("requests.csv", rows(&doc["requests"])));
        files.push(("client.csv", rows(&doc["client"])));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        zip.start_file(name, opts).map_err(AppError::internal)?;
        zip.write_all(&csv_of(&data)?).map_err(AppError::internal)?;
    }
    Ok(zip.finish().map_err(AppError::internal)?.into_inner())
}
