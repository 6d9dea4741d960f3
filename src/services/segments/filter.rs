//! The filter language of segments (API.md §12): parsed and validated from
//! JSON at the edge, compiled to one SQL condition with bound parameters.
//!
//! `{"all": [...]}` or `{"any": [...]}`, nestable (depth ≤ 4, ≤ 50
//! conditions in all); a condition is `{"field", "op", "value"}`. Each field
//! has a type, and each type its ops. Every positive op on a field is served
//! by an index (checked with `EXPLAIN` in the tests); `ne`, `none` and
//! `exists: false` are negations and may read more of the table.

use chrono::{DateTime, Utc};
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamptz, Uuid as SqlUuid};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::domain::NafCode;
use crate::error::FieldError;

/// Deepest nesting of groups (the top group is depth 1).
pub const MAX_DEPTH: usize = 4;
/// Most conditions in one filter.
pub const MAX_CONDITIONS: usize = 50;
/// Most values of an `in`.
pub const MAX_IN: usize = 100;

/// What a filter selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Contacts,
    Clients,
}

impl Resource {
    /// As stored and written in paths.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Contacts => "contacts",
            Resource::Clients => "clients",
        }
    }

    /// From its name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "contacts" => Some(Resource::Contacts),
            "clients" => Some(Resource::Clients),
            _ => None,
        }
    }
}

/// The type of a field, which decides its ops and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Free text compared exactly (`eq`, `ne`, `in`).
    Keyword,
    /// A NAF code: normalised, with `prefix` (a division, a group).
    Naf,
    /// A SIREN: nine digits.
    Siren,
    /// Text compared case-insensitively, with `prefix`.
    Folded,
    /// Prefix of the names and email (contacts) or the name (clients).
    Q,
    /// An id.
    Id,
    /// An integer (counts, cents, head counts).
    Number,
    /// A time.
    Time,
    /// The `tags` array: `contains`.
    Tags,
    /// The current consent for a purpose: `granted`, `withdrawn`, `none`.
    Consent,
}

impl Kind {
    fn ops(self, nullable: bool) -> Vec<&'static str> {
        let mut ops: Vec<&'static str> = match self {
            Kind::Enum(_) | Kind::Keyword | Kind::Siren | Kind::Id => vec!["eq", "ne", "in"],
            Kind::Naf => vec!["eq", "ne", "in", "prefix"],
            Kind::Folded => vec!["eq", "ne", "prefix"],
            Kind::Q => vec!["prefix"],
            Kind::Number => vec!["eq", "ne", "in", "gte", "lte"],
            Kind::Time => vec!["before", "after"],
            Kind::Tags => vec!["contains"],
            Kind::Consent => vec!["granted", "withdrawn", "none"],
        };
        if nullable {
            ops.push("exists");
        }
        ops
    }
}

/// One field of the language: its name, its SQL (on the resource's table,
/// or on `clients` for the `client.*` fields of contacts), its type.
#[derive(Debug, Clone, Copy)]
struct FieldDef {
    name: &'static str,
    sql: &'static str,
    kind: Kind,
    nullable: bool,
    /// It names a person: refused in saved segments (erasure could not reach it).
    personal: bool,
    /// A `client.*` field of contacts.
    via_client: bool,
}

const STATUSES: &[&str] = &["prospect", "customer", "former_customer"];
const AUDIENCES: &[&str] = &["consumer", "professional"];

const fn f(name: &'static str, sql: &'static str, kind: Kind, nullable: bool) -> FieldDef {
    FieldDef { name, sql, kind, nullable, personal: false, via_client: false }
}
const fn personal(name: &'static str, sql: &'static str, kind: Kind) -> FieldDef {
    FieldDef { name, sql, kind, nullable: true, personal: true, via_client: false }
}
const fn client(name: &'static str, sql: &'static str, kind: Kind, nullable: bool) -> FieldDef {
    FieldDef { name, sql, kind, nullable, personal: false, via_client: true }
}

