//! Data-subject requests (API.md §4): the `DsarRequest` type, the
//! `dsarRequest`/`dsarRequests` queries and the request mutations. A
//! `dsar:submit` token sees its own requests only, status only (another's is
//! `NOT_FOUND`): the service decides, this module translates.

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::connection::{Conn, Keyed, first_not_limit, from_page};
use super::{run, to_map};
use crate::pagination::SortKey;
use crate::services::dsar::{self, DsarFilter, DsarOut, DsarSetup};

/// The right exercised.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::services::dsar::DsarType")]
#[serde(rename_all = "snake_case")]
pub enum DsarType {
    /// Art. 15: a copy of the data.
    Access,
    /// Art. 16: correct the data (`changes`).
    Rectification,
    /// Art. 17: erase the data.
    Erasure,
    /// Art. 20: the data provided, machine-readable.
    Portability,
    /// Art. 18: restrict processing.
    Restriction,
    /// Art. 21: object to marketing.
    Objection,
}

/// Where a request stands.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::services::dsar::DsarStatus")]
#[serde(rename_all = "snake_case")]
pub enum DsarStatus {
    /// Waiting for the person to confirm through the link sent to the email on file.
    IdentityUnverified,
    /// Open, due at `dueAt`.
    Received,
    /// Processed; `result` says what was done.
    Completed,
    /// Refused, with a reason and the complaint notice.
    Rejected,
    /// Never verified within 30 days.
    Expired,
}

/// How the subject's identity was established.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::services::dsar::Verification")]
#[serde(rename_all = "snake_case")]
pub enum DsarVerification {
    /// The person followed the one-time link sent to the email on file.
    EmailLink,
    /// A `dsar:submit_verified` partner authenticated the person itself.
    Partner,
    /// Submitted by the controller (`dsar:manage`).
    Controller,
    /// Received before verification existed.
    Legacy,
}

/// Who a request is about.
#[derive(SimpleObject)]
#[graphql(name = "DsarSubject")]
pub struct Subject {
    pub email: Option<String>,
    pub contact_id: Option<Uuid>,
}

/// A data-subject request. For a `dsar:submit` token, the fields holding
/// personal data (`subject`, `changes`, `requestedBy`, `note`, `result`) are null.
pub struct DsarRequest(pub DsarOut);

