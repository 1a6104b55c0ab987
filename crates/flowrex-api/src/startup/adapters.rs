//! The adapters, each built once from its settings: the database pool (migrated first),
//! Redis, the token and hashing adapters, the limiters, the readiness probes, and mail
//! (the account store and outbox, sealed with `APP_SECRET_KEY`, and the transport).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use flowrex_domain::ports::{FailureCounter, MailTransport};
use flowrex_domain::{
    AccountPolicy, BreachPolicy, CorePorts, DeliveryPolicy, EventDelivery, EventRetryPolicy,
    LinkTemplates, LoginThrottle, MailDelivery, Policies, ReturnUrls, ServicePorts, Services,
    Webhooks,
};
use flowrex_infrastructure::circuit::Circuit;
use flowrex_infrastructure::database::{self, DatabaseSettings};
use flowrex_infrastructure::failure_counter::{
    FailoverFailureCounter, InProcessFailureCounter, RedisFailureCounter,
};
use flowrex_infrastructure::federation::DISCOVERY_RETRY;
use flowrex_infrastructure::nats::{NatsPublisher, StreamSettings};
use flowrex_infrastructure::probe::{DatabaseProbe, Probe, RedisProbe};
use flowrex_infrastructure::rate_limit::{
    FailoverRateLimiter, InProcessRateLimiter, Quota, RateLimiter, RedisRateLimiter,
};
use flowrex_infrastructure::redis_connection::{self, ConnectionManager};
use flowrex_infrastructure::secret_box::SecretBox;
use flowrex_infrastructure::webhook::HttpWebhookSender;
use flowrex_infrastructure::{
    BcryptHasher, BreachRanges, EventRouting, JwtTokens, OutsideProviders, SeaOrmAccountStore,
    SeaOrmAuditLog, SeaOrmEventQueue, SeaOrmFederationStore, SeaOrmMfaStore, SeaOrmOutbox,
    SeaOrmPasskeyStore, SeaOrmSessionStore, SeaOrmUserRepository, SystemClock, TotpCodes,
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use secrecy::ExposeSecret;

use super::offline::{mail_transport, relying_party};
use crate::settings::Settings;
use crate::settings::database::DatabaseConfig;
use crate::settings::limits::LimitsConfig;
use crate::settings::passwords::BreachConfig;
use crate::settings::redis::RedisConfig;

/// While Redis is failing, how long to count in process before trying it again.
const REDIS_RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// Every adapter the service uses, built once.
pub struct Adapters {
    /// The serving pool.
    pub db: DatabaseConnection,
    /// The token signer and verifier (built while checking the settings).
    pub tokens: Arc<JwtTokens>,
    hasher: BcryptHasher,
    redis: Option<Redis>,
    /// Seals queued mails (from `APP_SECRET_KEY`).
    sealer: Arc<SecretBox>,
    factor_sealer: Arc<SecretBox>,
    /// Where mail goes; `None` when mail is off.
    transport: Option<Arc<dyn MailTransport>>,
    /// Seals webhook endpoints' signing secrets (from `APP_SECRET_KEY`).
    webhook_sealer: Arc<SecretBox>,
    /// Sends webhooks (and vets their URLs).
    webhook_sender: Arc<HttpWebhookSender>,
    /// Where account events go, and the local delivery worker's wake-up.
    routing: EventRouting,
    /// The audit trail (its writer runs in the background; flushed at shutdown).
    pub audit: SeaOrmAuditLog,
}

/// Redis and the circuit every adapter using it shares.
struct Redis {
    connection: ConnectionManager,
    circuit: Arc<Circuit>,
    config: RedisConfig,
}

impl Adapters {
    /// Opens the database (migrating it unless `AUTO_MIGRATE=false`) and Redis, and starts
    /// the hashing pool.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, or bcrypt cannot start.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let db = open_database(&settings.database).await?;
        let redis = settings
            .redis
            .as_ref()
            .map(|config| -> anyhow::Result<Redis> {
                Ok(Redis {
                    connection: redis_connection::connect(
                        config.url.expose_secret(),
                        config.timeout,
                    )?,
                    circuit: Arc::new(Circuit::new(config.timeout, REDIS_RETRY_INTERVAL)),
                    config: config.clone(),
                })
            })
            .transpose()?;
        Ok(Self {
            tokens: settings.auth.tokens.clone(),
            hasher: BcryptHasher::new(settings.auth.bcrypt_cost)?,
            redis,
            sealer: Arc::new(SecretBox::new(&settings.app_secret_key, "outbox")),
            factor_sealer: Arc::new(SecretBox::new(&settings.app_secret_key, "totp")),
            transport: mail_transport(&settings.mail)?,
            webhook_sealer: Arc::new(SecretBox::new(&settings.app_secret_key, "webhooks")),
            webhook_sender: Arc::new(HttpWebhookSender::new(settings.events.webhooks)?),
            routing: EventRouting {
                stream: settings.events.stream.is_some(),
                wake: Some(Arc::new(tokio::sync::Notify::new())),
            },
            audit: SeaOrmAuditLog::new(db.clone()),
            db,
        })
    }

    /// The services over the stores, hasher, tokens and clock, with `throttle`, links to
    /// `public_url` unless the settings name other pages, and passkeys for pages at the
    /// configured origins (by default `http://localhost:3000` and this service's own on
    /// `port`).
    ///
    /// # Errors
    /// When the WebAuthn origins cannot work with the relying party id.
    pub fn services(
        &self,
        settings: &Settings,
        public_url: &str,
        port: u16,
        throttle: LoginThrottle,
    ) -> anyhow::Result<Services> {
        let relying_party = relying_party(settings, port)?;
        let mail = &settings.mail;
        let own = LinkTemplates::served_by(public_url);
        let links = LinkTemplates {
            verify_email: mail.verify_email_url.clone().unwrap_or(own.verify_email),
            reset_password: mail
                .reset_password_url
                .clone()
                .unwrap_or(own.reset_password),
            confirm_email_change: mail
                .confirm_email_change_url
                .clone()
                .unwrap_or(own.confirm_email_change),
            email_login: mail.email_login_url.clone().unwrap_or(own.email_login),
        };
        let users = Arc::new(SeaOrmUserRepository::new(self.db.clone()));
        let ports = ServicePorts {
            core: CorePorts {
                users: users.clone(),
                sessions: Arc::new(SeaOrmSessionStore::new(self.db.clone())),
                accounts: Arc::new(
                    SeaOrmAccountStore::new(self.db.clone(), self.sealer.clone())
                        .routing_events(self.routing.clone()),
                ),
                factors: Arc::new(SeaOrmMfaStore::new(self.db.clone())),
                passkeys: Arc::new(SeaOrmPasskeyStore::new(self.db.clone())),
                federation: Arc::new(SeaOrmFederationStore::new(self.db.clone())),
                hasher: Arc::new(self.hasher.clone()),
                issuer: self.tokens.clone(),
                verifier: self.tokens.clone(),
                clock: Arc::new(SystemClock),
                audit: Arc::new(self.audit.clone()),
            },
            otp: Arc::new(TotpCodes::default()),
            sealer: self.factor_sealer.clone(),
            relying_party: Arc::new(relying_party),
            directory: users,
            providers: self.providers(settings, public_url)?,
        };
        let policies = Policies {
            auth: settings.auth.policy,
            accounts: AccountPolicy {
                verification_ttl: mail.verification_ttl,
                reset_ttl: mail.reset_ttl,
                email_change_ttl: mail.email_change_ttl,
                links,
                mail_enabled: mail.enabled(),
                require_verified_email: mail.require_verified_email,
                resend_limit: mail
                    .resend_interval
                    .and_then(|window| self.counter("mail", Quota { max: 1, window })),
                email_login: mail.email_login,
            },
            throttle,
            return_urls: ReturnUrls::new(settings.oauth.return_urls.clone()),
            breaches: breach_policy(&settings.breaches)?,
        };
        Ok(Services::new(ports, policies))
    }

    /// The outside providers of `OAUTH_PROVIDERS`, their callbacks under `public_url`; each
    /// OpenID Connect provider's discovery is read now in the background and again every
    /// minute until it succeeds (a provider not read yet answers 503).
    fn providers(
        &self,
        settings: &Settings,
        public_url: &str,
    ) -> anyhow::Result<Arc<OutsideProviders>> {
        let providers = Arc::new(OutsideProviders::new(
            settings.oauth.providers.clone(),
            public_url,
        )?);
        if !settings.oauth.providers.is_empty() {
            let retrying = providers.clone();
            tokio::spawn(async move {
                let mut every_minute = tokio::time::interval(DISCOVERY_RETRY);
                loop {
                    every_minute.tick().await;
                    retrying.retry().await;
                }
            });
        }
        Ok(providers)
    }

    /// The outbox, for delivery and its metrics.
    pub fn outbox(&self) -> Arc<SeaOrmOutbox> {
        Arc::new(SeaOrmOutbox::new(self.db.clone(), self.sealer.clone()))
    }

    /// The delivery worker's use case, when mail is on.
    pub fn mail_delivery(&self) -> Option<MailDelivery> {
        let transport = self.transport.clone()?;
        Some(MailDelivery::new(
            self.outbox(),
            transport,
            Arc::new(SystemClock),
            DeliveryPolicy::default(),
        ))
    }

    /// The account events' queue and the webhook endpoints.
    pub fn event_queue(&self) -> Arc<SeaOrmEventQueue> {
        Arc::new(SeaOrmEventQueue::new(
            self.db.clone(),
            self.webhook_sealer.clone(),
            self.sealer.clone(),
        ))
    }

    /// The webhook administration use cases.
    pub fn webhooks(&self) -> Webhooks {
        Webhooks::new(
            self.event_queue(),
            self.webhook_sender.clone(),
            Arc::new(SystemClock),
        )
    }

    /// The event delivery worker's use case (to the stream when `EVENTS_NATS_URL` is
    /// set, CloudEvents with `public_url` as their source; to webhooks always), and what
    /// wakes it.
    pub fn event_delivery(
        &self,
        settings: &Settings,
        public_url: &str,
    ) -> (EventDelivery, Option<Arc<tokio::sync::Notify>>) {
        let publisher = settings.events.stream.as_ref().map(|stream| {
            Arc::new(NatsPublisher::new(StreamSettings {
                url: stream.url.clone(),
                subject_prefix: stream.subject_prefix.clone(),
                stream: stream.stream.clone(),
                credentials_file: stream.credentials_file.clone(),
                tls_ca_file: stream.tls_ca_file.clone(),
                source: public_url.to_owned(),
            })) as Arc<dyn flowrex_domain::ports::EventPublisher>
        });
        let delivery = EventDelivery::new(
            self.event_queue(),
            publisher,
            self.webhook_sender.clone(),
            Arc::new(SeaOrmUserRepository::new(self.db.clone())),
            Arc::new(SystemClock),
            EventRetryPolicy::default(),
        );
        (delivery, self.routing.wake.clone())
    }

    /// The request limit per client, when on.
    pub fn request_limiter(&self, limits: &LimitsConfig) -> Option<Arc<dyn RateLimiter>> {
        let quota = Quota::per_minute(limits.per_minute?);
        let local = Arc::new(InProcessRateLimiter::new(quota));
        let Some(redis) = &self.redis else {
            return Some(local);
        };
        Some(Arc::new(FailoverRateLimiter::new(
            Arc::new(RedisRateLimiter::new(
                redis.connection.clone(),
                redis.prefix("ip"),
                quota,
            )),
            local,
            redis.circuit.clone(),
        )))
    }

    /// The login attempt counters, per client and per account and client.
    pub fn login_throttle(&self, limits: &LimitsConfig) -> LoginThrottle {
        LoginThrottle {
            per_client: self.failure_counter("login-ip", limits.logins_per_client, limits),
            per_account: self.failure_counter("login-account", limits.logins_per_account, limits),
        }
    }

    /// A counter allowing `max` attempts per window (`None` when the limit is off): shared
    /// through Redis (with in-process fallback) when Redis is configured, in process
    /// otherwise.
    fn failure_counter(
        &self,
        scope: &str,
        max: Option<u32>,
        limits: &LimitsConfig,
    ) -> Option<Arc<dyn FailureCounter>> {
        self.counter(
            scope,
            Quota {
                max: max?,
                window: limits.login_window,
            },
        )
    }

    /// A counter of `quota` under `scope`, shared as [`Self::failure_counter`] says.
    fn counter(&self, scope: &str, quota: Quota) -> Option<Arc<dyn FailureCounter>> {
        let local = Arc::new(InProcessFailureCounter::new(quota));
        let Some(redis) = &self.redis else {
            return Some(local);
        };
        Some(Arc::new(FailoverFailureCounter::new(
            Arc::new(RedisFailureCounter::new(
                redis.connection.clone(),
                redis.prefix(scope),
                quota,
            )),
            local,
            redis.circuit.clone(),
        )))
    }

    /// What `GET /health/ready` checks: the database, and Redis when configured.
    pub fn probes(&self, database: &DatabaseConfig) -> Vec<Arc<dyn Probe>> {
        let mut probes: Vec<Arc<dyn Probe>> = vec![Arc::new(DatabaseProbe::new(
            self.db.clone(),
            database.pool.acquire_timeout,
        ))];
        if let Some(redis) = &self.redis {
            probes.push(Arc::new(RedisProbe::new(
                redis.connection.clone(),
                redis.config.timeout,
            )));
        }
        probes
    }
}

