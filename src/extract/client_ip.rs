//! The client's IP address. `X-Forwarded-For` is believed only when the direct peer is one
//! of `TESSERA_TRUSTED_PROXIES`; otherwise anyone could claim any address in logs and audit.
use std::net::IpAddr;

/// The address of the client: the peer, or, when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    let mut last = peer;
    for hop in header.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => last = ip,
            Ok(ip) => return Some(ip),
            // A garbled entry: stop at the last address we could trust.
            Err(_) => return Some(last),
        }
    }
    Some(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_cannot_forge_their_address() {
        let got = client_ip(Some(ip("203.0.113.9")), Some("1.2.3.4"), &[ip("127.0.0.1")]);
        assert_eq!(got, Some(ip("203.0.113.9")));
    }

    #[test]
    fn trusted_proxies_pass_on_the_client() {
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        let got = client_ip(
            Some(ip("127.0.0.1")),
            Some("1.2.3.4, 198.51.100.7, 10.0.0.2"),
            &trusted,
        );
        assert_eq!(got, Some(ip("198.51.100.7")));
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), None, &trusted),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), Some("garbage"), &trusted),
            Some(ip("127.0.0.1"))
        );
    }
}
