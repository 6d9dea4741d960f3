//! Duplicate candidates (API.md §9): records that may be the same person or
//! company as a given one or as a draft about to be created.
//!
//! Contacts: the same mailbox (`email_key`: lowercased, without a `+tag`),
//! the same E.164 phone, or a similar name (`pg_trgm` similarity of
//! `name_key`, unaccented) at the same client. Clients: the same SIREN, the
//! same VAT number, or a similar name in the same postal code. Each rule is
//! an index probe (migration 000011); a candidate's score combines the rules
//! it matched as independent evidence, `1 - Π(1 - wᵢ)`.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Double, Nullable, Text, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::Errors;
use crate::auth::{Actor, Scope};
use crate::db::schema::{clients, contacts};
use crate::domain::{Email, Phone, Siren, VatNumber};
use crate::error::AppError;

/// Most subjects in one `POST .../duplicates`.
pub const MAX_SUBJECTS: usize = 100;
/// Most candidates returned per subject.
pub const MAX_CANDIDATES: usize = 20;
/// The least `pg_trgm` similarity of two names for the `name` rule.
pub const NAME_SIMILARITY: f64 = 0.5;

/// A record that may be a duplicate.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Candidate {
    pub id: Uuid,
    /// 0 to 1: how likely the two are the same (the matched rules combined).
    pub score: f64,
    /// The rules that matched: contacts `email`, `phone`, `name`; clients
    /// `siren`, `vat_number`, `name`.
    pub rules: Vec<String>,
}

/// The candidates of one subject of a `POST .../duplicates`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicatesOf {
    /// The subject's place in `ids` or `data`.
    pub index: usize,
    /// The subject's id (null for a draft).
    pub id: Option<Uuid>,
    pub candidates: Vec<Candidate>,
}

/// `GET .../{id}/duplicates`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CandidateList {
    /// Best first.
    pub data: Vec<Candidate>,
}

/// `POST .../duplicates`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicatesOut {
    /// One entry per subject, in the order sent.
    pub data: Vec<DuplicatesOf>,
}

/// `POST /v1/contacts/duplicates` and `/v1/clients/duplicates`: exactly one
/// of `ids` (records on file) or `data` (drafts, e.g. a form about to be
/// saved, with only the fields the rules read).
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DuplicatesInput {
    /// 1 to 100 ids.
    pub ids: Option<Vec<Uuid>>,
    /// 1 to 100 drafts.
    pub data: Option<Vec<Map<String, Value>>>,
}

/// A draft contact to check: only the fields the rules read.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ContactDraft {
    /// Matched as a mailbox: case and a `+tag` ignored.
    #[schema(max_length = 320)]
    email: Option<String>,
    /// As people type it: spaces, dots, dashes and brackets ignored, `00` for
    /// `+`, a 10-digit number starting with 0 read as French.
    #[schema(max_length = 320)]
    phone: Option<String>,
    #[schema(max_length = 320)]
    first_name: Option<String>,
    #[schema(max_length = 320)]
    last_name: Option<String>,
    /// With a name: the similar-name rule looks at this client's contacts.
    client_id: Option<Uuid>,
}

/// The address part a client draft is matched on.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DraftAddress {
    #[schema(max_length = 320)]
    postal_code: Option<String>,
}

/// A draft client to check: only the fields the rules read.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClientDraft {
    /// Similar names in the same postal code match.
    #[schema(max_length = 320)]
    name: Option<String>,
    /// 9 digits (spaces ignored) with a valid Luhn key.
    #[schema(pattern = r"^ *([0-9] *){9}$", max_length = 320)]
    siren: Option<String>,
    #[schema(max_length = 320)]
    vat_number: Option<String>,
    billing_address: Option<DraftAddress>,
}

/// `POST /v1/contacts/duplicates` (the document's view of [`DuplicatesInput`]).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ContactDuplicatesInput {
    /// 1 to 100 contacts on file.
    #[schema(min_items = 1, max_items = 100)]
    ids: Option<Vec<Uuid>>,
    /// 1 to 100 drafts.
    #[schema(min_items = 1, max_items = 100)]
    data: Option<Vec<ContactDraft>>,
}

