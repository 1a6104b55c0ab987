//! `/api/v1/admin/users…`: account administration for superusers. Every route answers 401
//! without a valid bearer token and 403 `Superuser required` for any other user, before
//! its query or body is read ([`SuperuserSession`]); the flag is the one the request's own
//! lookup just read, so a demotion counts at once.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::{Admin, User, UserId};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Parsed, SuperuserSession};
use crate::routes::auth::identities::IdentityBody;
use crate::routes::auth::sessions::SessionBody;
use crate::routes::auth::{MessageBody, no_store, uncached};
use crate::validation::Rejection;

mod bodies;
pub mod webhooks;

use crate::routes::handlers;
use bodies::{
    AdminCreateUserRequest, AdminUpdateUserRequest, AdminUserBody, SessionListBody, UserListBody,
    parse_list,
};

handlers![
    list_users,
    create_user,
    get_user,
    update_user,
    delete_user,
    list_sessions,
    revoke_sessions,
    send_password_reset,
    list_identities,
    remove_identity
];

/// The `{id}` of a path; any id that is not a positive integer names no user.
fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(UserId::new)
        .ok_or(ApiError::UserNotFound)
}

fn user_response(status: actix_web::http::StatusCode, user: &User) -> HttpResponse {
    uncached(HttpResponse::build(status), AdminUserBody::from(user))
}

/// List users
///
/// Newest first, filtered and paged.
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
        (status = 422, description = "A bad query parameter", body = Rejection)
    )
)]
pub async fn list_users(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let list = parse_list(request.query_string())?;
    let page = admin
        .admin_list_users(&caller, &list.filter, list.before, list.limit)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .json(UserListBody {
            items: page.items.iter().map(AdminUserBody::from).collect(),
            next_cursor: page.next.map(|id| id.get().to_string()),
        }))
}

/// Create a user
///
/// Without `password`, an invitation to choose one is mailed.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users",
    tag = "admin",
    operation_id = "admin_create_user",
    request_body = AdminCreateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = AdminUserBody),
        (status = 400, description = "Email already registered", body = ErrorBody)
    )
)]
pub async fn create_user(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    body: Parsed<AdminCreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = body.value()?;
    let user = admin.admin_create_user(&caller, new).await?;
    Ok(user_response(actix_web::http::StatusCode::CREATED, &user))
}

/// Show a user
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{id}",
    tag = "admin",
    operation_id = "admin_get_user",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = AdminUserBody),
        (status = 404, description = "User not found", body = ErrorBody)
    )
)]
pub async fn get_user(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = admin.admin_get_user(&caller, user_id(&path)?).await?;
    Ok(user_response(actix_web::http::StatusCode::OK, &user))
}

/// Change a user
///
/// Deactivating ends the user's sessions at once; no change may leave no active
/// superuser.
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
        (status = 404, description = "User not found", body = ErrorBody),
        (status = 409, description = "The last active superuser cannot be removed", body = ErrorBody)
    )
)]
pub async fn update_user(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
    body: Parsed<AdminUpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&path)?;
    let change = body.value()?;
    let user = admin.admin_update_user(&caller, id, change).await?;
    Ok(user_response(actix_web::http::StatusCode::OK, &user))
}

/// Delete a user
///
/// Never the last active superuser.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{id}",
    tag = "admin",
    operation_id = "admin_delete_user",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "User not found", body = ErrorBody),
        (status = 409, description = "The last active superuser cannot be removed", body = ErrorBody)
    )
)]
pub async fn delete_user(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin.admin_delete_user(&caller, user_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List a user's active sessions
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{id}/sessions",
    tag = "admin",
    operation_id = "admin_list_sessions",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's active sessions", body = SessionListBody),
        (status = 404, description = "User not found", body = ErrorBody)
    )
)]
pub async fn list_sessions(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sessions = admin.admin_list_sessions(&caller, user_id(&path)?).await?;
    Ok(uncached(
        HttpResponse::Ok(),
        SessionListBody {
            items: sessions
                .iter()
                .map(|session| SessionBody::of(session, &caller.session))
                .collect(),
            next_cursor: None,
        },
    ))
}

/// End every session of a user
#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{id}/sessions",
    tag = "admin",
    operation_id = "admin_revoke_sessions",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 404, description = "User not found", body = ErrorBody)
    )
)]
pub async fn revoke_sessions(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin
        .admin_revoke_sessions(&caller, user_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List a user's linked providers
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{id}/identities",
    tag = "admin",
    operation_id = "admin_list_identities",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's identities, oldest first", body = [IdentityBody]),
        (status = 404, description = "User not found", body = ErrorBody)
    )
)]
pub async fn list_identities(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let identities = admin
        .admin_list_identities(&caller, user_id(&path)?)
        .await?;
    let body: Vec<IdentityBody<'_>> = identities.iter().map(IdentityBody::from).collect();
    Ok(uncached(HttpResponse::Ok(), body))
}

/// Remove one of a user's linked providers
///
/// A credential event, audited and mailed to the user; never the user's last way to sign
/// in (409: deactivate the account instead).
#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{id}/identities/{identity_id}",
    tag = "admin",
    operation_id = "admin_remove_identity",
    params(
        ("id" = String, Path, description = "The user's id"),
        ("identity_id" = String, Path, description = "The identity's id")
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "User not found, or Identity not found", body = ErrorBody),
        (status = 409, description = "The last way to sign in cannot be removed", body = ErrorBody)
    )
)]
pub async fn remove_identity(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user, identity) = path.into_inner();
    let identity = identity
        .parse::<i64>()
        .map_err(|_| ApiError::IdentityNotFound)?;
    admin
        .admin_remove_identity(&caller, user_id(&user)?, identity)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mail a user a password-reset link
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/password-reset",
    tag = "admin",
    operation_id = "admin_send_password_reset",
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A reset link is on its way", body = MessageBody),
        (status = 404, description = "User not found", body = ErrorBody),
        (status = 503, description = "Mail delivery is not configured", body = ErrorBody)
    )
)]
pub async fn send_password_reset(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin
        .admin_send_password_reset(&caller, user_id(&path)?)
        .await?;
    Ok(HttpResponse::Accepted().json(MessageBody {
        message: "A password-reset link has been sent",
    }))
}
