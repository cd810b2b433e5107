//! The client's address, for rate limits and caps.
//!
//! Behind a load balancer every connection comes from the balancer, so the client is taken from
//! `X-Forwarded-For`, but only through proxies listed in `TRUSTED_PROXIES` (anyone can send the
//! header). The list is read right to left: each trusted proxy appended the address it saw; the
//! first address that is not a trusted proxy is the client. IPv6 clients are bucketed by /64,
//! the block one subscriber usually gets, so rotating addresses within it buys nothing.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use super::AppState;
use super::error::ApiError;

/// `TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// # Errors
    /// An entry that is neither an address nor a CIDR block.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an address or CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&canonical(ip)))
    }

    /// The client of a connection from `peer` carrying `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|entry| entry.trim().parse::<IpAddr>().map(canonical))
            .collect::<Result<_, _>>()
            // A malformed header is not evidence of anything: the proxy is the client.
            .unwrap_or_default();
        let mut client = peer;
        for address in forwarded.into_iter().rev() {
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The rate-limit bucket of an address: itself for IPv4, its /64 for IPv6.
pub fn bucket(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

/// The calling client's address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The key its rate limits count under.
    pub fn bucket(self) -> String {
        bucket(self.0)
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| ApiError::Internal("no peer address on the connection".into()))?;
        Ok(Self(state.config.trusted_proxies.client(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        headers
    }

    #[test]
    fn forwarded_addresses_count_only_through_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1").unwrap();
        let balancer: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        // Through the balancer: the address it saw.
        assert_eq!(proxies.client(balancer, &headers("198.51.100.7")), "198.51.100.7".parse::<IpAddr>().unwrap());
        // A client forging the header in front of the balancer: the balancer appended the truth.
        let forged = headers("1.1.1.1, 198.51.100.7");
        assert_eq!(proxies.client(balancer, &forged), "198.51.100.7".parse::<IpAddr>().unwrap());
        // Two trusted hops.
        let chain = headers("198.51.100.7, 192.168.1.1");
        assert_eq!(proxies.client(balancer, &chain), "198.51.100.7".parse::<IpAddr>().unwrap());
        // Not through a trusted proxy: the header is ignored.
        assert_eq!(proxies.client(stranger, &headers("1.1.1.1")), stranger);
        // Nothing trusted by default.
        assert_eq!(TrustedProxies::default().client(balancer, &headers("1.1.1.1")), balancer);
        // Garbage in the header: the proxy itself.
        assert_eq!(proxies.client(balancer, &headers("not-an-ip")), balancer);
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("localhost").is_err());
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(other));
        assert_eq!(bucket(a), "2001:db8:1:2::/64");
        assert_eq!(bucket("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
