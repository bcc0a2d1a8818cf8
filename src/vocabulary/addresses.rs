//! The key under which limits count a client address.
use std::net::{IpAddr, Ipv6Addr};

/// The throttle key of a client address: the address itself for IPv4 (and IPv4-mapped IPv6),
/// its /64 network for IPv6, because a single subscriber is commonly given a whole /64 and could
/// otherwise take a fresh address for every guess.
pub fn address_key(kind: &str, client: IpAddr) -> String {
    match counted_address(client) {
        IpAddr::V4(v4) => format!("{kind}:{v4}"),
        IpAddr::V6(network) => format!("{kind}:{network}/64"),
    }
}

/// What a limit counts a client address as: the IPv4 address, or the first address of the IPv6
/// /64 (see [`address_key`]).
pub fn counted_address(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(address: &str) -> String {
        address_key("address", address.parse().unwrap())
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_key() {
        assert_eq!(key("2001:db8:1:2::1"), "address:2001:db8:1:2::/64");
        assert_eq!(
            key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "address:2001:db8:1:2::/64"
        );
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::1"), "address:::/64");
    }

    #[test]
    fn ipv4_addresses_are_counted_one_by_one() {
        assert_eq!(key("198.51.100.7"), "address:198.51.100.7");
        assert_ne!(key("198.51.100.8"), key("198.51.100.7"));
        // An IPv4 client seen on a dual-stack socket is still that IPv4 address.
        assert_eq!(key("::ffff:198.51.100.7"), "address:198.51.100.7");
    }
}
