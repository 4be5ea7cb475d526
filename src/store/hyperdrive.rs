//! The Hyperdrive transport: the lean client of [`super::postgres`] over a TCP connection to
//! the Hyperdrive binding.
//!
//! One connection per storage call (so one per request): I/O objects cannot outlive the
//! request that made them, and Hyperdrive pools the real database connections anyway. The
//! method the server authenticated us with is remembered per isolate, so that the next
//! connection can pipeline its authentication and statement (see [`super::postgres`]).

use async_trait::async_trait;
use bytes::BytesMut;
use worker::Env;

use super::{
    postgres::{
        self,
        url::{ConnectionUrl, SslMode},
        AuthMethod, ClientError, Login, Outcome,
    },
    socket::TcpConnection,
    sql::Statement,
    Row, StoreError, Transport, STORAGE_TIMEOUT,
};

/// Reaches PostgreSQL through a Hyperdrive binding.
pub struct HyperdriveTransport<'a> {
    env: &'a Env,
    binding: &'a str,
    allow_password_without_tls: bool,
}

impl<'a> HyperdriveTransport<'a> {
    /// Uses the binding of this name, looked up at the first statement: a request that
    /// never reaches the database (a 401, a 404) never pays for the lookup.
    /// `allow_password_without_tls` is the deployment's opt-in to answering cleartext or MD5
    /// password requests on an unencrypted, non-loopback path.
    pub fn new(env: &'a Env, binding: &'a str, allow_password_without_tls: bool) -> Self {
        Self {
            env,
            binding,
            allow_password_without_tls,
        }
    }

    /// One connection: TLS if the connection string asks for it, then [`postgres::run`].
    async fn connect_and_run(
        &self,
        url: &ConnectionUrl,
        statement: &Statement,
        guess: Option<AuthMethod>,
    ) -> Result<Outcome, ClientError> {
        let tls_later = url.ssl_mode != SslMode::Disable;
        let mut connection = TcpConnection::open(
            &url.host,
            url.port,
            tls_later,
            STORAGE_TIMEOUT,
            &postgres::TERMINATE,
        )?;
        let encrypted = negotiate_tls(&mut connection, url.ssl_mode).await?;
        let login = Login {
            user: &url.user,
            password: url.password.as_bytes(),
            database: url.database.as_deref(),
            options: url.options.as_deref(),
            application_name: url.application_name.as_deref(),
            password_may_travel: encrypted
                || crate::runtime::net::is_loopback(&url.host)
                || self.allow_password_without_tls,
        };
        postgres::run(&mut connection, &login, statement, guess).await
    }
}

#[async_trait(?Send)]
impl Transport for HyperdriveTransport<'_> {
    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, StoreError> {
        let hyperdrive = self.env.hyperdrive(self.binding).map_err(|error| {
            StoreError::Internal(format!("Hyperdrive binding `{}`: {error}", self.binding))
        })?;
        let url = ConnectionUrl::parse(&hyperdrive.connection_string()).map_err(|error| {
            StoreError::Internal(format!("Hyperdrive's connection string: {}", error.0))
        })?;
        let endpoint = format!(
            "{}:{}/{}/{}",
            url.host,
            url.port,
            url.user,
            url.database.as_deref().unwrap_or_default()
        );
        let guess = postgres::remembered_method(&endpoint);
        let mut result = self.connect_and_run(&url, statement, guess).await;
        if guess.is_some() && result.is_err() {
            // The server changed, or the guess was never right: ask it afresh. A wrong guess
            // fails before the statement runs, so running it again cannot run it twice.
            postgres::remember_method(&endpoint, None);
            if matches!(result, Err(ClientError::WrongGuess)) {
                result = self.connect_and_run(&url, statement, None).await;
            }
        }
        match result {
            Ok(outcome) => {
                postgres::remember_method(&endpoint, Some(outcome.method));
                Ok(outcome.rows)
            }
            Err(ClientError::Store(error)) => Err(error),
            Err(ClientError::WrongGuess) => Err(StoreError::Internal(
                "the database's authentication request changed mid-connection".to_owned(),
            )),
        }
    }
}

/// PostgreSQL's TLS negotiation: an SSLRequest, answered `S` (upgrade the connection) or `N`.
/// Returns whether the connection is now encrypted. With `sslmode=disable` (Hyperdrive's own
/// connection string says so) nothing is negotiated.
async fn negotiate_tls(connection: &mut TcpConnection, mode: SslMode) -> Result<bool, StoreError> {
    if mode == SslMode::Disable {
        return Ok(false);
    }
    connection.send(&postgres::ssl_request());
    let mut answer = BytesMut::new();
    connection.receive(&mut answer).await?;
    if answer.len() != 1 {
        // Bytes after the answer would be read as if they came over TLS (CVE-2021-23222).
        return Err(postgres::protocol(
            "the server sent more than its one-byte answer to an SSLRequest",
        ));
    }
    if tls_answer(answer[0], mode)? {
        connection.start_tls()?;
        Ok(true)
    } else {
        Ok(false)
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
        other => Err(postgres::protocol(&format!(
            "unexpected answer {:?} to an SSLRequest",
            other as char
        ))),
    }
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
}
