use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where clamd listens: `tcp://HOST:PORT` (`tcp://127.0.0.1:3310`,
/// `tcp://clamav.internal:3310`, `tcp://[::1]:3310`) or
/// `unix:///ABSOLUTE/PATH` (`unix:///run/clamav/clamd.ctl`, Debian's
/// `LocalSocket`). A scheme is required, so a value cannot be read two ways.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ClamdAddress {
    /// clamd's `TCPSocket`/`TCPAddr`. `host` is a name or an IP address
    /// (an IPv6 address without its brackets).
    Tcp { host: String, port: u16 },
    /// clamd's `LocalSocket`: an absolute path.
    Unix(PathBuf),
}

/// Why a clamd address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid clamd address {input:?}: {reason}; expected tcp://HOST:PORT or unix:///ABSOLUTE/PATH"
)]
pub struct AddressError {
    input: String,
    reason: &'static str,
}

impl FromStr for ClamdAddress {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let refuse = |reason| AddressError {
            input: input.to_owned(),
            reason,
        };
        if let Some(rest) = input.strip_prefix("tcp://") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| refuse("a TCP address needs a port"))?;
            let host = match host.strip_prefix('[') {
                Some(bracketed) => bracketed
                    .strip_suffix(']')
                    .ok_or_else(|| refuse("an IPv6 host needs its closing ']'"))?,
                None if host.contains(':') => {
                    return Err(refuse("an IPv6 host goes in brackets: tcp://[::1]:3310"));
                }
                None => host,
            };
            if host.is_empty() {
                return Err(refuse("the host is empty"));
            }
            if host.contains(['/', '@', '?', '#']) || host.chars().any(char::is_whitespace) {
                return Err(refuse("the host must be a name or an IP address"));
            }
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|&port| port != 0)
                .ok_or_else(|| refuse("the port must be a number from 1 to 65535"))?;
            Ok(Self::Tcp {
                host: host.to_owned(),
                port,
            })
        } else if let Some(path) = input.strip_prefix("unix://") {
            if !path.starts_with('/') || path.len() < 2 {
                return Err(refuse("the socket path must be absolute (unix:///path)"));
            }
            Ok(Self::Unix(PathBuf::from(path)))
        } else {
            Err(refuse("unknown or missing scheme"))
        }
    }
}

impl TryFrom<String> for ClamdAddress {
    type Error = AddressError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ClamdAddress> for String {
    fn from(value: ClamdAddress) -> Self {
        value.to_string()
    }
}

impl fmt::Display for ClamdAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> ClamdAddress {
        ClamdAddress::Tcp {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn accepted_addresses_parse_and_print_back() {
        let cases = [
            ("tcp://127.0.0.1:3310", tcp("127.0.0.1", 3310)),
            ("tcp://clamav.internal:27490", tcp("clamav.internal", 27490)),
            ("tcp://[::1]:3310", tcp("::1", 3310)),
            (
                "unix:///run/clamav/clamd.ctl",
                ClamdAddress::Unix(PathBuf::from("/run/clamav/clamd.ctl")),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<ClamdAddress>().as_ref(), Ok(&expected));
            assert_eq!(expected.to_string(), input);
        }
    }

    #[test]
    fn refused_addresses_say_why_and_what_is_expected() {
        let cases = [
            ("127.0.0.1:3310", "unknown or missing scheme"),
            ("http://127.0.0.1:3310", "unknown or missing scheme"),
            ("", "unknown or missing scheme"),
            ("tcp://127.0.0.1", "needs a port"),
            ("tcp://:3310", "host is empty"),
            ("tcp://127.0.0.1:0", "from 1 to 65535"),
            ("tcp://127.0.0.1:70000", "from 1 to 65535"),
            ("tcp://127.0.0.1:3310/", "from 1 to 65535"),
            ("tcp://::1:3310", "in brackets"),
            ("tcp://[::1:3310", "closing ']'"),
            ("tcp://user@host:3310", "name or an IP address"),
            ("unix://run/clamd.ctl", "must be absolute"),
            ("unix://", "must be absolute"),
            ("unix:///", "must be absolute"),
        ];
        for (input, reason) in cases {
            let message = input
                .parse::<ClamdAddress>()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(message.contains(reason), "{input:?}: {message}");
            assert!(
                message.contains("expected tcp://HOST:PORT or unix:///ABSOLUTE/PATH"),
                "{message}"
            );
        }
    }

    #[test]
    fn an_address_deserialises_from_its_string() {
        let address: Result<ClamdAddress, _> =
            serde_json::from_value(serde_json::json!("unix:///run/clamav/clamd.ctl"));
        assert_eq!(
            address.ok(),
            Some(ClamdAddress::Unix(PathBuf::from("/run/clamav/clamd.ctl")))
        );
        let refused: Result<ClamdAddress, _> = serde_json::from_value(serde_json::json!("3310"));
        assert!(refused.is_err());
    }
}