const CONTACT_FIELDS: &[FieldDef] = &[
    f("status", "contacts.status", Kind::Enum(STATUSES), false),
    f("audience", "contacts.audience", Kind::Enum(AUDIENCES), false),
    f("client_id", "contacts.client_id", Kind::Id, true),
    personal("email", "lower(contacts.email)", Kind::Folded),
    personal("first_name", "lower(contacts.first_name)", Kind::Folded),
    personal("last_name", "lower(contacts.last_name)", Kind::Folded),
    FieldDef { name: "q", sql: "", kind: Kind::Q, nullable: false, personal: true, via_client: false },
    f("tags", "contacts.tags", Kind::Tags, false),
    f("source", "contacts.source", Kind::Keyword, true),
    f("consent", "", Kind::Consent, false),
    f("created_at", "contacts.created_at", Kind::Time, false),
    f("updated_at", "contacts.updated_at", Kind::Time, false),
    f("stats.orders_count", "contacts.orders_count", Kind::Number, false),
    f("stats.total_spent_cents", "contacts.total_spent_cents", Kind::Number, false),
    f("stats.spent_last_12m_cents", "contacts.spent_last_12m_cents", Kind::Number, false),
    f("stats.first_order_at", "contacts.first_order_at", Kind::Time, true),
    f("stats.last_order_at", "contacts.last_order_at", Kind::Time, true),
    f("stats.last_order_total_cents", "contacts.last_order_total_cents", Kind::Number, true),
    client("client.status", "clients.status", Kind::Enum(STATUSES), false),
    client("client.sector", "clients.sector", Kind::Keyword, true),
    client("client.naf_code", "clients.naf_code", Kind::Naf, true),
    client("client.employee_count", "clients.employee_count", Kind::Number, true),
    client("client.annual_revenue_cents", "clients.annual_revenue_cents", Kind::Number, true),
];

const CLIENT_FIELDS: &[FieldDef] = &[
    f("status", "clients.status", Kind::Enum(STATUSES), false),
    f("sector", "clients.sector", Kind::Keyword, true),
    f("naf_code", "clients.naf_code", Kind::Naf, true),
    f("siren", "clients.siren", Kind::Siren, true),
    f("acquisition_channel", "clients.acquisition_channel", Kind::Keyword, true),
    f("q", "", Kind::Q, false),
    f("tags", "clients.tags", Kind::Tags, false),
    f("employee_count", "clients.employee_count", Kind::Number, true),
    f("annual_revenue_cents", "clients.annual_revenue_cents", Kind::Number, true),
    f("created_at", "clients.created_at", Kind::Time, false),
    f("updated_at", "clients.updated_at", Kind::Time, false),
    f("stats.orders_count", "clients.orders_count", Kind::Number, false),
    f("stats.total_spent_cents", "clients.total_spent_cents", Kind::Number, false),
    f("stats.spent_last_12m_cents", "clients.spent_last_12m_cents", Kind::Number, false),
    f("stats.first_order_at", "clients.first_order_at", Kind::Time, true),
    f("stats.last_order_at", "clients.last_order_at", Kind::Time, true),
    f("stats.last_order_total_cents", "clients.last_order_total_cents", Kind::Number, true),
];

fn fields(resource: Resource) -> &'static [FieldDef] {
    match resource {
        Resource::Contacts => CONTACT_FIELDS,
        Resource::Clients => CLIENT_FIELDS,
    }
}

/// The field names of a resource, for the documentation and errors.
pub fn field_names(resource: Resource) -> Vec<&'static str> {
    fields(resource).iter().map(|f| f.name).collect()
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
enum Bind {
    Text(String),
    Texts(Vec<String>),
    Number(i64),
    Numbers(Vec<i64>),
    Time(DateTime<Utc>),
    Id(Uuid),
    Ids(Vec<Uuid>),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Sql(String),
    Bind(Bind),
}

/// A compiled condition: SQL text and its parameters, usable as a diesel
/// filter (`Bool`) on the resource's table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Condition {
    parts: Vec<Part>,
    /// Segment searches have shapes without end: they are planned each time
    /// instead of filling the connection's statement cache.
    pub(crate) uncached: bool,
}

