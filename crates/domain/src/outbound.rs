//! Which hosts Coffer may call on a tenant's behalf (webhooks, and any future
//! outbound call a tenant can steer). A tenant must not be able to make
//! Coffer reach what only Coffer can reach: its own loopback, the private
//! network it runs in, a cloud's metadata service. The rules are pure: the
//! addresses a name resolves to are handed in by whoever resolved them, at
//! registration and again at delivery (where the address checked is the one
//! connected to, so a name re-pointed after registration gains nothing).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Names that are internal whatever they resolve to: the loopback name and
/// the metadata services of the large clouds (most also answer on
/// 169.254.169.254, refused as link-local).
const INTERNAL_NAMES: &[&str] = &[
    "localhost",
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.internal",
    "metadata.platformequinix.com",
];

/// Whether `ip` is an address a tenant must not make Coffer call: loopback,
/// private (RFC 1918), link-local (with the metadata address 169.254.169.254),
/// CGNAT (100.64.0.0/10), unspecified, "this network" (0.0.0.0/8), multicast,
/// broadcast and the reserved 240.0.0.0/4; for IPv6 also unique-local
/// (fc00::/7), and any IPv4 address embedded in an IPv6 one (mapped, compat,
/// NAT64 64:ff9b::/96, 6to4 2002::/16) is judged as that IPv4 address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || a >= 240
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return is_internal_v4(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        // site-local (deprecated, still routed internally by some networks)
        || (segments[0] & 0xffc0) == 0xfec0
}

/// The IPv4 address an IPv6 address carries: mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`, but not `::` or `::1`), NAT64 (`64:ff9b::/96`)
/// or 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// Whether `name` (a DNS name, any case, with or without the trailing dot)
/// is internal whatever it resolves to: `localhost` and its subdomains
/// (RFC 6761) and the cloud metadata names.
pub fn is_internal_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.ends_with(".localhost") || INTERNAL_NAMES.contains(&name.as_str())
}

/// One entry of the operator's allowlist: an address block or a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    /// An address or a CIDR block (`10.1.2.0/24`, `127.0.0.1`, `::1`, `fd00::/8`).
    Net { addr: IpAddr, prefix: u8 },
    /// A DNS name, matched exactly (case-insensitive); its addresses are
    /// then trusted whatever they are.
    Name(String),
}

impl AllowedHost {
    /// # Errors
    /// An empty entry, a prefix longer than the address, or a name with
    /// characters no host name has.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (raw, None),
        };
        let unbracketed = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| format!("{raw:?}: the prefix must be 0 to {max}"))?,
            };
            return Ok(Self::Net { addr: ip, prefix });
        }
        let name = raw.trim_end_matches('.').to_ascii_lowercase();
        if prefix.is_some()
            || name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(format!(
                "{raw:?} is neither an IP address, a CIDR block nor a host name"
            ));
        }
        Ok(Self::Name(name))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let Self::Net { addr, prefix } = self else {
            return false;
        };
        let ip = canonical(ip);
        match (canonical(*addr), ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    fn names(&self, host: &str) -> bool {
        matches!(self, Self::Name(name) if *name == host.trim_end_matches('.').to_ascii_lowercase())
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is, so an allowlist
/// entry `127.0.0.1` also covers `::ffff:127.0.0.1`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net { addr, prefix } => write!(f, "{addr}/{prefix}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} is an internal target ({why}); an operator can allow it in [events] allowed_webhook_hosts"
)]
pub struct TargetRefused {
    pub host: String,
    pub why: &'static str,
}

/// The outbound rule: internal targets are refused unless the operator's
/// allowlist names them. The default allows nothing internal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allowed: Vec<AllowedHost>,
}

impl OutboundPolicy {
    pub fn new(allowed: Vec<AllowedHost>) -> Self {
        Self { allowed }
    }

