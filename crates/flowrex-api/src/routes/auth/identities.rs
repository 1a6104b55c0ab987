//! One's own linked providers under `/api/v1/auth/identities`: listing them, linking
//! another (the authorize flow, which links instead of signing in), unlinking one.

use actix_web::{HttpResponse, web};
use flowrex_domain::{Accounts, Identity, PasswordAttempt};
use serde::Serialize;
use utoipa::ToSchema;

use super::oauth::FlowCookie;
use super::timestamp;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Client, Parsed};
use crate::routes::handlers;
use crate::validation::body::{BodyField, request_body};
use crate::validation::{CURRENT_PASSWORD_FIELD, Echo};

handlers![list, link, unlink];

/// An identity as listed.
#[derive(Serialize, ToSchema)]
pub struct IdentityBody<'a> {
    /// Its id (for `DELETE /identities/{id}`).
    pub id: i64,
    /// The provider's id.
    pub provider: &'a str,
    /// The address the provider last reported.
    pub email: Option<&'a str>,
    /// When it was linked.
    #[schema(format = "date-time")]
    pub created_at: String,
    /// When it last signed in.
    #[schema(format = "date-time")]
    pub last_login_at: Option<String>,
}

impl<'a> From<&'a Identity> for IdentityBody<'a> {
    fn from(identity: &'a Identity) -> Self {
        Self {
            id: identity.id,
            provider: identity.provider.as_str(),
            email: identity.email.as_deref(),
            created_at: timestamp(identity.created_at),
            last_login_at: identity.last_login_at.map(timestamp),
        }
    }
}

/// List my linked providers
#[utoipa::path(
    get,
    path = "/api/v1/auth/identities",
    tag = "outside providers",
    operation_id = "list_identities",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's identities, oldest first", body = [IdentityBody]),
        (status = 401, description = "Not authenticated", body = ErrorBody)
    )
)]
pub async fn list(
    accounts: web::Data<Accounts>,
    AuthenticatedSession(caller): AuthenticatedSession,
) -> Result<HttpResponse, ApiError> {
    let identities = accounts.identities(&caller).await?;
    let body: Vec<IdentityBody<'_>> = identities.iter().map(IdentityBody::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

const RETURN_TO: BodyField = BodyField::required(
    "return_to",
    "The front end's address to come back to (on `OAUTH_RETURN_URLS`).",
);
const PROOF: BodyField = BodyField::optional(
    CURRENT_PASSWORD_FIELD,
    "The password in use now: required unless the session is at `aal2`, and checked \
     whenever it is given.",
);

request_body!(
    /// The body of `POST /identities/{provider}`.
    LinkRequest,
    "Where to come back to, and fresh proof for adding a way to sign in.",
    [RETURN_TO, PROOF],
    |fields| -> (String, Option<PasswordAttempt>) {
        let return_to = fields.required_string(RETURN_TO.name, Echo::Yes);
        let proof = fields
            .optional_secret(PROOF.name)
            .map(|password| password.map(PasswordAttempt::new));
        return_to.zip(proof)
    }
);

/// The address to send the browser to.
#[derive(Serialize, ToSchema)]
pub struct AuthorizationBody {
    /// The provider's authorization address: navigate the browser there.
    pub authorization_url: String,
}

/// Link a provider to my account
///
/// Starts the authorize flow to link the provider's account to the caller's (instead of
/// signing in); the callback then redirects to `return_to?linked=PROVIDER` or
/// `return_to?error=CODE`. Adding a way to sign in needs a verified address and fresh
/// proof: the current password (a wrong one counts as a failed login), or a session at
/// `aal2`, which an account with a second factor needs in any case. The answer sets the
/// flow's cookie: call it with credentials, from the browser that will follow the address.
#[utoipa::path(
    post,
    path = "/api/v1/auth/identities/{provider}",
    tag = "outside providers",
    operation_id = "link_identity",
    params(("provider" = String, Path, description = "A configured provider's id")),
    request_body = LinkRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where to send the browser", body = AuthorizationBody),
        (status = 400, description = "return_to is not allowed, or Current password is incorrect", body = ErrorBody),
        (status = 403, description = "aal2_required, or Email not verified", body = ErrorBody),
        (status = 404, description = "Provider not found", body = ErrorBody),
        (status = 422, description = "No current_password from a session below aal2"),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
        (status = 503, description = "Provider unavailable", body = ErrorBody)
    )
)]
pub async fn link(
    accounts: web::Data<Accounts>,
    cookie: web::Data<FlowCookie>,
    AuthenticatedSession(caller): AuthenticatedSession,
    Client(client): Client,
    provider: web::Path<String>,
    body: Parsed<LinkRequest>,
) -> Result<HttpResponse, ApiError> {
    let (return_to, current) = body.value()?;
    let start = accounts
        .start_link(&caller, &provider, &return_to, current.as_ref(), &client)
        .await?;
    Ok(HttpResponse::Ok()
        .cookie(cookie.with(start.browser.expose()))
        .json(AuthorizationBody {
            authorization_url: start.authorization_url,
        }))
}

/// Unlink one of my providers
///
/// Never the last way to sign in: without a usable password, a passkey or another
/// identity, 409. Mails a notice; an account with a second factor needs an `aal2` session.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/identities/{id}",
    tag = "outside providers",
    operation_id = "unlink_identity",
    params(("id" = i64, Path, description = "The identity's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 403, description = "aal2_required", body = ErrorBody),
        (status = 404, description = "Identity not found", body = ErrorBody),
        (status = 409, description = "The last way to sign in cannot be removed", body = ErrorBody)
    )
)]
pub async fn unlink(
    accounts: web::Data<Accounts>,
    AuthenticatedSession(caller): AuthenticatedSession,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.parse::<i64>().map_err(|_| ApiError::IdentityNotFound)?;
    accounts.unlink(&caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