impl Condition {
    fn sql(&mut self, s: impl Into<String>) -> &mut Self {
        self.parts.push(Part::Sql(s.into()));
        self
    }
    fn bind(&mut self, b: Bind) -> &mut Self {
        self.parts.push(Part::Bind(b));
        self
    }
    fn append(&mut self, other: Condition) {
        self.parts.extend(other.parts);
    }
    /// `TRUE`: no condition.
    pub fn always() -> Self {
        let mut c = Condition::default();
        c.sql("TRUE");
        c
    }
    /// Both.
    pub fn and(mut self, other: Condition) -> Self {
        let mut out = Condition { parts: Vec::new(), uncached: self.uncached || other.uncached };
        out.sql("(");
        out.append(std::mem::take(&mut self));
        out.sql(") AND (");
        out.append(other);
        out.sql(")");
        out
    }
    /// Either.
    pub fn or(mut self, other: Condition) -> Self {
        let mut out = Condition { parts: Vec::new(), uncached: self.uncached || other.uncached };
        out.sql("(");
        out.append(std::mem::take(&mut self));
        out.sql(") OR (");
        out.append(other);
        out.sql(")");
        out
    }
    /// Raw SQL with no parameter (for the service's own conditions).
    pub(crate) fn raw(s: &str) -> Self {
        let mut c = Condition::default();
        c.sql(s);
        c
    }
    /// Raw SQL around one text parameter.
    pub(crate) fn raw_text(before: &str, value: String, after: &str) -> Self {
        let mut c = Condition::default();
        c.sql(before).bind(Bind::Text(value)).sql(after);
        c
    }
}

impl Expression for Condition {
    type SqlType = Bool;
}
impl<QS> AppearsOnTable<QS> for Condition {}
impl<QS> SelectableExpression<QS> for Condition {}
impl ValidGrouping<()> for Condition {
    type IsAggregate = is_aggregate::Never;
}
impl QueryId for Condition {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for Condition {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        if self.uncached {
            out.unsafe_to_cache_prepared();
        }
        for p in &self.parts {
            match p {
                Part::Sql(s) => out.push_sql(s),
                Part::Bind(Bind::Text(v)) => out.push_bind_param::<Text, _>(v)?,
                Part::Bind(Bind::Texts(v)) => out.push_bind_param::<Array<Text>, _>(v)?,
                Part::Bind(Bind::Number(v)) => out.push_bind_param::<BigInt, _>(v)?,
                Part::Bind(Bind::Numbers(v)) => out.push_bind_param::<Array<BigInt>, _>(v)?,
                Part::Bind(Bind::Time(v)) => out.push_bind_param::<Timestamptz, _>(v)?,
                Part::Bind(Bind::Id(v)) => out.push_bind_param::<SqlUuid, _>(v)?,
                Part::Bind(Bind::Ids(v)) => out.push_bind_param::<Array<SqlUuid>, _>(v)?,
            }
        }
        Ok(())
    }
}

/// What a parse collects besides the condition.
#[derive(Debug, Default)]
pub struct Parsed {
    pub condition: Condition,
    /// Purposes named by consent conditions (the caller checks they exist).
    pub purposes: Vec<(String, String)>,
    pub errors: Vec<FieldError>,
}

/// Compiles the conditions of a list's query parameters (`(parameter,
/// condition)`), ANDed, with errors named by parameter: the lists and the
/// segments share one implementation. Their shapes are few: cached.
pub fn compile_params(resource: Resource, params: &[(&str, Value)]) -> Parsed {
    let mut cx = Cx { resource, saved: false, count: 0, out: Parsed::default() };
    let mut cond = Condition::always();
    for (param, c) in params {
        let (before, purposes) = (cx.out.errors.len(), cx.out.purposes.len());
        let part = c.as_object().and_then(|o| cx.condition(o, param));
        for e in &mut cx.out.errors[before..] {
            e.field = (*param).to_owned();
        }
        for p in &mut cx.out.purposes[purposes..] {
            p.0 = (*param).to_owned();
        }
        if let Some(part) = part {
            cond = cond.and(part);
        }
    }
    let mut out = cx.out;
    // A filtered list is planned for its values each time: a generic plan
    // (what a cached statement becomes after five runs) cannot tell a
    // consent nobody gave from one half the file gave.
    cond.uncached = !params.is_empty();
    out.condition = cond;
    out
}

