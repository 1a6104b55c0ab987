//! Sign-in with an outside provider (`docs/federation.md`): the configured providers, the
//! start (a redirect to the provider, the flow bound to this browser by a cookie), the
//! provider's callback (a redirect back to the front end's `return_to` with a one-time
//! `code`, or a fixed `error` code; never a token in a URL), and the exchange of that code
//! for the SPEC's token body — or `403 mfa_required`, exactly as a password login answers.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{CacheControl, CacheDirective, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::{
    FLOW_TTL, FederationError, FederationRefusal, Landed, LoginOutcome, ProviderCallback, SignIn,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::TokensBody;
use super::login::{MfaRequiredBody, second_factor_required};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Client, Parsed};
use crate::routes::auth::TokenTransport;
use crate::routes::handlers;
use crate::validation::Echo;
use crate::validation::body::{BodyField, request_body};

handlers![providers, authorize, callback, callback_post, exchange];

/// The cookie that binds a flow to the browser that started it.
pub const FLOW_COOKIE: &str = "flowrex_oauth";
/// Where the cookie is sent: the callbacks.
const FLOW_COOKIE_PATH: &str = "/api/v1/auth/oauth";

/// Whether the flow cookie is `Secure` (outside development), as app data.
#[derive(Debug, Clone, Copy)]
pub struct FlowCookie {
    /// `Secure`.
    pub secure: bool,
}

impl FlowCookie {
    /// The cookie holding the browser's secret of a flow, for as long as the flow lives.
    pub fn with(self, browser: &str) -> Cookie<'static> {
        Cookie::build(FLOW_COOKIE, browser.to_owned())
            .path(FLOW_COOKIE_PATH)
            .http_only(true)
            .secure(self.secure)
            // Lax: sent on the provider's redirect back (a top-level GET), never on a
            // cross-site POST or a subrequest.
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::seconds(FLOW_TTL.num_seconds()))
            .finish()
    }

    /// A cookie that deletes it.
    fn cleared(self) -> Cookie<'static> {
        let mut cookie = self.with("");
        cookie.make_removal();
        cookie
    }
}

/// A configured provider, as listed.
#[derive(Serialize, ToSchema)]
pub struct ProviderBody {
    /// Its id, for `/oauth/{provider}/authorize` and `/identities/{provider}`.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// `oidc` or `github`.
    pub kind: &'static str,
}

/// List the outside providers
///
/// The outside providers this service signs in with, in their configured order.
#[utoipa::path(
    get,
    path = "/api/v1/auth/providers",
    tag = "outside providers",
    operation_id = "list_providers",
    responses((status = 200, description = "The configured providers", body = [ProviderBody]))
)]
pub async fn providers(sign_in: web::Data<SignIn>) -> HttpResponse {
    let list: Vec<ProviderBody> = sign_in
        .providers()
        .into_iter()
        .map(|info| ProviderBody {
            id: info.id.to_string(),
            name: info.name,
            kind: info.kind.as_str(),
        })
        .collect();
    HttpResponse::Ok().json(list)
}

