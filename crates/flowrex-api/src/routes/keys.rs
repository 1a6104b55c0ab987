//! `GET /.well-known/jwks.json`: the public keys that verify Flowrex tokens, so that other
//! services can check them without any secret. Empty with a shared-secret algorithm.

use actix_web::HttpResponse;
use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::web;

/// The JWK set, serialised once at start-up.
pub struct Jwks(pub web::Bytes);

/// `GET /.well-known/jwks.json` → 200 `{"keys": [...]}`, cacheable for five minutes.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "service",
    responses(
        (status = 200, description = "The public keys that verify tokens", body = crate::openapi::JwkSetResponse),
        (status = 429, description = "Rate limited (`Retry-After`)", body = crate::openapi::ErrorResponse)
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