/// Parses and compiles a filter. `path` prefixes error fields (`filter`);
/// `saved` refuses the fields that name a person.
pub fn compile(resource: Resource, filter: &Value, path: &str, saved: bool) -> Parsed {
    let mut cx = Cx { resource, saved, count: 0, out: Parsed::default() };
    let cond = cx.group(filter, path, 1);
    if cx.count > MAX_CONDITIONS {
        cx.err(path, "too_many_conditions", format!("a filter has at most {MAX_CONDITIONS} conditions"));
    }
    let mut out = cx.out;
    out.condition = cond.unwrap_or_else(Condition::always);
    out.condition.uncached = true;
    out
}

struct Cx {
    resource: Resource,
    saved: bool,
    count: usize,
    out: Parsed,
}

impl Cx {
    fn err(&mut self, field: &str, code: &str, message: impl Into<String>) {
        if !self.out.errors.iter().any(|e| e.field == field) {
            self.out.errors.push(FieldError::new(field, code, message));
        }
    }

    fn group(&mut self, v: &Value, path: &str, depth: usize) -> Option<Condition> {
        let Some(obj) = v.as_object() else {
            self.err(path, "invalid_type", "a filter is an object: {\"all\": [...]} or {\"any\": [...]}");
            return None;
        };
        if depth > MAX_DEPTH {
            self.err(path, "too_deep", format!("groups nest at most {MAX_DEPTH} deep"));
            return None;
        }
        let (key, items) = match (obj.get("all"), obj.get("any"), obj.len()) {
            (Some(a), None, 1) => ("all", a),
            (None, Some(a), 1) => ("any", a),
            _ => {
                self.err(path, "invalid_group", "a group has exactly one key, `all` or `any`");
                return None;
            }
        };
        let Some(items) = items.as_array() else {
            self.err(&format!("{path}.{key}"), "invalid_type", "a group holds an array of conditions and groups");
            return None;
        };
        let mut c = Condition::default();
        if items.is_empty() {
            c.sql(if key == "all" { "TRUE" } else { "FALSE" });
            return Some(c);
        }
        let joiner = if key == "all" { " AND " } else { " OR " };
        let mut ok = true;
        c.sql("(");
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}.{key}[{i}]");
            let part = match item.as_object() {
                Some(o) if o.contains_key("field") || o.contains_key("op") => self.condition(o, &p),
                _ => self.group(item, &p, depth + 1),
            };
            match part {
                Some(part) => {
                    if i > 0 {
                        c.sql(joiner);
                    }
                    c.sql("(");
                    c.append(part);
                    c.sql(")");
                }
                None => ok = false,
            }
        }
        c.sql(")");
        ok.then_some(c)
    }

    fn condition(&mut self, o: &Map<String, Value>, path: &str) -> Option<Condition> {
        self.count += 1;
        for k in o.keys() {
            if !["field", "op", "value"].contains(&k.as_str()) {
                self.err(&format!("{path}.{k}"), "unknown_field", "a condition has `field`, `op` and `value`");
                return None;
            }
        }
        let Some(name) = o.get("field").and_then(Value::as_str) else {
            self.err(&format!("{path}.field"), "required", "a condition names its `field`");
            return None;
        };
        let Some(def) = fields(self.resource).iter().find(|f| f.name == name).copied() else {
            self.err(
                &format!("{path}.field"),
                "unknown_field",
                format!(
                    "no field `{name}` on {}; fields: {}",
                    self.resource.as_str(),
                    field_names(self.resource).join(", ")
                ),
            );
            return None;
        };
        if self.saved && def.personal {
            self.err(
                &format!("{path}.field"),
                "personal_field",
                format!("a saved segment cannot name a person (`{name}`): search with it instead"),
            );
            return None;
        }
        let Some(op) = o.get("op").and_then(Value::as_str) else {
            self.err(&format!("{path}.op"), "required", "a condition names its `op`");
            return None;
        };
        let ops = def.kind.ops(def.nullable);
        if !ops.contains(&op) {
            self.err(
                &format!("{path}.op"),
                "invalid_op",
                format!("`{op}` does not apply to `{name}`; its ops: {}", ops.join(", ")),
            );
            return None;
        }
        let vpath = format!("{path}.value");
        let value = o.get("value").unwrap_or(&Value::Null);
        let inner = self.compile_op(def, op, value, &vpath)?;
        if def.via_client {
            let mut c = Condition::default();
            // EXISTS, not IN: under an OR, an IN list too large for work_mem
            // is searched linearly for every row; EXISTS probes the key.
            c.sql("EXISTS (SELECT 1 FROM clients WHERE clients.id = contacts.client_id AND ");
            c.append(inner);
            c.sql(")");
            Some(c)
        } else {
            Some(inner)
        }
    }

    fn compile_op(&mut self, def: FieldDef, op: &str, value: &Value, vpath: &str) -> Option<Condition> {
        let mut c = Condition::default();
        let col = def.sql;
        match op {
            "exists" => {
                let Some(b) = value.as_bool() else {
                    self.err(vpath, "invalid_type", "`exists` takes true or false");
                    return None;
                };
                c.sql(format!("{col} IS {}NULL", if b { "NOT " } else { "" }));
            }
            "eq" | "ne" => {
                let b = self.scalar(def, value, vpath)?;
                if op == "eq" {
                    c.sql(format!("{col} = ")).bind(b);
                } else {
                    c.sql(format!("{col} IS DISTINCT FROM ")).bind(b);
                }
            }
            "in" => {
                let Some(items) = value.as_array().filter(|a| !a.is_empty() && a.len() <= MAX_IN) else {
                    self.err(vpath, "invalid_type", format!("`in` takes an array of 1 to {MAX_IN} values"));
                    return None;
                };
                let mut binds = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    binds.push(self.scalar(def, item, &format!("{vpath}[{i}]"))?);
                }
                let b = match def.kind {
                    Kind::Number => Bind::Numbers(
                        binds
                            .into_iter()
                            .filter_map(|b| if let Bind::Number(n) = b { Some(n) } else { None })
                            .collect(),
                    ),
                    Kind::Id => Bind::Ids(
                        binds.into_iter().filter_map(|b| if let Bind::Id(n) = b { Some(n) } else { None }).collect(),
                    ),
                    _ => Bind::Texts(
                        binds.into_iter().filter_map(|b| if let Bind::Text(n) = b { Some(n) } else { None }).collect(),
                    ),
                };
                c.sql(format!("{col} = ANY(")).bind(b).sql(")");
            }
            "gte" | "lte" => {
                let b = self.scalar(def, value, vpath)?;
                c.sql(format!("{col} {} ", if op == "gte" { ">=" } else { "<=" })).bind(b);
            }
            "before" | "after" => {
                let b = self.scalar(def, value, vpath)?;
                c.sql(format!("{col} {} ", if op == "before" { "<" } else { ">" })).bind(b);
            }
            "prefix" => {
                // An empty prefix is every value (the lists always took `q=`).
                let Some(s) = value.as_str().filter(|s| s.chars().count() <= 200) else {
                    self.err(vpath, "invalid_type", "`prefix` takes a string of at most 200 characters");
                    return None;
                };
                if s.contains('\0') {
                    self.err(vpath, "invalid_characters", "text must not contain NUL characters");
                    return None;
                }
                let p = if def.kind == Kind::Naf {
                    let mut p = s.trim().to_uppercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                    p.push('%');
                    p
                } else {
                    super::super::clients::like_prefix(s)
                };
                match (def.kind, self.resource) {
                    (Kind::Q, Resource::Contacts) => {
                        c.sql("(lower(contacts.last_name) LIKE ")
                            .bind(Bind::Text(p.clone()))
                            .sql(" OR lower(contacts.first_name) LIKE ")
                            .bind(Bind::Text(p.clone()))
                            .sql(" OR lower(contacts.email) LIKE ")
                            .bind(Bind::Text(p))
                            .sql(")");
                    }
                    (Kind::Q, Resource::Clients) => {
                        c.sql("lower(clients.name) LIKE ").bind(Bind::Text(p));
                    }
                    _ => {
                        c.sql(format!("{col} LIKE ")).bind(Bind::Text(p));
                    }
                }
            }
            "contains" => {
                // An empty tag is no tag anyone carries: it matches nothing.
                let Some(s) = value.as_str().filter(|s| s.chars().count() <= 100) else {
                    self.err(vpath, "invalid_type", "`contains` takes a tag: a string of at most 100 characters");
                    return None;
                };
                if s.contains('\0') {
                    self.err(vpath, "invalid_characters", "text must not contain NUL characters");
                    return None;
                }
                c.sql(format!("{col} @> jsonb_build_array(")).bind(Bind::Text(s.to_owned())).sql("::text)");
            }
            "granted" | "withdrawn" | "none" => {
                let Some(p) = value.as_str().filter(|s| !s.contains('\0')) else {
                    self.err(vpath, "invalid_type", "a consent condition takes a purpose key (see /v1/purposes)");
                    return None;
                };
                self.out.purposes.push((vpath.to_owned(), p.to_owned()));
                let purpose = || Bind::Text(p.to_owned());
                match op {
                    // Granted and usable: the list filter `consent=` has
                    // always meant this, and a segment is for reaching people.
                    "granted" => {
                        c.sql(
                            "EXISTS (SELECT 1 FROM consent_state s WHERE s.contact_id = contacts.id AND s.purpose = ",
                        )
                        .bind(purpose())
                        .sql(" AND s.status = 'granted') AND NOT contacts.restricted AND NOT contacts.suppressed");
                    }
                    "withdrawn" => {
                        c.sql(
                            "EXISTS (SELECT 1 FROM consent_state s WHERE s.contact_id = contacts.id AND s.purpose = ",
                        )
                        .bind(purpose())
                        .sql(" AND s.status = 'withdrawn')");
                    }
                    _ => {
                        c.sql("NOT EXISTS (SELECT 1 FROM consent_state s WHERE s.contact_id = contacts.id AND s.purpose = ")
                            .bind(purpose())
                            .sql(")");
                    }
                }
            }
            _ => unreachable!("ops are checked against the field's"),
        }
        Some(c)
    }

    /// One value of the field's type.
    fn scalar(&mut self, def: FieldDef, v: &Value, vpath: &str) -> Option<Bind> {
        let bad = |cx: &mut Cx, what: &str| {
            cx.err(vpath, "invalid_value", format!("`{}` takes {what}", def.name));
            None
        };
        match def.kind {
            Kind::Enum(words) => match v.as_str() {
                Some(s) if words.contains(&s) => Some(Bind::Text(s.to_owned())),
                _ => bad(self, &format!("one of {}", words.join(", "))),
            },
            // An empty string is a value nothing holds (the lists took `sector=`).
            Kind::Keyword | Kind::Folded => match v.as_str() {
                Some(s) if s.chars().count() <= 320 && !s.contains('\0') => {
                    Some(Bind::Text(if def.kind == Kind::Folded { s.to_lowercase() } else { s.to_owned() }))
                }
                _ => bad(self, "a string of at most 320 characters"),
            },
            Kind::Naf => match v.as_str().map(NafCode::parse) {
                Some(Ok(n)) => Some(Bind::Text(n.as_str().to_owned())),
                _ => bad(self, "a NAF code, NN.NNL"),
            },
            Kind::Siren => match v.as_str() {
                Some(s) if s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit()) => Some(Bind::Text(s.to_owned())),
                _ => bad(self, "a SIREN, nine digits"),
            },
            Kind::Id => match v.as_str().map(Uuid::try_parse) {
                Some(Ok(id)) => Some(Bind::Id(id)),
                _ => bad(self, "a UUID"),
            },
            Kind::Number => {
                match v
                    .as_i64()
                    .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64))
                {
                    Some(n) => Some(Bind::Number(n)),
                    None => bad(self, "an integer"),
                }
            }
            Kind::Time => match v.as_str().map(DateTime::parse_from_rfc3339) {
                Some(Ok(t)) => Some(Bind::Time(t.with_timezone(&Utc))),
                _ => bad(self, "an RFC 3339 date-time"),
            },
            Kind::Q | Kind::Tags | Kind::Consent => bad(self, "no such value"),
        }
    }
}

