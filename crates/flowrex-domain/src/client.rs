//! Who a request comes from, as far as the service can tell.

use std::net::IpAddr;

/// The key limits count a client by: its IP address, an IPv6 address by its /56 prefix
/// (one customer's network, so that a client cannot get a fresh budget from each of the
/// 2^72 addresses it may use), `unknown` when there is no address. Computed once per
/// request and shared by every limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    /// The key of a client at `ip`.
    pub fn of(ip: Option<IpAddr>) -> Self {
        Self(match ip {
            Some(IpAddr::V6(ip)) => {
                let mut octets = ip.octets();
                octets[7..].fill(0);
                IpAddr::from(octets).to_string()
            }
            Some(ip) => ip.to_string(),
            None => "unknown".to_owned(),
        })
    }

    /// The key as counters store it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A request's client: its address (recorded with a session), its limit key and its
/// `User-Agent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address (the forwarded one behind a trusted proxy).
    pub ip: Option<IpAddr>,
    /// The limit key of that address.
    pub key: ClientKey,
    /// Its `User-Agent`.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The client at `ip` with `user_agent`, its key computed.
    pub fn new(ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        Self {
            key: ClientKey::of(ip),
            ip,
            user_agent,
        }
    }
}

impl Default for ClientInfo {
    /// A client nothing is known about.
    fn default() -> Self {
        Self::new(None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_keyed_by_ip_and_ipv6_by_its_56_prefix() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(ClientKey::of(Some(v4)).as_str(), "203.0.113.7");
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        let b: IpAddr = "2001:db8:1:ff:ff:4:5:6".parse().unwrap();
        assert_eq!(ClientKey::of(Some(a)), ClientKey::of(Some(b)));
        assert_eq!(ClientKey::of(Some(a)).as_str(), "2001:db8:1::");
        let other_network: IpAddr = "2001:db8:1:100::1".parse().unwrap();
        assert_ne!(ClientKey::of(Some(a)), ClientKey::of(Some(other_network)));
        assert_eq!(ClientKey::of(None).as_str(), "unknown");
    }
}
