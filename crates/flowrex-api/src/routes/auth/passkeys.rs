//! Passkeys under `/api/v1/auth/passkeys`: registering one (two steps: the creation
//! options, then the authenticator's answer), listing and removing them, and signing in
//! with one (the request options, then the assertion). Each start answers a
//! `ceremony_id` beside the WebAuthn options; the ceremony's state stays on the server.

use actix_web::{HttpResponse, web};
use flowrex_domain::ports::StoredPasskey;
use flowrex_domain::{Factors, PasskeyCeremony, PasswordAttempt, SignIn};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{TokensBody, timestamp, uncached};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Client, Parsed};
use crate::routes::auth::TokenTransport;
use crate::routes::handlers;
use crate::validation::body::{BodyField, RequestBody, request_body};
use crate::validation::{CURRENT_PASSWORD_FIELD, Echo, Fields, Rejection, json_object};

handlers![
    register_start,
    register_finish,
    list,
    delete,
    login_start,
    login_finish
];

const CEREMONY_ID: BodyField =
    BodyField::required("ceremony_id", "The `ceremony_id` of the ceremony's start.");
const CREDENTIAL: BodyField = BodyField::required(
    "credential",
    "The `PublicKeyCredential` the browser returned, as JSON (binary fields base64url).",
);
const NAME: BodyField =
    BodyField::optional("name", "A name for the passkey (at most 64 characters).");
const PROOF: BodyField = BodyField::optional(
    CURRENT_PASSWORD_FIELD,
    "The password in use now: required unless the session is at `aal2`, and checked \
     whenever it is given.",
);

request_body!(
    /// The body of `POST /passkeys/register/start` (none at all from an `aal2` session).
    RegisterStartRequest,
    "Fresh proof for adding a way to sign in.",
    [PROOF]
);
request_body!(
    /// The body of `POST /passkeys/register/finish`.
    RegisterFinishRequest,
    "The ceremony and the authenticator's answer.",
    [CEREMONY_ID, CREDENTIAL, NAME],
    |fields| -> (String, Value, Option<String>) { finish(fields) }
);
request_body!(
    /// The body of `POST /passkeys/login/finish`.
    LoginFinishRequest,
    "The ceremony and the assertion.",
    [CEREMONY_ID, CREDENTIAL],
    |fields| -> (String, Value) { finish(fields).map(|(ceremony, credential, _)| (ceremony, credential)) }
);

/// A ceremony begun: `ceremony_id` beside the WebAuthn options (`publicKey`, and for a
/// sign-in `mediation` when any), ready for `navigator.credentials.create()` or `.get()`
/// once its base64url fields are decoded.
#[derive(Serialize, ToSchema)]
pub struct CeremonyBody {
    /// Send it back with the finish; valid for 5 minutes, once.
    pub ceremony_id: String,
    /// `PublicKeyCredentialCreationOptions` or `PublicKeyCredentialRequestOptions`.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: Value,
}

impl From<PasskeyCeremony> for CeremonyBody {
    fn from(ceremony: PasskeyCeremony) -> Self {
        let public_key = ceremony
            .options
            .get("publicKey")
            .cloned()
            .unwrap_or(Value::Null);
        Self {
            ceremony_id: ceremony.ceremony_id.expose().to_owned(),
            public_key,
        }
    }
}

/// A passkey as listed.
#[derive(Serialize, ToSchema)]
pub struct PasskeyBody<'a> {
    /// Its id (for `DELETE /passkeys/{id}`).
    pub id: i64,
    /// Its name.
    pub name: &'a str,
    /// When it was registered.
    #[schema(format = "date-time")]
    pub created_at: String,
    /// When it last signed in.
    #[schema(format = "date-time")]
    pub last_used_at: Option<String>,
}

impl<'a> From<&'a StoredPasskey> for PasskeyBody<'a> {
    fn from(passkey: &'a StoredPasskey) -> Self {
        Self {
            id: passkey.id,
            name: &passkey.name,
            created_at: timestamp(passkey.created_at),
            last_used_at: passkey.last_used_at.map(timestamp),
        }
    }
}

/// Reads a finish's body: the ceremony id, the credential (a JSON object) and the optional
/// name.
fn finish(fields: &mut Fields) -> Option<(String, Value, Option<String>)> {
    let credential = fields.take(CREDENTIAL.name);
    let ceremony = fields.required_string(CEREMONY_ID.name, Echo::No);
    let name = match fields.optional_string(NAME.name) {
        Some(Some(name)) if name.chars().any(char::is_control) => {
            fields.reject(
                NAME.name,
                "value_error",
                "Value error, must not contain control characters",
                None,
                Some(json!({ "error": {} })),
            );
            None
        }
        other => other,
    };
    let credential = match credential {
        Some(value @ Value::Object(_)) => Some(value),
        None => {
            fields.reject(CREDENTIAL.name, "missing", "Field required", None, None);
            None
        }
        Some(_) => {
            fields.reject(
                CREDENTIAL.name,
                "dict_type",
                "Input should be a valid dictionary",
                None,
                None,
            );
            None
        }
    };
    match (ceremony, credential, name) {
        (Some(ceremony), Some(credential), Some(name)) => Some((ceremony, credential, name)),
        _ => None,
    }
}

impl RequestBody for RegisterStartRequest {
    /// The current password, if given.
    type Value = Option<PasswordAttempt>;

    fn read(fields: &mut Fields) -> Option<Self::Value> {
        fields
            .optional_secret(PROOF.name)
            .map(|password| password.map(PasswordAttempt::new))
    }