/// The JSON Schema of one value of a field's type.
fn value_schema(kind: Kind) -> Value {
    use serde_json::json;
    match kind {
        Kind::Enum(words) => json!({"type": "string", "enum": words}),
        Kind::Keyword | Kind::Folded => json!({"type": "string", "maxLength": 320}),
        Kind::Naf => json!({"type": "string", "pattern": r"^\s*[0-9]{2}\.?[0-9]{2}[A-Za-z]\s*$"}),
        Kind::Siren => json!({"type": "string", "pattern": "^[0-9]{9}$"}),
        Kind::Id => json!({"type": "string", "format": "uuid"}),
        Kind::Number => json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX}),
        Kind::Time => json!({"type": "string", "format": "date-time"}),
        Kind::Q | Kind::Tags | Kind::Consent => json!({"type": "string"}),
    }
}

/// The value schema of an op on a field.
fn op_value_schema(kind: Kind, op: &str) -> Value {
    use serde_json::json;
    match op {
        "exists" => json!({"type": "boolean"}),
        "in" => json!({"type": "array", "minItems": 1, "maxItems": MAX_IN, "items": value_schema(kind)}),
        "prefix" => json!({"type": "string", "maxLength": 200}),
        "contains" => json!({"type": "string", "maxLength": 100}),
        "granted" | "withdrawn" | "none" => {
            json!({"type": "string", "minLength": 1, "maxLength": 64, "description": "A key of `/v1/purposes`."})
        }
        _ => value_schema(kind),
    }
}

