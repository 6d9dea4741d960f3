//! Purposes, the Art. 30 record of processing activities, and retention policies.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::audit;
use super::to_doc;
use super::{Precondition, changed_fields, decode, patched};
use crate::auth::{Actor, Scope};
use crate::db::schema::{processing_activities, purposes, retention_policies};
use crate::domain::{LawfulBasis, Status};
use crate::error::AppError;
use crate::models::register::{Activity, ActivityWrite, Purpose, PurposeWrite, RetentionPolicy};

/// The writable fields of a purpose.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurposeInput {
    /// Stable key (`^[a-z][a-z0-9_]{1,49}$`), used by consents; immutable.
    #[validate(required, length(min = 2, max = 50))]
    #[schema(required = true, example = "webinar_invitations", min_length = 2, max_length = 50)]
    pub key: Option<String>,
    #[validate(required, length(min = 1, max = 1000))]
    #[schema(required = true, min_length = 1, max_length = 1000)]
    pub description: Option<String>,
    #[validate(required)]
    #[schema(required = true)]
    pub lawful_basis: Option<LawfulBasis>,
    /// How long consents and data for this purpose are kept.
    #[validate(required, range(min = 1, max = 36500))]
    #[schema(required = true, minimum = 1, maximum = 36500)]
    pub retention_days: Option<i32>,
    /// Marketing purposes are withdrawn by an objection (default true).
    pub marketing: Option<bool>,
}

/// A purpose as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurposeOut {
    pub key: String,
    pub description: String,
    pub lawful_basis: LawfulBasis,
    pub retention_days: i32,
    pub marketing: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<Purpose> for PurposeOut {
    fn from(p: Purpose) -> Self {
        PurposeOut {
            key: p.key,
            description: p.description,
            lawful_basis: p.lawful_basis.parse().unwrap_or(LawfulBasis::Consent),
            retention_days: p.retention_days,
            marketing: p.marketing,
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
        }
    }
}

/// The rule on purpose keys below, as a pattern for the OpenAPI document.
pub const PURPOSE_KEY_PATTERN: &str = "^[a-z][a-z0-9_]*$";