#[Object]
impl DsarRequest {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> DsarType {
        self.0.kind.into()
    }
    async fn status(&self) -> DsarStatus {
        self.0.status.into()
    }
    async fn subject(&self) -> Option<Subject> {
        self.0.subject.as_ref().map(|s| Subject { email: s.email.clone(), contact_id: s.contact_id })
    }
    /// The token subject that submitted it.
    async fn requester(&self) -> &str {
        &self.0.requester
    }
    async fn received_at(&self) -> DateTime<Utc> {
        self.0.received_at
    }
    /// One month after verification (three once extended); provisional while unverified.
    async fn due_at(&self) -> DateTime<Utc> {
        self.0.due_at
    }
    /// How identity was established; null while unverified.
    async fn verification(&self) -> Option<DsarVerification> {
        self.0.verification.map(Into::into)
    }
    async fn verified_at(&self) -> Option<DateTime<Utc>> {
        self.0.verified_at
    }
    /// While unverified: when the request expires.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// Erasure: who approved it (`dsar:manage` only).
    async fn approved_by(&self) -> Option<&str> {
        self.0.approved_by.as_deref()
    }
    async fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.0.approved_at
    }
    async fn extended(&self) -> bool {
        self.0.extended
    }
    async fn extension_reason(&self) -> Option<&str> {
        self.0.extension_reason.as_deref()
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }
    /// With a rejection: the right to complain to the supervisory authority.
    async fn complaint_notice(&self) -> Option<&str> {
        self.0.complaint_notice
    }
    /// Rectification: the contact fields to set.
    async fn changes(&self) -> Option<Value> {
        self.0.changes.clone().map(Value::Object)
    }
    async fn requested_by(&self) -> Option<&str> {
        self.0.requested_by.as_deref()
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// The submitter's own reference.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    /// Signing key of the status callbacks: in the `submitDsar` answer only.
    async fn callback_secret(&self) -> Option<&str> {
        self.0.callback_secret.as_deref()
    }
    /// What processing did (counts, never personal data).
    async fn result(&self) -> Option<&Value> {
        self.0.result.as_ref()
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

impl Keyed for DsarOut {
    /// Requests are listed by `(created_at, id)`, and `received_at` is `created_at`.
    fn key(&self, _: SortKey) -> (DateTime<Utc>, Uuid) {
        (self.received_at, self.id)
    }
}

/// Who a request is about: exactly one of `email` and `contactId`.
#[derive(InputObject, Serialize)]
#[graphql(name = "DsarSubjectInput")]
pub struct SubjectInput {
    pub email: Option<String>,
    pub contact_id: Option<Uuid>,
}

/// A new data-subject request.
#[derive(InputObject, Serialize)]
pub struct DsarInput {
    /// The right exercised.
    #[graphql(name = "type")]
    #[serde(rename = "type")]
    pub kind: DsarType,
    /// Who it is about.
    pub subject: SubjectInput,
    /// Rectification only: the contact fields to set (snake_case keys, validated as an update is).
    pub changes: Option<Value>,
    /// Who asked (free text, e.g. the relaying shop), at most 500 characters.
    pub requested_by: Option<String>,
    /// At most 2,000 characters.
    pub note: Option<String>,
    /// Each status change is POSTed there, signed with `callbackSecret` (shown once).
    pub callback_url: Option<String>,
    /// The submitter's own reference for this request.
    pub external_id: Option<String>,
}

/// Request queries (`dsar:manage`, or `dsar:submit` for one's own requests).
#[derive(Default)]
pub struct DsarQuery;

#[Object]
impl DsarQuery {
    /// One request (as `GET /v1/dsar/{id}`; another submitter's is `NOT_FOUND`).
    async fn dsar_request(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<DsarRequest>> {
        Ok(Some(DsarRequest(run(ctx, move |c, a| dsar::get(c, a, id)).await?)))
    }

    /// Requests, oldest first, with the filters of `GET /v1/dsar`.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn dsar_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`endCursor` of the previous page.")] after: Option<String>,
        status: Option<DsarStatus>,
        #[graphql(name = "type")] kind: Option<DsarType>,
        #[graphql(desc = "Requests still open whose deadline is before this instant.")] due_before: Option<
            DateTime<Utc>,
        >,
    ) -> Result<Option<Conn<DsarRequest>>> {
        let filter = DsarFilter {
            limit: first.map(i64::from),
            after,
            status: status.map(Into::into),
            kind: kind.map(Into::into),
            due_before,
        };
        let page = run(ctx, move |c, a| dsar::list(c, a, filter).map_err(first_not_limit)).await?;
        Ok(Some(from_page(page, SortKey::CreatedAt, DsarRequest)))
    }
}

/// Request mutations.
#[derive(Default)]
pub struct DsarMutation;

fn reason_body(reason: String) -> Map<String, Value> {
    Map::from_iter([("reason".to_owned(), Value::String(reason))])
}

#[Object]
impl DsarMutation {
    /// Submits a request (as `POST /v1/dsar`; `dsar:submit`,
    /// `dsar:submit_verified` or `dsar:manage`). With `dsar:submit` it starts
    /// as `IDENTITY_UNVERIFIED` until the person follows the link sent to the
    /// email on file. The answer echoes the subject and, with a `callbackUrl`,
    /// carries `callbackSecret`, shown this once.
    async fn submit_dsar(&self, ctx: &Context<'_>, input: DsarInput) -> Result<Option<DsarRequest>> {
        let body = to_map(&input)?;
        let setup = ctx.data::<Arc<DsarSetup>>()?.clone();
        Ok(Some(DsarRequest(run(ctx, move |c, a| dsar::submit(c, a, &setup, body)).await?)))
    }

    /// Runs a request in one transaction; it completes with a `result`
    /// (`dsar:manage`). `CONFLICT` while unverified, or for an erasure
    /// awaiting its approval.
    async fn process_dsar(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<DsarRequest>> {
        let setup = ctx.data::<Arc<DsarSetup>>()?.clone();
        Ok(Some(DsarRequest(run(ctx, move |c, a| dsar::process(c, a, &setup, id)).await?)))
    }

    /// Approves an erasure, as a second person: another `dsar:manage`
    /// subject than the submitter and than whoever processes it.
    async fn approve_dsar(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<DsarRequest>> {
        Ok(Some(DsarRequest(run(ctx, move |c, a| dsar::approve(c, a, id)).await?)))
    }

    /// Rejects a request with a reason; the answer tells the right to complain (`dsar:manage`).
    async fn reject_dsar(&self, ctx: &Context<'_>, id: Uuid, reason: String) -> Result<Option<DsarRequest>> {
        let body = reason_body(reason);
        Ok(Some(DsarRequest(run(ctx, move |c, a| dsar::reject(c, a, id, body)).await?)))
    }

    /// Moves the deadline to three months after receipt: once, before the
    /// first deadline (`dsar:manage`; otherwise `CONFLICT`).
    async fn extend_dsar(&self, ctx: &Context<'_>, id: Uuid, reason: String) -> Result<Option<DsarRequest>> {
        let body = reason_body(reason);
        Ok(Some(DsarRequest(run(ctx, move |c, a| dsar::extend(c, a, id, body)).await?)))
    }
}
