//! Client networks in CIDR notation, IPv4 and IPv6, matched with one mask and compare.

use std::net::IpAddr;

/// A network: an address (as IPv6; IPv4 as `::ffff:a.b.c.d`) and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: u128,
    mask: u128,
}

/// IPv4 addresses live at `::ffff:0:0/96` so that one comparison covers both families,
/// whether the listener is IPv4 or dual-stack IPv6.
fn as_v6_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl Cidr {
    /// Parses `addr/len` or a bare address (a single host).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let ip: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: {addr:?} is not an IPv4 or IPv6 address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len: u32 = match len {
            Some(l) => l
                .trim()
                .parse()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0..={max}"))?,
            None => max,
        };
        let len = len + (128 - max);
        let mask = match len {
            0 => 0,
            l => u128::MAX << (128 - l),
        };
        let net = as_v6_bits(ip);
        if net & !mask != 0 {
            return Err(format!(
                "{s:?}: host bits set after the prefix (did you mean the network address?)"
            ));
        }
        Ok(Cidr { net, mask })
    }

    /// Whether `ip` is inside (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        as_v6_bits(ip.to_canonical()) & self.mask == self.net
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_matches_ipv4_ipv6_and_ipv4_mapped_clients() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains(ip("10.1.255.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")), "dual-stack listener");
        assert!(!c.contains(ip("fd00::1")));
        let c = Cidr::parse("fd00:1::/32").unwrap();
        assert!(c.contains(ip("fd00:1:ffff::9")));
        assert!(!c.contains(ip("fd00:2::1")));
        assert!(!c.contains(ip("10.1.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("192.0.2.1")));
        assert!(!Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("2001:db8::1")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        let host = Cidr::parse("192.168.0.7").unwrap();
        assert!(host.contains(ip("192.168.0.7")) && !host.contains(ip("192.168.0.8")));
    }

    #[test]
    fn cidr_errors_say_what_is_wrong() {
        assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("0..=32"));
        assert!(Cidr::parse("10.0.0.1/8").unwrap_err().contains("host bits"));
        assert!(Cidr::parse("plc.local/8")
            .unwrap_err()
            .contains("not an IPv4 or IPv6"));
    }
}
