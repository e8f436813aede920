//! Where webhooks may go: public addresses only, unless a host is allowed by name.
//!
//! A webhook URL is the merchant's to choose, so without a check it is a way to make the
//! platform call into its own network (the database, the Temporal server, a cloud's metadata
//! service at 169.254.169.254). A URL is refused when its host resolves to any private,
//! loopback, link-local, shared, unspecified, multicast or reserved address, unless the host
//! (as written in the URL) is in `webhooks.allowed_private_hosts`. The check runs when an
//! endpoint is saved and again before each attempt, and the attempt connects to the very
//! addresses checked, so a name that resolves differently later (DNS rebinding) gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::Url;

/// Why a URL may not receive webhooks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// Not an absolute `http` or `https` URL with a host (and no user name or password).
    #[error("{0}")]
    Invalid(String),
    /// Its host did not resolve.
    #[error("`{0}` does not resolve")]
    Unresolvable(String),
    /// Its host resolves to an address inside a private network.
    #[error("`{host}` resolves to {address}, a private, loopback or link-local address")]
    Private {
        /// The host.
        host: String,
        /// The address refused.
        address: IpAddr,
    },
}

/// The rule: public addresses, and the hosts allowed by name.
#[derive(Clone, Debug, Default)]
pub struct Destinations {
    allowed: Vec<String>,
}

impl Destinations {
    /// Public addresses, and `allowed` hosts whatever they resolve to.
    pub fn new(allowed: &[String]) -> Self {
        Self {
            allowed: allowed
                .iter()
                .map(|host| host.to_ascii_lowercase())
                .collect(),
        }
    }

    /// `raw` as a webhook URL, before any lookup.
    pub fn parse(raw: &str) -> Result<Url, DestinationError> {
        let url = Url::parse(raw).map_err(|err| DestinationError::Invalid(err.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DestinationError::Invalid(
                "use an http or https URL".to_owned(),
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(DestinationError::Invalid("the URL has no host".to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(DestinationError::Invalid(
                "put no user name or password in the URL".to_owned(),
            ));
        }
        Ok(url)
    }

    /// The addresses `url` may be reached at, all checked.
    pub async fn resolve(&self, url: &Url) -> Result<Vec<SocketAddr>, DestinationError> {
        let host = url.host_str().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| DestinationError::Unresolvable(host.to_owned()))?
            .collect();
        if addresses.is_empty() {
            return Err(DestinationError::Unresolvable(host.to_owned()));
        }
        let allowed = self
            .allowed
            .iter()
            .any(|allowed| allowed == &host.to_ascii_lowercase());
        if let Some(private) = addresses.iter().find(|a| !allowed && !is_public(a.ip())) {
            return Err(DestinationError::Private {
                host: host.to_owned(),
                address: private.ip(),
            });
        }
        Ok(addresses)
    }
}

/// Whether `ip` is on the public internet.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_shared_addresses_are_not_public() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(
                !is_public(refused.parse().expect("valid in the test")),
                "{refused}"
            );
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(
                is_public(public.parse().expect("valid in the test")),
                "{public}"
            );
        }
    }

    #[tokio::test]
    async fn a_loopback_url_is_refused_unless_its_host_is_allowed() {
        let url = Destinations::parse("http://127.0.0.1:9/hooks").expect("valid in the test");
        let refused = Destinations::default().resolve(&url).await;
        assert!(matches!(refused, Err(DestinationError::Private { .. })));
        let allowed = Destinations::new(&["127.0.0.1".to_owned()]);
        assert_eq!(
            allowed
                .resolve(&url)
                .await
                .expect("valid in the test")
                .len(),
            1
        );
        let localhost = Destinations::parse("http://localhost:9/").expect("valid in the test");
        assert!(Destinations::default().resolve(&localhost).await.is_err());
    }

    #[test]
    fn only_http_urls_with_a_host_and_no_credentials_are_taken() {
        assert!(Destinations::parse("ftp://example.com/").is_err());
        assert!(Destinations::parse("https://user:pw@example.com/").is_err());
        assert!(Destinations::parse("not a url").is_err());
        assert!(Destinations::parse("https://example.com/hooks?a=1").is_ok());
    }
}