/// `POST /v1/clients/duplicates` (the document's view of [`DuplicatesInput`]).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClientDuplicatesInput {
    /// 1 to 100 clients on file.
    #[schema(min_items = 1, max_items = 100)]
    ids: Option<Vec<Uuid>>,
    /// 1 to 100 drafts.
    #[schema(min_items = 1, max_items = 100)]
    data: Option<Vec<ClientDraft>>,
}

/// What the contact rules look at.
#[derive(Debug, Default)]
struct ContactKeys {
    id: Option<Uuid>,
    email: Option<String>,
    phone: Option<String>,
    client_id: Option<Uuid>,
    name: Option<String>,
}

/// What the client rules look at.
#[derive(Debug, Default)]
struct ClientKeys {
    id: Option<Uuid>,
    siren: Option<String>,
    vat: Option<String>,
    postal_code: Option<String>,
    name: Option<String>,
}

#[derive(QueryableByName)]
struct Hit {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    rule: String,
    #[diesel(sql_type = Double)]
    weight: f64,
}

/// A phone number as people type it: spaces, dots, dashes and brackets
/// ignored, `00` for `+`, and a French national number (`06 12 34 56 78`)
/// read as `+33`. `None` when it is no number at all.
pub fn lenient_phone(input: &str) -> Option<String> {
    let s: String = input.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '/')).collect();
    let s = if let Some(rest) = s.strip_prefix("00") {
        format!("+{rest}")
    } else if s.len() == 10 && s.starts_with('0') && !s.starts_with("00") {
        format!("+33{}", &s[1..])
    } else {
        s
    };
    Phone::parse(&s).ok().map(Phone::into_inner)
}

fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let n = format!("{} {}", first.unwrap_or(""), last.unwrap_or(""));
    (n.trim().chars().count() >= 3).then(|| n.trim().to_owned())
}

