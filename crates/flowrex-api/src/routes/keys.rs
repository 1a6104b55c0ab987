//! `GET /.well-known/jwks.json`: the public keys that verify Flowrex tokens, so that other
//! services can check them without any secret. Empty with a shared-secret algorithm.

use crate::routes::handlers;
use actix_web::HttpResponse;
use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

handlers![jwks];

/// A JSON Web Key Set (RFC 7517).
#[derive(Serialize, ToSchema)]
pub struct JwksBody {
    /// The public keys (`kty`, `kid`, `use`, `alg` and the key's own members).
    #[schema(value_type = Vec<Object>)]
    pub keys: serde_json::Value,
}

/// The JWK set, serialised once at start-up.
pub struct Jwks(pub web::Bytes);

impl Jwks {
    /// The set of the keys that the token adapter publishes (`keys`, a JSON array).
    ///
    /// # Errors
    /// serde's, which a JSON value cannot cause.
    pub fn of(keys: serde_json::Value) -> serde_json::Result<Self> {
        serde_json::to_vec(&JwksBody { keys }).map(|bytes| Self(bytes.into()))
    }
}

/// Publish the token-verifying keys
///
/// The public keys that verify Flowrex tokens (empty with a shared-secret algorithm);
/// cacheable for five minutes.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "service",
    responses(
        (status = 200, description = "The public keys that verify tokens", body = JwksBody)
    )
)]
pub async fn jwks(keys: web::Data<Jwks>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(300),
        ]))
        .content_type(ContentType::json())
        .body(keys.0.clone())
}