fn validate_purpose(map: Map<String, Value>) -> Result<PurposeWrite, AppError> {
    let (input, mut errors) = decode::<PurposeInput>(map);
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    if let Some(k) = &input.key {
        let b = k.as_bytes();
        if !(b.first().is_some_and(u8::is_ascii_lowercase)
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_'))
        {
            errors.push("key", "invalid_format", "lowercase letters, digits and `_`, starting with a letter");
        }
    }
    errors.finish()?;
    Ok(PurposeWrite {
        key: input.key.unwrap_or_default(),
        description: input.description.unwrap_or_default(),
        lawful_basis: input.lawful_basis.unwrap_or(LawfulBasis::Consent).as_str().into(),
        retention_days: input.retention_days.unwrap_or(1),
        marketing: input.marketing.unwrap_or(true),
    })
}

/// All purposes (`GET /v1/purposes`, scope `register:read`).
pub fn list_purposes(conn: &mut PgConnection, actor: &Actor) -> Result<Vec<PurposeOut>, AppError> {
    actor.require(Scope::RegisterRead)?;
    all_purposes(conn)
}

/// All purposes, without scope checks (exports).
pub fn all_purposes(conn: &mut PgConnection) -> Result<Vec<PurposeOut>, AppError> {
    let rows: Vec<Purpose> = purposes::table.select(Purpose::as_select()).order(purposes::key).load(conn)?;
    Ok(rows.into_iter().map(PurposeOut::from).collect())
}

/// `POST /v1/purposes`.
pub fn create_purpose(
    conn: &mut PgConnection,
    actor: &Actor,
    body: Map<String, Value>,
) -> Result<PurposeOut, AppError> {
    actor.require(Scope::RegisterWrite)?;
    let write = validate_purpose(body)?;
    conn.transaction(|conn| {
        let row =
            diesel::insert_into(purposes::table).values(&write).returning(Purpose::as_returning()).get_result(conn)?;
        audit::record(conn, actor, "purpose.created", "purpose", &row.key, audit::set_fields(&to_doc(&write)))?;
        Ok(row.into())
    })
    .map_err(|e| match e {
        AppError::Conflict { .. } => AppError::Conflict {
            code: "already_exists",
            detail: "a purpose with this key exists".into(),
            field: Some("key".into()),
        },
        other => other,
    })
}

/// `PATCH /v1/purposes/{key}` (merge patch; the key is immutable).
pub fn update_purpose(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &str,
    patch: Map<String, Value>,
    pre: &Precondition,
) -> Result<PurposeOut, AppError> {
    actor.require(Scope::RegisterWrite)?;
    if key.contains('\0') {
        return Err(AppError::NotFound("purpose"));
    }
    conn.transaction(|conn| {
        let row: Purpose = purposes::table
            .find(key)
            .select(Purpose::as_select())
            .for_update()
            .first(conn)
            .optional()?
            .ok_or(AppError::NotFound("purpose"))?;
        let current = PurposeWrite {
            key: row.key.clone(),
            description: row.description.clone(),
            lawful_basis: row.lawful_basis.clone(),
            retention_days: row.retention_days,
            marketing: row.marketing,
        };
        // 422 before 412: see `clients::update`.
        let write = validate_purpose(patched(&current, patch)?)?;
        pre.check(row.version)?;
        if write.key != current.key {
            return Err(AppError::field("key", "immutable", "a purpose key cannot change"));
        }
        if write == current {
            return Ok(row.into());
        }
        audit::record(
            conn,
            actor,
            "purpose.updated",
            "purpose",
            key,
            changed_fields(&to_doc(&current), &to_doc(&write)),
        )?;
        let row = diesel::update(purposes::table.find(key))
            .set((&write, purposes::version.eq(purposes::version + 1), purposes::updated_at.eq(diesel::dsl::now)))
            .returning(Purpose::as_returning())
            .get_result(conn)?;
        Ok(row.into())
    })
}

/// One processing activity of the Art. 30 record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    #[validate(required, length(min = 1, max = 200))]
    #[schema(required = true, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub purposes: Option<Vec<String>>,
    #[validate(required)]
    #[schema(required = true)]
    pub lawful_basis: Option<LawfulBasis>,
    /// Categories of data subjects.
    pub data_subjects: Option<Vec<String>>,
    /// Categories of personal data.
    pub data_categories: Option<Vec<String>>,
    /// Recipients of the data.
    pub recipients: Option<Vec<String>>,
    /// How long the data is kept.
    #[validate(required, length(min = 1, max = 1000))]
    #[schema(required = true, min_length = 1, max_length = 1000)]
    pub retention: Option<String>,
    /// Transfers outside the EEA and their safeguards.
    #[validate(length(max = 1000))]
    #[schema(max_length = 1000)]
    pub transfers: Option<String>,
    pub security_measures: Option<Vec<String>>,
    /// Where the data comes from (Art. 14(2)(f)).
    #[validate(length(max = 1000))]
    #[schema(max_length = 1000)]
    pub source: Option<String>,
}

/// A processing activity as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivityOut {
    pub id: Uuid,
    pub name: String,
    pub purposes: Vec<String>,
    pub lawful_basis: LawfulBasis,
    pub data_subjects: Vec<String>,
    pub data_categories: Vec<String>,
    pub recipients: Vec<String>,
    pub retention: String,
    pub transfers: String,
    pub security_measures: Vec<String>,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl ActivityOut {
    /// The writable document, the base of a merge patch.
    fn input(&self) -> ActivityInput {
        ActivityInput {
            name: Some(self.name.clone()),
            purposes: Some(self.purposes.clone()),
            lawful_basis: Some(self.lawful_basis),
            data_subjects: Some(self.data_subjects.clone()),
            data_categories: Some(self.data_categories.clone()),
            recipients: Some(self.recipients.clone()),
            retention: Some(self.retention.clone()),
            transfers: Some(self.transfers.clone()),
            security_measures: Some(self.security_measures.clone()),
            source: Some(self.source.clone()),
        }
    }
}

