//! The SPEC's routes. Each resource answers other methods with 405 and an `Allow` header,
//! and unknown paths with 404, both as JSON.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod cookie;
pub mod events;
pub mod health;
pub mod keys;
pub mod metrics;
pub mod pages;
pub mod passkey_page;
pub mod query;
pub mod uniform;

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, Route, web};
use utoipa::openapi::path::PathItem;

use crate::error::ApiError;
use flowrex_domain::TokenPurpose;

/// Declares the operations of a route file, its handlers named in the order their
/// resources' `Allow` lists them: `handlers![me, update, delete];`. Each handler's
/// `#[utoipa::path]` gives its method, path and documentation, so that the router and the
/// OpenAPI document are built from the same list and cannot disagree; the macro makes the
/// file's `operations()`, which [`operations`] gathers.
macro_rules! handlers {
    ($($handler:ident),+ $(,)?) => {
        /// The operations of this file, for the router and the OpenAPI document.
        pub fn operations() -> Vec<$crate::routes::Operation> {
            vec![$({
                #[derive(utoipa::OpenApi)]
                #[openapi(paths($handler))]
                struct Documented;
                $crate::routes::Operation::new(
                    <Documented as utoipa::OpenApi>::openapi(),
                    || actix_web::web::route().to($handler),
                )
            }),+]
        }
    };
}
pub(crate) use handlers;

/// Every operation of the API: each route file's own.
pub fn operations() -> Vec<Operation> {
    [
        health::operations(),
        keys::operations(),
        auth::register::operations(),
        auth::login::operations(),
        auth::refresh::operations(),
        auth::me::operations(),
        auth::logout::operations(),
        auth::sessions::operations(),
        auth::email::operations(),
        auth::email_login::operations(),
        auth::password::operations(),
        auth::mfa::operations(),
        auth::passkeys::operations(),
        auth::oauth::operations(),
        auth::identities::operations(),
        audit::operations(),
        admin::operations(),
        admin::webhooks::operations(),
        events::operations(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// One operation: a method on a path, its handler, and its part of the OpenAPI document.
pub struct Operation {
    /// The path, in the document's (and actix's) `{name}` syntax.
    pub path: String,
    /// The method.
    pub method: Method,
    route: fn() -> Route,
    /// The document of this operation alone.
    pub document: utoipa::openapi::OpenApi,
}

impl Operation {
    /// The operation `document` describes (one path, one method), answered by `route`.
    ///
    /// # Panics
    /// When `document` does not hold exactly one operation: `#[utoipa::path]` always
    /// gives one (a build defect otherwise, caught by every test that starts the app).
    pub fn new(document: utoipa::openapi::OpenApi, route: fn() -> Route) -> Self {
        let mut documented = document
            .paths
            .paths
            .iter()
            .flat_map(|(path, item)| methods(item).map(move |method| (path.clone(), method)));
        let (Some((path, method)), None) = (documented.next(), documented.next()) else {
            panic!("an operation's document holds one path and one method");
        };
        drop(documented);
        Self {
            path,
            method,
            route,
            document,
        }
    }
}

/// The methods `item` documents.
pub(crate) fn methods(item: &PathItem) -> impl Iterator<Item = Method> {
    [
        (item.get.is_some(), Method::GET),
        (item.post.is_some(), Method::POST),
        (item.put.is_some(), Method::PUT),
        (item.patch.is_some(), Method::PATCH),
        (item.delete.is_some(), Method::DELETE),
    ]
    .into_iter()
    .filter_map(|(documented, method)| documented.then_some(method))
}

/// The `Allow` of a resource answering `methods`: HEAD wherever GET is
/// (`middleware::head`).
pub fn allow(methods: &[Method]) -> String {
    let mut allowed = Vec::new();
    for method in methods {
        allowed.push(method.as_str());
        if *method == Method::GET {
            allowed.push(Method::HEAD.as_str());
        }
    }
    allowed.join(", ")
}

/// Registers every route: the API's operations, then the service's own pages, which are
/// not part of the API and so not in its document.
pub fn configure(config: &mut web::ServiceConfig) {
    #[cfg(feature = "bench-routes")]
    config.route("/bench/token-check", web::get().to(token_check));
    let mut operations = operations();
    while let Some(first) = operations.first() {
        let path = first.path.clone();
        let (on_path, rest): (Vec<_>, Vec<_>) = operations
            .into_iter()
            .partition(|operation| shape(&operation.path) == shape(&path));
        operations = rest;
        let methods: Vec<Method> = on_path.iter().map(|op| op.method.clone()).collect();
        let resource = on_path
            .into_iter()
            .fold(web::resource(&path), |resource, op| {
                resource.route((op.route)().method(op.method))
            });
        config.service(only(&allow(&methods), resource));
    }
    service_pages(config);
}

/// A path with its parameters' names left out: `/identities/{provider}` and
/// `/identities/{id}` are one resource, whose handlers read the segment by position.
pub fn shape(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The pages and files the service serves beside its API: metrics, the mailed links'
/// pages, the passkey page and the interactive docs' entry.
fn service_pages(config: &mut web::ServiceConfig) {
    for purpose in TokenPurpose::ALL {
        config.service(only(GET_POST, pages::resource(purpose)));
    }
    config.service(only(GET_POST, pages::email_login::resource()));
    config
        .service(get("/metrics", metrics::metrics))
        .service(get("/passkeys", passkey_page::page))
        .service(get("/passkeys.js", passkey_page::script))
        .service(get("/docs", || async {
            HttpResponse::PermanentRedirect()
                .insert_header(("Location", "/docs/"))
                .finish()
        }));
}

/// `GET /bench/token-check`: what `/me` costs without its database lookup (bench builds
/// only).
#[cfg(feature = "bench-routes")]
async fn token_check(
    tokens: web::Data<Arc<flowrex_infrastructure::JwtTokens>>,
    request: actix_web::HttpRequest,
) -> HttpResponse {
    use flowrex_domain::ports::TokenVerifier;
    let token = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    match tokens.verify(token, flowrex_domain::TokenKind::Access, chrono::Utc::now()) {
        Ok(claims) => HttpResponse::Ok().json(serde_json::json!({ "id": claims.subject.get() })),
        Err(_) => HttpResponse::Unauthorized().finish(),
    }
}

/// The `Allow` of a link page.
const GET_POST: &str = "GET, HEAD, POST";

/// A GET (and HEAD) resource of the service's pages.
fn get<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    only(
        &allow(&[Method::GET]),
        web::resource(path).route(web::get().to(handler)),
    )
}

/// Answers any other method on `resource` with 405 naming `allow`.
fn only(allow: &str, resource: Resource) -> Resource {
    let allow: Arc<str> = Arc::from(allow);
    resource.default_service(web::to(move || {
        let allow = Arc::clone(&allow);
        async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) }
    }))
}

/// The app's fallback: 404 `{"detail": "Not Found"}`.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
