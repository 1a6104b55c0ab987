//! The composition root. Reading [`Application::build`] goes: adapters chosen from
//! [`Settings`] (`startup/adapters.rs`) → the four services over them → the HTTP server
//! with its middleware (`startup/server.rs`). `main` and the tests both go through it; the
//! CLI's commands use [`connect`] and [`open_service`].

mod adapters;
mod offline;
mod server;

use std::net::TcpListener;

use actix_web::dev::Server;
pub use actix_web::dev::ServerHandle;
use actix_web::web;
use anyhow::Context;
use flowrex_domain::{Admin, EventDelivery, MailDelivery, SignIn};
use flowrex_infrastructure::SeaOrmAuditLog;
use flowrex_infrastructure::database::Backend;
use sea_orm::DatabaseConnection;

use self::adapters::Adapters;
pub use self::adapters::{breach_policy, connect, open_service};
pub use self::offline::{ConfigurationError, check_offline};
use crate::settings::Settings;
use crate::settings::auth::SessionCleanup;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
    audit: SeaOrmAuditLog,
}

impl Application {
    /// Connects to the database, applies pending migrations (unless `AUTO_MIGRATE=false`),
    /// builds each adapter once, wires them into the services and binds `HOST:PORT`.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, or the address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        warn_about(&settings);
        let adapters = Adapters::build(&settings).await?;
        let address = settings.http.address();
        let listener =
            TcpListener::bind(&address).with_context(|| format!("failed to bind {address}"))?;
        let port = listener.local_addr().context("no local address")?.port();
        let public_url = settings
            .mail
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}:{port}", settings.http.host));
        let services = adapters.services(
            &settings,
            &public_url,
            port,
            adapters.login_throttle(&settings.limits),
        )?;
        let services = server::Services::from(services);
        if let Some(cleanup) = settings.auth.cleanup {
            spawn_session_cleanup(services.sign_in.clone(), services.admin.clone(), cleanup);
        }
        if let Some(delivery) = adapters.mail_delivery() {
            spawn_mail_delivery(delivery, settings.mail.poll_interval);
        }
        let (events, wake) = adapters.event_delivery(&settings, &public_url);
        spawn_event_delivery(events, wake, settings.events.poll_interval);
        let state = server::State::new(&settings, &adapters, services)?;
        let server = server::run(listener, state, &settings.http)?;
        tracing::info!(
            address = %address,
            port,
            database = %settings.database.pool.url,
            env = settings.env.name(),
            "flowrex listening"
        );
        Ok(Self {
            port,
            server,
            db: adapters.db,
            audit: adapters.audit,
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

    /// Serves until the server is stopped (SIGINT/SIGTERM), then writes the audit events
    /// still counting and closes the pool.
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
        self.audit.flush().await;
        if let Err(error) = self.db.close().await {
            tracing::warn!(%error, "closing the database pool failed");
        }
        result
    }
}

/// What an operator should know before the first request.
fn warn_about(settings: &Settings) {
    for secret in &settings.generated_secrets {
        let lost = match *secret {
            "APP_SECRET_KEY" => "queued mails and enrolled authenticator apps (TOTP)",
            _ => "tokens",
        };
        tracing::warn!(
            "{secret} is not set: using a random one for this run (development only); {lost} will not survive a restart"
        );
    }
    if !settings.mail.enabled() {
        tracing::warn!(
            "SMTP_URL is not set: no mail is sent; verification, password reset and email change answer 503 (set SMTP_URL)"
        );
    }
    if settings.env.is_production_like() && settings.database.pool.url.backend() == Backend::Sqlite
    {
        tracing::warn!(
            "running {} on SQLite ({}); set DATABASE_URL to PostgreSQL for several instances",
            settings.env.name(),
            settings.database.pool.url
        );
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

/// Deletes expired sessions, and audit events past their retention, every
/// `cleanup.interval`, in batches, for as long as the server runs. Every instance may run it: deletes of the same rows are harmless.
fn spawn_session_cleanup(
    sign_in: web::Data<SignIn>,
    admin: web::Data<Admin>,
    cleanup: SessionCleanup,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(cleanup.interval);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match sign_in.delete_expired_sessions(cleanup.batch).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired sessions deleted"),
                Err(error) => tracing::warn!(%error, "expired sessions not deleted"),
            }
            if let Some(retention) = cleanup.audit_retention {
                match admin.purge_audit(retention, cleanup.batch).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "old audit events deleted"),
                    Err(error) => tracing::warn!(%error, "old audit events not deleted"),
                }
            }
        }
    });
}

