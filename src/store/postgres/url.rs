//! PostgreSQL connection URLs (`postgres[ql]://user:password@host:port/database?key=value`), as
//! libpq reads them: the parts this worker uses, percent-decoded.
//!
//! Errors never quote the URL: it carries a password.

use percent_encoding::percent_decode_str;

/// How the connection is to be protected, from `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS (`disable`, what Hyperdrive's own connection string says).
    Disable,
    /// TLS if the server offers it (`prefer`, libpq's default; also `allow`).
    Prefer,
    /// TLS or no connection (`require`, `verify-ca`, `verify-full`).
    Require,
}

/// The parts of a connection URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionUrl {
    /// The role; empty when the URL names none.
    pub user: String,
    /// Its password; empty when the URL carries none.
    pub password: String,
    /// The host name or IP address (IPv6 without brackets).
    pub host: String,
    /// The port, 5432 unless given.
    pub port: u16,
    /// The database, if named.
    pub database: Option<String>,
    /// `sslmode`.
    pub ssl_mode: SslMode,
    /// `options`: command-line options for the backend.
    pub options: Option<String>,
    /// `application_name`.
    pub application_name: Option<String>,
}

/// Why a URL could not be read; says which part, never what it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub &'static str);

impl ConnectionUrl {
    /// Reads a `postgres://` or `postgresql://` URL.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or(UrlError("it must start with postgres:// or postgresql://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        // The password may contain an unencoded '@'; the host never does.
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let (host, port) = split_host_port(hostport)?;
        let mut parsed = Self {
            user: decode(user, "the user name is not UTF-8 once percent-decoded")?,
            password: decode(password, "the password is not UTF-8 once percent-decoded")?,
            host,
            port,
            database: Some(decode(
                path,
                "the database name is not UTF-8 once percent-decoded",
            )?)
            .filter(|name| !name.is_empty()),
            ssl_mode: SslMode::Prefer,
            options: None,
            application_name: None,
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "sslmode" => parsed.ssl_mode = ssl_mode(&value)?,
                "options" => parsed.options = Some(value.into_owned()),
                "application_name" => parsed.application_name = Some(value.into_owned()),
                "user" => parsed.user = value.into_owned(),
                "password" => parsed.password = value.into_owned(),
                "dbname" => parsed.database = Some(value.into_owned()),
                "host" | "hostaddr" | "port" => {
                    return Err(UrlError(
                        "host and port go in the URL's authority, not its parameters",
                    ))
                }
                // Settings for other clients (connect_timeout, channel_binding…) change nothing
                // on this connection.
                _ => {}
            }
        }
        Ok(parsed)
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), UrlError> {
    if hostport.contains(',') {
        return Err(UrlError("it lists several hosts; give exactly one"));
    }
    let (host, port) = match hostport.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or(UrlError("its IPv6 host has no closing bracket"))?;
            (host, after.strip_prefix(':'))
        }
        None => match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    let host = decode(host, "the host is not UTF-8 once percent-decoded")?;
    if host.is_empty() {
        return Err(UrlError("it has no host"));
    }
    let port = match port {
        None | Some("") => 5432,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or(UrlError("its port is not a number from 1 to 65535"))?,
    };
    Ok((host, port))
}

/// Percent-decodes one part; `refusal` says which part was not UTF-8.
fn decode(text: &str, refusal: &'static str) -> Result<String, UrlError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| UrlError(refusal))
}

fn ssl_mode(value: &str) -> Result<SslMode, UrlError> {
    match value {
        "disable" => Ok(SslMode::Disable),
        "allow" | "prefer" => Ok(SslMode::Prefer),
        "require" | "verify-ca" | "verify-full" => Ok(SslMode::Require),
        _ => Err(UrlError(
            "its sslmode is not one of disable, allow, prefer, require, verify-ca, verify-full",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hyperdrive_connection_string_is_read_whole() {
        let url = ConnectionUrl::parse(
            "postgresql://app:p%40ss%3Aword@0123abc.hyperdrive.local:5432/tasks?sslmode=disable",
        )
        .unwrap();
        assert_eq!(url.user, "app");
        assert_eq!(url.password, "p@ss:word");
        assert_eq!(url.host, "0123abc.hyperdrive.local");
        assert_eq!(url.port, 5432);
        assert_eq!(url.database.as_deref(), Some("tasks"));
        assert_eq!(url.ssl_mode, SslMode::Disable);
    }

    #[test]
    fn defaults_ipv6_hosts_and_parameters() {
        let url = ConnectionUrl::parse("postgres://[::1]/").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", 5432));
        assert_eq!((url.user.as_str(), url.password.as_str()), ("", ""));
        assert_eq!(url.database, None);
        assert_eq!(url.ssl_mode, SslMode::Prefer);

        let url = ConnectionUrl::parse(
            "postgres://u:a@b@[::1]:6543/d?sslmode=verify-full&options=-c%20search_path%3Dapp&application_name=edge&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(url.password, "a@b", "a raw '@' in the password");
        assert_eq!(url.port, 6543);
        assert_eq!(url.ssl_mode, SslMode::Require);
        assert_eq!(url.options.as_deref(), Some("-c search_path=app"));
        assert_eq!(url.application_name.as_deref(), Some("edge"));
    }

    #[test]
    fn broken_urls_are_refused_without_quoting_them() {
        for url in [
            "mysql://u:secret@h/d",
            "postgres://u:secret@/d",
            "postgres://u:secret@h:99999/d",
            "postgres://u:secret@h:0/d",
            "postgres://u:secret@h1,h2/d",
            "postgres://u:secret@[::1/d",
            "postgres://u:secret@h/d?sslmode=sometimes",
            "postgres://u:secret@h/d?host=elsewhere",
            "postgres://u:%ff@h/d",
        ] {
            let error = ConnectionUrl::parse(url).unwrap_err();
            assert!(!error.0.contains("secret"), "{url}: {error:?}");
        }
    }
}
