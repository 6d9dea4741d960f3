//! Purposes and the Art. 30 record of processing activities (API.md §4,
//! Register): the `purposes` and `register` queries (`register:read`) and the
//! purpose mutations (`register:write`).

use async_graphql::{Context, Enum, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::types::{LawfulBasis, Status};
use super::{precondition, run, to_map};
use crate::services::register::{self, ActivityOut, PolicyOut, PurposeOut};

/// A purpose of processing, the key consents refer to.
#[derive(SimpleObject)]
pub struct Purpose {
    /// Stable key (`newsletter`), immutable.
    pub key: String,
    pub description: String,
    pub lawful_basis: LawfulBasis,
    /// How long consents and data for this purpose are kept.
    pub retention_days: i32,
    /// Marketing purposes are withdrawn by an objection.
    pub marketing: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented by every write; pass it as `expectedVersion` to update safely.
    pub version: i32,
}

impl From<PurposeOut> for Purpose {
    fn from(p: PurposeOut) -> Self {
        Purpose {
            key: p.key,
            description: p.description,
            lawful_basis: p.lawful_basis.into(),
            retention_days: p.retention_days,
            marketing: p.marketing,
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
        }
    }
}

/// One processing activity of the Art. 30 record.
#[derive(SimpleObject)]
pub struct Activity {
    pub id: Uuid,
    pub name: String,
    /// Keys of the purposes it serves.
    pub purposes: Vec<String>,
    pub lawful_basis: LawfulBasis,
    /// Categories of data subjects.
    pub data_subjects: Vec<String>,
    /// Categories of personal data.
    pub data_categories: Vec<String>,
    /// Recipients of the data.
    pub recipients: Vec<String>,
    /// How long the data is kept.
    pub retention: String,
    /// Transfers outside the EEA and their safeguards.
    pub transfers: String,
    pub security_measures: Vec<String>,
    /// Where the data comes from (Art. 14(2)(f)).
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<ActivityOut> for Activity {
    fn from(a: ActivityOut) -> Self {
        Activity {
            id: a.id,
            name: a.name,
            purposes: a.purposes,
            lawful_basis: a.lawful_basis.into(),
            data_subjects: a.data_subjects,
            data_categories: a.data_categories,
            recipients: a.recipients,
            retention: a.retention,
            transfers: a.transfers,
            security_measures: a.security_measures,
            source: a.source,
            created_at: a.created_at,
            updated_at: a.updated_at,
            version: a.version,
        }
    }
}

/// What starts the retention clock.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::services::register::Basis", name = "RetentionBasis")]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The last interaction initiated by the person (or an order).
    LastInteraction,
    /// The last order.
    LastOrder,
}

/// A retention policy: days of inactivity before erasure, per status.
#[derive(SimpleObject)]
pub struct RetentionPolicy {
    pub status: Status,
    /// Null: never erased automatically.
    pub days: Option<i32>,
    pub basis: Basis,
    pub updated_at: DateTime<Utc>,
}

impl From<PolicyOut> for RetentionPolicy {
    fn from(p: PolicyOut) -> Self {
        RetentionPolicy { status: p.status.into(), days: p.days, basis: p.basis.into(), updated_at: p.updated_at }
    }
}

/// The Art. 30 record of processing activities.
#[derive(SimpleObject)]
pub struct Register {
    pub activities: Vec<Activity>,
    /// The purposes consents refer to.
    pub purposes: Vec<Purpose>,
    pub retention_policies: Vec<RetentionPolicy>,
}

/// A new purpose.
#[derive(InputObject, Serialize)]
pub struct PurposeInput {
    /// Stable key, `^[a-z][a-z0-9_]{1,49}$`; immutable.
    pub key: String,
    /// 1 to 1,000 characters.
    pub description: String,
    pub lawful_basis: LawfulBasis,
    /// 1 to 36,500.
    pub retention_days: i32,
    /// Withdrawn by an objection (default true).
    pub marketing: Option<bool>,
}

/// Changes to a purpose (a merge patch; the key cannot change).
#[derive(InputObject, Serialize)]
pub struct PurposePatch {
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub description: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub lawful_basis: MaybeUndefined<LawfulBasis>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub retention_days: MaybeUndefined<i32>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub marketing: MaybeUndefined<bool>,
}

/// Register queries (`register:read`).
#[derive(Default)]
pub struct RegisterQuery;

#[Object]
impl RegisterQuery {
    /// Every purpose, by key (as `GET /v1/purposes`).
    async fn purposes(&self, ctx: &Context<'_>) -> Result<Option<Vec<Purpose>>> {
        let rows = run(ctx, register::list_purposes).await?;
        Ok(Some(rows.into_iter().map(Purpose::from).collect()))
    }

    /// The Art. 30 record (as `GET /v1/register`).
    async fn register(&self, ctx: &Context<'_>) -> Result<Option<Register>> {
        let r = run(ctx, register::register).await?;
        Ok(Some(Register {
            activities: r.activities.into_iter().map(Activity::from).collect(),
            purposes: r.purposes.into_iter().map(Purpose::from).collect(),
            retention_policies: r.retention_policies.into_iter().map(RetentionPolicy::from).collect(),
        }))
    }
}

/// Purpose mutations (`register:write`).
#[derive(Default)]
pub struct RegisterMutation;

#[Object]
impl RegisterMutation {
    /// Creates a purpose (as `POST /v1/purposes`).
    async fn create_purpose(&self, ctx: &Context<'_>, input: PurposeInput) -> Result<Option<Purpose>> {
        let body = to_map(&input)?;
        Ok(Some(run(ctx, move |c, a| register::create_purpose(c, a, body)).await?.into()))
    }

    /// Updates a purpose (as `PATCH /v1/purposes/{key}`).
    async fn update_purpose(
        &self,
        ctx: &Context<'_>,
        key: String,
        input: PurposePatch,
        expected_version: Option<i32>,
    ) -> Result<Option<Purpose>> {
        let (patch, pre) = (to_map(&input)?, precondition(expected_version));
        Ok(Some(run(ctx, move |c, a| register::update_purpose(c, a, &key, patch, &pre)).await?.into()))
    }
}
