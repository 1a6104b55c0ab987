//! `/api/v1/admin/users…`: account administration for superusers. Every route answers 401
//! without a valid bearer token and 403 `Superuser required` for any other user, before
//! its query or body is read ([`SuperuserSession`]); the flag is the one the request's own
//! lookup just read, so a demotion counts at once.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::ports::UserFilter;
use flowrex_domain::{AdminNewUser, AdminUserChange, AuthService, User, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, SuperuserSession};
use crate::routes::auth::sessions::SessionBody;
use crate::routes::auth::{
    MessageBody, content_type, email, full_name, new_password, no_store, timestamp,
};
use crate::routes::body_schema::{BodyField, request_body};
use crate::routes::query::QueryErrors;
use crate::validation::{Echo, Fields, Rejection, json_object};

const EMAIL: BodyField = BodyField::required("email", "The login address.").email();
const PASSWORD: BodyField = BodyField::optional(
    "password",
    "By the registration rules; leave out to invite the user by mail (a set-password link, 7 days).",
);
const FULL_NAME: BodyField =
    BodyField::optional("full_name", "Display name; `null` clears it.").length(None, Some(255));
const IS_ACTIVE: BodyField = BodyField::flag(
    "is_active",
    "Inactive users cannot log in; deactivating ends every session.",
);
const IS_VERIFIED: BodyField = BodyField::flag("is_verified", "The address counts as verified.");
const IS_SUPERUSER: BodyField = BodyField::flag("is_superuser", "An administrator.");

request_body!(
    /// The body of `POST /admin/users`.
    AdminCreateUserRequest,
    "A new user; without a password, an invitation.",
    [EMAIL, PASSWORD, FULL_NAME, IS_VERIFIED, IS_SUPERUSER]
);
request_body!(
    /// The body of `PATCH /admin/users/{id}`.
    AdminUpdateUserRequest,
    "The fields to change; any other field is refused (422).",
    [IS_ACTIVE, IS_VERIFIED, IS_SUPERUSER, FULL_NAME]
);

/// The SPEC's user body, plus what administrators see.
#[derive(Serialize, ToSchema)]
pub struct AdminUserBody<'a> {
    /// The user's id.
    pub id: i64,
    /// The login address.
    #[schema(format = "email")]
    pub email: &'a str,
    /// The display name.
    pub full_name: Option<&'a str>,
    /// Inactive users cannot log in.
    pub is_active: bool,
    /// Whether the address was verified.
    pub is_verified: bool,
    /// An administrator.
    pub is_superuser: bool,
    /// When the user registered.
    #[schema(format = "date-time")]
    pub created_at: String,
    /// When the row last changed.
    #[schema(format = "date-time")]
    pub updated_at: String,
    /// The last successful login, `null` before the first.
    #[schema(format = "date-time")]
    pub last_login_at: Option<String>,
}

impl<'a> From<&'a User> for AdminUserBody<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id().get(),
            email: user.email().as_str(),
            full_name: user.full_name(),
            is_active: user.is_active(),
            is_verified: user.is_verified(),
            is_superuser: user.is_superuser(),
            created_at: timestamp(user.created_at()),
            updated_at: timestamp(user.updated_at()),
            last_login_at: user.last_login_at().map(timestamp),
        }
    }
}

/// One page of users, newest first.
#[derive(Serialize, ToSchema)]
pub struct UserListBody<'a> {
    /// This page.
    pub items: Vec<AdminUserBody<'a>>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A user's active sessions (one page: a user has few).
#[derive(Serialize, ToSchema)]
pub struct SessionListBody<'a> {
    /// The sessions, most recently used first.
    pub items: Vec<SessionBody<'a>>,
    /// Always `null`.
    pub next_cursor: Option<String>,
}

/// The query of `GET /admin/users`, as sent.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    email: Option<String>,
    is_active: Option<String>,
    is_verified: Option<String>,
    is_superuser: Option<String>,
}

/// What a list asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct ListRequest {
    /// The filters.
    pub filter: UserFilter,
    /// Users below this id.
    pub before: Option<UserId>,
    /// Per page.
    pub limit: u64,
}

