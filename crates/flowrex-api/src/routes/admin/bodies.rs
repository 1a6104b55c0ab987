//! What the admin routes read and answer: the fields of the create and update bodies,
//! the list query with its cursor, and the bodies of users and their sessions.

use flowrex_domain::ports::UserFilter;
use flowrex_domain::{AdminNewUser, AdminUserChange, User, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::auth::sessions::SessionBody;
use crate::routes::auth::{email, full_name, new_password, timestamp};
use crate::routes::query::QueryErrors;
use crate::validation::Rejection;
use crate::validation::body::{BodyField, request_body};

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
    [EMAIL, PASSWORD, FULL_NAME, IS_VERIFIED, IS_SUPERUSER],
    |fields| -> AdminNewUser {
        let address = email(fields, &EMAIL);
        let password = match fields.optional_string(PASSWORD.name) {
            Some(None) => Some(None),
            Some(Some(_)) => new_password(fields, PASSWORD.name).map(Some),
            None => None,
        };
        let name = full_name(fields, FULL_NAME.name);
        let verified = fields.optional_bool(IS_VERIFIED.name);
        let superuser = fields.optional_bool(IS_SUPERUSER.name);
        let parts = address.zip(password).zip(name).zip(verified).zip(superuser);
        parts.map(
            |((((email, password), full_name), verified), superuser)| AdminNewUser {
                email,
                password,
                full_name,
                is_verified: verified.unwrap_or(false),
                is_superuser: superuser.unwrap_or(false),
            },
        )
    }
);
request_body!(
    /// The body of `PATCH /admin/users/{id}`.
    AdminUpdateUserRequest,
    "The fields to change; any other field is refused (422).",
    [IS_ACTIVE, IS_VERIFIED, IS_SUPERUSER, FULL_NAME],
    // The flags and `full_name`, nothing else.
    |fields| -> AdminUserChange {
        let names_the_name = fields.has(FULL_NAME.name);
        let active = fields.optional_bool(IS_ACTIVE.name);
        let verified = fields.optional_bool(IS_VERIFIED.name);
        let superuser = fields.optional_bool(IS_SUPERUSER.name);
        let name = full_name(fields, FULL_NAME.name);
        fields.forbid_others(&[
            IS_ACTIVE.name,
            IS_VERIFIED.name,
            IS_SUPERUSER.name,
            FULL_NAME.name,
        ]);
        let parts = active.zip(verified).zip(superuser).zip(name);
        parts.map(
            |(((is_active, is_verified), is_superuser), name)| AdminUserChange {
                is_active,
                is_verified,
                is_superuser,
                full_name: names_the_name.then_some(name),
            },
        )
    }
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
        email_contains: errors.text("email", raw.email),
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
