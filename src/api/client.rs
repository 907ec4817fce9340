//! Who is asking: the client's address, from the socket, or from `X-Forwarded-For` when (and
//! only when) the socket's peer is a configured trusted proxy.

use std::net::IpAddr;

use ipnet::IpNet;
use poem::{Request, http::HeaderMap};

/// The client's address, resolved once per request and kept in its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The address a request was resolved to; `0.0.0.0` for a request that did not come over
    /// TCP (never the case in a server).
    pub fn of(req: &Request) -> IpAddr {
        req.extensions()
            .get::<ClientAddr>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0)
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The socket's peer, unless it is a trusted proxy: then the rightmost address in
    /// `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends the address
    /// it saw, so everything left of the first untrusted hop may be forged).
    pub fn client_of(&self, req: &Request) -> IpAddr {
        let peer = req
            .remote_addr()
            .as_socket_addr()
            .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip().to_canonical());
        self.client_behind(peer, req.headers())
    }

    fn client_behind(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // Something unreadable: the last proxy we trust is all we know.
            let Ok(ip) = hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use poem::http::HeaderValue;

    use super::*;

    fn request(peer: &str, forwarded: &[&str]) -> (IpAddr, HeaderMap) {
        let mut headers = HeaderMap::new();
        for f in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(f).unwrap());
        }
        (peer.parse().unwrap(), headers)
    }

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn nobody_is_trusted_by_default() {
        let req = request("127.0.0.1", &["203.0.113.9"]);
        assert_eq!(
            TrustedProxies::default()
                .client_behind(req.0, &req.1)
                .to_string(),
            "127.0.0.1"
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let req = request("10.0.0.1", &["198.51.100.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(
            proxies.client_behind(req.0, &req.1).to_string(),
            "203.0.113.9"
        );
        let req = request("10.0.0.1", &["garbage, 10.0.0.3"]);
        assert_eq!(proxies.client_behind(req.0, &req.1).to_string(), "10.0.0.3");
        let req = request("10.0.0.1", &[]);
        assert_eq!(proxies.client_behind(req.0, &req.1).to_string(), "10.0.0.1");
        let req = request("192.0.2.1", &["203.0.113.9"]);
        assert_eq!(
            proxies.client_behind(req.0, &req.1).to_string(),
            "192.0.2.1"
        );
    }
}
