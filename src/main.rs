//! The `clientele` binary: serve, migrate, mint tokens, print the OpenAPI document and the GraphQL schema.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use clientele::auth::{JwtKeys, Scope};
use clientele::config::Config;
use clientele::state::AppState;
use clientele::{build_app, db, telemetry};

#[derive(Parser)]
#[command(name = "clientele", version, about = "Customer file and prospect database with the GDPR built in")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, apply migrations and listen.
    Serve {
        /// Without a configured key: make an ephemeral secret and print an admin token.
        #[arg(long)]
        dev: bool,
    },
    /// Create the database if missing and apply pending migrations.
    Migrate,
    /// Tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Print the GraphQL schema (SDL).
    GraphqlSchema,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a token signed with CLIENTELE_JWT_SECRET.
    Create {
        /// Subject (who the token is for).
        #[arg(long)]
        sub: String,
        /// Space-separated scopes, e.g. "contacts:read orders:write" or "admin".
        #[arg(long)]
        scope: String,
        /// Lifetime, e.g. 30d, 12h, 15m.
        #[arg(long, default_value = "30d")]
        ttl: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&clientele::openapi()).expect("the document serialises"));
            ExitCode::SUCCESS
        }
        Command::GraphqlSchema => {
            print!("{}", clientele::graphql::sdl());
            ExitCode::SUCCESS
        }
        Command::Migrate => {
            telemetry::init(config.log_json);
            match db::prepare(&config.database_url) {
                Ok(n) => {
                    tracing::info!(applied = n, "migrations up to date");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    tracing::error!(error = %e, "migration failed");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Token { command: TokenCommand::Create { sub, scope, ttl } } => {
            token_create(&config, &sub, &scope, &ttl)
        }
        Command::Serve { dev } => serve(config, dev),
    }
}

fn token_create(config: &Config, sub: &str, scope: &str, ttl: &str) -> ExitCode {
    if let Some(bad) = scope.split_whitespace().find(|s| s.parse::<Scope>().is_err()) {
        eprintln!(
            "unknown scope `{bad}`; known: {}",
            Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
        );
        return ExitCode::from(2);
    }
    let ttl = match humantime::parse_duration(ttl) {
        Ok(d) if d >= Duration::from_secs(1) => d,
        _ => {
            eprintln!("invalid --ttl `{ttl}` (e.g. 30d, 12h, 15m)");
            return ExitCode::from(2);
        }
    };
    let token = JwtKeys::from_config(&config.jwt).and_then(|k| k.mint(sub, scope, ttl.as_secs() as i64, None));
    match token {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(mut config: Config, dev: bool) -> ExitCode {
    if dev {
        // Local receivers (http://localhost...) are what development needs.
        config.webhook_allow_private = true;
    }
    telemetry::init(config.log_json);
    let keys = match JwtKeys::from_config(&config.jwt) {
        Ok(k) => k,
        Err(clientele::auth::KeyError::Missing) if dev => {
            let keys = JwtKeys::ephemeral(&config.jwt.issuer, &config.jwt.audience);
            let token = keys.mint("dev-admin", "admin", 24 * 3600, None).expect("ephemeral key signs");
            // Printed on stdout for the developer; never logged.
            println!("Development mode: ephemeral signing key. Admin token (24 h):\n\n{token}\n");
            keys
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::from(2);
        }
    };
    if config.suppression_key.is_none() && !dev {
        tracing::error!("CLIENTELE_SUPPRESSION_KEY is not set (32+ random bytes; only --dev derives one)");
        return ExitCode::from(2);
    }
    if config.suppression_key.as_ref().is_some_and(|k| secrecy::ExposeSecret::expose_secret(k).len() < 32) {
        tracing::error!("CLIENTELE_SUPPRESSION_KEY must be at least 32 bytes");
        return ExitCode::from(2);
    }
    if config.audit_signing_key.is_none() && !dev {
        tracing::error!(
            "CLIENTELE_AUDIT_SIGNING_KEY is not set (base64 of a 32-byte Ed25519 seed; only --dev derives one)"
        );
        return ExitCode::from(2);
    }
    match db::prepare(&config.database_url) {
        Ok(n) => tracing::info!(applied = n, "migrations up to date"),
        // Keep going: /readyz reports 503 until the database answers.
        Err(e) => tracing::error!(error = %e, "database not prepared; serving, not ready"),
    }
    let (bind, workers) = (config.bind.clone(), config.workers);
    let state = AppState::new(config, keys);
    let result = actix_web::rt::System::new().block_on(async move {
        clientele::jobs::spawn(&state);
        let server = actix_web::HttpServer::new(move || build_app(state.clone()))
            .workers(workers)
            .shutdown_timeout(30)
            .bind(&bind)?;
        tracing::info!(address = %bind, "listening");
        // SIGINT/SIGTERM: stop accepting, let in-flight requests finish (30 s at most).
        server.run().await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}