/// How long the row of a delivered or given-up mail (its purpose, times and attempts; no
/// address, no link) is kept.
const MAIL_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
/// How often those rows are looked for.
const MAIL_PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Delivers queued mail every `interval` (at once again while a round finds a full
/// batch), and deletes finished rows older than [`MAIL_RETENTION`] hourly, for as long
/// as the server runs. Every instance runs it: the outbox hands each
/// message to one of them.
fn spawn_mail_delivery(delivery: MailDelivery, interval: std::time::Duration) {
    tokio::spawn(async move {
        let batch = delivery.policy().batch;
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_purge = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_purge {
                next_purge += MAIL_PURGE_INTERVAL;
                match delivery.purge_finished(MAIL_RETENTION).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "finished mails deleted"),
                    Err(error) => tracing::warn!(%error, "finished mails not deleted"),
                }
            }
            let full = match delivery.deliver_due().await {
                Ok(report) => {
                    metrics::counter!("flowrex_mail_sent_total").increment(report.sent);
                    metrics::counter!("flowrex_mail_retried_total").increment(report.retried);
                    metrics::counter!("flowrex_mail_failed_total").increment(report.failed);
                    report.sent + report.retried + report.failed >= batch
                }
                Err(error) => {
                    tracing::warn!(%error, "mail outbox not read; retrying");
                    false
                }
            };
            if !full {
                ticks.tick().await;
            }
        }
    });
}

/// How long the rows of an event whose deliveries all finished are kept (its deliveries'
/// log with them).
const EVENT_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Delivers account events every `interval`, at once when this instance's own change
/// queued some (`wake`), and again at once while a round finds a full batch; deletes
/// finished events older than [`EVENT_RETENTION`] hourly. Every instance runs it: the
/// queue hands each delivery to one of them.
fn spawn_event_delivery(
    delivery: EventDelivery,
    wake: Option<std::sync::Arc<tokio::sync::Notify>>,
    interval: std::time::Duration,
) {
    tokio::spawn(async move {
        let batch = delivery.policy().batch;
        let mut next_purge = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_purge {
                next_purge += MAIL_PURGE_INTERVAL;
                match delivery.purge_finished(EVENT_RETENTION).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "finished events deleted"),
                    Err(error) => tracing::warn!(%error, "finished events not deleted"),
                }
            }
            let full = match delivery.deliver_due().await {
                Ok(results) => {
                    for result in &results {
                        metrics::counter!(
                            "flowrex_event_deliveries_total",
                            "sink" => result.sink,
                            "outcome" => result.outcome.as_str()
                        )
                        .increment(1);
                        if let Some(lag) = result.lag {
                            metrics::histogram!(
                                "flowrex_event_delivery_lag_seconds",
                                "sink" => result.sink
                            )
                            .record(lag.as_secs_f64());
                        }
                    }
                    results.len() as u64 >= batch
                }
                Err(error) => {
                    tracing::warn!(%error, "event queue not read; retrying");
                    false
                }
            };
            if full {
                continue;
            }
            match &wake {
                Some(wake) => {
                    tokio::select! {
                        () = tokio::time::sleep(interval) => {}
                        () = wake.notified() => {}
                    }
                }
                None => tokio::time::sleep(interval).await,
            }
        }
    });
}
