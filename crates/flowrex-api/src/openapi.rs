//! The OpenAPI 3.1 document (`GET /openapi.json`) and interactive docs (`GET /docs`),
//! generated from the handlers' `#[utoipa::path]` annotations. Every response schema is
//! the `ToSchema` of the very type the handler serialises (`UserBody`, `TokensBody`,
//! `ErrorBody`, `Rejection`, …); request schemas come from the field lists the parsers
//! read (`validation::body`).

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required, Response};
use utoipa::{Modify, OpenApi};

use crate::routes;

/// The answers every route of a kind can give, added here once instead of on each handler:
/// 429 on every route but the readiness probe (which the rate limit exempts); 503 (with
/// `Retry-After`) on every route under `/api/v1/auth`, which all use the database; 413 on
/// every route with a body; 422 on every route whose body is required; 401 on every route
/// that requires a bearer token; 403 `Superuser required` on every route under
/// `/api/v1/admin`. A handler that answers one of these with its own meaning lists it
/// itself, and its entry is kept.
struct SharedResponses;

impl SharedResponses {
    fn add(operation: &mut Operation, status: &str, description: &str, schema: &str) {
        let content = Content::new(Some(RefOr::Ref(Ref::from_schema_name(schema))));
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    Response::builder()
                        .description(description)
                        .content("application/json", content)
                        .build(),
                )
            });
    }
}

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            for operation in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
                item.put.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let body = operation.request_body.clone();
                if let Some(body) = body {
                    Self::add(operation, "413", "Body over 64 KiB", "ErrorBody");
                    if matches!(body.required, Some(Required::True)) {
                        Self::add(operation, "422", "Validation error", "Rejection");
                    }
                }
                // Routes whose token is optional (an empty requirement) keep their own.
                let bearer_required = operation.security.as_ref().is_some_and(|list| {
                    !list.is_empty() && !list.contains(&SecurityRequirement::default())
                });
                if bearer_required {
                    Self::add(
                        operation,
                        "401",
                        "Not authenticated or invalid credentials",
                        "ErrorBody",
                    );
                }
                if path.starts_with("/api/v1/admin/") {
                    Self::add(operation, "403", "Superuser required", "ErrorBody");
                }
                if path != "/health/ready" {
                    Self::add(
                        operation,
                        "429",
                        "Rate limited (`Retry-After`)",
                        "ErrorBody",
                    );
                }
                if path.starts_with("/api/v1/auth/") || path.starts_with("/api/v1/admin/") {
                    Self::add(
                        operation,
                        "503",
                        "The database is unreachable (`Retry-After`)",
                        "ErrorBody",
                    );
                }
            }
        }
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// What the document says besides its operations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flowrex API",
        version = env!("CARGO_PKG_VERSION"),
        description = "The authentication and account service of Flowrex. Register and log in with a password; tokens (a short-lived JWT access token and a rotating refresh token, in the body or an `HttpOnly` cookie) and revocable sessions; the account lifecycle over mail (verifying the address, forgotten and changed passwords, a new address, deletion); second factors (TOTP with recovery codes) and passkeys (WebAuthn), for signing in and for confirming sensitive changes; each user's own security events; and administration of users, their sessions and the audit trail for superusers. Every error body is `{\"detail\": …}`; a 422 lists FastAPI's validation errors."
    ),
    components(schemas(crate::error::ErrorBody, crate::validation::Rejection)),
    tags((name = "auth", description = "Accounts, tokens and sessions"), (name = "admin", description = "Account administration (superusers only)"), (name = "account", description = "The account lifecycle over mail: verification, passwords, email change, profile, deletion"), (name = "mfa", description = "Second factors: TOTP with recovery codes, and completing a login with a code"), (name = "passkeys", description = "Passkeys (WebAuthn): registering, listing, removing, signing in"), (name = "events", description = "Account events for other services: their schemas (docs/events.md)"), (name = "service", description = "Health and keys"))
)]
struct Frame;