/// `GET /admin/users`'s query: `limit` (1–100), `cursor`, `email`, and the three flags
/// (`true`/`false`, as FastAPI reads booleans: also `1`/`0`, `yes`/`no`, `on`/`off`).
///
/// # Errors
/// The [`Rejection`] to answer with 422 (`loc` `["query", name]`).
pub fn parse_list(query: &str) -> Result<ListRequest, Rejection> {
    let raw: ListQuery = serde_urlencoded::from_str(query).unwrap_or_default();
    let mut errors = QueryErrors::default();
    let limit = errors.limit(raw.limit.as_deref());
    let before = errors
        .positive("cursor", raw.cursor.as_deref(), "Invalid cursor")
        .map(UserId::new);
    let mut flag = |name: &'static str, raw: Option<&str>| -> Option<bool> {
        let value = raw?;
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
            "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
            _ => {
                errors.reject(
                    name,
                    "bool_parsing",
                    "Input should be a valid boolean, unable to interpret input",
                    value,
                );
                None
            }
        }
    };
    let filter = UserFilter {
        is_active: flag("is_active", raw.is_active.as_deref()),
        is_verified: flag("is_verified", raw.is_verified.as_deref()),
        is_superuser: flag("is_superuser", raw.is_superuser.as_deref()),
        email_contains: raw.email.filter(|needle| !needle.is_empty()),
    };
    if errors.0.is_empty() {
        Ok(ListRequest {
            filter,
            before,
            limit,
        })
    } else {
        Err(Rejection { detail: errors.0 })
    }
}

/// `POST /admin/users`'s body.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_create(content_type: Option<&[u8]>, body: &[u8]) -> Result<AdminNewUser, Rejection> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let raw_email = fields.required_string(EMAIL.name, Echo::Yes);
    let address = email(&mut fields, EMAIL.name, raw_email);
    let password = match fields.optional_string(PASSWORD.name) {
        Some(None) => Some(None),
        Some(Some(_)) => new_password(&mut fields, PASSWORD.name).map(Some),
        None => None,
    };
    let name = full_name(&mut fields, FULL_NAME.name);
    let verified = fields.optional_bool(IS_VERIFIED.name);
    let superuser = fields.optional_bool(IS_SUPERUSER.name);
    let parts = address.zip(password).zip(name).zip(verified).zip(superuser);
    fields.finish(
        parts.map(
            |((((email, password), full_name), verified), superuser)| AdminNewUser {
                email,
                password,
                full_name,
                is_verified: verified.unwrap_or(false),
                is_superuser: superuser.unwrap_or(false),
            },
        ),
    )
}

/// `PATCH /admin/users/{id}`'s body: the flags and `full_name`, nothing else.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_update(
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Result<AdminUserChange, Rejection> {
    let object = json_object(content_type, body)?;
    let names_the_name = object.contains_key(FULL_NAME.name);
    let mut fields = Fields::new(object);
    let active = fields.optional_bool(IS_ACTIVE.name);
    let verified = fields.optional_bool(IS_VERIFIED.name);
    let superuser = fields.optional_bool(IS_SUPERUSER.name);
    let name = full_name(&mut fields, FULL_NAME.name);
    fields.forbid_others(&[
        IS_ACTIVE.name,
        IS_VERIFIED.name,
        IS_SUPERUSER.name,
        FULL_NAME.name,
    ]);
    let parts = active.zip(verified).zip(superuser).zip(name);
    fields.finish(parts.map(
        |(((is_active, is_verified), is_superuser), name)| AdminUserChange {
            is_active,
            is_verified,
            is_superuser,
            full_name: names_the_name.then_some(name),
        },
    ))
}

/// The `{id}` of a path; any id that is not a positive integer names no user.
fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(UserId::new)
        .ok_or(ApiError::UserNotFound)
}

fn user_response(status: actix_web::http::StatusCode, user: &User) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(no_store())
        .json(AdminUserBody::from(user))
}

/// `GET /api/v1/admin/users` → 200 `{"items", "next_cursor"}`, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    tag = "admin",
    operation_id = "admin_list_users",
    params(
        ("limit" = Option<u64>, Query, description = "Users per page, 1 to 100 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the page before"),
        ("email" = Option<String>, Query, description = "A part of the address, any case"),
        ("is_active" = Option<bool>, Query, description = "Active or not"),
        ("is_verified" = Option<bool>, Query, description = "Verified or not"),
        ("is_superuser" = Option<bool>, Query, description = "Administrator or not")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = UserListBody),
        (status = 401, description = "Not authenticated or invalid credentials", body = ErrorBody),
        (status = 403, description = "Superuser required", body = ErrorBody),
        (status = 422, description = "A bad query parameter", body = Rejection)
    )
)]
pub async fn list_users(
    auth: web::Data<AuthService>,
    SuperuserSession(caller): SuperuserSession,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let list = parse_list(request.query_string())?;
    let page = auth
        .admin_list_users(&caller, &list.filter, list.before, list.limit)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .json(UserListBody {
            items: page.items.iter().map(AdminUserBody::from).collect(),
            next_cursor: page.next.map(|id| id.get().to_string()),
        }))
}