fn combine(hits: Vec<Hit>, exclude: Option<Uuid>) -> Vec<Candidate> {
    let mut by_id: BTreeMap<Uuid, (f64, Vec<String>)> = BTreeMap::new();
    for h in hits.into_iter().filter(|h| Some(h.id) != exclude) {
        let e = by_id.entry(h.id).or_insert((1.0, Vec::new()));
        if !e.1.contains(&h.rule) {
            e.0 *= 1.0 - h.weight.clamp(0.0, 0.99);
            e.1.push(h.rule);
        }
    }
    let mut out: Vec<Candidate> = by_id
        .into_iter()
        .map(|(id, (miss, mut rules))| {
            rules.sort();
            Candidate { id, score: ((1.0 - miss) * 1000.0).round() / 1000.0, rules }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    out.truncate(MAX_CANDIDATES);
    out
}

/// One statement: a probe per rule the subject can match, each on its
/// index. A rule it cannot match is left out of the statement rather than
/// guarded by `$n IS NOT NULL`: a branch folded to false was planned as a
/// parallel sequential scan whose workers started anyway (80 ms of the
/// 110 ms p99 on the bench database, for contacts without a client).
fn probe(conn: &mut PgConnection, branches: Vec<(String, Option<String>, Option<Uuid>)>) -> QueryResult<Vec<Hit>> {
    if branches.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Vec::new();
    let mut n = 0;
    for (template, _, _) in &branches {
        n += 1;
        // `$a` is the branch's text; `$b` its id, if it has one.
        let with_text = template.replace("$a", &format!("${n}"));
        let with_id = if with_text.contains("$b") {
            n += 1;
            with_text.replace("$b", &format!("${n}"))
        } else {
            with_text
        };
        sql.push(format!("({with_id})"));
    }
    let mut q = diesel::sql_query(sql.join(" UNION ALL ")).into_boxed::<diesel::pg::Pg>();
    for (_, text, id) in branches {
        q = q.bind::<Nullable<Text>, _>(text);
        if let Some(id) = id {
            q = q.bind::<SqlUuid, _>(id);
        }
    }
    q.load(conn)
}

fn contact_candidates(conn: &mut PgConnection, k: &ContactKeys) -> QueryResult<Vec<Candidate>> {
    let mut branches = Vec::new();
    if let Some(email) = &k.email {
        let sql = "SELECT id, 'email' AS rule, 0.95::float8 AS weight FROM contacts \
                   WHERE email IS NOT NULL AND email_key(email) = email_key($a) LIMIT 25";
        branches.push((sql.to_owned(), Some(email.clone()), None));
    }
    if let Some(phone) = &k.phone {
        let sql = "SELECT id, 'phone' AS rule, 0.85::float8 AS weight FROM contacts WHERE phone = $a LIMIT 25";
        branches.push((sql.to_owned(), Some(phone.clone()), None));
    }
    if let (Some(name), Some(client)) = (&k.name, k.client_id) {
        let sql = format!(
            "SELECT id, 'name' AS rule, 0.8 * s AS weight FROM ( \
               SELECT id, similarity(name_key(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), \
                      name_key($a))::float8 AS s FROM contacts WHERE client_id = $b) n \
             WHERE s >= {NAME_SIMILARITY} ORDER BY s DESC LIMIT 25"
        );
        branches.push((sql, Some(name.clone()), Some(client)));
    }
    Ok(combine(probe(conn, branches)?, k.id))
}

fn client_candidates(conn: &mut PgConnection, k: &ClientKeys) -> QueryResult<Vec<Candidate>> {
    let mut branches = Vec::new();
    if let Some(siren) = &k.siren {
        let sql = "SELECT id, 'siren' AS rule, 0.95::float8 AS weight FROM clients WHERE siren = $a LIMIT 25";
        branches.push((sql.to_owned(), Some(siren.clone()), None));
    }
    if let Some(vat) = &k.vat {
        let sql = "SELECT id, 'vat_number' AS rule, 0.95::float8 AS weight FROM clients WHERE vat_number = $a LIMIT 25";
        branches.push((sql.to_owned(), Some(vat.clone()), None));
    }
    if let (Some(name), Some(postal_code)) = (&k.name, &k.postal_code) {
        // The postal code is a literal-free bind too: `$a` the name, the
        // code folded into a second text bind below.
        let sql = format!(
            "SELECT id, 'name' AS rule, 0.8 * s AS weight FROM ( \
               SELECT id, similarity(name_key(name), name_key($a))::float8 AS s FROM clients \
               WHERE billing_address ? 'postal_code' AND billing_address ->> 'postal_code' = $c) n \
             WHERE s >= {NAME_SIMILARITY} ORDER BY s DESC LIMIT 25"
        );
        branches.push((sql, Some(name.clone()), None));
        return Ok(combine(probe_with_code(conn, branches, postal_code)?, k.id));
    }
    Ok(combine(probe(conn, branches)?, k.id))
}

/// [`probe`] with the postal code of the last branch bound after all others (`$c`).
fn probe_with_code(
    conn: &mut PgConnection,
    mut branches: Vec<(String, Option<String>, Option<Uuid>)>,
    postal_code: &str,
) -> QueryResult<Vec<Hit>> {
    let texts = branches.len();
    if let Some(last) = branches.last_mut() {
        last.0 = last.0.replace("$c", &format!("${}", texts + 1));
    }
    let sql: Vec<String> = branches
        .iter()
        .enumerate()
        .map(|(i, (t, _, _))| format!("({})", t.replace("$a", &format!("${}", i + 1))))
        .collect();
    let mut q = diesel::sql_query(sql.join(" UNION ALL ")).into_boxed::<diesel::pg::Pg>();
    for (_, text, _) in branches {
        q = q.bind::<Nullable<Text>, _>(text);
    }
    q.bind::<Text, _>(postal_code.to_owned()).load(conn)
}

type ContactRow = (Uuid, Option<String>, Option<String>, Option<Uuid>, Option<String>, Option<String>);

fn contact_keys_of(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<BTreeMap<Uuid, ContactKeys>> {
    let rows: Vec<ContactRow> = contacts::table
        .filter(contacts::id.eq_any(ids))
        .select((
            contacts::id,
            contacts::email,
            contacts::phone,
            contacts::client_id,
            contacts::first_name,
            contacts::last_name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, email, phone, client_id, first, last)| {
            let name = full_name(first.as_deref(), last.as_deref());
            (id, ContactKeys { id: Some(id), email, phone, client_id, name })
        })
        .collect())
}

type ClientRow = (Uuid, String, Option<String>, Option<String>, Option<Value>);

fn client_keys_of(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<BTreeMap<Uuid, ClientKeys>> {
    let rows: Vec<ClientRow> = clients::table
        .filter(clients::id.eq_any(ids))
        .select((clients::id, clients::name, clients::siren, clients::vat_number, clients::billing_address))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, siren, vat, address)| {
            let postal_code = address.as_ref().and_then(|a| a["postal_code"].as_str()).map(str::to_owned);
            (id, ClientKeys { id: Some(id), siren, vat, postal_code, name: Some(name) })
        })
        .collect())
}

