//! `/email-login`: the page a sign-in mail's link opens (`EMAIL_LOGIN_URL` unset). `GET`
//! only checks the token and shows a button — mail scanners that open every link spend
//! nothing — and the button's `POST` signs in: the browser goes on to the front end's
//! `return_to?code=…` with the one-time exchange code of sign-in with an outside provider
//! (exchanged at `POST /api/v1/auth/oauth/exchange`, bound to this browser by the flow
//! cookie set here); with no front end to return to, this page signs the browser in itself
//! with the refresh cookie of the browser transport.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use flowrex_domain::{EMAIL_LOGIN_PAGE, EmailLinkLanding, EmailLoginError, LoginOutcome, SignIn};
use minijinja::context;

use super::{LinkFields, Pages};
use crate::extract::{Body, Client};
use crate::routes::auth::RefreshCookie;
use crate::routes::auth::oauth::FlowCookie;
use crate::routes::cookie;

/// `GET` and `POST /email-login`.
pub fn resource() -> Resource {
    web::resource(format!("/{EMAIL_LOGIN_PAGE}"))
        .route(web::get().to(show))
        .route(web::post().to(submit))
}

/// The page's form for `token`, naming the address it signs in.
fn form(pages: &Pages, token: &str, address: &str) -> HttpResponse {
    pages.render(
        StatusCode::OK,
        "confirm.html",
        context! {
            title => "Sign in",
            text => format!("Press the button to sign in as {address}."),
            button => "Sign in",
            token,
            action => EMAIL_LOGIN_PAGE,
            error => None::<&str>,
        },
    )
}

/// The page of a failure.
fn failure(pages: &Pages, error: &EmailLoginError) -> HttpResponse {
    match error {
        EmailLoginError::InvalidLink => pages.invalid_link(),
        EmailLoginError::Disabled => pages.done(
            StatusCode::NOT_FOUND,
            "Sign-in by email is off",
            "This service does not sign in by email.",
        ),
        EmailLoginError::Unavailable(cause) => pages.unavailable(cause),
        other => {
            tracing::error!(error = ?other, "sign-in page failed");
            pages.done(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "You were not signed in. Please try again later.",
            )
        }
    }
}

/// Whether a browser says the `POST` came from another site's page (`Sec-Fetch-Site`, or
/// an `Origin` whose host is not this one): another site's form must not sign a visitor in
/// to an account of its choosing (login CSRF). Clients that send neither are not browsers
/// following a page.
fn from_another_site(request: &HttpRequest) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = request.connection_info().host().to_owned();
    origin
        .split_once("://")
        .is_none_or(|(_, authority)| !authority.eq_ignore_ascii_case(&host))
}

/// `GET`: the button if the link would sign in now (nothing is spent).
async fn show(
    sign_in: web::Data<SignIn>,
    pages: web::Data<Pages>,
    request: HttpRequest,
) -> HttpResponse {
    let fields: LinkFields = serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    let Some(token) = fields.token else {
        return pages.invalid_link();
    };
    match sign_in.email_link_address(&token).await {
        Ok(Some(address)) => form(&pages, &token, &address),
        Ok(None) => pages.invalid_link(),
        Err(error) => failure(&pages, &error),
    }
}

/// `POST`: signs in, then on to the front end with an exchange code.
async fn submit(
    sign_in: web::Data<SignIn>,
    pages: web::Data<Pages>,
    flow_cookie: web::Data<FlowCookie>,
    refresh_cookie: web::Data<RefreshCookie>,
    Client(client): Client,
    request: HttpRequest,
    body: Body,
) -> HttpResponse {
    if from_another_site(&request) {
        tracing::warn!("sign-in link posted from another site");
        return pages.done(
            StatusCode::FORBIDDEN,
            "Open the link from your mail",
            "This sign-in was not started from this page. Open the link in the mail and press its button.",
        );
    }
    let fields: LinkFields = serde_urlencoded::from_bytes(body.bytes()).unwrap_or_default();
    let Some(token) = fields.token else {
        return pages.invalid_link();
    };
    let landing = sign_in.finish_email_link(&token, client).await;
    let outcome = match &landing {
        Ok(_) => "success",
        Err(EmailLoginError::InvalidLink) => "invalid_link",
        Err(_) => "error",
    };
    metrics::counter!("flowrex_email_logins_total", "outcome" => outcome).increment(1);
    match landing {
        Ok(EmailLinkLanding::Exchange {
            return_to,
            code,
            browser,
        }) => {
            let separator = if return_to.contains('?') { '&' } else { '?' };
            HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("{return_to}{separator}code={}", code.expose()),
                ))
                .insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]))
                .insert_header(("Referrer-Policy", "no-referrer"))
                .cookie(flow_cookie.with(browser.expose()))
                .finish()
        }
        Ok(EmailLinkLanding::SignedIn(LoginOutcome::SignedIn(pair))) => {
            let mut response = pages.done(
                StatusCode::OK,
                "You are signed in",
                "You can close this page and go back to the app.",
            );
            if let Err(error) = response.add_cookie(&cookie::with_token(
                pair.refresh_token,
                refresh_cookie.max_age,
            )) {
                tracing::error!(%error, "refresh cookie not set");
            }
            response
        }
        Ok(EmailLinkLanding::SignedIn(LoginOutcome::SecondFactorRequired(_))) => pages.done(
            StatusCode::FORBIDDEN,
            "Your account needs its second factor",
            "Sign in from the app with the code of the mail, then give your authenticator's code.",
        ),
        Err(error) => failure(&pages, &error),
    }
}