/// The component schemas of the language for a resource, saved or not:
/// `(name, schema)` for the condition and each depth of group, the first
/// group named `name_prefix` + `Filter`. Written from the field table the
/// compiler uses, so the document says exactly what is accepted, but for
/// the 50-condition total (no schema counts across a tree) and purposes
/// that must exist.
pub fn schemas(resource: Resource, saved: bool, name_prefix: &str) -> Vec<(String, Value)> {
    use serde_json::json;
    let mut variants = Vec::new();
    for def in fields(resource).iter().filter(|d| !(saved && d.personal)) {
        // Ops grouped by the schema of their value.
        let mut groups: Vec<(Value, Vec<&str>)> = Vec::new();
        for op in def.kind.ops(def.nullable) {
            let v = op_value_schema(def.kind, op);
            match groups.iter_mut().find(|g| g.0 == v) {
                Some(g) => g.1.push(op),
                None => groups.push((v, vec![op])),
            }
        }
        for (value, ops) in groups {
            variants.push(json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["field", "op", "value"],
                "properties": {"field": {"type": "string", "enum": [def.name]}, "op": {"type": "string", "enum": ops}, "value": value}
            }));
        }
    }
    let condition = format!("{name_prefix}Condition");
    let mut out = vec![(
        condition.clone(),
        json!({"description": format!("A condition on {}: {}.", resource.as_str(), describe_filtered(resource, saved)), "oneOf": variants}),
    )];
    for depth in 1..=MAX_DEPTH {
        let name = if depth == 1 { format!("{name_prefix}Filter") } else { format!("{name_prefix}Filter{depth}") };
        let mut items = vec![json!({"$ref": format!("#/components/schemas/{condition}")})];
        if depth < MAX_DEPTH {
            items.push(json!({"$ref": format!("#/components/schemas/{name_prefix}Filter{}", depth + 1)}));
        }
        let list = json!({"type": "array", "maxItems": MAX_CONDITIONS, "items": {"anyOf": items}});
        let mut schema = json!({
            "type": "object",
            "additionalProperties": false,
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {"all": list.clone(), "any": list}
        });
        if depth == 1 {
            schema["description"] = json!(format!(
                "A segment filter (API.md §12): `{{\"all\": [...]}}` (every one holds) or `{{\"any\": [...]}}` \
                 (one holds), of conditions and groups nested at most {MAX_DEPTH} deep, {MAX_CONDITIONS} \
                 conditions in all. Positive ops are served by indexes; `ne`, `none` and `exists: false` may \
                 read more. `consent` `granted` means a current grant on a contact neither suppressed nor \
                 restricted."
            ));
        }
        out.push((name, schema));
    }
    out
}

