//! Whether an address stays on this machine: where a password may travel without TLS.
//!
//! Checked by hand: the standard library's address parser would be compiled in for this one
//! question.

/// A loopback host (`localhost`, `127.x.x.x`, `::1`, with or without IPv6 brackets): what is
/// sent there never crosses a network.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host == "::1" || host == "0:0:0:0:0:0:0:1" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets.iter().all(|octet| {
            !octet.is_empty()
                && octet.len() <= 3
                && octet.bytes().all(|byte| byte.is_ascii_digit())
                && octet.parse::<u16>().is_ok_and(|value| value <= 255)
        })
}

/// The host of a plain `http://` URL, if it has one and names it unambiguously: a URL with
/// userinfo (`http://127.0.0.1@elsewhere/`) has none, since a prefix of it would read as one
/// host while the request goes to another.
pub fn http_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']')?.0,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_count_as_loopback() {
        for host in ["localhost", "127.0.0.1", "127.9.9.9", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "0123.hyperdrive.local",
            "10.0.0.1",
            "db.example.com",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "127.0.0.256",
            "127.0.0",
            "::2",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn the_host_of_an_http_url_is_its_authority_without_port() {
        assert_eq!(http_host("http://127.0.0.1:4444/sql"), Some("127.0.0.1"));
        assert_eq!(http_host("http://localhost/sql"), Some("localhost"));
        assert_eq!(http_host("http://[::1]:9/sql"), Some("::1"));
        assert_eq!(http_host("http://example.com?x"), Some("example.com"));
        assert_eq!(http_host("http://127.0.0.1:80@evil.example/sql"), None);
        assert_eq!(http_host("http:///sql"), None);
        assert_eq!(http_host("https://127.0.0.1/sql"), None);
    }
}
