//! What async-graphql does not cap by itself, and codes for what it refuses.
//!
//! The schema builder caps depth, complexity, recursion and directives per
//! field; this extension adds a cap on aliases (which would otherwise let one
//! small document ask for the same field many times) and gives every refusal
//! before execution an `extensions.code`: `GRAPHQL_PARSE_FAILED`,
//! `GRAPHQL_VALIDATION_FAILED`, `QUERY_TOO_DEEP`, `QUERY_TOO_COMPLEX`,
//! `QUERY_TOO_MANY_ALIASES`.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, ValidationResult, Variables};

/// The extension (see the module docs).
pub struct Limits {
    /// Most aliased fields in one document.
    pub max_aliases: usize,
}

struct LimitsExt {
    max_aliases: usize,
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExt { max_aliases: self.max_aliases })
    }
}

fn with_code(mut e: ServerError, code: &str) -> ServerError {
    e.extensions.get_or_insert_with(Default::default).set("code", code);
    e
}

/// Counts the aliased fields of a selection set (fragments are counted once,
/// where they are defined; the parser's recursion cap bounds the depth).
fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => usize::from(f.node.alias.is_some()) + aliases(&f.node.selection_set.node),
            Selection::InlineFragment(f) => aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

fn document_aliases(doc: &ExecutableDocument) -> usize {
    let operations: usize = match &doc.operations {
        DocumentOperations::Single(op) => aliases(&op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => ops.values().map(|op| aliases(&op.node.selection_set.node)).sum(),
    };
    operations + doc.fragments.values().map(|f| aliases(&f.node.selection_set.node)).sum::<usize>()
}

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExt {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await.map_err(|e| with_code(e, "GRAPHQL_PARSE_FAILED"))?;
        let n = document_aliases(&doc);
        if n > self.max_aliases {
            let e = ServerError::new(
                format!("The query uses {n} aliases; at most {} are allowed.", self.max_aliases),
                None,
            );
            return Err(with_code(e, "QUERY_TOO_MANY_ALIASES"));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    // async-graphql reports its limits with these fixed messages.
                    let code = match e.message.as_str() {
                        "Query is nested too deep." => "QUERY_TOO_DEEP",
                        "Query is too complex." => "QUERY_TOO_COMPLEX",
                        _ => "GRAPHQL_VALIDATION_FAILED",
                    };
                    with_code(e, code)
                })
                .collect()
        })
    }
}
