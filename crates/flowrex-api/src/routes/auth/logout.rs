//! Logging out (SPEC row `POST /api/v1/auth/logout`): one session, or all of a user's.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::{LogoutRequest, SignIn};

use super::MessageBody;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Parsed, bearer_token};
use crate::routes::cookie;
use crate::routes::handlers;
use crate::validation::body::{BodyField, RequestBody, request_body};
use crate::validation::{Fields, Rejection, json_object};
use serde_json::Value;

handlers![logout];

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

impl RequestBody for LogoutRequestBody {
    type Value = LogoutOptions;

    /// `refresh_token` when it is a string, `scope` when it is `all`; anything else is
    /// ignored.
    fn read(fields: &mut Fields) -> Option<LogoutOptions> {
        let text = |value: Option<Value>| match value {
            Some(Value::String(text)) => Some(text),
            _ => None,
        };
        Some(LogoutOptions {
            refresh_token: text(fields.take(REFRESH_TOKEN.name)),
            everywhere: text(fields.take(SCOPE.name)).as_deref() == Some("all"),
        })
    }

    /// Never refused: a body that is not a JSON object counts as empty.
    fn parse(content_type: Option<&[u8]>, body: &[u8]) -> Result<LogoutOptions, Rejection> {
        Ok(json_object(content_type, body)
            .ok()
            .and_then(|object| Self::read(&mut Fields::new(object)))
            .unwrap_or_default())
    }
}

/// Log out
///
/// Revokes the session of the bearer access token and/or of the `refresh_token` in the
/// body (or the cookie); with `{"scope": "all"}`, every session of that user. A token
/// counts only while its session is live; without any usable token there is nothing to
/// revoke and the answer is the same; a body that is not JSON is ignored.
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
    body: Parsed<LogoutRequestBody>,
) -> Result<HttpResponse, ApiError> {
    let options = body.value()?;
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
