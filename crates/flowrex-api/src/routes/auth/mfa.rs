//! Second factors under `/api/v1/auth/mfa`: enrolling, activating and removing TOTP,
//! regenerating recovery codes, and completing a login that answered `mfa_required`.

use actix_web::{HttpResponse, web};
use flowrex_domain::{
    Factors, PasswordAttempt, RecoveryCode, SecondFactorProof, SignIn, TotpProvisioning,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{CURRENT_PASSWORD, TokensBody, current_password, secret, uncached};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Client, Parsed};
use crate::routes::auth::TokenTransport;
use crate::routes::handlers;
use crate::validation::body::{BodyField, request_body};
use crate::validation::{Echo, Fields};

handlers![enroll, activate, recovery_codes, disable, verify];

const CODE: BodyField =
    BodyField::required("code", "The 6-digit code the authenticator app shows now.");
const MFA_TOKEN: BodyField =
    BodyField::required("mfa_token", "The `mfa_token` of the login's 403 answer.");
const LOGIN_CODE: BodyField =
    BodyField::optional("code", "A 6-digit code (or give `recovery_code`).");
const RECOVERY_CODE: BodyField = BodyField::optional(
    "recovery_code",
    "One of the recovery codes (or give `code`).",
);

request_body!(
    /// The body of `POST /mfa/totp/enroll`.
    EnrollRequest,
    "The password, confirmed.",
    [CURRENT_PASSWORD],
    |fields| -> PasswordAttempt { current_password(fields) }
);
request_body!(
    /// The body of `POST /mfa/totp/activate` and `POST /mfa/recovery-codes`.
    CodeRequest,
    "A current code.",
    [CODE],
    |fields| -> String { secret(fields, &CODE) }
);
request_body!(
    /// The body of `DELETE /mfa/totp`.
    DisableRequest,
    "The password and a current code.",
    [CURRENT_PASSWORD, CODE],
    |fields| -> (PasswordAttempt, String) {
        let current = current_password(fields);
        current.zip(secret(fields, &CODE))
    }
);
request_body!(
    /// The body of `POST /mfa/verify`.
    VerifyRequest,
    "The login's challenge and one proof: `code` or `recovery_code`.",
    [MFA_TOKEN, LOGIN_CODE, RECOVERY_CODE],
    |fields| -> (String, SecondFactorProof) { second_factor(fields) }
);

/// What an authenticator app needs, shown once.
#[derive(Serialize, ToSchema)]
pub struct EnrollBody {
    /// The secret in base32, to type in.
    pub secret: String,
    /// The `otpauth://totp/…` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code (an SVG document).
    pub qr_svg: String,
}

impl From<TotpProvisioning> for EnrollBody {
    fn from(provisioning: TotpProvisioning) -> Self {
        Self {
            secret: provisioning.secret,
            otpauth_uri: provisioning.uri,
            qr_svg: provisioning.qr_svg,
        }
    }
}

/// A set of recovery codes, shown once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesBody {
    /// Ten codes (`xxxx-xxxx-xxxx-xxxx`), each usable once.
    pub recovery_codes: Vec<String>,
}

impl RecoveryCodesBody {
    fn of(codes: &[RecoveryCode]) -> Self {
        Self {
            recovery_codes: codes.iter().map(RecoveryCode::display).collect(),
        }
    }
}

/// Reads `POST /mfa/verify`'s body: `mfa_token` and exactly one of `code` and
/// `recovery_code`.
fn second_factor(fields: &mut Fields) -> Option<(String, SecondFactorProof)> {
    let token = fields.required_string(MFA_TOKEN.name, Echo::No);
    let code = fields.optional_string(LOGIN_CODE.name);
    let recovery = fields.optional_string(RECOVERY_CODE.name);
    let proof = match (code, recovery) {
        (Some(Some(code)), Some(None)) => Some(SecondFactorProof::Code(code)),
        (Some(None), Some(Some(recovery))) => Some(SecondFactorProof::RecoveryCode(recovery)),
        (Some(Some(_)), Some(Some(_))) => {
            fields.reject(
                RECOVERY_CODE.name,
                "value_error",
                "Value error, give either code or recovery_code, not both",
                None,
                Some(serde_json::json!({ "error": {} })),
            );
            None
        }
        (Some(None), Some(None)) => {
            fields.reject(LOGIN_CODE.name, "missing", "Field required", None, None);
            None
        }
        // A field of the wrong type: already rejected.
        _ => None,
    };
    token.zip(proof)
}