/// The whole document: the frame, every operation the router serves
/// ([`routes::operations`], so nothing is routed undocumented or documented unrouted), and
/// the answers shared by kinds of route.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = Frame::openapi();
    for operation in routes::operations() {
        document.merge(operation.document);
    }
    BearerAuth.modify(&mut document);
    SharedResponses.modify(&mut document);
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of docs/api.md's table of operations, as the document gives them.
    fn rows(document: &utoipa::openapi::OpenApi) -> Vec<String> {
        let mut rows = Vec::new();
        for (path, item) in &document.paths.paths {
            for (method, operation) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ] {
                let Some(operation) = operation else { continue };
                let security = operation.security.as_deref().unwrap_or_default();
                let anonymous = security.contains(&SecurityRequirement::default());
                let who = match (
                    path.starts_with("/api/v1/admin/"),
                    security.len(),
                    anonymous,
                ) {
                    (true, _, _) => "superuser",
                    (false, 0, _) => "",
                    (false, _, true) => "optional",
                    (false, _, false) => "bearer",
                };
                rows.push(format!(
                    "| `{method} {path}` | {} | {who} |",
                    operation.summary.as_deref().unwrap_or_default()
                ));
            }
        }
        rows
    }

    #[test]
    fn every_operation_id_is_unique() {
        let document = document();
        let mut seen = std::collections::HashSet::new();
        for (path, item) in &document.paths.paths {
            for operation in [&item.get, &item.post, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(
                    seen.insert(id.clone()),
                    "{path}: operation id `{id}` is used twice"
                );
            }
        }
    }

    #[test]
    fn docs_api_md_lists_every_operation_as_the_document_does() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let listed: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("| `"))
            .filter(|line| {
                ["GET", "POST", "PATCH", "DELETE"]
                    .iter()
                    .any(|method| line.starts_with(&format!("| `{method} /")))
            })
            .collect();
        let expected = rows(&document());
        assert!(
            listed == expected,
            "docs/api.md's table of operations differs from the OpenAPI document; it should read:\n\n| operation | summary | token |\n|---|---|---|\n{}\n",
            expected.join("\n")
        );
    }
}

/// The router and the document agree: every documented operation is routed, and each
/// documented path answers exactly its documented methods.
#[cfg(test)]
mod router {
    use actix_web::{App, test as actix};

    use actix_web::http::{Method, StatusCode};
    use actix_web::web;

    use crate::routes::{allow, configure, methods, not_found, operations};

    /// The path of `operation` with each `{parameter}` filled in.
    fn concrete(path: &str) -> String {
        path.split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[actix_web::test]
    async fn the_router_answers_each_documented_operation_and_names_the_documented_methods() {
        let app = actix::init_service(
            App::new()
                .configure(configure)
                .default_service(web::to(not_found)),
        )
        .await;
        let document = super::document();
        let mut routed = 0;
        for (path, item) in &document.paths.paths {
            let documented: Vec<Method> = methods(item).collect();
            for method in &documented {
                routed += 1;
                let request = actix::TestRequest::default()
                    .method(method.clone())
                    .uri(&concrete(path))
                    .to_request();
                let status = actix::call_service(&app, request).await.status();
                // Without the app's state a routed handler fails (500); an unrouted one is
                // the fallback's 404 or another resource's 405.
                assert!(
                    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is documented but not routed: {status}"
                );
            }
            // A method no operation uses: the resource's 405 names exactly the documented ones
            // — of every documented path of this shape (`/identities/{provider}` and
            // `/identities/{id}` are one resource).
            let documented: Vec<Method> = operations()
                .iter()
                .filter(|op| crate::routes::shape(&op.path) == crate::routes::shape(path))
                .map(|op| op.method.clone())
                .collect();
            let request = actix::TestRequest::default()
                .method(Method::PUT)
                .uri(&concrete(path))
                .to_request();
            let response = actix::call_service(&app, request).await;
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "PUT {path}"
            );
            let allowed = response
                .headers()
                .get(actix_web::http::header::ALLOW)
                .and_then(|value| value.to_str().ok());
            assert_eq!(allowed, Some(allow(&documented).as_str()), "{path}");
        }
        assert_eq!(routed, operations().len());
    }

    #[actix_web::test]
    async fn the_service_pages_are_outside_the_api_document() {
        let document = super::document();
        for page in [
            "/metrics",
            "/verify-email",
            "/reset-password",
            "/confirm-email",
            "/passkeys",
            "/passkeys.js",
            "/docs",
        ] {
            assert!(!document.paths.paths.contains_key(page), "{page}");
        }
    }

    #[test]
    fn summaries_are_short_phrases_and_statuses_live_in_the_responses() {
        let document = super::document();
        assert_eq!(document.info.version, env!("CARGO_PKG_VERSION"));
        for (path, item) in &document.paths.paths {
            for operation in [&item.get, &item.post, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                let summary = operation.summary.as_deref().unwrap_or_default();
                assert!(
                    !summary.is_empty()
                        && summary.len() <= 60
                        && !summary.contains(['`', '→', '/'])
                        && !summary.chars().any(|c| c.is_ascii_digit()),
                    "{path}: {summary:?}"
                );
                let description = operation.description.as_deref().unwrap_or_default();
                assert!(!description.contains('→'), "{path}: {description:?}");
                assert!(!operation.responses.responses.is_empty(), "{path}");
            }
        }
    }
}