    /// No body at all is no password.
    fn parse(content_type: Option<&[u8]>, body: &[u8]) -> Result<Self::Value, Rejection> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let mut fields = Fields::new(json_object(content_type, body)?);
        let password = Self::read(&mut fields);
        fields.finish(password)
    }
}

/// Start adding a passkey
///
/// Answers the creation options and a `ceremony_id`. Adding a way to sign in needs a
/// verified address and fresh proof: the current password (a wrong one counts as a failed
/// login), or a session at `aal2`, which an account with a second factor needs in any
/// case.
#[utoipa::path(
    post,
    path = "/api/v1/auth/passkeys/register/start",
    tag = "passkeys",
    request_body = RegisterStartRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Creation options", body = CeremonyBody),
        (status = 400, description = "Current password is incorrect", body = ErrorBody),
        (status = 403, description = "aal2_required, or Email not verified", body = ErrorBody),
        (status = 422, description = "No current_password from a session below aal2"),
        (status = 429, description = "Too many failed attempts", body = ErrorBody)
    )
)]
pub async fn register_start(
    factors: web::Data<Factors>,
    AuthenticatedSession(caller): AuthenticatedSession,
    Client(client): Client,
    body: Parsed<RegisterStartRequest>,
) -> Result<HttpResponse, ApiError> {
    let current = body.value()?;
    let ceremony = factors
        .start_passkey_registration(&caller, current.as_ref(), &client)
        .await?;
    Ok(uncached(HttpResponse::Ok(), CeremonyBody::from(ceremony)))
}

/// Finish adding a passkey
///
/// With the authenticator's answer to the ceremony's options.
#[utoipa::path(
    post,
    path = "/api/v1/auth/passkeys/register/finish",
    tag = "passkeys",
    request_body = RegisterFinishRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered", body = PasskeyBody),
        (status = 400, description = "Invalid or expired ceremony, or a response that does not verify", body = ErrorBody),
        (status = 409, description = "Passkey already registered", body = ErrorBody)
    )
)]
pub async fn register_finish(
    factors: web::Data<Factors>,
    AuthenticatedSession(caller): AuthenticatedSession,
    body: Parsed<RegisterFinishRequest>,
) -> Result<HttpResponse, ApiError> {
    let (ceremony, credential, name) = body.value()?;
    let passkey = factors
        .finish_passkey_registration(&caller, &ceremony, &credential, name)
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": passkey.id,
        "name": passkey.name,
        "created_at": timestamp(passkey.created_at),
    })))
}

/// List my passkeys
///
/// Oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/auth/passkeys",
    tag = "passkeys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's passkeys", body = Vec<PasskeyBody>)
    )
)]
pub async fn list(
    factors: web::Data<Factors>,
    AuthenticatedSession(caller): AuthenticatedSession,
) -> Result<HttpResponse, ApiError> {
    let passkeys = factors.list_passkeys(&caller).await?;
    let body: Vec<PasskeyBody<'_>> = passkeys.iter().map(PasskeyBody::from).collect();
    Ok(uncached(HttpResponse::Ok(), body))
}

/// Remove one of my passkeys
///
/// Any id that is not one of the caller's passkeys is not found.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/passkeys/{id}",
    tag = "passkeys",
    params(("id" = String, Path, description = "A passkey id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Passkey not found", body = ErrorBody)
    )
)]
pub async fn delete(
    factors: web::Data<Factors>,
    AuthenticatedSession(caller): AuthenticatedSession,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.parse::<i64>().map_err(|_| ApiError::PasskeyNotFound)?;
    factors.delete_passkey(&caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Start signing in with a passkey
///
/// Answers the request options (any discoverable credential: no address needed) and a
/// `ceremony_id`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/passkeys/login/start",
    tag = "passkeys",
    responses((status = 200, description = "Request options", body = CeremonyBody))
)]
pub async fn login_start(sign_in: web::Data<SignIn>) -> Result<HttpResponse, ApiError> {
    let ceremony = sign_in.start_passkey_login().await?;
    Ok(uncached(HttpResponse::Ok(), CeremonyBody::from(ceremony)))
}

/// Sign in with a passkey
///
/// With the authenticator's assertion; the tokens carry `amr` `["passkey"]` and `aal2`.
/// An unverified address is refused as for a password login (`REQUIRE_VERIFIED_EMAIL`).
#[utoipa::path(
    post,
    path = "/api/v1/auth/passkeys/login/finish",
    tag = "passkeys",
    request_body = LoginFinishRequest,
    responses(
        (status = 200, description = "A token pair", body = TokensBody),
        (status = 400, description = "Invalid or expired ceremony", body = ErrorBody),
        (status = 401, description = "Passkey not accepted", body = ErrorBody),
        (status = 403, description = "Email not verified (REQUIRE_VERIFIED_EMAIL)", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody)
    )
)]
pub async fn login_finish(
    sign_in: web::Data<SignIn>,
    transport: TokenTransport,
    Client(client): Client,
    body: Parsed<LoginFinishRequest>,
) -> Result<HttpResponse, ApiError> {
    let (ceremony, credential) = body.value()?;
    let result = sign_in
        .finish_passkey_login(&ceremony, &credential, client)
        .await;
    let outcome = if result.is_ok() { "success" } else { "refused" };
    metrics::counter!("flowrex_passkey_logins_total", "outcome" => outcome).increment(1);
    Ok(transport.answer(result?))
}
