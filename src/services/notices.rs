//! Art. 14 notices: a contact whose data was not obtained from the person
//! (bought, from a partner, from a public register) must be told, naming the
//! source, within a month of acquisition. `POST /v1/contacts/{id}/notices`
//! records that it was; `GET /v1/notices/due` lists what is due or overdue.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::decode;
use super::events;
use crate::auth::{Actor, Scope};
use crate::db::schema::{contact_notices, contacts};
use crate::error::AppError;
use crate::models::contact as contact_model;
use crate::pagination::Page;

/// How the notice reached the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeChannel {
    Email,
    Postal,
    Sms,
    Phone,
    InPerson,
}

impl NoticeChannel {
    fn as_str(self) -> &'static str {
        match self {
            NoticeChannel::Email => "email",
            NoticeChannel::Postal => "postal",
            NoticeChannel::Sms => "sms",
            NoticeChannel::Phone => "phone",
            NoticeChannel::InPerson => "in_person",
        }
    }
}

/// A notice sent.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeInput {
    #[validate(required)]
    #[schema(required = true)]
    pub channel: Option<NoticeChannel>,
    /// When it was sent (default now); not in the future.
    pub sent_at: Option<DateTime<Utc>>,
    /// The version of the notice's text (which names the source).
    #[validate(required, length(min = 1, max = 100))]
    #[schema(required = true, example = "art14-v2", min_length = 1, max_length = 100)]
    pub template_version: Option<String>,
}

/// A recorded notice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoticeOut {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub channel: NoticeChannel,
    pub sent_at: DateTime<Utc>,
    pub template_version: String,
    /// The token `sub` that recorded it.
    pub recorded_by: String,
}

/// `POST /v1/contacts/{id}/notices` (`contacts:write`).
pub fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    contact_id: Uuid,
    body: Map<String, Value>,
) -> Result<NoticeOut, AppError> {
    actor.require(Scope::ContactsWrite)?;
    let (input, mut errors) = decode::<NoticeInput>(body);
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    let now = Utc::now().trunc_subsecs(6);
    let sent_at = input.sent_at.map(|t| t.trunc_subsecs(6)).unwrap_or(now);
    if sent_at > now + chrono::Duration::minutes(5) {
        errors.push("sent_at", "in_future", "a notice is recorded once sent");
    }
    errors.finish()?;
    conn.transaction(|conn| {
        contact_model::find(conn, contact_id, true)?.ok_or(AppError::NotFound("contact"))?;
        let out = NoticeOut {
            id: Uuid::now_v7(),
            contact_id,
            channel: input.channel.expect("required"),
            sent_at,
            template_version: input.template_version.unwrap_or_default(),
            recorded_by: actor.sub.clone(),
        };
        diesel::insert_into(contact_notices::table)
            .values((
                contact_notices::id.eq(out.id),
                contact_notices::contact_id.eq(contact_id),
                contact_notices::channel.eq(out.channel.as_str()),
                contact_notices::sent_at.eq(out.sent_at),
                contact_notices::template_version.eq(&out.template_version),
                contact_notices::recorded_by.eq(&actor.sub),
            ))
            .execute(conn)?;
        let row = diesel::update(contacts::table.find(contact_id))
            .set((
                contacts::art14_notice_sent_at.eq(sent_at),
                contacts::version.eq(contacts::version + 1),
                contacts::updated_at.eq(diesel::dsl::now),
            ))
            .returning(contact_model::Contact::as_returning())
            .get_result(conn)?;
        let doc = super::contacts::out(conn, row)?;
        let fields = vec!["art14_notice_sent_at".into()];
        events::change(conn, actor, "contact.updated", "contact", contact_id, fields, serde_json::to_value(doc).ok())?;
        Ok(out)
    })
}

/// Filters of `GET /v1/notices/due`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DueFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    /// Only notices due before this instant (default: every one not yet sent).
    pub due_before: Option<DateTime<Utc>>,
}

/// A contact owed a notice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DueOut {
    pub contact_id: Uuid,
    pub due_at: DateTime<Utc>,
    /// Past due.
    pub overdue: bool,
    /// Where the data came from: what the notice must name.
    #[schema(value_type = Option<Object>)]
    pub provenance: Option<Value>,
}

/// `GET /v1/notices/due` (`contacts:read`): soonest first.
pub fn due(conn: &mut PgConnection, actor: &Actor, f: DueFilter) -> Result<Page<DueOut>, AppError> {
    actor.require(Scope::ContactsRead)?;
    let page = crate::pagination::PageRequest::parse(f.limit, f.after.as_deref(), None)?;
    let mut q = contacts::table
        .filter(contacts::art14_notice_due_at.is_not_null().and(contacts::art14_notice_sent_at.is_null()))
        .select((contacts::id, contacts::art14_notice_due_at, contacts::provenance))
        .into_boxed();
    if let Some(t) = f.due_before {
        q = q.filter(contacts::art14_notice_due_at.lt(t));
    }
    if let Some(c) = page.after {
        q = q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(contacts.art14_notice_due_at, contacts.id) > (")
                .bind::<diesel::sql_types::Timestamptz, _>(c.at())
                .sql(", ")
                .bind::<diesel::sql_types::Uuid, _>(c.id)
                .sql(")"),
        );
    }
    let rows: Vec<(Uuid, Option<DateTime<Utc>>, Option<Value>)> =
        q.order((contacts::art14_notice_due_at, contacts::id)).limit(page.limit + 1).load(conn)?;
    let now = Utc::now();
    let rows: Vec<DueOut> = rows
        .into_iter()
        .map(|(id, due, provenance)| {
            let due_at = due.unwrap_or(now);
            DueOut { contact_id: id, due_at, overdue: due_at < now, provenance }
        })
        .collect();
    Ok(page.page(rows, |r: &DueOut| (r.due_at, r.contact_id), |r| r))
}