/// A draft's string field, or a 422 naming it.
fn text<'a>(errors: &mut Errors, at: &str, draft: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    match draft.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 320 => Some(s.as_str()),
        Some(Value::String(_)) => {
            errors.push(format!("{at}.{key}"), "too_long", "at most 320 characters");
            None
        }
        Some(_) => {
            errors.push(format!("{at}.{key}"), "invalid_type", "invalid value: expected a string");
            None
        }
    }
}

/// Refuses the keys a draft may not carry (the rules read no other).
fn only(errors: &mut Errors, at: &str, d: &Map<String, Value>, known: &[&str]) {
    for k in d.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(
            format!("{at}.{k}"),
            "unknown_field",
            "not a field of a draft; the rules read only the documented ones",
        );
    }
}

fn contact_draft(errors: &mut Errors, at: &str, d: &Map<String, Value>) -> ContactKeys {
    only(errors, at, d, &["email", "phone", "first_name", "last_name", "client_id"]);
    let email = text(errors, at, d, "email").and_then(|e| errors.take(&format!("{at}.email"), Email::parse(e)));
    let phone = text(errors, at, d, "phone").and_then(|p| {
        let n = lenient_phone(p);
        if n.is_none() {
            errors.push(format!("{at}.phone"), "invalid_format", "not a phone number");
        }
        n
    });
    let client_id = text(errors, at, d, "client_id").and_then(|s| match Uuid::try_parse(s) {
        Ok(id) => Some(id),
        Err(_) => {
            errors.push(format!("{at}.client_id"), "invalid_format", "a UUID");
            None
        }
    });
    let name = full_name(text(errors, at, d, "first_name"), text(errors, at, d, "last_name"));
    ContactKeys { id: None, email: email.map(|e| e.as_str().to_owned()), phone, client_id, name }
}

fn client_draft(errors: &mut Errors, at: &str, d: &Map<String, Value>) -> ClientKeys {
    only(errors, at, d, &["name", "siren", "vat_number", "billing_address"]);
    let siren = text(errors, at, d, "siren").and_then(|s| errors.take(&format!("{at}.siren"), Siren::parse(s)));
    let vat = text(errors, at, d, "vat_number")
        .and_then(|s| errors.take(&format!("{at}.vat_number"), VatNumber::parse(s)))
        .map(|v| v.as_str().to_owned());
    let postal_code = match d.get("billing_address") {
        Some(Value::Object(a)) => {
            only(errors, &format!("{at}.billing_address"), a, &["postal_code"]);
            text(errors, &format!("{at}.billing_address"), a, "postal_code").map(str::to_owned)
        }
        None | Some(Value::Null) => None,
        Some(_) => {
            errors.push(format!("{at}.billing_address"), "invalid_type", "invalid value: expected an object");
            None
        }
    };
    let name = text(errors, at, d, "name").map(str::to_owned);
    ClientKeys { id: None, siren: siren.map(|s| s.as_str().to_owned()), vat, postal_code, name }
}

/// Which resource a duplicate check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Of {
    Contacts,
    Clients,
}

impl Of {
    fn scope(self) -> Scope {
        match self {
            Of::Contacts => Scope::ContactsRead,
            Of::Clients => Scope::ClientsRead,
        }
    }
    fn not_found(self) -> AppError {
        AppError::NotFound(match self {
            Of::Contacts => "contact",
            Of::Clients => "client",
        })
    }
}