impl Redis {
    /// The key prefix of a counter scope: `<REDIS_KEY_PREFIX>:rl:<scope>:`.
    fn prefix(&self, scope: &str) -> String {
        format!("{}:rl:{scope}:", self.config.key_prefix)
    }
}

/// A pool on the configured database (for the CLI's `migrate`).
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    connect_pool(&settings.database.pool).await
}

async fn connect_pool(pool: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    database::connect(pool)
        .await
        .with_context(|| format!("failed to connect to the database at {}", pool.url))
}

/// The services without the HTTP server, for the CLI's user commands: pending migrations
/// applied (unless `AUTO_MIGRATE=false`), no login throttle.
///
/// # Errors
/// When the database cannot be reached or migrated, or bcrypt cannot start.
pub async fn open_service(settings: &Settings) -> anyhow::Result<(DatabaseConnection, Services)> {
    let adapters = Adapters::build(settings).await?;
    let public_url = settings
        .mail
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.http.address()));
    let services = adapters.services(
        settings,
        &public_url,
        settings.http.port,
        LoginThrottle::default(),
    )?;
    Ok((adapters.db, services))
}

/// The serving pool, with pending migrations applied first unless `AUTO_MIGRATE=false`:
/// through a pool of their own, or in place for an in-memory SQLite database (whose one
/// connection is the database).
async fn open_database(config: &DatabaseConfig) -> anyhow::Result<DatabaseConnection> {
    let db = connect_pool(&config.pool).await?;
    if !config.auto_migrate {
        return Ok(db);
    }
    if config.pool.url.is_sqlite_memory() {
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
    migrate(&config.pool).await?;
    connect_pool(&config.pool).await
}

/// Applies pending migrations through a pool of its own, closed before the serving pool
/// opens: a connection that read the schema before a migration changed it could describe
/// statements by the old schema (SQLite).
async fn migrate(pool: &DatabaseSettings) -> anyhow::Result<()> {
    let mut one = pool.clone();
    one.max_connections = 1;
    one.min_connections = 1;
    let db = connect_pool(&one).await?;
    Migrator::up(&db, None)
        .await
        .context("failed to apply database migrations")?;
    db.close()
        .await
        .context("failed to close the migration connection")
}

/// The breached-password check of `config`.
///
/// # Errors
/// When its HTTP client cannot be built.
pub fn breach_policy(config: &BreachConfig) -> anyhow::Result<BreachPolicy> {
    let source = match &config.source {
        Some(source) => Some(Arc::new(BreachRanges::new(source.clone(), config.timeout)?)
            as Arc<dyn flowrex_domain::ports::BreachedPasswords>),
        None => None,
    };
    Ok(BreachPolicy {
        source,
        min_count: config.min_count,
        on_error: config.on_error,
    })
}
