//! The OpenAPI document: what the routing registers, plus the security
//! scheme, the shared headers and the error answers every operation has.

use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, Ref, Required};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::{FieldError, Problem};

/// Static parts of the document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Clientele",
        description = "Customer file and prospect database with the GDPR built in. \
            Every error is an RFC 9457 problem (`application/problem+json`). Lists are cursor-paginated. \
            Writes honour `If-Match`; POSTs honour `Idempotency-Key` (24 h, scoped to the token's `sub`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    servers((url = "/", description = "This server (the document is served by the API it describes)")),
    tags(
        (name = "clients", description = "Companies: SIREN, sector, size, revenue, and their stats"),
        (name = "contacts", description = "People, their interactions, provenance and Art. 14 notices"),
        (name = "orders", description = "Orders and their lines; upserts by external id, batches"),
        (name = "consents", description = "The consent ledger per purpose, with proof; the purposes"),
        (name = "segments", description = "Saved segments of contacts or clients: members, counts, reachability"),
        (name = "reachability", description = "May I contact them: checks before a campaign, one-click unsubscribe"),
        (name = "dsar", description = "Data-subject requests: identity, deadlines, processing, exports"),
        (name = "exports", description = "Export jobs: whole resources as NDJSON or CSV files, kept 7 days"),
        (name = "imports", description = "Import jobs: CSV or NDJSON files of clients, contacts, orders or consents, row by row through the API's rules"),
        (name = "register", description = "The Art. 30 register of processing activities"),
        (name = "retention", description = "Retention policies and sweeps"),
        (name = "audit", description = "The hash-chained audit trail, its checkpoints, flagged free text"),
        (name = "sync", description = "Delta sync tokens for mirrors"),
        (name = "integrations", description = "Events, webhooks, tokens"),
        (name = "graphql", description = "The GraphQL endpoint and GraphiQL"),
        (name = "system", description = "Health, readiness, metrics"),
    ),
    components(schemas(Problem, FieldError, crate::pagination::SortKey, crate::rest::dsar::ExportFormat,
        crate::services::imports::Resource, crate::services::imports::MatchOn)),
    modifiers(&Conventions)
)]
pub struct ApiDoc;

/// Adds the security scheme and the error answers of every operation.
pub struct Conventions;

fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name(Problem::name()))).build(),
        )
        .build()
        .into()
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApiDoc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let protected = path.starts_with("/v1/");
            let has_id = path.contains('{');
            for (method, op) in [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
                (HttpMethod::Put, item.put.as_mut()),
                (HttpMethod::Patch, item.patch.as_mut()),
                (HttpMethod::Delete, item.delete.as_mut()),
            ] {
                if let Some(op) = op {
                    decorate(op, method, protected, has_id);
                }
            }
        }
    }
}

fn decorate(op: &mut Operation, method: HttpMethod, protected: bool, has_id: bool) {
    let mut add = |status: &str, description: &str| {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| problem(description));
    };
    if !protected {
        return;
    }
    add("401", "Missing, malformed, expired or revoked token");
    add("403", "The token lacks the required scope");
    if has_id {
        add("404", "No such resource");
    }
    add("422", "Validation failed: every failing field is listed in `errors`");
    add("429", "Rate limit of the token exhausted; retry after `Retry-After`");
    add("500", "Unexpected error (the body carries no internals)");
    add("503", "Database unreachable or busy; retry after `Retry-After`");
    let writes = matches!(method, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch | HttpMethod::Delete);
    if writes {
        add("409", "Conflict: duplicate key, resource in use or restricted, idempotent request still running");
    }
    if matches!(method, HttpMethod::Put | HttpMethod::Patch | HttpMethod::Delete) {
        add("412", "`If-Match` does not match the current ETag");
    }
    if matches!(method, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch) {
        add("400", "Malformed JSON");
        add("413", "Body over 1 MiB (10 MiB for a batch)");
        add("415", "Body is not JSON");
    }
    if method == HttpMethod::Post {
        op.parameters.get_or_insert_with(Vec::new).push(
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("Replays the first answer for 24 h when the same request is sent again"))
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::String)
                        .max_length(Some(255)),
                ))
                .build(),
        );
    }
}
