//! The composition root: adapters chosen from [`Settings`], wired into the [`AuthService`]
//! and served by actix-web. `main` and the tests both go through [`Application::build`].

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
pub use actix_web::dev::ServerHandle;
use actix_web::middleware::{Condition, DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use chrono::Duration;
use flowrex_domain::ports::{FailureCounter, Probe, Quota, RateLimiter};
use flowrex_domain::{AuthPolicy, AuthPorts, AuthService, LoginThrottle};
use flowrex_infrastructure::database::DatabaseProbe;
use flowrex_infrastructure::database::{self, Backend};
use flowrex_infrastructure::rate_limit::{
    Circuit, FailoverFailureCounter, FailoverRateLimiter, InProcessFailureCounter,
    InProcessRateLimiter, RedisFailureCounter, RedisRateLimiter,
};
use flowrex_infrastructure::redis_store::ConnectionManager;
use flowrex_infrastructure::redis_store::{self, RedisProbe};
use flowrex_infrastructure::{
    BcryptHasher, JwtTokens, SeaOrmSessionStore, SeaOrmUserRepository, SystemClock,
};
use migration::sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use migration::{Migrator, MigratorTrait};
use secrecy::ExposeSecret;

use crate::extractors::BodyTimeout;
use crate::middleware::cors::{self, AllowedOrigins};
use crate::middleware::rate_limit::{self, ClientRateLimit};
use crate::middleware::{csrf, json_errors};
use crate::routes;
use crate::routes::health::Readiness;
use crate::routes::keys::Jwks;
use crate::settings::Settings;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// While Redis is failing, how long to count in process before trying it again.
const REDIS_RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
}

impl Application {
    /// Connects to the database, applies pending migrations (unless `AUTO_MIGRATE=false`),
    /// wires the adapters and binds `HOST:PORT`.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, a setting cannot be used, or the
    /// address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        for secret in &settings.generated_secrets {
            tracing::warn!(
                "{secret} is not set: using a random one for this run (development only); tokens will not survive a restart"
            );
        }
        if settings.app_env.is_production() && settings.database.url.backend() == Backend::Sqlite {
            tracing::warn!(
                "running production on SQLite ({}); set DATABASE_URL to PostgreSQL for several instances",
                settings.database.url
            );
        }
        let db = open_database(&settings).await?;

        let listener = TcpListener::bind(settings.address())
            .with_context(|| format!("failed to bind {}", settings.address()))?;
        let port = listener.local_addr().context("no local address")?.port();

        let redis = settings
            .redis_url
            .as_ref()
            .map(|url| redis_store::connect(url.expose_secret(), settings.redis_timeout))
            .transpose()?;
        let circuit = Arc::new(Circuit::new(settings.redis_timeout, REDIS_RETRY_INTERVAL));
        let limit = settings.rate_limit_per_minute;
        let client_limit = web::Data::new(ClientRateLimit(rate_limiter(
            &settings,
            redis.as_ref(),
            &circuit,
            "ip",
            Quota {
                max: limit.max(1),
                window: std::time::Duration::from_secs(60),
            },
        )));
        let mut probes: Vec<Arc<dyn Probe>> = vec![Arc::new(DatabaseProbe::new(
            db.clone(),
            settings.database.acquire_timeout,
        ))];
        if let Some(connection) = &redis {
            probes.push(Arc::new(RedisProbe::new(
                connection.clone(),
                settings.redis_timeout,
            )));
        }
        let readiness = web::Data::new(Readiness(probes));
        let tokens = jwt_tokens(&settings)?;
        let jwks = web::Data::new(Jwks(
            serde_json::to_vec(tokens.jwks()).context("JWK set")?.into(),
        ));
        let auth = web::Data::new(
            compose(&settings, db.clone(), tokens.clone())?.with_login_throttle(LoginThrottle {
                per_ip: failure_counter(
                    &settings,
                    redis.as_ref(),
                    &circuit,
                    "login-ip",
                    settings.login_max_failures_per_ip,
                ),
                per_account: failure_counter(
                    &settings,
                    redis.as_ref(),
                    &circuit,
                    "login-account",
                    settings.login_max_failures_per_account,
                ),
            }),
        );
        let trusted_proxies = web::Data::new(settings.trusted_proxies.clone());
        let body_timeout = web::Data::new(BodyTimeout(settings.request_body_timeout));
        let pool = web::Data::new(db.clone());
        crate::telemetry::metrics();
        if settings.session_cleanup_interval_seconds > 0 {
            spawn_session_cleanup(
                auth.clone(),
                std::time::Duration::from_secs(settings.session_cleanup_interval_seconds),
            );
        }
        let csrf_on = settings.app_env.is_production() && settings.csrf_protection_enabled;
        let origins = Arc::new(settings.cors_origins.clone());
        let allowed_origins = web::Data::new(AllowedOrigins::new(&settings.cors_origins));
        let hsts = settings.app_env.is_production();

        let openapi = crate::openapi::ApiDoc::openapi();
        let mut server = HttpServer::new(move || {
            let mut security = DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Referrer-Policy", "no-referrer"));
            if hsts {
                security = security.add((
                    "Strict-Transport-Security",
                    "max-age=63072000; includeSubDomains",
                ));
            }
            App::new()
                .app_data(auth.clone())
                .app_data(client_limit.clone())
                .app_data(readiness.clone())
                .app_data(trusted_proxies.clone())
                .app_data(jwks.clone())
                .app_data(allowed_origins.clone())
                .app_data(pool.clone())
                .app_data(web::Data::new(tokens.clone()))
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .app_data(body_timeout.clone())
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
                // Innermost first: CSRF, then the rate limit, CORS (so that 403 and 429
                // answers carry CORS headers) and its filter for other origins, JSON error
                // bodies, security headers, HEAD as GET, request ids and access logs.
                .wrap(Condition::new(csrf_on, from_fn(csrf::require_csrf_header)))
                .wrap(Condition::new(
                    limit > 0,
                    from_fn(rate_limit::limit_per_client),
                ))
                .wrap(cors::cors(&origins))
                .wrap(from_fn(cors::only_allowed_origins))
                .wrap(ErrorHandlers::new().default_handler(json_errors::into_json))
                .wrap(security)
                .wrap(from_fn(crate::middleware::head::head_as_get))
                .wrap(from_fn(crate::middleware::observe::observe))
        })
        .listen(listener)
        .context("failed to listen")?;
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        // Signals are ours (see `run_until_stopped`): actix would stop at once on SIGINT.
        server = server
            .shutdown_timeout(settings.shutdown_grace_seconds)
            .disable_signals();
        tracing::info!(
            address = %settings.address(),
            port,
            database = %settings.database.url,
            env = settings.app_env.name(),
            "flowrex listening"
        );
        Ok(Self {
            port,
            server: server.run(),
            db,
        })
    }

    /// The port it listens on (useful with `PORT=0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully (tests, signal handlers).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM), then closes the pool.
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let signals = tokio::spawn(async move {
            if shutdown_signal().await {
                tracing::info!("shutting down: finishing in-flight requests");
                handle.stop(true).await;
            }
        });
        let result = self.server.await;
        signals.abort();
        if let Err(error) = self.db.close().await {
            tracing::warn!(%error, "closing the database pool failed");
        }
        result
    }
}

