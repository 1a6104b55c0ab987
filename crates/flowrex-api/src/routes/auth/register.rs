//! Registering (SPEC row `POST /api/v1/auth/register`).

use actix_web::{HttpResponse, web};
use flowrex_domain::{Accounts, Registration};

use super::{UserBody, email, full_name, new_password, uncached};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Parsed;
use crate::routes::handlers;
use crate::validation::body::{BodyField, request_body};

handlers![register];

const EMAIL: BodyField = BodyField::required(
    "email",
    "A valid address; case and Unicode form do not matter.",
)
.email();
const PASSWORD: BodyField = BodyField::required(
    "password",
    "At least 8 characters with an uppercase letter, a lowercase letter and a digit; at most 72 UTF-8 bytes; no NUL.",
)
.length(Some(8), None);
const FULL_NAME: BodyField =
    BodyField::optional("full_name", "Optional display name.").length(None, Some(255));

request_body!(
    /// The body of `POST /register`.
    RegisterRequest,
    "A new account.",
    [EMAIL, PASSWORD, FULL_NAME],
    // Every bad field reported at once, in this order.
    |fields| -> Registration {
        let email = email(fields, &EMAIL);
        let full_name = full_name(fields, FULL_NAME.name);
        let password = new_password(fields, PASSWORD.name);
        let parts = email.zip(full_name).zip(password);
        parts.map(|((email, full_name), password)| Registration {
            email,
            password,
            full_name,
        })
    }
);

/// Register
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = UserBody),
        (status = 400, description = "Email already registered", body = ErrorBody)
    )
)]
pub async fn register(
    accounts: web::Data<Accounts>,
    body: Parsed<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let registration = body.value()?;
    let user = accounts.register(registration).await?;
    Ok(uncached(HttpResponse::Created(), UserBody::from(&user)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::validation::body::RequestBody;

    fn register_body(body: Value) -> Value {
        match RegisterRequest::parse(None, body.to_string().as_bytes()) {
            Err(rejection) => json!(rejection.detail),
            Ok(_) => json!("accepted"),
        }
    }

    #[test]
    fn a_valid_registration_is_accepted() {
        assert_eq!(
            register_body(
                json!({"email": "a@b.co", "password": "Test1234", "full_name": null, "id": 9})
            ),
            json!("accepted")
        );
    }

    #[test]
    fn password_errors_have_the_originals_messages_and_no_input() {
        assert_eq!(
            register_body(json!({"email": "a@b.co", "password": "test1234"})),
            json!([{"type": "value_error", "loc": ["body", "password"],
                    "msg": "Value error, Must contain uppercase", "ctx": {"error": {}}}])
        );
    }

    #[test]
    fn every_bad_field_is_reported_in_field_order() {
        let errors = register_body(
            json!({"email": "nope", "full_name": "x".repeat(256), "password": "short"}),
        );
        let locs: Vec<_> = errors
            .as_array()
            .map(|a| a.iter().map(|e| e["loc"][1].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            locs,
            [json!("email"), json!("full_name"), json!("password")]
        );
        assert_eq!(
            errors[0]["msg"],
            "value is not a valid email address: An email address must have an @-sign."
        );
        assert_eq!(errors[1]["type"], "string_too_long");
    }
}