    /// # Errors
    /// The first entry [`AllowedHost::parse`] refuses.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| AllowedHost::parse(e.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self::new)
    }

    fn names(&self, host: &str) -> bool {
        self.allowed.iter().any(|a| a.names(host))
    }

    /// What can be decided from the host alone: an IP literal, or a name
    /// that is internal whatever it resolves to.
    ///
    /// # Errors
    /// [`TargetRefused`] for an internal address or name not allowed.
    pub fn check_host(&self, host: &url::Host<&str>) -> Result<(), TargetRefused> {
        match host {
            url::Host::Domain(name) => {
                if is_internal_name(name) && !self.names(name) {
                    return Err(TargetRefused {
                        host: (*name).to_owned(),
                        why: "an internal name",
                    });
                }
                Ok(())
            }
            url::Host::Ipv4(ip) => self.check_address(None, IpAddr::V4(*ip)),
            url::Host::Ipv6(ip) => self.check_address(None, IpAddr::V6(*ip)),
        }
    }

    /// Whether Coffer may connect to `ip`, reached through the name `host`
    /// (`None` for an IP literal).
    ///
    /// # Errors
    /// [`TargetRefused`] for an internal address neither it nor the name
    /// it was reached through is allowed.
    pub fn check_address(&self, host: Option<&str>, ip: IpAddr) -> Result<(), TargetRefused> {
        if !is_internal(ip)
            || host.is_some_and(|h| self.names(h))
            || self.allowed.iter().any(|a| a.contains(ip))
        {
            return Ok(());
        }
        Err(TargetRefused {
            host: host.map_or_else(|| ip.to_string(), |h| format!("{h} ({ip})")),
            why: "an internal address",
        })
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "the inputs are literals; a bad one should fail the test loudly"
)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn every_internal_range_is_internal() {
        for raw in [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.255",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.1.1.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
        ] {
            assert!(is_internal(ip(raw)), "{raw} is internal");
        }
    }

    #[test]
    fn public_addresses_are_not_internal() {
        for raw in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.1.1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(!is_internal(ip(raw)), "{raw} is public");
        }
    }

    /// The URL parser turns every numeric spelling of an IPv4 host into the
    /// address it means, so the check sees the address, not the spelling.
    #[test]
    fn numeric_ipv4_spellings_are_parsed_to_the_address_they_mean() {
        for raw in [
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0x7f.0.0.1/",
            "http://[::ffff:7f00:1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0xA9FEA9FE/",
        ] {
            let url = url::Url::parse(raw).unwrap();
            let host = url.host().unwrap();
            assert!(
                OutboundPolicy::default().check_host(&host).is_err(),
                "{raw} parsed as {host}"
            );
        }
    }

    #[test]
    fn internal_names_are_refused_whatever_their_case() {
        for name in [
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "metadata.google.internal",
            "Metadata.Google.Internal.",
            "instance-data",
        ] {
            assert!(is_internal_name(name), "{name}");
        }
        assert!(!is_internal_name("hooks.example.com"));
        assert!(!is_internal_name("localhost.example.com"));
    }

    #[test]
    fn the_allowlist_opens_exactly_what_it_names() {
        let policy =
            OutboundPolicy::parse(&["127.0.0.1", "10.1.2.0/24", "[::1]", "hooks.internal"])
                .unwrap();
        assert!(policy.check_address(None, ip("127.0.0.1")).is_ok());
        assert!(policy.check_address(None, ip("::ffff:127.0.0.1")).is_ok());
        assert!(policy.check_address(None, ip("127.0.0.2")).is_err());
        assert!(policy.check_address(None, ip("10.1.2.0")).is_ok());
        assert!(policy.check_address(None, ip("10.1.2.255")).is_ok());
        assert!(policy.check_address(None, ip("10.1.3.1")).is_err());
        assert!(policy.check_address(None, ip("10.1.1.255")).is_err());
        assert!(policy.check_address(None, ip("::1")).is_ok());
        assert!(policy.check_address(None, ip("fe80::1")).is_err());
        assert!(policy.check_address(None, ip("169.254.169.254")).is_err());
        // A named host is trusted with whatever it resolves to; others are not.
        assert!(
            policy
                .check_address(Some("hooks.internal"), ip("10.9.9.9"))
                .is_ok()
        );
        assert!(
            policy
                .check_address(Some("other.internal"), ip("10.9.9.9"))
                .is_err()
        );
        // Public addresses need no entry.
        assert!(
            policy
                .check_address(Some("example.com"), ip("93.184.215.14"))
                .is_ok()
        );
        let localhost = url::Host::Domain("localhost");
        assert!(policy.check_host(&localhost).is_err());
        assert!(
            OutboundPolicy::parse(&["localhost"])
                .unwrap()
                .check_host(&localhost)
                .is_ok()
        );
        let all_v4 = OutboundPolicy::parse(&["0.0.0.0/0"]).unwrap();
        assert!(all_v4.check_address(None, ip("10.0.0.1")).is_ok());
        assert!(all_v4.check_address(None, ip("::1")).is_err());
    }

    #[test]
    fn bad_allowlist_entries_are_refused() {
        for bad in ["", "10.0.0.0/33", "::/129", "a b", "host/8", "10.0.0.0/x"] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad:?}");
        }
    }
}