/// `POST /api/v1/admin/users` → 201 the user; without `password`, an invitation is mailed.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users",
    tag = "admin",
    operation_id = "admin_create_user",
    request_body = AdminCreateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = AdminUserBody),
        (status = 400, description = "Email already registered", body = ErrorBody),
        (status = 401, description = "Not authenticated or invalid credentials", body = ErrorBody),
        (status = 403, description = "Superuser required", body = ErrorBody)
    )
)]
pub async fn create_user(
    auth: web::Data<AuthService>,
    SuperuserSession(caller): SuperuserSession,
    request: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let new = parse_create(content_type(&request), &body)?;
    let user = auth.admin_create_user(&caller, new).await?;
    Ok(user_response(actix_web::http::StatusCode::CREATED, &user))
}

/// `GET /api/v1/admin/users/{id}` → 200 the user, or 404.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{id}",
    tag = "admin",
    operation_id = "admin_get_user",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = AdminUserBody),
        (status = 401, description = "Not authenticated or invalid credentials", body = ErrorBody),
        (status = 403, description = "Superuser required", body = ErrorBody),
        (status = 404, description = "User not found", body = ErrorBody)
    )
)]
pub async fn get_user(
    auth: web::Data<AuthService>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.admin_get_user(&caller, user_id(&path)?).await?;
    Ok(user_response(actix_web::http::StatusCode::OK, &user))
}

/// `PATCH /api/v1/admin/users/{id}` → 200 the user; deactivating ends its sessions at
/// once; 409 when no active superuser would be left.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/users/{id}",
    tag = "admin",
    operation_id = "admin_update_user",
    params(("id" = String, Path, description = "The user's id")),
    request_body = AdminUpdateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed user", body = AdminUserBody),
        (status = 401, description = "Not authenticated or invalid credentials", body = ErrorBody),
        (status = 403, description = "Superuser required", body = ErrorBody),
        (status = 404, description = "User not found", body = ErrorBody),
        (status = 409, description = "The last active superuser cannot be removed", body = ErrorBody)
    )
)]
pub async fn update_user(
    auth: web::Data<AuthService>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
    request: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&path)?;
    let change = parse_update(content_type(&request), &body)?;
    let user = auth.admin_update_user(&caller, id, change).await?;
    Ok(user_response(actix_web::http::StatusCode::OK, &user))
}

/// `DELETE /api/v1/admin/users/{id}` → 204; 409 for the last active superuser.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{id}",
    tag = "admin",
    operation_id = "admin_delete_user",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated or invalid credentials", body = ErrorBody),
        (status = 403, description = "Superuser required", body = ErrorBody),
        (status = 404, description = "User not found", body = ErrorBody),
        (status = 409, description = "The last active superuser cannot be removed", body = ErrorBody)
    )
)]
pub async fn delete_user(
    auth: web::Data<AuthService>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.admin_delete_user(&caller, user_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/admin/users/{id}/sessions` → 200 `{"items", "next_cursor": null}`.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{id}/sessions",
    tag = "admin",
    operation_id = "admin_list_sessions",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's active sessions", body = SessionListBody),
        (status = 401, description = "Not authenticated or invalid credentials", body = ErrorBody),
        (status = 403, description = "Superuser required", body = ErrorBody),
        (status = 404, description = "User not found", body = ErrorBody)
    )
)]
pub async fn list_sessions(
    auth: web::Data<AuthService>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sessions = auth.admin_list_sessions(&caller, user_id(&path)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .json(SessionListBody {
            items: sessions
                .iter()
                .map(|session| SessionBody::of(session, &caller.session))
                .collect(),
            next_cursor: None,
        }))
}

/// `DELETE /api/v1/admin/users/{id}/sessions` → 204, every session of the user ended.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{id}/sessions",
    tag = "admin",
    operation_id = "admin_revoke_sessions",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, description = "Not authenticated or invalid credentials", body = ErrorBody),
        (status = 403, description = "Superuser required", body = ErrorBody),
        (status = 404, description = "User not found", body = ErrorBody)
    )
)]
pub async fn revoke_sessions(
    auth: web::Data<AuthService>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.admin_revoke_sessions(&caller, user_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/admin/users/{id}/password-reset` → 202; the user is mailed a reset link.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/password-reset",
    tag = "admin",
    operation_id = "admin_send_password_reset",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A reset link is on its way", body = MessageBody),
        (status = 401, description = "Not authenticated or invalid credentials", body = ErrorBody),
        (status = 403, description = "Superuser required", body = ErrorBody),
        (status = 404, description = "User not found", body = ErrorBody),
        (status = 503, description = "Mail delivery is not configured", body = ErrorBody)
    )
)]
pub async fn send_password_reset(
    auth: web::Data<AuthService>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.admin_send_password_reset(&caller, user_id(&path)?)
        .await?;
    Ok(HttpResponse::Accepted().json(MessageBody {
        message: "A password-reset link has been sent",
    }))
}
