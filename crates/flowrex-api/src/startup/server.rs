//! The HTTP server: the app data each request can reach, the routes, and the middleware
//! around them, in their order.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{Condition, DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use flowrex_domain::{Accounts, Admin, Factors, SignIn};
use flowrex_infrastructure::JwtTokens;
use utoipa_swagger_ui::SwaggerUi;

use super::MAX_BODY_BYTES;
use super::adapters::Adapters;
use crate::client_ip::TrustedProxies;
use crate::extract::BodyTimeout;
use crate::middleware::cors::{self, AllowedOrigins};
use crate::middleware::rate_limit::{self, ClientRateLimit};
use crate::middleware::{csrf, head, json_errors, observe};
use crate::routes;
use crate::routes::auth::RefreshCookie;
use crate::routes::auth::oauth::FlowCookie;
use crate::routes::health::Readiness;
use crate::routes::keys::Jwks;
use crate::routes::metrics::{Events, Outbox, Pool};
use crate::routes::pages::Pages;
use crate::settings::http::HttpConfig;
use crate::settings::{AppEnv, Settings};

/// The four services, as handlers take them.
pub struct Services {
    /// Signing in and sessions (also every authenticated request's check).
    pub sign_in: web::Data<SignIn>,
    /// One's own account.
    pub accounts: web::Data<Accounts>,
    /// Second factors and passkeys.
    pub factors: web::Data<Factors>,
    /// Administration.
    pub admin: web::Data<Admin>,
}

impl From<flowrex_domain::Services> for Services {
    fn from(services: flowrex_domain::Services) -> Self {
        Self {
            sign_in: web::Data::new(services.sign_in),
            accounts: web::Data::new(services.accounts),
            factors: web::Data::new(services.factors),
            admin: web::Data::new(services.admin),
        }
    }
}

/// What handlers and middleware read, shared by every worker.
pub struct State {
    services: Services,
    client_limit: Option<web::Data<ClientRateLimit>>,
    readiness: web::Data<Readiness>,
    trusted_proxies: web::Data<TrustedProxies>,
    jwks: web::Data<Jwks>,
    pool: web::Data<Pool>,
    tokens: web::Data<Arc<JwtTokens>>,
    allowed_origins: web::Data<AllowedOrigins>,
    body_timeout: web::Data<BodyTimeout>,
    refresh_cookie: web::Data<RefreshCookie>,
    flow_cookie: web::Data<FlowCookie>,
    pages: web::Data<Pages>,
    outbox: web::Data<Outbox>,
    webhooks: web::Data<flowrex_domain::Webhooks>,
    events: web::Data<Events>,
}

impl State {
    /// The state of a server over `adapters` and `services`.
    ///
    /// # Errors
    /// When the JWK set cannot be serialised or a page template does not parse.
    pub fn new(
        settings: &Settings,
        adapters: &Adapters,
        services: Services,
    ) -> anyhow::Result<Self> {
        let keys = serde_json::to_value(&adapters.tokens.jwks().keys).context("JWK set")?;
        Ok(Self {
            services,
            client_limit: adapters
                .request_limiter(&settings.limits)
                .map(|limiter| web::Data::new(ClientRateLimit(limiter))),
            readiness: web::Data::new(Readiness(adapters.probes(&settings.database))),
            trusted_proxies: web::Data::new(settings.http.trusted_proxies.clone()),
            jwks: web::Data::new(Jwks::of(keys).context("JWK set")?),
            pool: web::Data::new(Pool(Arc::new(adapters.db.clone()))),
            tokens: web::Data::new(adapters.tokens.clone()),
            allowed_origins: web::Data::new(AllowedOrigins::new(&settings.http.cors_origins)),
            body_timeout: web::Data::new(BodyTimeout(settings.http.body_timeout)),
            refresh_cookie: web::Data::new(RefreshCookie {
                max_age: settings.auth.policy.refresh_ttl,
            }),
            flow_cookie: web::Data::new(FlowCookie {
                secure: settings.env != AppEnv::Development,
            }),
            pages: web::Data::new(Pages::new().context("page templates")?),
            outbox: web::Data::new(Outbox(adapters.outbox())),
            webhooks: web::Data::new(adapters.webhooks()),
            events: web::Data::new(Events(adapters.event_queue())),
        })
    }
}

/// Serves `state` on `listener` as `http` says.
///
/// # Errors
/// When the listener cannot be used.
pub fn run(listener: TcpListener, state: State, http: &HttpConfig) -> anyhow::Result<Server> {
    crate::telemetry::metrics();
    let openapi = crate::openapi::document();
    let origins = http.cors_origins.clone();
    let (csrf_on, hsts) = (http.csrf, http.hsts);
    let limit_on = state.client_limit.is_some();
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
        let mut app = App::new()
            .app_data(state.services.sign_in.clone())
            .app_data(state.services.accounts.clone())
            .app_data(state.services.factors.clone())
            .app_data(state.services.admin.clone())
            .app_data(state.readiness.clone())
            .app_data(state.trusted_proxies.clone())
            .app_data(state.jwks.clone())
            .app_data(state.pool.clone())
            .app_data(state.tokens.clone())
            .app_data(state.allowed_origins.clone())
            .app_data(state.body_timeout.clone())
            .app_data(state.refresh_cookie.clone())
            .app_data(state.flow_cookie.clone())
            .app_data(state.pages.clone())
            .app_data(state.outbox.clone())
            .app_data(state.webhooks.clone())
            .app_data(state.events.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES));
        if let Some(limit) = &state.client_limit {
            app = app.app_data(limit.clone());
        }
        app.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
            // Innermost first: CSRF, then the rate limit, CORS (so that 403 and 429 answers
            // carry CORS headers) and its filter for other origins, JSON error bodies,
            // security headers, HEAD as GET, request ids and access logs.
            .wrap(Condition::new(csrf_on, from_fn(csrf::require_csrf_header)))
            .wrap(Condition::new(
                limit_on,
                from_fn(rate_limit::limit_per_client),
            ))
            .wrap(cors::cors(&origins))
            .wrap(from_fn(cors::only_allowed_origins))
            .wrap(ErrorHandlers::new().default_handler(json_errors::into_json))
            .wrap(security)
            .wrap(from_fn(head::head_as_get))
            .wrap(from_fn(observe::observe))
    })
    .listen(listener)
    .context("failed to listen")?;
    if let Some(workers) = http.workers {
        server = server.workers(workers);
    }
    // Signals are ours (see `Application::run_until_stopped`): actix would stop at once on
    // SIGINT.
    Ok(server
        .shutdown_timeout(http.shutdown_grace.as_secs())
        .disable_signals()
        .run())
}
