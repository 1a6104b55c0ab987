//! The pages the mailed links open when no front end takes them over (`VERIFY_EMAIL_URL`,
//! `RESET_PASSWORD_URL`, `CONFIRM_EMAIL_CHANGE_URL`, `EMAIL_LOGIN_URL` unset):
//! `/verify-email`, `/reset-password`, `/confirm-email`, and `/email-login`
//! (`pages/email_login.rs`). Plain HTML with inline styles, no script, no
//! external asset.
//!
//! `GET` only shows the page (after checking, without using, the token): mail scanners
//! and link previews follow links, and must not verify, confirm or spend a reset. The
//! person presses the button (or types the new password twice), and the form's `POST`
//! uses the token. These form posts are exempt from the CSRF header rule
//! (`middleware::csrf`): a browser form cannot send a header, and the rule exists to stop
//! another site from making a signed-in browser act; here the form carries the one-time
//! token itself, an unguessable credential another site does not have, and the post uses
//! no cookie or session at all.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use flowrex_domain::{AccountError, Accounts, NewPassword, OneTimeToken, TokenPurpose};
use minijinja::{Environment, context};
use serde::Deserialize;

use crate::error::UNAVAILABLE_RETRY_AFTER_SECONDS;
use crate::extract::Body;

pub mod email_login;

/// What the pages may load: nothing but their inline style; forms post to the service.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The title of the page for links of `purpose`.
fn title(purpose: TokenPurpose) -> &'static str {
    match purpose {
        TokenPurpose::VerifyEmail => "Verify your email address",
        TokenPurpose::ResetPassword => "Choose a new password",
        TokenPurpose::ChangeEmail => "Confirm your new email address",
    }
}

/// The page templates, compiled into the binary.
pub struct Pages {
    templates: Environment<'static>,
}

impl Pages {
    /// Loads the built-in templates.
    ///
    /// # Errors
    /// A template that does not parse (a build defect, caught by the tests).
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut templates = Environment::new();
        templates.add_template("layout.html", include_str!("pages/layout.html"))?;
        templates.add_template("confirm.html", include_str!("pages/confirm.html"))?;
        templates.add_template("reset.html", include_str!("pages/reset.html"))?;
        templates.add_template("done.html", include_str!("pages/done.html"))?;
        Ok(Self { templates })
    }

    pub(super) fn render(
        &self,
        status: StatusCode,
        name: &str,
        values: minijinja::Value,
    ) -> HttpResponse {
        let body = self
            .templates
            .get_template(name)
            .and_then(|template| template.render(values));
        match body {
            Ok(body) => html(status, body),
            Err(error) => {
                tracing::error!(%error, template = name, "page not rendered");
                html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned(),
                )
            }
        }
    }

    /// The form of `page` for `token`, with an error above it.
    pub(super) fn form(
        &self,
        page: TokenPurpose,
        token: &str,
        status: StatusCode,
        error: Option<&str>,
    ) -> HttpResponse {
        let action = page.page();
        match page {
            TokenPurpose::ResetPassword => self.render(
                status,
                "reset.html",
                context! { title => title(page), token, action, error },
            ),
            TokenPurpose::VerifyEmail => self.render(
                status,
                "confirm.html",
                context! {
                    title => title(page),
                    text => "Press the button to confirm that this address is yours.",
                    button => "Verify my address",
                    token, action, error,
                },
            ),
            TokenPurpose::ChangeEmail => self.render(
                status,
                "confirm.html",
                context! {
                    title => title(page),
                    text => "Press the button to move your account to this address. The old address will no longer sign in.",
                    button => "Use this address",
                    token, action, error,
                },
            ),
        }
    }

    pub(super) fn done(&self, status: StatusCode, title: &str, text: &str) -> HttpResponse {
        self.render(status, "done.html", context! { title, text })
    }

    pub(super) fn invalid_link(&self) -> HttpResponse {
        self.done(
            StatusCode::BAD_REQUEST,
            "This link is invalid or has expired",
            "It may have been used already, or replaced by a newer one. Ask for a new link and use the latest one.",
        )
    }

    /// The 503 page of a store that cannot be reached (with `Retry-After`).
    pub(super) fn unavailable(&self, cause: &anyhow::Error) -> HttpResponse {
        tracing::error!(error = ?cause, "dependency unavailable");
        let mut response = self.done(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again in a moment",
            "The service is briefly unavailable. Nothing was changed.",
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECONDS),
        );
        response
    }

    /// The page of a failure that is not the visitor's.
    fn failure(&self, error: &AccountError) -> HttpResponse {
        match error {
            AccountError::Unavailable(cause) => self.unavailable(cause),
            other => {
                tracing::error!(error = ?other, "link page failed");
                self.done(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Nothing was changed. Please try again later.",
                )
            }
        }
    }
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .body(body)
}

/// The resource of `page`: `GET` shows it, `POST` submits its form.
pub fn resource(page: TokenPurpose) -> Resource {
    web::resource(format!("/{}", page.page()))
        .route(web::get().to(
            move |accounts: web::Data<Accounts>, pages: web::Data<Pages>, request: HttpRequest| {
                show(page, accounts, pages, request)
            },
        ))
        .route(web::post().to(
            move |accounts: web::Data<Accounts>, pages: web::Data<Pages>, body: Body| {
                submit(page, accounts, pages, body)
            },
        ))
}

