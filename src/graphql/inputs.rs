//! Typed input objects of the mutations. Each serialises (serde, snake_case)
//! to the JSON object a REST body would carry, and the same service function
//! validates it, so the failing fields are the same on both transports.
//!
//! `*Input` types create (or fully replace, for an upsert); `*Patch` types are
//! JSON merge patches: an absent field is left as it is, `null` clears it.

use async_graphql::{InputObject, MaybeUndefined};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::types::{Cents, Direction, InteractionKind, LawfulBasis, OrderStatus, Status};

/// A postal address; it replaces the whole address.
#[derive(InputObject, Serialize)]
pub struct AddressInput {
    /// First line (street), 1 to 200 characters.
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// City, 1 to 100 characters.
    pub city: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

/// A new client (company).
#[derive(InputObject, Serialize)]
pub struct ClientInput {
    /// Company name, 1 to 200 characters.
    pub name: String,
    /// Lifecycle status (default `PROSPECT`).
    pub status: Option<Status>,
    /// SIREN: 9 digits with a valid Luhn key. Unique.
    pub siren: Option<String>,
    /// SIRET: 14 digits; its first 9 digits are the SIREN.
    pub siret: Option<String>,
    /// EU VAT number; for FR the key must match the SIREN.
    pub vat_number: Option<String>,
    /// NAF/APE code, `NN.NNL`.
    pub naf_code: Option<String>,
    /// Free-text sector.
    pub sector: Option<String>,
    /// Head count (≥ 0).
    pub employee_count: Option<i32>,
    /// Annual revenue in minor units (≥ 0); needs `currency`.
    pub annual_revenue_cents: Option<Cents>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// Web site (absolute http(s) URL).
    pub website: Option<String>,
    /// Billing address.
    pub billing_address: Option<AddressInput>,
    /// How the company was acquired.
    pub acquisition_channel: Option<String>,
    /// Account owner.
    pub owner: Option<String>,
    /// Tags (at most 50, 1 to 50 characters each).
    pub tags: Option<Vec<String>>,
    /// Free-form object (at most 50 keys, 16 KiB).
    pub custom_fields: Option<Value>,
}

/// Changes to a client (a JSON merge patch: absent fields are kept, `null` clears).
#[derive(InputObject, Serialize)]
pub struct ClientPatch {
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub status: MaybeUndefined<Status>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub siren: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub siret: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub vat_number: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub naf_code: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub sector: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub employee_count: MaybeUndefined<i32>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub annual_revenue_cents: MaybeUndefined<Cents>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub currency: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub website: MaybeUndefined<String>,
    /// Replaces the whole address.
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub billing_address: MaybeUndefined<AddressInput>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub acquisition_channel: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub owner: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub tags: MaybeUndefined<Vec<String>>,
    /// Merged key by key into the stored object (`null` removes a key).
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub custom_fields: MaybeUndefined<Value>,
}

/// A new contact (person): at least an email, a phone or a last name.
#[derive(InputObject, Serialize)]
pub struct ContactInput {
    /// The company this person works for.
    pub client_id: Option<Uuid>,
    /// 1 to 100 characters.
    pub first_name: Option<String>,
    /// 1 to 100 characters.
    pub last_name: Option<String>,
    /// Unique, case-insensitive.
    pub email: Option<String>,
    /// E.164 (`+33612345678`).
    pub phone: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// In the past.
    pub birth_date: Option<NaiveDate>,
    /// Lifecycle status (default `PROSPECT`).
    pub status: Option<Status>,
    /// Acquisition channel.
    pub source: Option<String>,
    /// Lawful basis of the processing (default `LEGITIMATE_INTEREST`).
    pub lawful_basis: Option<LawfulBasis>,
    /// Last contact initiated by the person (the clock of prospect retention).
    pub last_interaction_at: Option<DateTime<Utc>>,
    /// Tags (at most 50, 1 to 50 characters each).
    pub tags: Option<Vec<String>>,
    /// Free-form object (at most 50 keys, 16 KiB).
    pub custom_fields: Option<Value>,
    /// Default `PROFESSIONAL` with a `clientId`, else `CONSUMER`.
    pub audience: Option<super::types::Audience>,
    /// Where the data came from, as in REST (snake_case keys: `source_type`,
    /// `vendor`, `acquired_at`, `collected_at`, `vendor_proof_ref`).
    pub provenance: Option<Value>,
}

/// Changes to a contact (a JSON merge patch: absent fields are kept, `null` clears).
#[derive(InputObject, Serialize)]
pub struct ContactPatch {
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub client_id: MaybeUndefined<Uuid>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub first_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub last_name: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub email: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub phone: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub job_title: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub birth_date: MaybeUndefined<NaiveDate>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub status: MaybeUndefined<Status>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub source: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub lawful_basis: MaybeUndefined<LawfulBasis>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub last_interaction_at: MaybeUndefined<DateTime<Utc>>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub tags: MaybeUndefined<Vec<String>>,
    /// Merged key by key into the stored object (`null` removes a key).
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub custom_fields: MaybeUndefined<Value>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub audience: MaybeUndefined<super::types::Audience>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub provenance: MaybeUndefined<Value>,
}

/// A new interaction with a contact.
#[derive(InputObject, Serialize)]
pub struct InteractionInput {
    /// Call, email, meeting or note.
    pub kind: InteractionKind,
    /// `INBOUND` (from the person: moves `lastInteractionAt`) or `OUTBOUND`.
    pub direction: Direction,
    /// When it happened (default: now). Not in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// At most 2,000 characters.
    pub summary: Option<String>,
}

/// The buyer of an order, matched to a contact by email (created if absent,
/// under the `contract` lawful basis).
#[derive(InputObject, Serialize)]
pub struct CustomerInput {
    /// Email (the matching key).
    pub email: String,
    /// 1 to 100 characters.
    pub first_name: Option<String>,
    /// 1 to 100 characters.
    pub last_name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
}

/// One line of an order.
#[derive(InputObject, Serialize)]
pub struct OrderLineInput {
    /// Stock keeping unit.
    pub sku: Option<String>,
    /// Product name, 1 to 500 characters.
    pub name: String,
    /// More than 0.
    pub quantity: i32,
    /// At least 0, minor units.
    pub unit_price_cents: Cents,
}

/// An order: `clientId` and/or `contactId`, or `customer` instead of `contactId`.
#[derive(InputObject, Serialize)]
pub struct OrderInput {
    /// The buying company.
    pub client_id: Option<Uuid>,
    /// The buying person.
    pub contact_id: Option<Uuid>,
    /// Instead of `contactId`: the buyer, matched by email or created.
    pub customer: Option<CustomerInput>,
    /// Origin system, lowercase (`shopify`...). Default `api`.
    pub source: Option<String>,
    /// Id in the origin system; unique per source. Required in a batch.
    pub external_id: Option<String>,
    /// Human-facing order number.
    pub number: Option<String>,
    /// Life-cycle status.
    pub status: OrderStatus,
    /// ISO 4217.
    pub currency: String,
    /// Minor units, ≥ 0.
    pub total_cents: Cents,
    /// Not in the future. Default: the time the order is created; an upsert
    /// without it keeps the stored date, so an identical retry is `UNCHANGED`.
    pub ordered_at: Option<DateTime<Utc>>,
    /// At most 500 lines.
    pub lines: Option<Vec<OrderLineInput>>,
}

/// Changes to an order (a JSON merge patch: absent fields are kept, `null`
/// clears; `lines` replaces every line).
#[derive(InputObject, Serialize)]
pub struct OrderPatch {
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub client_id: MaybeUndefined<Uuid>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub contact_id: MaybeUndefined<Uuid>,
    /// Replaces `contactId` by the contact matched (or created) by email.
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub customer: MaybeUndefined<CustomerInput>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub source: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub external_id: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub number: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub status: MaybeUndefined<OrderStatus>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub currency: MaybeUndefined<String>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub total_cents: MaybeUndefined<Cents>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub ordered_at: MaybeUndefined<DateTime<Utc>>,
    #[serde(skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub lines: MaybeUndefined<Vec<OrderLineInput>>,
}
