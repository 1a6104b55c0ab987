//! Who a request comes from: computed once per request (by the rate limit when it runs,
//! else by the first handler that asks) and kept in the request's extensions.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use flowrex_domain::{ClientInfo, ClientKey};

use crate::client_ip;

/// The request's client: its address (behind `TRUSTED_PROXIES`, the forwarded one), the
/// key every limit counts it by, and its `User-Agent`.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

/// What is kept per request: the address and its key (the `User-Agent` is read only by
/// the handlers that record it).
#[derive(Debug, Clone)]
struct Address {
    ip: Option<std::net::IpAddr>,
    key: ClientKey,
}

impl Client {
    /// The address of `request`'s client, computed now if no one did before.
    pub fn ip_of(request: &HttpRequest) -> Option<std::net::IpAddr> {
        Self::address(request).ip
    }

    /// The limit key of `request`'s client, computed now if no one did before.
    pub fn key_of(request: &HttpRequest) -> ClientKey {
        Self::address(request).key
    }

    fn address(request: &HttpRequest) -> Address {
        if let Some(address) = request.extensions().get::<Address>() {
            return address.clone();
        }
        let ip = client_ip::of_request(request);
        let address = Address {
            ip,
            key: ClientKey::of(ip),
        };
        request.extensions_mut().insert(address.clone());
        address
    }
}

impl FromRequest for Client {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Address { ip, key } = Self::address(request);
        let user_agent = request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|agent| agent.to_str().ok())
            .map(str::to_owned);
        ready(Ok(Self(ClientInfo {
            ip,
            key,
            user_agent,
        })))
    }
}
