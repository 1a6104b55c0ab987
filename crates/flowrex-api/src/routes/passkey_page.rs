//! `/passkeys`: the service's own page for passkeys, beside its account pages — sign in
//! with a passkey, or sign in with the password and add one. Its script (`/passkeys.js`)
//! shows how a front end drives the WebAuthn ceremonies: decoding the options' base64url
//! fields, `navigator.credentials.create()` / `.get()`, and encoding the answers. WebAuthn
//! binds passkeys to the relying party id, so the page works only at an origin in
//! `WEBAUTHN_ORIGINS` (by default `http://localhost:PORT`; not `127.0.0.1`).

use actix_web::HttpResponse;
use actix_web::http::header::{CacheControl, CacheDirective};

/// The page: its own script only, calls to its own origin only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `GET /passkeys`.
pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .body(include_str!("passkey_page/passkeys.html"))
}

/// `GET /passkeys.js`.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(include_str!("passkey_page/passkeys.js"))
}