/// The query string's parameters, by name (the first of each).
fn query(request: &HttpRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_str(request.query_string()).unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Start signing in with an outside provider
///
/// Redirects the browser to the provider with `state`, `nonce` and a PKCE S256 challenge,
/// and sets a cookie (HttpOnly, SameSite=Lax, Secure outside development) that binds the
/// flow to this browser for 10 minutes. `return_to` must be on `OAUTH_RETURN_URLS`
/// exactly. A front end that sends its own `code_challenge` (with
/// `code_challenge_method=S256`) must send the verifier with the exchange.
#[utoipa::path(
    get,
    path = "/api/v1/auth/oauth/{provider}/authorize",
    tag = "outside providers",
    operation_id = "oauth_authorize",
    params(
        ("provider" = String, Path, description = "A configured provider's id"),
        ("return_to" = String, Query, description = "The front end's address to come back to"),
        ("code_challenge" = Option<String>, Query, description = "The front end's own PKCE S256 challenge"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256`")
    ),
    responses(
        (status = 302, description = "To the provider"),
        (status = 400, description = "return_to is not allowed, or an invalid code_challenge", body = ErrorBody),
        (status = 404, description = "Provider not found", body = ErrorBody),
        (status = 503, description = "Provider unavailable: its discovery could not be read yet", body = ErrorBody)
    )
)]
pub async fn authorize(
    sign_in: web::Data<SignIn>,
    cookie: web::Data<FlowCookie>,
    provider: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = query(&request);
    let return_to = param(&params, "return_to").unwrap_or_default();
    let challenge = param(&params, "code_challenge").map(str::to_owned);
    if challenge.is_some() && param(&params, "code_challenge_method") != Some("S256") {
        return Err(ApiError::InvalidCodeChallenge);
    }
    let start = sign_in
        .start_federated(&provider, return_to, challenge)
        .await?;
    Ok(HttpResponse::Found()
        .insert_header((LOCATION, start.authorization_url))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .cookie(cookie.with(start.browser.expose()))
        .finish())
}

/// Receive the provider's answer
///
/// Checks the `state` (single use, 10 minutes, bound to this browser's cookie), the `iss`
/// parameter where the provider advertises it, exchanges the code with the PKCE verifier
/// and checks the ID token. Then redirects to `return_to?code=…` (a one-time code for
/// `POST /api/v1/auth/oauth/exchange`, valid 60 s), `return_to?linked=PROVIDER` after a
/// link, or `return_to?error=CODE` (a fixed code, see docs/federation.md). Without a
/// known state there is no trusted `return_to`: 400.
#[utoipa::path(
    get,
    path = "/api/v1/auth/oauth/{provider}/callback",
    tag = "outside providers",
    operation_id = "oauth_callback",
    params(("provider" = String, Path, description = "The provider's id")),
    responses(
        (status = 302, description = "To return_to, with code, linked or error"),
        (status = 400, description = "invalid_state: no flow to return to", body = ErrorBody)
    )
)]
pub async fn callback(
    sign_in: web::Data<SignIn>,
    cookie: web::Data<FlowCookie>,
    provider: web::Path<String>,
    Client(client): Client,
    request: HttpRequest,
) -> HttpResponse {
    let params = query(&request);
    let text = |name| param(&params, name).map(str::to_owned);
    let started = std::time::Instant::now();
    let landing = sign_in
        .finish_federated(
            ProviderCallback {
                provider: provider.into_inner(),
                state: text("state"),
                browser: request
                    .cookie(FLOW_COOKIE)
                    .map(|c| c.value().to_owned())
                    .filter(|value| !value.is_empty()),
                code: text("code"),
                error: text("error"),
                iss: text("iss"),
            },
            client,
        )
        .await;
    let outcome = match &landing.outcome {
        Ok(Landed::SignedIn(_)) => "success",
        Ok(Landed::Linked(_)) => "linked",
        Err(refusal) => refusal.code(),
    };
    metrics::counter!("flowrex_federated_callbacks_total", "outcome" => outcome).increment(1);
    // How long the provider took, and the whole (the rest is the service's own time).
    let timing = (
        "Server-Timing",
        format!(
            "provider;dur={:.3}, total;dur={:.3}",
            landing.provider_time.as_secs_f64() * 1000.0,
            started.elapsed().as_secs_f64() * 1000.0
        ),
    );
    let Some(return_to) = landing.return_to else {
        let refusal = landing
            .outcome
            .err()
            .unwrap_or(FederationRefusal::InvalidState);
        // The cookie stays: it may be another flow's of this browser (a stranger's page can
        // send the browser here with any state).
        return HttpResponse::BadRequest()
            .insert_header(timing)
            .json(ErrorBody::new(refusal.code()));
    };
    let (name, value) = match &landing.outcome {
        Ok(Landed::SignedIn(code)) => ("code", code.expose().to_owned()),
        Ok(Landed::Linked(provider)) => ("linked", provider.clone()),
        Err(refusal) => ("error", refusal.code().to_owned()),
    };
    let location = match url::Url::parse(&return_to) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair(name, &value);
            url.to_string()
        }
        Err(_) => return_to,
    };
    let mut response = HttpResponse::Found();
    response
        .insert_header((LOCATION, location))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header(timing);
    // A sign-in's code is exchanged with the cookie: it stays until the exchange (or its 10
    // minutes); a finished link no longer needs it.
    if matches!(landing.outcome, Ok(Landed::Linked(_))) {
        response.cookie(cookie.cleared());
    }
    response.finish()
}

/// The answer parameters a `form_post` callback carries on to the `GET` callback.
const CALLBACK_PARAMETERS: [&str; 4] = ["code", "state", "iss", "error"];

/// Receive the provider's answer as a form post
///
/// Apple posts its answer (`response_mode=form_post`): a cross-site `POST`, which the
/// flow's `SameSite=Lax` cookie does not follow. This answers a page of the service's own
/// that moves the browser on to the `GET` callback with the same parameters — a
/// navigation from this origin, which carries the cookie. Nothing is checked or spent here.
#[utoipa::path(
    post,
    path = "/api/v1/auth/oauth/{provider}/callback",
    tag = "outside providers",
    operation_id = "oauth_callback_form_post",
    params(("provider" = String, Path, description = "The provider's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The provider's answer: `code`, `state`, `iss`, or `error`"),
    responses(
        (status = 200, description = "A page that continues at the GET callback", content_type = "text/html"),
        (status = 404, description = "Provider not found", body = ErrorBody)
    )
)]
pub async fn callback_post(
    provider: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let provider =
        flowrex_domain::ProviderId::parse(&provider).ok_or(ApiError::ProviderNotFound)?;
    let posted: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut kept: Vec<(&str, &str)> = Vec::new();
    for name in CALLBACK_PARAMETERS {
        if let Some((_, value)) = posted.iter().find(|(key, _)| key == name) {
            kept.push((name, value));
        }
    }
    let query = serde_urlencoded::to_string(&kept).unwrap_or_default();
    let target = escape(&format!("/api/v1/auth/oauth/{provider}/callback?{query}"));
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={target}\">\
         <title>Signing in</title></head><body>\
         <p><a href=\"{target}\">Continue signing in</a></p></body></html>"
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .body(page))
}

/// `raw` for an HTML attribute.
fn escape(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

const CODE: BodyField = BodyField::required("code", "The `code` the callback gave `return_to`.");
const VERIFIER: BodyField = BodyField::optional(
    "code_verifier",
    "The PKCE verifier of the `code_challenge` sent to `/authorize`, if one was.",
);

request_body!(
    /// The body of `POST /oauth/exchange`.
    ExchangeRequest,
    "The one-time code, and the front end's PKCE verifier if it sent a challenge.",
    [CODE, VERIFIER],
    |fields| -> (String, Option<String>) {
        let code = fields.required_string(CODE.name, Echo::No);
        let verifier = fields.optional_string(VERIFIER.name);
        code.zip(verifier)
    }
);

/// Exchange a sign-in code for tokens
///
/// The SPEC's token body (and the cookie transport when asked, as login), or `403
/// mfa_required` exactly as a password login answers for an account with a second factor.
/// Every rule of a password login applies; the session's `amr` is `fed`. The code is bound
/// to the browser that began the flow: send the request with credentials (the flow's cookie)
/// or, when `/authorize` had a `code_challenge`, with its `code_verifier`. A used, expired
/// or unknown code, another browser's code or a wrong verifier: 400 `Invalid code`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/oauth/exchange",
    tag = "outside providers",
    operation_id = "oauth_exchange",
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "A token pair", body = TokensBody),
        (status = 400, description = "Invalid code", body = ErrorBody),
        (status = 403, description = "mfa_required (no tokens), or Email not verified", body = MfaRequiredBody)
    )
)]
pub async fn exchange(
    sign_in: web::Data<SignIn>,
    cookie: web::Data<FlowCookie>,
    transport: TokenTransport,
    Client(client): Client,
    request: HttpRequest,
    body: Parsed<ExchangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (code, verifier) = body.value()?;
    let browser = request.cookie(FLOW_COOKIE).map(|c| c.value().to_owned());
    let result = sign_in
        .exchange_code(&code, verifier.as_deref(), browser.as_deref(), client)
        .await;
    let outcome = match &result {
        Ok(LoginOutcome::SignedIn(_)) => "success",
        Ok(LoginOutcome::SecondFactorRequired(_)) => "mfa_required",
        Err(FederationError::InvalidCode) => "invalid_code",
        Err(_) => "error",
    };
    metrics::counter!("flowrex_federated_exchanges_total", "outcome" => outcome).increment(1);
    let mut response = match result? {
        LoginOutcome::SignedIn(pair) => transport.answer(pair),
        LoginOutcome::SecondFactorRequired(challenge) => second_factor_required(&challenge),
    };
    // The code is spent: the flow's cookie has done its work.
    if browser.is_some() {
        response
            .add_cookie(&cookie.cleared())
            .map_err(|error| ApiError::Internal(error.into()))?;
    }
    Ok(response)
}