/// Waits for SIGTERM or SIGINT (Ctrl-C); `false` if no handler could be installed.
async fn shutdown_signal() -> bool {
    let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return false;
    };
    tokio::select! {
        _ = terminate.recv() => true,
        interrupted = tokio::signal::ctrl_c() => interrupted.is_ok(),
    }
}

/// A pool on the configured database (for the CLI's `migrate`).
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    database::connect(&settings.database)
        .await
        .with_context(|| {
            format!(
                "failed to connect to the database at {}",
                settings.database.url
            )
        })
}

/// The service without the HTTP server, for the CLI's user commands: pending migrations
/// applied (unless `AUTO_MIGRATE=false`), no rate limits.
///
/// # Errors
/// When the database cannot be reached or migrated, or a setting cannot be used.
pub async fn open_service(
    settings: &Settings,
) -> anyhow::Result<(DatabaseConnection, AuthService)> {
    let db = open_database(settings).await?;
    let tokens = jwt_tokens(settings)?;
    let auth = compose(settings, db.clone(), tokens)?;
    Ok((db, auth))
}

/// The serving pool, with pending migrations applied first unless `AUTO_MIGRATE=false`:
/// through a pool of their own, or in place for an in-memory SQLite database (whose one
/// connection is the database).
async fn open_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let db = connect(settings).await?;
    if !settings.auto_migrate {
        return Ok(db);
    }
    if settings.database.url.is_sqlite_memory() {
        // One private database per connection: it is migrated where it lives.
        Migrator::up(&db, None)
            .await
            .context("failed to apply database migrations")?;
        return Ok(db);
    }
    // A restart on an up-to-date schema (the common case) opens one connection, not two:
    // the check reads `seaql_migrations` only, and changes nothing. It runs in one
    // transaction so that its two queries share the connection (sqlx hands a released
    // connection back asynchronously, so a second query at once would open another one;
    // with TLS to PostgreSQL each costs ~100 ms).
    let pending = async {
        let check = db.begin().await?;
        let pending = Migrator::get_pending_migrations_read_only(&check).await?;
        check.commit().await?;
        Ok::<_, DbErr>(pending)
    }
    .await
    .context("failed to read the applied database migrations")?;
    if pending.is_empty() {
        return Ok(db);
    }
    db.close()
        .await
        .context("failed to close the database pool before migrating")?;
    migrate(&settings.database).await?;
    connect(settings).await
}

