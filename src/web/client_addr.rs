//! The address of the client behind a request. `X-Forwarded-For` is believed only when the peer
//! is one of `server.trusted_proxies`, and then only up to the first hop that is not trusted.
use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::Request;
use ipnet::IpNet;

pub fn client_addr<B>(request: &Request<B>, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())?;
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    Some(resolve(peer, &forwarded, trusted_proxies))
}

/// Walks the forwarding chain from the nearest hop outwards, stopping at the first untrusted one.
fn resolve(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        match hop.parse::<IpAddr>() {
            Ok(ip) => client = ip,
            Err(_) => break,
        }
    }
    client
}

/// The key under which a client address is rate-limited: an IPv4 address alone, an IPv6 address
/// by its /64 (one subscriber usually holds a whole /64, so counting single IPv6 addresses would
/// let one client spread over billions of them). An IPv4-mapped IPv6 address counts as IPv4.
pub fn address_group(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::MAX >> 64);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_are_grouped_by_their_64() {
        assert_eq!(address_group(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(address_group(ip("::ffff:203.0.113.9")), "203.0.113.9");
        assert_eq!(
            address_group(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_group(ip("2001:db8:1:2::1")),
            address_group(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            address_group(ip("2001:db8:1:2::1")),
            address_group(ip("2001:db8:1:3::1"))
        );
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        assert_eq!(
            resolve(ip("203.0.113.9"), &["1.2.3.4"], &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn forwarded_for_is_followed_through_trusted_proxies_only() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        // A client forging a first hop: the proxy appends the real address last.
        let chain = ["6.6.6.6", "198.51.100.7", "10.0.0.2"];
        assert_eq!(
            resolve(ip("10.0.0.1"), &chain, &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &["garbage"], &trusted),
            ip("10.0.0.1")
        );
    }
}