fn strings(v: Value) -> Vec<String> {
    serde_json::from_value(v).unwrap_or_default()
}

impl From<Activity> for ActivityOut {
    fn from(a: Activity) -> Self {
        ActivityOut {
            id: a.id,
            name: a.name,
            purposes: strings(a.purposes),
            lawful_basis: a.lawful_basis.parse().unwrap_or(LawfulBasis::Consent),
            data_subjects: strings(a.data_subjects),
            data_categories: strings(a.data_categories),
            recipients: strings(a.recipients),
            retention: a.retention,
            transfers: a.transfers,
            security_measures: strings(a.security_measures),
            source: a.source,
            created_at: a.created_at,
            updated_at: a.updated_at,
            version: a.version,
        }
    }
}

fn validate_activity(map: Map<String, Value>) -> Result<ActivityWrite, AppError> {
    let (input, errors) = decode::<ActivityInput>(map);
    errors.finish()?;
    let i = input.ok_or_else(|| AppError::field("body", "invalid", "not an activity"))?;
    let list = |v: Option<Vec<String>>| Value::from(v.unwrap_or_default());
    Ok(ActivityWrite {
        name: i.name.unwrap_or_default(),
        purposes: list(i.purposes),
        lawful_basis: i.lawful_basis.unwrap_or(LawfulBasis::Consent).as_str().into(),
        data_subjects: list(i.data_subjects),
        data_categories: list(i.data_categories),
        recipients: list(i.recipients),
        retention: i.retention.unwrap_or_default(),
        transfers: i.transfers.unwrap_or_else(|| "none outside the EEA".into()),
        security_measures: list(i.security_measures),
        source: i.source.unwrap_or_else(|| "the data subject".into()),
    })
}

/// The Art. 30 record (`GET /v1/register`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterOut {
    pub activities: Vec<ActivityOut>,
    /// The purposes consents refer to.
    pub purposes: Vec<PurposeOut>,
    pub retention_policies: Vec<PolicyOut>,
}

/// `GET /v1/register`.
pub fn register(conn: &mut PgConnection, actor: &Actor) -> Result<RegisterOut, AppError> {
    actor.require(Scope::RegisterRead)?;
    register_unchecked(conn)
}

/// The register without scope checks (access exports carry it, Art. 15(1)).
pub fn register_unchecked(conn: &mut PgConnection) -> Result<RegisterOut, AppError> {
    let rows: Vec<Activity> =
        processing_activities::table.select(Activity::as_select()).order(processing_activities::name).load(conn)?;
    Ok(RegisterOut {
        activities: rows.into_iter().map(ActivityOut::from).collect(),
        purposes: all_purposes(conn)?,
        retention_policies: policies_unchecked(conn)?,
    })
}

/// `POST /v1/register/activities`.
pub fn create_activity(
    conn: &mut PgConnection,
    actor: &Actor,
    body: Map<String, Value>,
) -> Result<ActivityOut, AppError> {
    actor.require(Scope::RegisterWrite)?;
    let write = validate_activity(body)?;
    conn.transaction(|conn| {
        let row = diesel::insert_into(processing_activities::table)
            .values((processing_activities::id.eq(Uuid::now_v7()), &write))
            .returning(Activity::as_returning())
            .get_result(conn)?;
        audit::record(
            conn,
            actor,
            "register.activity_created",
            "processing_activity",
            row.id,
            audit::set_fields(&to_doc(&write)),
        )?;
        Ok(row.into())
    })
}

