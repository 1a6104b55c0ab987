//! SPEC row `POST /api/v1/auth/logout` → 200 `{"message": "Logged out"}`.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::{LogoutRequest, SignIn};

use super::MessageBody;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, bearer_token};
use crate::routes::body_schema::{BodyField, request_body};
use crate::routes::cookie;
use crate::validation::json_object;

const REFRESH_TOKEN: BodyField =
    BodyField::optional("refresh_token", "A refresh token whose session to end.");
const SCOPE: BodyField = BodyField::optional("scope", "`all` ends every session of the user.");

request_body!(
    /// The optional body of `POST /logout`.
    LogoutRequestBody,
    "What to end; every field optional.",
    [REFRESH_TOKEN, SCOPE]
);

/// What a logout body may say. Every field is optional and a body that is not a JSON
/// object counts as empty: the SPEC's logout takes no body and always answers 200.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LogoutOptions {
    /// A refresh token whose session to end.
    pub refresh_token: Option<String>,
    /// `"scope": "all"`.
    pub everywhere: bool,
}

/// `POST /logout`'s optional body: `refresh_token`, `scope`.
pub fn parse(content_type: Option<&[u8]>, body: &[u8]) -> LogoutOptions {
    let Ok(object) = json_object(content_type, body) else {
        return LogoutOptions::default();
    };
    LogoutOptions {
        refresh_token: object
            .get(REFRESH_TOKEN.name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        everywhere: object.get(SCOPE.name).and_then(serde_json::Value::as_str) == Some("all"),
    }
}

/// `POST /api/v1/auth/logout` → 200 `{"message": "Logged out"}`. Revokes the session of
/// the bearer access token and/or of the `refresh_token` in the body (or the cookie);
/// with `{"scope": "all"}`, every session of that user. A token counts only while its
/// session is live; without any usable token there is nothing to revoke and the answer is
/// the same; a body that is not JSON is ignored.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    request_body(content = Option<LogoutRequestBody>, description = "Optional"),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Logged out", body = MessageBody),
        (status = 403, description = "Cookie transport without `X-CSRF-Token`", body = ErrorBody)
    )
)]
pub async fn logout(
    sign_in: web::Data<SignIn>,
    request: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let options = parse(body.content_type(), body.bytes());
    let has_cookie = cookie::refresh_token(&request).is_some();
    let from_cookie = match options.refresh_token {
        Some(_) => None,
        None => cookie::refresh_token_with_csrf(&request)?,
    };
    sign_in
        .logout(LogoutRequest {
            access_token: bearer_token(&request).ok(),
            refresh_token: options.refresh_token.as_deref().or(from_cookie.as_deref()),
            everywhere: options.everywhere,
        })
        .await?;
    let mut response = HttpResponse::Ok();
    if has_cookie {
        response.cookie(cookie::cleared());
    }
    Ok(response.json(MessageBody {
        message: "Logged out",
    }))
}