/// The query of a link, and the fields of its form.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LinkFields {
    pub(super) token: Option<String>,
    new_password: Option<String>,
    confirm_password: Option<String>,
}

/// A token of the right form, if the fields hold one.
fn well_formed(fields: &LinkFields) -> Option<&str> {
    fields
        .token
        .as_deref()
        .filter(|raw| OneTimeToken::parse(raw).is_some())
}

/// `GET` of a link page: the form if the token is usable now (nothing is used), else a
/// page saying the link is no good.
pub async fn show(
    page: TokenPurpose,
    accounts: web::Data<Accounts>,
    pages: web::Data<Pages>,
    request: HttpRequest,
) -> HttpResponse {
    let fields: LinkFields = serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    let Some(token) = well_formed(&fields) else {
        return pages.invalid_link();
    };
    match accounts.link_is_usable(token, page).await {
        Ok(true) => pages.form(page, token, StatusCode::OK, None),
        Ok(false) => pages.invalid_link(),
        Err(error) => pages.failure(&error),
    }
}

/// What the reset page says of a new password found in known breaches.
pub const BREACHED_PASSWORD_PAGE_MESSAGE: &str =
    "This password appears in a known data breach. Choose a different one.";

/// `POST` of a link page's form (`application/x-www-form-urlencoded`): uses the token.
pub async fn submit(
    page: TokenPurpose,
    accounts: web::Data<Accounts>,
    pages: web::Data<Pages>,
    body: Body,
) -> HttpResponse {
    let fields: LinkFields = serde_urlencoded::from_bytes(body.bytes()).unwrap_or_default();
    let Some(token) = well_formed(&fields) else {
        return pages.invalid_link();
    };
    let outcome = match page {
        TokenPurpose::VerifyEmail => accounts.confirm_verification(token).await.map(|user| {
            pages.done(
                StatusCode::OK,
                "Your email address is verified",
                &format!("{} is verified. You can close this page.", user.email()),
            )
        }),
        TokenPurpose::ChangeEmail => accounts.confirm_email_change(token).await.map(|user| {
            pages.done(
                StatusCode::OK,
                "Your email address is changed",
                &format!(
                    "Your account now signs in with {}. You can close this page.",
                    user.email()
                ),
            )
        }),
        TokenPurpose::ResetPassword => {
            let new = fields.new_password.clone().unwrap_or_default();
            if fields.confirm_password.as_deref() != Some(new.as_str()) {
                return pages.form(
                    page,
                    token,
                    StatusCode::BAD_REQUEST,
                    Some("The two passwords differ."),
                );
            }
            let password = match NewPassword::parse(new) {
                Ok(password) => password,
                Err(violation) => {
                    return pages.form(
                        page,
                        token,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some(&violation.to_string()),
                    );
                }
            };
            match accounts.reset_password(token, password).await {
                Err(AccountError::PasswordBreached) => {
                    return pages.form(
                        page,
                        token,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some(BREACHED_PASSWORD_PAGE_MESSAGE),
                    );
                }
                Err(AccountError::BreachCheckUnavailable) => {
                    let mut response = pages.form(
                        page,
                        token,
                        StatusCode::SERVICE_UNAVAILABLE,
                        Some("The password could not be checked just now. Please try again in a moment."),
                    );
                    response.headers_mut().insert(
                        header::RETRY_AFTER,
                        header::HeaderValue::from(crate::error::BREACH_RETRY_AFTER_SECONDS),
                    );
                    return response;
                }
                result => result.map(|()| {
                    pages.done(
                        StatusCode::OK,
                        "Your password is changed",
                        "Every device that was signed in has been signed out. Sign in with the new password.",
                    )
                }),
            }
        }
    };
    match outcome {
        Ok(response) => response,
        Err(AccountError::InvalidToken) => pages.invalid_link(),
        Err(AccountError::EmailTaken) => pages.done(
            StatusCode::BAD_REQUEST,
            "This address is taken",
            "Another account registered this address meanwhile. Your account keeps its old address.",
        ),
        Err(error) => pages.failure(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(response: HttpResponse) -> String {
        let bytes = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[actix_web::test]
    async fn the_templates_render_and_escape_what_they_show() {
        let pages = Pages::new().unwrap();
        let done = text(pages.done(StatusCode::OK, "<b>t</b>", "a&b")).await;
        assert!(
            done.contains("&lt;b&gt;t&lt;&#x2f;b&gt;") && done.contains("a&amp;b"),
            "{done}"
        );
        for page in TokenPurpose::ALL {
            let form = text(pages.form(page, "ab\"", StatusCode::OK, Some("<x>"))).await;
            assert!(
                form.contains("&lt;x&gt;") && !form.contains("<x>"),
                "{form}"
            );
            assert!(form.contains(r#"value="ab&quot;""#), "{form}");
            assert!(
                form.contains(&format!(r#"action="{}""#, page.page())),
                "{form}"
            );
            assert!(!form.contains("<script"), "{form}");
        }
    }
}