/// `PATCH /v1/register/activities/{id}`.
pub fn update_activity(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    patch: Map<String, Value>,
    pre: &Precondition,
) -> Result<ActivityOut, AppError> {
    actor.require(Scope::RegisterWrite)?;
    conn.transaction(|conn| {
        let row: Activity = processing_activities::table
            .find(id)
            .select(Activity::as_select())
            .for_update()
            .first(conn)
            .optional()?
            .ok_or(AppError::NotFound("processing activity"))?;
        let base = ActivityOut::from(row.clone()).input();
        let map = patched(&base, patch)?;
        let fields = changed_fields(&to_doc(&base), &Value::Object(map.clone()));
        // 422 before 412: see `clients::update`.
        let write = validate_activity(map)?;
        pre.check(row.version)?;
        if fields.is_empty() {
            return Ok(row.into());
        }
        audit::record(conn, actor, "register.activity_updated", "processing_activity", id, fields)?;
        let row = diesel::update(processing_activities::table.find(id))
            .set((
                &write,
                processing_activities::version.eq(processing_activities::version + 1),
                processing_activities::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Activity::as_returning())
            .get_result(conn)?;
        Ok(row.into())
    })
}

/// What starts the retention clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The last interaction initiated by the person (or an order).
    LastInteraction,
    /// The last order.
    LastOrder,
}

/// A retention policy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyOut {
    pub status: Status,
    /// Days of inactivity before erasure; null: never erased automatically.
    pub days: Option<i32>,
    pub basis: Basis,
    pub updated_at: DateTime<Utc>,
}

/// One policy to set.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    #[validate(required)]
    #[schema(required = true)]
    pub status: Option<Status>,
    /// 1 to 36,500 days; null: never.
    #[validate(range(min = 1, max = 36500))]
    #[schema(minimum = 1, maximum = 36500)]
    pub days: Option<i32>,
    pub basis: Option<Basis>,
}

/// Body of `PUT /v1/retention/policies`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoliciesInput {
    #[validate(required, nested)]
    #[schema(required = true)]
    pub policies: Option<Vec<PolicyInput>>,
}

fn policies_unchecked(conn: &mut PgConnection) -> Result<Vec<PolicyOut>, AppError> {
    let rows: Vec<RetentionPolicy> =
        retention_policies::table.select(RetentionPolicy::as_select()).order(retention_policies::status).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|p| PolicyOut {
            status: p.status.parse().unwrap_or(Status::Prospect),
            days: p.days,
            basis: if p.basis == "last_order" { Basis::LastOrder } else { Basis::LastInteraction },
            updated_at: p.updated_at,
        })
        .collect())
}

/// `GET /v1/retention/policies`.
pub fn policies(conn: &mut PgConnection, actor: &Actor) -> Result<Vec<PolicyOut>, AppError> {
    actor.require(Scope::RegisterRead)?;
    policies_unchecked(conn)
}

/// `PUT /v1/retention/policies`: sets the listed policies (others unchanged).
pub fn set_policies(
    conn: &mut PgConnection,
    actor: &Actor,
    body: Map<String, Value>,
) -> Result<Vec<PolicyOut>, AppError> {
    actor.require(Scope::RegisterWrite)?;
    let (input, errors) = decode::<PoliciesInput>(body);
    errors.finish()?;
    let list = input.and_then(|i| i.policies).unwrap_or_default();
    conn.transaction(|conn| {
        for p in &list {
            let status = p.status.map(|s| s.as_str()).unwrap_or_default();
            let basis = match p.basis {
                Some(Basis::LastOrder) => "last_order",
                Some(Basis::LastInteraction) => "last_interaction",
                None if status == "prospect" => "last_interaction",
                None => "last_order",
            };
            diesel::update(retention_policies::table.find(status))
                .set((
                    retention_policies::days.eq(p.days),
                    retention_policies::basis.eq(basis),
                    retention_policies::updated_at.eq(diesel::dsl::now),
                    retention_policies::version.eq(retention_policies::version + 1),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                actor,
                "retention.policy_updated",
                "retention_policy",
                status,
                vec!["days".into(), "basis".into()],
            )?;
        }
        policies_unchecked(conn)
    })
}
