//! The front door: what the gateway settles about a request before any route
//! sees it, in its outermost middleware ([`front_door`]).
//!
//! - **The client's address**: the TCP peer, or, when the peer is one of the
//!   configured `trusted_proxies`, the address `X-Forwarded-For` names (the
//!   right-most hop that is not itself a trusted proxy). A client that reaches
//!   the gateway directly cannot choose the address it is throttled and
//!   audited under. It is put in the request's extensions ([`ClientAddress`]).
//! - **Whose trace the request continues**: a caller's `traceparent` is
//!   trusted only once the caller is authenticated. Requests to `/scim/v2`
//!   and `/admin/v1` get their span unentered until the authentication
//!   middleware decides (`telemetry::actix::IncomingTrace::AfterAuthentication`):
//!   a refused call is a new root trace, an authenticated one joins the
//!   caller's. Every other route (the token endpoint, unknown paths) starts a
//!   new root trace.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use ipnet::IpNet;
use std::net::IpAddr;
use telemetry::actix::IncomingTrace;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    /// Whether no proxy is trusted (the default: the TCP peer is the client).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client's address: `peer`, or, when `peer` is a trusted proxy, the right-most hop of
    /// `forwarded_for` (every `X-Forwarded-For` value, in order) that is not a trusted proxy. When
    /// every hop is trusted, the left-most; when a hop does not parse, the trusted hop that named it.
    pub fn client_address<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.contains(peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|value| value.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(address) = parse_hop(hop) else { return Some(client) };
            client = address;
            if !self.contains(address) {
                return Some(address);
            }
        }
        Some(client)
    }
}

impl std::str::FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of addresses (`10.0.0.7`) and networks (`10.0.0.0/8`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_network).collect::<Result<_, _>>().map(Self)
    }
}

/// An address (`10.0.0.7`, `::1`) or a network (`10.0.0.0/8`).
///
/// # Errors
/// A message naming what does not parse.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an address nor a network (10.0.0.0/8)"))
}

/// One `X-Forwarded-For` hop: an address, possibly with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().or_else(|_| hop.parse::<std::net::SocketAddr>().map(|s| s.ip())).ok().map(canonical)
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4 peers) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address as the front door resolved it (absent when the peer is unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// The address resolved for `req` (the TCP peer when the front door did not run).
    pub fn of(req: &actix_web::HttpRequest) -> Option<IpAddr> {
        match req.extensions().get::<ClientAddress>() {
            Some(resolved) => resolved.0,
            None => req.peer_addr().map(|a| canonical(a.ip())),
        }
    }
}

/// Whether `path` (as received, before `NormalizePath`) is under a route that authenticates its caller.
fn authenticates(path: &str) -> bool {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    matches!((segments.next(), segments.next()), (Some("scim"), Some("v2")) | (Some("admin"), Some("v1")))
}

/// The gateway's outermost middleware (`actix_web::middleware::from_fn`): resolves the client's
/// address, then traces the request, trusting the caller's trace context only after authentication.
///
/// # Errors
/// Passes on the inner service's errors.
pub async fn front_door(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let proxies = req.app_data::<actix_web::web::Data<crate::state::AppState>>().map(|s| &s.settings.trusted_proxies);
    let peer = req.peer_addr().map(|a| a.ip());
    let address = match proxies {
        Some(proxies) if !proxies.is_empty() => {
            let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
            proxies.client_address(peer, forwarded)
        }
        _ => peer.map(canonical),
    };
    req.extensions_mut().insert(ClientAddress(address));
    let incoming = if authenticates(req.path()) { IncomingTrace::AfterAuthentication } else { IncomingTrace::Ignored };
    telemetry::actix::trace_requests_with(req, next, incoming).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(text: &str) -> TrustedProxies {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let none = TrustedProxies::default();
        assert_eq!(none.client_address(ip("192.0.2.9"), ["203.0.113.5"].into_iter()), ip("192.0.2.9"));
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_cannot_choose_its_address() {
        let p = proxies("10.0.0.0/8");
        assert_eq!(p.client_address(ip("192.0.2.9"), ["203.0.113.5"].into_iter()), ip("192.0.2.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let p = proxies("10.0.0.0/8, 192.168.1.1");
        // The client forged a first hop; the proxies appended what they saw.
        let header = ["198.51.100.66, 203.0.113.5, 10.1.2.3"];
        assert_eq!(p.client_address(ip("192.168.1.1"), header.into_iter()), ip("203.0.113.5"));
        // Several header lines count as one list, in order.
        let lines = ["198.51.100.66", "203.0.113.5:4711", "10.1.2.3"];
        assert_eq!(p.client_address(ip("10.9.9.9"), lines.into_iter()), ip("203.0.113.5"));
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk_at_the_proxy_that_wrote_it() {
        let p = proxies("10.0.0.0/8");
        assert_eq!(p.client_address(ip("10.0.0.1"), ["unknown, 10.0.0.2"].into_iter()), ip("10.0.0.2"));
        assert_eq!(p.client_address(ip("10.0.0.1"), std::iter::empty()), ip("10.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_addresses_are_read_as_ipv4() {
        let p = proxies("10.0.0.0/8");
        assert_eq!(p.client_address(ip("::ffff:10.0.0.1"), ["[::ffff:203.0.113.5]:80"].into_iter()), ip("203.0.113.5"));
    }

    #[test]
    fn a_bad_entry_is_refused_naming_it() {
        assert!("10.0.0.0/8, nonsense".parse::<TrustedProxies>().unwrap_err().contains("nonsense"));
        assert_eq!(parse_network("::1").unwrap().to_string(), "::1/128");
    }

    #[test]
    fn only_scim_and_admin_paths_authenticate() {
        assert!(authenticates("/scim/v2/Users"));
        assert!(authenticates("//scim/v2"));
        assert!(authenticates("/admin/v1/connections"));
        assert!(!authenticates("/oauth2/token"));
        assert!(!authenticates("/scim/v2x"));
        assert!(!authenticates("/healthz"));
    }
}
