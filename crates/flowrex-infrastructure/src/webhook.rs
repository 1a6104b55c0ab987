//! Webhook deliveries, signed as the Standard Webhooks specification says: a `POST` of
//! `{"type", "timestamp", "data"}` with `webhook-id` (the event's id), `webhook-timestamp`
//! (Unix seconds) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of
//! `id.timestamp.body` under each signing secret, space-separated). A 2xx within the
//! timeout is delivered; redirects are not followed; no proxy is used.
//!
//! Outside development and test only `https` URLs are accepted, and unless private
//! networks are allowed every address a host resolves to must be public — checked on the
//! addresses the connection is actually made to (the client's resolver drops the others),
//! so that DNS cannot rebind past the check made when the URL was registered.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowrex_domain::AccountEvent;
use flowrex_domain::events::event_time;
use flowrex_domain::ports::{WebhookFailure, WebhookSender, WebhookTarget};
use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::Sha256;

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What URLs may receive webhooks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookRules {
    /// `http` URLs too (development and test only).
    pub allow_http: bool,
    /// Private, loopback and link-local addresses too (`WEBHOOK_ALLOW_PRIVATE_NETWORKS`).
    pub allow_private: bool,
}

/// Whether `ip` is one a webhook may not reach unless private networks are allowed:
/// loopback, private, link-local, carrier-grade NAT, unique local, site-local,
/// unspecified, multicast, broadcast, reserved, documentation and benchmarking ranges.
/// An IPv6 address that carries an IPv4 one — mapped (`::ffff:0:0/96`), compatible
/// (`::/96`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) — is judged as that IPv4
/// address; a local NAT64 prefix (`64:ff9b:1::/48`) is private whatever it carries.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 0)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |high: u16, low: u16| {
                let [h1, h2] = high.to_be_bytes();
                let [l1, l2] = low.to_be_bytes();
                IpAddr::V4(std::net::Ipv4Addr::new(h1, h2, l1, l2))
            };
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            // IPv4-compatible (`::a.b.c.d`, not `::` or `::1`) and NAT64's well-known prefix.
            if s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1) {
                return is_private(embedded(s[6], s[7]));
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_private(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_private(embedded(s[1], s[2]));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// The client's resolver: the system's, keeping only the addresses the rules allow.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    rules: WebhookRules,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| rules.allow_private || !is_private(address.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Sends deliveries over HTTP.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    rules: WebhookRules,
}

impl HttpWebhookSender {
    /// A sender under `rules`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (its TLS roots).
    pub fn new(rules: WebhookRules) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .no_proxy()
            .user_agent("Flowrex-Webhooks/1")
            .dns_resolver(Arc::new(GuardedResolver { rules }))
            .build()?;
        Ok(Self { client, rules })
    }

    /// Why `url` may not receive webhooks, from its text alone (its scheme, its host
    /// when that is an address).
    fn refuse(&self, url: &url::Url) -> Option<String> {
        match url.scheme() {
            "https" => {}
            "http" if self.rules.allow_http => {}
            "http" => return Some("url must use https".to_owned()),
            _ => return Some("url must be an http(s) URL".to_owned()),
        }
        let ip = match url.host()? {
            url::Host::Ipv4(ip) => IpAddr::V4(ip),
            url::Host::Ipv6(ip) => IpAddr::V6(ip),
            url::Host::Domain(_) => return None,
        };
        (!self.rules.allow_private && is_private(ip))
            .then(|| "url points to a private, loopback or link-local address".to_owned())
    }
}

/// The body of a delivery of `event`.
pub fn webhook_body(event: &AccountEvent) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": event.kind.as_str(),
        "timestamp": event_time(event.time),
        "data": event.data,
    }))
    .unwrap_or_default()
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of id.timestamp.body>` under
/// each secret (`whsec_` and a base64 key), space-separated.
pub fn signature(secrets: &[SecretString], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let encoded = secret.expose_secret();
            let key = STANDARD
                .decode(encoded.strip_prefix("whsec_").unwrap_or(encoded))
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(
        &self,
        target: &WebhookTarget,
        event: &AccountEvent,
    ) -> Result<u16, WebhookFailure> {
        let failure = |status: Option<u16>, error: String| WebhookFailure { status, error };
        let url = url::Url::parse(&target.url).map_err(|_| failure(None, "bad url".to_owned()))?;
        if let Some(refused) = self.refuse(&url) {
            return Err(failure(None, refused));
        }
        let body = webhook_body(event);
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&target.secrets, &event.id, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|error| {
                let kind = if error.is_timeout() {
                    "timed out"
                } else if error.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                };
                // The chain says why (a refused address, a TLS error) without the URL.
                let mut why = kind.to_owned();
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    why = format!("{why}: {cause}");
                    source = cause.source();
                }
                failure(None, why)
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(status.as_u16())
        } else if status.is_redirection() {
            Err(failure(
                Some(status.as_u16()),
                "redirect not followed".to_owned(),
            ))
        } else {
            Err(failure(Some(status.as_u16()), format!("answered {status}")))
        }
    }

    async fn vet(&self, url: &str) -> Result<(), String> {
        let parsed = url::Url::parse(url).map_err(|_| "url is not a URL".to_owned())?;
        if let Some(refused) = self.refuse(&parsed) {
            return Err(refused);
        }
        let Some(host) = parsed.host_str() else {
            return Err("url has no host".to_owned());
        };
        if matches!(parsed.host(), Some(url::Host::Domain(_))) && !self.rules.allow_private {
            let port = parsed.port_or_known_default().unwrap_or(443);
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| "url's host does not resolve".to_owned())?
                .collect();
            if resolved.iter().any(|address| is_private(address.ip())) {
                return Err("url resolves to a private, loopback or link-local address".to_owned());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
