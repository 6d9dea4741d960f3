//! Token revocation by `jti`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use validator::Validate;

use super::{audit, decode};
use crate::auth::{Actor, Scope};
use crate::db::schema::revoked_tokens;
use crate::error::AppError;

/// Body of `POST /v1/tokens/revoke`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    /// The `jti` claim of the token to revoke.
    #[validate(required, length(min = 1, max = 200))]
    #[schema(required = true, min_length = 1, max_length = 200)]
    pub jti: Option<String>,
}

/// A revoked token id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevokedOut {
    pub jti: String,
    pub revoked_at: DateTime<Utc>,
}

/// `POST /v1/tokens/revoke` (`tokens:manage`): later uses of the token get 401.
pub fn revoke(conn: &mut PgConnection, actor: &Actor, body: Map<String, Value>) -> Result<RevokedOut, AppError> {
    actor.require(Scope::TokensManage)?;
    let (input, errors) = decode::<RevokeInput>(body);
    errors.finish()?;
    let jti = input.and_then(|i| i.jti).unwrap_or_default();
    conn.transaction(|conn| {
        diesel::insert_into(revoked_tokens::table)
            .values((revoked_tokens::jti.eq(&jti), revoked_tokens::revoked_by.eq(&actor.sub)))
            .on_conflict_do_nothing()
            .execute(conn)?;
        let revoked_at =
            revoked_tokens::table.find(&jti).select(revoked_tokens::revoked_at).first::<DateTime<Utc>>(conn)?;
        audit::record(conn, actor, "token.revoked", "token", &jti, vec![])?;
        Ok(RevokedOut { jti, revoked_at })
    })
}

/// Every revoked `jti` (loaded into memory, refreshed by a background job).
pub fn all(conn: &mut PgConnection) -> QueryResult<HashSet<String>> {
    Ok(revoked_tokens::table.select(revoked_tokens::jti).load::<String>(conn)?.into_iter().collect())
}