fn describe_filtered(resource: Resource, saved: bool) -> String {
    fields(resource)
        .iter()
        .filter(|d| !(saved && d.personal))
        .map(|f| format!("`{}` ({})", f.name, f.kind.ops(f.nullable).join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors(r: Resource, f: Value) -> Vec<(String, String)> {
        compile(r, &f, "filter", false).errors.into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn each_kind_of_mistake_names_its_place() {
        let cases = [
            (json!([]), "filter", "invalid_type"),
            (json!({"all": [], "any": []}), "filter", "invalid_group"),
            (json!({"all": {}}), "filter.all", "invalid_type"),
            (json!({"all": [{"field": "nope", "op": "eq", "value": 1}]}), "filter.all[0].field", "unknown_field"),
            (json!({"all": [{"field": "status", "op": "gte", "value": "x"}]}), "filter.all[0].op", "invalid_op"),
            (json!({"all": [{"field": "status", "op": "eq", "value": "vip"}]}), "filter.all[0].value", "invalid_value"),
            (json!({"any": [{"field": "status", "op": "eq"}]}), "filter.any[0].value", "invalid_value"),
            (
                json!({"all": [{"field": "status", "op": "eq", "value": "customer", "x": 1}]}),
                "filter.all[0].x",
                "unknown_field",
            ),
            (
                json!({"all": [{"field": "stats.orders_count", "op": "in", "value": []}]}),
                "filter.all[0].value",
                "invalid_type",
            ),
            (
                json!({"all": [{"field": "stats.orders_count", "op": "in", "value": [1, "a"]}]}),
                "filter.all[0].value[1]",
                "invalid_value",
            ),
            (
                json!({"all": [{"field": "created_at", "op": "after", "value": "yesterday"}]}),
                "filter.all[0].value",
                "invalid_value",
            ),
            (
                json!({"all": [{"field": "stats.orders_count", "op": "exists", "value": true}]}),
                "filter.all[0].op",
                "invalid_op",
            ),
            (
                json!({"all": [{"field": "consent", "op": "granted", "value": 3}]}),
                "filter.all[0].value",
                "invalid_type",
            ),
            (
                json!({"all": [{"any": [{"all": [{"any": [{"all": []}]}]}]}]}),
                "filter.all[0].any[0].all[0].any[0]",
                "too_deep",
            ),
        ];
        for (f, field, code) in cases {
            let e = errors(Resource::Contacts, f.clone());
            assert!(e.contains(&(field.to_owned(), code.to_owned())), "{f}: {e:?}");
        }
        let many: Vec<Value> = (0..51).map(|_| json!({"field": "status", "op": "eq", "value": "customer"})).collect();
        assert_eq!(
            errors(Resource::Contacts, json!({"any": many})),
            vec![("filter".into(), "too_many_conditions".into())]
        );
        assert_eq!(
            errors(Resource::Clients, json!({"all": [{"field": "consent", "op": "granted", "value": "x"}]}))[0].1,
            "unknown_field"
        );
        let saved = compile(
            Resource::Contacts,
            &json!({"all": [{"field": "email", "op": "eq", "value": "a@b.fr"}]}),
            "filter",
            true,
        );
        assert_eq!(saved.errors[0].code, "personal_field");
    }

    #[test]
    fn a_valid_filter_compiles_to_bound_sql() {
        let p = compile(
            Resource::Contacts,
            &json!({"any": [
                {"field": "client.sector", "op": "eq", "value": "retail"},
                {"all": [{"field": "tags", "op": "contains", "value": "vip"},
                         {"field": "consent", "op": "granted", "value": "newsletter"}]}]}),
            "filter",
            false,
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.purposes, vec![("filter.any[1].all[1].value".into(), "newsletter".into())]);
        let sql: String =
            p.condition.parts.iter().map(|x| if let Part::Sql(s) = x { s.as_str() } else { "?" }).collect();
        assert!(
            sql.contains("EXISTS (SELECT 1 FROM clients WHERE clients.id = contacts.client_id AND clients.sector = ?)"),
            "{sql}"
        );
        assert!(sql.contains(" OR "), "{sql}");
        assert!(!sql.contains("retail") && !sql.contains("vip"), "values are bound, never inlined: {sql}");
    }
}
