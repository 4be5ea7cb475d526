//! The Hyperdrive transport: tokio-postgres over a `worker::Socket` to the Hyperdrive binding.
//!
//! One connection per storage call (so one per request): I/O objects cannot outlive the
//! request that made them, and Hyperdrive pools the real database connections anyway.
//! Startup and authentication go through [`super::pg_auth`], which keeps SCRAM's expensive
//! key derivation out of the per-request path.
//! Statements go out with `query_typed`, which sends Parse/Bind/Execute in one round trip with
//! an unnamed statement: no separate prepare, and nothing named that a transaction-mode pool
//! could route to the wrong backend.

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::{
    config::SslMode,
    types::{ToSql, Type},
    NoTls,
};
use worker::{Hyperdrive, SecureTransport, Socket};

use super::{
    classify_sqlstate,
    pg_auth::{authenticate, Authenticated, StartupParams},
    sql::Param,
    sql::Statement,
    Row, StoreError, Transport,
};

/// Reaches PostgreSQL through a Hyperdrive binding.
pub struct HyperdriveTransport {
    hyperdrive: Hyperdrive,
    allow_password_without_tls: bool,
}

impl HyperdriveTransport {
    /// Uses the given binding; `allow_password_without_tls` is the deployment's opt-in to
    /// answering cleartext or MD5 password requests on an unencrypted, non-loopback path.
    pub fn new(hyperdrive: Hyperdrive, allow_password_without_tls: bool) -> Self {
        Self {
            hyperdrive,
            allow_password_without_tls,
        }
    }

    async fn connect(&self) -> Result<tokio_postgres::Client, StoreError> {
        let config = self
            .hyperdrive
            .connection_string()
            .parse::<tokio_postgres::Config>()
            .map_err(|error| {
                StoreError::Internal(format!(
                    "Hyperdrive connection string: {}",
                    describe(&error)
                ))
            })?;
        let socket = Socket::builder()
            .secure_transport(SecureTransport::StartTls)
            .connect(self.hyperdrive.host(), self.hyperdrive.port())
            .map_err(|error| StoreError::Unavailable(format!("opening a socket: {error}")))?;
        let host = self.hyperdrive.host();
        let (mut socket, encrypted) = negotiate_tls(socket, config.get_ssl_mode()).await?;
        let params = StartupParams {
            user: config.get_user().unwrap_or_default(),
            password: config.get_password().unwrap_or_default(),
            database: config.get_dbname(),
            options: config.get_options(),
            application_name: config.get_application_name(),
            password_may_travel: encrypted || is_loopback(&host) || self.allow_password_without_tls,
        };
        authenticate(&mut socket, &params).await?;
        // TLS, if any, is already in place and the session is authenticated: the driver takes
        // over from here as on a trusted plain connection.
        let mut session = config.clone();
        session.ssl_mode(SslMode::Disable);
        let (client, connection) = session
            .connect_raw(Authenticated::new(socket), NoTls)
            .await
            .map_err(|error| from_postgres("connecting", &error))?;
        // The connection future drives the socket; it ends when the client is dropped at the
        // end of the storage call, which closes the connection.
        worker::wasm_bindgen_futures::spawn_local(async move {
            if let Err(error) = connection.await {
                worker::console_error!(
                    "{}",
                    serde_json::json!({
                        "level": "error",
                        "message": "database connection ended with an error",
                        "cause": describe(&error),
                    })
                );
            }
        });
        Ok(client)
    }
}

#[async_trait(?Send)]
impl Transport for HyperdriveTransport {
    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, StoreError> {
        let client = self.connect().await?;
        let params: Vec<(&(dyn ToSql + Sync), Type)> = statement
            .params
            .iter()
            .map(|param| match param {
                Param::Text(value) => (value as &(dyn ToSql + Sync), Type::TEXT),
                Param::Bool(value) => (value as &(dyn ToSql + Sync), Type::BOOL),
            })
            .collect();
        let rows = client
            .query_typed(&statement.text, &params)
            .await
            .map_err(|error| from_postgres("running a statement", &error))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|index| row.try_get::<_, Option<String>>(index))
                    .collect::<Result<Row, _>>()
                    .map_err(|error| {
                        StoreError::Internal(format!("decoding a row: {}", describe(&error)))
                    })
            })
            .collect()
    }
}

/// PostgreSQL's TLS negotiation: an SSLRequest, answered `S` (upgrade the socket) or `N`.
/// Returns the socket and whether it is now encrypted. With `sslmode=disable` (Hyperdrive's
/// own connection string says so) nothing is negotiated.
async fn negotiate_tls(mut socket: Socket, mode: SslMode) -> Result<(Socket, bool), StoreError> {
    if mode == SslMode::Disable {
        return Ok((socket, false));
    }
    let unavailable =
        |error: std::io::Error| StoreError::Unavailable(format!("negotiating TLS: {error}"));
    let mut request = bytes::BytesMut::new();
    postgres_protocol::message::frontend::ssl_request(&mut request);
    socket.write_all(&request).await.map_err(unavailable)?;
    socket.flush().await.map_err(unavailable)?;
    let answer = socket.read_u8().await.map_err(unavailable)?;
    if tls_answer(answer, mode)? {
        Ok((socket.start_tls(), true))
    } else {
        Ok((socket, false))
    }
}

/// Whether the server's answer to an SSLRequest means "upgrade now". Only `sslmode=prefer`
/// may continue without TLS; `require` and stricter modes refuse a server that declines.
fn tls_answer(answer: u8, mode: SslMode) -> Result<bool, StoreError> {
    match answer {
        b'S' => Ok(true),
        b'N' if mode == SslMode::Prefer => Ok(false),
        b'N' => Err(StoreError::Unavailable(
            "the database declined TLS but the connection string requires it (sslmode=require)"
                .to_owned(),
        )),
        other => Err(StoreError::Internal(format!(
            "unexpected answer {:?} to an SSLRequest",
            other as char
        ))),
    }
}

/// A loopback address: a password sent there never crosses a network.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Classifies a driver error: by SQLSTATE when the server sent one; otherwise it is an I/O or
/// protocol failure on the way to the database, which makes it unreachable for now.
fn from_postgres(action: &str, error: &tokio_postgres::Error) -> StoreError {
    // A server error's DETAIL can quote row values (a task's text); log its code and message.
    let cause = match error.as_db_error() {
        Some(db) => format!("{action}: {} {}", db.code().code(), db.message()),
        None => format!("{action}: {}", describe(error)),
    };
    match error.code() {
        Some(code) => classify_sqlstate(code.code(), cause),
        None => StoreError::Unavailable(cause),
    }
}

/// An error with its whole chain of sources, for the log.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_refuses_a_server_that_declines_tls_and_prefer_carries_on() {
        assert!(matches!(tls_answer(b'S', SslMode::Require), Ok(true)));
        assert!(matches!(tls_answer(b'S', SslMode::Prefer), Ok(true)));
        assert!(matches!(tls_answer(b'N', SslMode::Prefer), Ok(false)));
        assert!(matches!(
            tls_answer(b'N', SslMode::Require),
            Err(StoreError::Unavailable(_))
        ));
        assert!(tls_answer(b'E', SslMode::Prefer).is_err());
    }

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
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