/// `GET /v1/{contacts,clients}/{id}/duplicates`.
pub fn of_one(conn: &mut PgConnection, actor: &Actor, of: Of, id: Uuid) -> Result<CandidateList, AppError> {
    actor.require(of.scope())?;
    let data = match of {
        Of::Contacts => {
            let k = contact_keys_of(conn, &[id])?.remove(&id).ok_or(of.not_found())?;
            contact_candidates(conn, &k)?
        }
        Of::Clients => {
            let k = client_keys_of(conn, &[id])?.remove(&id).ok_or(of.not_found())?;
            client_candidates(conn, &k)?
        }
    };
    Ok(CandidateList { data })
}

/// `POST /v1/{contacts,clients}/duplicates`.
pub fn check(
    conn: &mut PgConnection,
    actor: &Actor,
    of: Of,
    body: Map<String, Value>,
) -> Result<DuplicatesOut, AppError> {
    actor.require(of.scope())?;
    let (input, errors) = super::decode::<DuplicatesInput>(body);
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    // A field the decoder refused (NUL characters) is gone from `input`.
    errors.finish()?;
    let mut errors = Errors::default();
    let n = match (&input.ids, &input.data) {
        (Some(ids), None) => ids.len(),
        (None, Some(data)) => data.len(),
        _ => {
            errors.push("ids", "one_of", "send exactly one of `ids` and `data`");
            0
        }
    };
    if n > MAX_SUBJECTS {
        errors.push(if input.ids.is_some() { "ids" } else { "data" }, "too_many", "at most 100 subjects");
    } else if n == 0 && (input.ids.is_some() || input.data.is_some()) {
        errors.push(if input.ids.is_some() { "ids" } else { "data" }, "too_few", "at least one subject");
    }
    let mut out = Vec::new();
    match (of, input.ids, input.data) {
        (_, Some(ids), None) => {
            errors.finish()?;
            let mut errors = Errors::default();
            let found = match of {
                Of::Contacts => contact_keys_of(conn, &ids)?.into_keys().collect::<Vec<_>>(),
                Of::Clients => client_keys_of(conn, &ids)?.into_keys().collect(),
            };
            for (i, id) in ids.iter().enumerate() {
                if !found.contains(id) {
                    errors.push(format!("ids[{i}]"), "not_found", "the referenced resource does not exist");
                }
            }
            errors.finish()?;
            for (index, id) in ids.into_iter().enumerate() {
                let candidates = of_one(conn, actor, of, id)?.data;
                out.push(DuplicatesOf { index, id: Some(id), candidates });
            }
        }
        (Of::Contacts, None, Some(data)) => {
            let keys: Vec<ContactKeys> =
                data.iter().enumerate().map(|(i, d)| contact_draft(&mut errors, &format!("data[{i}]"), d)).collect();
            errors.finish()?;
            for (index, k) in keys.iter().enumerate() {
                out.push(DuplicatesOf { index, id: None, candidates: contact_candidates(conn, k)? });
            }
        }
        (Of::Clients, None, Some(data)) => {
            let keys: Vec<ClientKeys> =
                data.iter().enumerate().map(|(i, d)| client_draft(&mut errors, &format!("data[{i}]"), d)).collect();
            errors.finish()?;
            for (index, k) in keys.iter().enumerate() {
                out.push(DuplicatesOf { index, id: None, candidates: client_candidates(conn, k)? });
            }
        }
        _ => errors.finish()?,
    }
    Ok(DuplicatesOut { data: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_as_people_type_them() {
        assert_eq!(lenient_phone("06 12 34 56 78").as_deref(), Some("+33612345678"));
        assert_eq!(lenient_phone("06.12.34.56.78").as_deref(), Some("+33612345678"));
        assert_eq!(lenient_phone("0033 6 12 34 56 78").as_deref(), Some("+33612345678"));
        assert_eq!(lenient_phone("+33 (0)6"), None);
        assert_eq!(lenient_phone("+1 (202) 555-0143").as_deref(), Some("+12025550143"));
        assert_eq!(lenient_phone("hello"), None);
    }
}
