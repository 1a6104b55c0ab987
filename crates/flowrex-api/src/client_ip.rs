//! The client's IP address, for rate limits and login throttling: the socket's peer, or —
//! only when that peer is a configured trusted proxy (`TRUSTED_PROXIES`) — the address the
//! proxies recorded in `X-Forwarded-For` (or `Forwarded`). A client cannot pick its own
//! rate-limit key by sending those headers itself.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use actix_web::HttpRequest;
use actix_web::http::header::{FORWARDED, HeaderMap};
use actix_web::web;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR networks
    /// (`10.0.0.0/8, 127.0.0.1, ::1`); empty trusts no one.
    ///
    /// # Errors
    /// The first entry that is neither.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                IpNet::from_str(entry)
                    .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                    .map_err(|_| format!("`{entry}` is not an IP address or CIDR network"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request that arrived from `peer` with `headers`: walking
    /// the forwarding chain from the nearest hop, the first address that is not a trusted
    /// proxy. Unparsable entries end the walk at the last trusted hop.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = peer;
        for hop in forwarded_chain(headers).into_iter().rev() {
            let Some(ip) = hop else {
                return Some(client);
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// The addresses of `X-Forwarded-For` (all its lines, in order), or else of `Forwarded`'s
/// `for=` parameters; `None` for an entry that is not an address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| {
        headers
            .get_all(name)
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let forwarded_for = values(X_FORWARDED_FOR);
    if !forwarded_for.is_empty() {
        return forwarded_for
            .iter()
            .map(|entry| parse_node(entry))
            .collect();
    }
    values(FORWARDED.as_str())
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(value.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    IpAddr::from_str(node)
        .ok()
        .or_else(|| SocketAddr::from_str(node).ok().map(|addr| addr.ip()))
        .or_else(|| {
            node.strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(ip, _)| IpAddr::from_str(ip).ok())
        })
}

/// The client address of `request`, by the app's [`TrustedProxies`].
pub fn of_request(request: &HttpRequest) -> Option<IpAddr> {
    let peer = request.peer_addr().map(|addr| addr.ip());
    match request.app_data::<web::Data<TrustedProxies>>() {
        Some(trusted) => trusted.client_ip(peer, request.headers()),
        None => peer,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn ip(text: &str) -> IpAddr {
        IpAddr::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_str(name).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn trusted(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let client = trusted("").client_ip(
            Some(ip("198.51.100.7")),
            &headers(&[("x-forwarded-for", "1.2.3.4")]),
        );
        assert_eq!(client, Some(ip("198.51.100.7")));
        let client = trusted("10.0.0.0/8").client_ip(
            Some(ip("198.51.100.7")),
            &headers(&[("forwarded", "for=1.2.3.4")]),
        );
        assert_eq!(client, Some(ip("198.51.100.7")));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let proxies = trusted("10.0.0.0/8, 127.0.0.1");
        // The client forged the first entry; the proxies appended the real one.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.5, 10.1.1.1")]);
        assert_eq!(
            proxies.client_ip(Some(ip("127.0.0.1")), &chain),
            Some(ip("203.0.113.5"))
        );
        let split = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.5"),
        ]);
        assert_eq!(
            proxies.client_ip(Some(ip("10.0.0.2")), &split),
            Some(ip("203.0.113.5"))
        );
    }

    #[test]
    fn forwarded_is_read_when_x_forwarded_for_is_absent() {
        let proxies = trusted("127.0.0.1");
        let header = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(
            proxies.client_ip(Some(ip("127.0.0.1")), &header),
            Some(ip("2001:db8:cafe::17"))
        );
    }

    #[test]
    fn garbage_in_the_chain_stops_at_the_last_trusted_hop() {
        let proxies = trusted("127.0.0.1, 10.0.0.0/8");
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, nonsense, 10.0.0.9")]);
        assert_eq!(
            proxies.client_ip(Some(ip("127.0.0.1")), &chain),
            Some(ip("10.0.0.9"))
        );
        assert_eq!(
            proxies.client_ip(Some(ip("127.0.0.1")), &headers(&[])),
            Some(ip("127.0.0.1"))
        );
    }

    #[test]
    fn entries_must_be_addresses_or_networks() {
        assert_eq!(trusted(" 10.0.0.0/8 ,::1").0.len(), 2);
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
    }
}
