//! Where a token answer puts the refresh token: in the body, or in the browser transport's
//! `HttpOnly` cookie (`routes::cookie`).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use flowrex_domain::TokenPair;

use super::{TokensBody, no_store};
use crate::error::ApiError;
use crate::routes::cookie;

/// How long the refresh cookie lives (the refresh token's lifetime), as app data.
#[derive(Debug, Clone, Copy)]
pub struct RefreshCookie {
    /// The cookie's `Max-Age`.
    pub max_age: chrono::Duration,
}

/// Where the answer of a login, a refresh or a completed second factor puts the refresh
/// token: the cookie when the request asked for it (`X-Token-Transport: cookie`), the
/// body otherwise.
#[derive(Debug, Clone, Copy)]
pub struct TokenTransport {
    cookie: bool,
    max_age: chrono::Duration,
}

impl TokenTransport {
    /// The cookie as well when the refresh token came in one: the browser transport goes
    /// on without asking again.
    #[must_use]
    pub fn or_cookie(mut self, came_in_cookie: bool) -> Self {
        self.cookie |= came_in_cookie;
        self
    }

    /// 200 with `pair`: the SPEC's tokens body, its refresh token `null` when it is in the
    /// cookie instead; not for caches.
    pub fn answer(self, pair: TokenPair) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        response.insert_header(no_store());
        let refresh_token = if self.cookie {
            response.cookie(cookie::with_token(pair.refresh_token, self.max_age));
            None
        } else {
            Some(pair.refresh_token)
        };
        response.json(TokensBody {
            access_token: pair.access_token,
            refresh_token,
            token_type: "bearer",
            expires_in: pair.expires_in,
        })
    }
}

impl FromRequest for TokenTransport {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match request.app_data::<web::Data<RefreshCookie>>() {
            Some(settings) => Ok(Self {
                cookie: cookie::wants_cookie(request),
                max_age: settings.max_age,
            }),
            None => Err(ApiError::Internal(anyhow::anyhow!(
                "the app has no RefreshCookie data"
            ))),
        })
    }
}