/// Start enrolling a TOTP factor
///
/// Answers the secret, its URI and a QR code, shown once; the factor is pending until
/// activated. Only for a verified address; with a factor active already, the session must
/// be at `aal2`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/mfa/totp/enroll",
    tag = "mfa",
    request_body = EnrollRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A pending factor", body = EnrollBody),
        (status = 400, description = "Current password is incorrect", body = ErrorBody),
        (status = 403, description = "aal2_required, or Email not verified", body = ErrorBody)
    )
)]
pub async fn enroll(
    factors: web::Data<Factors>,
    AuthenticatedSession(caller): AuthenticatedSession,
    Client(client): Client,
    body: Parsed<EnrollRequest>,
) -> Result<HttpResponse, ApiError> {
    let current = body.value()?;
    let provisioning = factors.enroll_totp(&caller, &current, &client).await?;
    Ok(uncached(HttpResponse::Ok(), EnrollBody::from(provisioning)))
}

/// Activate the pending TOTP factor
///
/// Answers ten recovery codes, shown once; from now on a login with the password asks for
/// a code. The activating code counts as used.
#[utoipa::path(
    post,
    path = "/api/v1/auth/mfa/totp/activate",
    tag = "mfa",
    request_body = CodeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Activated", body = RecoveryCodesBody),
        (status = 400, description = "Invalid code, or no enrolment pending", body = ErrorBody),
        (status = 403, description = "aal2_required (replacing an active factor), or Email not verified", body = ErrorBody)
    )
)]
pub async fn activate(
    factors: web::Data<Factors>,
    AuthenticatedSession(caller): AuthenticatedSession,
    body: Parsed<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = body.value()?;
    let codes = factors.activate_totp(&caller, &code).await?;
    Ok(uncached(HttpResponse::Ok(), RecoveryCodesBody::of(&codes)))
}

/// Replace the recovery codes
///
/// The old set stops working. Needs a session at `aal2` and a current code.
#[utoipa::path(
    post,
    path = "/api/v1/auth/mfa/recovery-codes",
    tag = "mfa",
    request_body = CodeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A fresh set", body = RecoveryCodesBody),
        (status = 400, description = "Invalid code, or TOTP is not enabled", body = ErrorBody),
        (status = 403, description = "aal2_required", body = ErrorBody)
    )
)]
pub async fn recovery_codes(
    factors: web::Data<Factors>,
    AuthenticatedSession(caller): AuthenticatedSession,
    body: Parsed<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = body.value()?;
    let codes = factors.regenerate_recovery_codes(&caller, &code).await?;
    Ok(uncached(HttpResponse::Ok(), RecoveryCodesBody::of(&codes)))
}

/// Remove the TOTP factor
///
/// The factor and its recovery codes are gone, every other session ends, a notice is
/// mailed. Needs a session at `aal2`, the password and a current code.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/mfa/totp",
    tag = "mfa",
    request_body = DisableRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Invalid code, wrong password, or TOTP is not enabled", body = ErrorBody),
        (status = 403, description = "aal2_required", body = ErrorBody)
    )
)]
pub async fn disable(
    factors: web::Data<Factors>,
    AuthenticatedSession(caller): AuthenticatedSession,
    Client(client): Client,
    body: Parsed<DisableRequest>,
) -> Result<HttpResponse, ApiError> {
    let (current, code) = body.value()?;
    factors
        .disable_totp(&caller, &current, &code, &client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Complete a login with a second factor
///
/// With the `mfa_token` of the login's answer and a code or a recovery code; the tokens
/// carry `amr` `pwd otp` or `pwd recovery` and `aal2`. A wrong code spends one of the
/// challenge's five tries; an expired or spent challenge means logging in again.
#[utoipa::path(
    post,
    path = "/api/v1/auth/mfa/verify",
    tag = "mfa",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "A token pair", body = TokensBody),
        (status = 401, description = "Invalid code, or invalid or expired mfa_token", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody)
    )
)]
pub async fn verify(
    sign_in: web::Data<SignIn>,
    transport: TokenTransport,
    Client(client): Client,
    body: Parsed<VerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    let (token, proof) = body.value()?;
    let result = sign_in.verify_second_factor(&token, proof, client).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(flowrex_domain::MfaVerifyError::InvalidCode) => "invalid_code",
        Err(flowrex_domain::MfaVerifyError::InvalidChallenge) => "invalid_challenge",
        Err(flowrex_domain::MfaVerifyError::Throttled { .. }) => "throttled",
        Err(_) => "error",
    };
    metrics::counter!("flowrex_mfa_verifications_total", "outcome" => outcome).increment(1);
    Ok(transport.answer(result?))
}