/// The token signer and verifier the settings describe.
fn jwt_tokens(settings: &Settings) -> anyhow::Result<Arc<JwtTokens>> {
    let tokens = JwtTokens::new(
        &settings.jwt_algorithm,
        &settings.jwt_keys()?,
        &settings.jwt_claims,
    )
    .context("invalid JWT settings")?;
    Ok(Arc::new(tokens))
}

/// Applies pending migrations through a pool of its own, closed before the serving pool
/// opens: a connection that read the schema before a migration changed it could describe
/// statements by the old schema (SQLite).
async fn migrate(settings: &database::DatabaseSettings) -> anyhow::Result<()> {
    let mut one = settings.clone();
    one.max_connections = 1;
    one.min_connections = 1;
    let db = database::connect(&one)
        .await
        .with_context(|| format!("failed to connect to the database at {}", settings.url))?;
    Migrator::up(&db, None)
        .await
        .context("failed to apply database migrations")?;
    db.close()
        .await
        .context("failed to close the migration connection")
}

/// Builds the service from its adapters.
fn compose(
    settings: &Settings,
    db: DatabaseConnection,
    tokens: Arc<JwtTokens>,
) -> anyhow::Result<AuthService> {
    let hasher = BcryptHasher::new(settings.bcrypt_cost).context("invalid BCRYPT_COST")?;
    Ok(AuthService::new(
        AuthPorts {
            users: Arc::new(SeaOrmUserRepository::new(db.clone())),
            sessions: Arc::new(SeaOrmSessionStore::new(db)),
            hasher: Arc::new(hasher),
            issuer: tokens.clone(),
            verifier: tokens,
            clock: Arc::new(SystemClock),
        },
        AuthPolicy {
            access_ttl: Duration::minutes(settings.access_token_expire_minutes),
            refresh_ttl: Duration::days(settings.refresh_token_expire_days),
            refresh_reuse_grace: Duration::seconds(i64::from(settings.refresh_reuse_grace_seconds)),
        },
    ))
}

/// Deletes expired sessions every `interval`, in small batches, for as long as the server
/// runs. Every instance may run it: deletes of the same rows are harmless.
fn spawn_session_cleanup(auth: web::Data<AuthService>, interval: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match auth.delete_expired_sessions(chrono::Utc::now(), 500).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired sessions deleted"),
                Err(error) => tracing::warn!(%error, "expired sessions not deleted"),
            }
        }
    });
}

/// A limiter for `quota` named `scope`: shared through Redis (with in-process fallback,
/// watched by `circuit`) when Redis is configured, in process otherwise.
fn rate_limiter(
    settings: &Settings,
    redis: Option<&ConnectionManager>,
    circuit: &Arc<Circuit>,
    scope: &str,
    quota: Quota,
) -> Arc<dyn RateLimiter> {
    let local = Arc::new(InProcessRateLimiter::new(quota));
    let Some(connection) = redis else {
        return local;
    };
    let prefix = format!("{}:rl:{scope}:", settings.redis_key_prefix);
    Arc::new(FailoverRateLimiter::new(
        Arc::new(RedisRateLimiter::new(connection.clone(), prefix, quota)),
        local,
        circuit.clone(),
    ))
}

/// A failed-login counter allowing `max` failures per `LOGIN_FAILURE_WINDOW_SECONDS`
/// (`None` when `max` is 0), placed like [`rate_limiter`]'s.
fn failure_counter(
    settings: &Settings,
    redis: Option<&ConnectionManager>,
    circuit: &Arc<Circuit>,
    scope: &str,
    max: u32,
) -> Option<Arc<dyn FailureCounter>> {
    if max == 0 {
        return None;
    }
    let quota = Quota {
        max,
        window: settings.login_failure_window,
    };
    let local = Arc::new(InProcessFailureCounter::new(quota));
    let Some(connection) = redis else {
        return Some(local);
    };
    let prefix = format!("{}:rl:{scope}:", settings.redis_key_prefix);
    Some(Arc::new(FailoverFailureCounter::new(
        Arc::new(RedisFailureCounter::new(connection.clone(), prefix, quota)),
        local,
        circuit.clone(),
    )))
}
