//! PostgreSQL startup and authentication, done here instead of inside tokio-postgres so that
//! SCRAM-SHA-256's key derivation runs once per isolate rather than once per request.
//!
//! SCRAM makes the client run PBKDF2 (4096 HMAC-SHA-256 rounds by default) over the password
//! and the server's salt. tokio-postgres does that on every connection, and a worker opens a
//! connection per request, so it dominated the worker's CPU time (about 10 ms of a 12 ms
//! request). The derived keys depend only on the password, salt and iteration count: they are
//! plain data that may outlive a request (unlike sockets), so [`KEY_CACHE`] keeps them for the
//! isolate's lifetime. Every connection still runs the full exchange with fresh nonces, and the
//! server's signature is still verified: authentication is exactly as strong, just cheaper.
//!
//! The flow: [`authenticate`] sends the startup message and answers the server's
//! authentication request (SCRAM-SHA-256, cleartext or MD5) until `AuthenticationOk`. The
//! socket is then wrapped in [`Authenticated`], which swallows the startup message
//! tokio-postgres sends and answers it with `AuthenticationOk`, so the driver proceeds as if
//! the server had trusted it and reads the rest of the startup (parameters, `ReadyForQuery`)
//! straight from the server.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use bytes::BytesMut;
use hmac::{Hmac, KeyInit, Mac};
use postgres_protocol::{authentication::md5_hash, message::frontend};
use sha2::{Digest, Sha256};
use std::{
    cell::RefCell,
    collections::HashMap,
    io,
    pin::Pin,
    task::{Context, Poll},
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::{classify_sqlstate, StoreError};

/// `AuthenticationOk`: 'R', length 8, code 0.
const AUTHENTICATION_OK: [u8; 9] = [b'R', 0, 0, 0, 8, 0, 0, 0, 0];
const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// Isolates are long-lived but see few distinct databases; a handful of entries is plenty.
const KEY_CACHE_CAPACITY: usize = 8;
/// The most PBKDF2 rounds a server may demand; PostgreSQL's default is 4096. The derivation
/// runs synchronously, so an absurd count from a hostile endpoint would stall the isolate.
const MAX_SCRAM_ITERATIONS: u32 = 1_000_000;
/// PostgreSQL protocol 3.0, the code that starts a StartupMessage after its length.
const PROTOCOL_VERSION_3: [u8; 4] = [0, 3, 0, 0];
/// Upper bound on an authentication message, against a hostile or confused peer.
const MAX_AUTH_MESSAGE_BYTES: usize = 64 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// What the startup message says and how to prove who we are.
pub struct StartupParams<'a> {
    /// The role to connect as.
    pub user: &'a str,
    /// Its password.
    pub password: &'a [u8],
    /// The database; PostgreSQL defaults it to the user name.
    pub database: Option<&'a str>,
    /// Command-line options for the backend, if any.
    pub options: Option<&'a str>,
    /// `application_name`, if any.
    pub application_name: Option<&'a str>,
}

/// The SCRAM keys derived from a password: `ClientKey` and `ServerKey` of RFC 5802.
#[derive(Clone, Copy)]
struct ScramKeys {
    client_key: [u8; 32],
    server_key: [u8; 32],
}

/// Identifies derived keys without keeping the password itself as a map key.
#[derive(Hash, PartialEq, Eq)]
struct KeyId {
    password_digest: [u8; 32],
    salt: Vec<u8>,
    iterations: u32,
}

thread_local! {
    /// Derived SCRAM keys for this isolate (a worker isolate is single-threaded).
    static KEY_CACHE: RefCell<HashMap<KeyId, ScramKeys>> = RefCell::new(HashMap::new());
}

/// Runs startup and authentication on `stream` until the server accepts us.
pub async fn authenticate<S>(stream: &mut S, params: &StartupParams<'_>) -> Result<(), StoreError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut startup = vec![("client_encoding", "UTF8"), ("user", params.user)];
    startup.extend(params.database.map(|database| ("database", database)));
    startup.extend(params.options.map(|options| ("options", options)));
    startup.extend(
        params
            .application_name
            .map(|name| ("application_name", name)),
    );
    let mut buf = BytesMut::new();
    frontend::startup_message(startup, &mut buf).map_err(encode_error)?;
    send(stream, &mut buf).await?;

    // Where the exchange stands. Once SASL has started, only its next step (or an error) is
    // accepted: a server may not skip the signature check by answering the proof with
    // AuthenticationOk, nor downgrade to a password request midway.
    let mut state = AuthState::Started;
    loop {
        let (tag, body) = receive(stream).await?;
        if tag == b'E' {
            return Err(server_error(&body));
        }
        if matches!(tag, b'N' | b'v') {
            // Notices and a NegotiateProtocolVersion carry nothing authentication needs.
            continue;
        }
        if tag != b'R' {
            return Err(protocol(&format!(
                "unexpected message {:?} during authentication",
                tag as char
            )));
        }
        let code = auth_code(&body)?;
        let data = &body[4..];
        state = match (state, code) {
            (AuthState::Started | AuthState::PasswordSent | AuthState::ScramVerified, 0) => {
                return Ok(());
            }
            (AuthState::Started, 3) => {
                frontend::password_message(params.password, &mut buf).map_err(encode_error)?;
                send(stream, &mut buf).await?;
                AuthState::PasswordSent
            }
            (AuthState::Started, 5) => {
                let salt: [u8; 4] = data
                    .get(..4)
                    .and_then(|salt| salt.try_into().ok())
                    .ok_or_else(|| protocol("short MD5 salt"))?;
                let hash = md5_hash(params.user.as_bytes(), params.password, salt);
                frontend::password_message(hash.as_bytes(), &mut buf).map_err(encode_error)?;
                send(stream, &mut buf).await?;
                AuthState::PasswordSent
            }
            (AuthState::Started, 10) => {
                if !data
                    .split(|byte| *byte == 0)
                    .any(|name| name == SCRAM_SHA_256.as_bytes())
                {
                    return Err(protocol("the server offers no SASL mechanism we support"));
                }
                let client = ScramClient::new(params.password)?;
                frontend::sasl_initial_response(
                    SCRAM_SHA_256,
                    client.first_message().as_bytes(),
                    &mut buf,
                )
                .map_err(encode_error)?;
                send(stream, &mut buf).await?;
                AuthState::ScramStarted(client)
            }
            (AuthState::ScramStarted(mut client), 11) => {
                let reply = client.final_message(data)?;
                frontend::sasl_response(reply.as_bytes(), &mut buf).map_err(encode_error)?;
                send(stream, &mut buf).await?;
                AuthState::ScramProved(client)
            }
            (AuthState::ScramProved(client), 12) => {
                client.verify_server(data)?;
                AuthState::ScramVerified
            }
            (_, code) => {
                return Err(protocol(&format!(
                    "authentication request {code} out of order or unsupported"
                )))
            }
        };
    }
}

/// The client's progress through authentication.
enum AuthState {
    /// The startup message is sent; the server has not asked for anything yet.
    Started,
    /// A cleartext or MD5 password is sent; only AuthenticationOk may follow.
    PasswordSent,
    /// SCRAM's first message is sent; the server's challenge must follow.
    ScramStarted(ScramClient),
    /// The proof is sent; the server's signature must follow.
    ScramProved(ScramClient),
    /// The server proved it knows the password; only AuthenticationOk may follow.
    ScramVerified,
}

/// The authentication request code that starts every `R` message.
fn auth_code(body: &[u8]) -> Result<u32, StoreError> {
    body.get(..4)
        .map(|code| u32::from_be_bytes([code[0], code[1], code[2], code[3]]))
        .ok_or_else(|| protocol("authentication message too short"))
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, buf: &mut BytesMut) -> Result<(), StoreError> {
    stream.write_all(buf).await.map_err(io_error)?;
    stream.flush().await.map_err(io_error)?;
    buf.clear();
    Ok(())
}

/// Reads one backend message: its type byte and body. Reads exactly that much, so whatever the
/// server sends after `AuthenticationOk` stays in the socket for tokio-postgres.
async fn receive<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(u8, Vec<u8>), StoreError> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).await.map_err(io_error)?;
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if !(4..=MAX_AUTH_MESSAGE_BYTES).contains(&length) {
        return Err(protocol(&format!("implausible message length {length}")));
    }
    let mut body = vec![0u8; length - 4];
    stream.read_exact(&mut body).await.map_err(io_error)?;
    Ok((header[0], body))
}

/// Turns an `ErrorResponse` into a [`StoreError`] by its SQLSTATE.
fn server_error(body: &[u8]) -> StoreError {
    let mut code = String::new();
    let mut message = String::new();
    for field in body
        .split(|byte| *byte == 0)
        .filter(|field| !field.is_empty())
    {
        let text = String::from_utf8_lossy(&field[1..]).into_owned();
        match field[0] {
            b'C' => code = text,
            b'M' => message = text,
            _ => {}
        }
    }
    classify_sqlstate(&code, format!("authenticating: {code} {message}"))
}

fn protocol(what: &str) -> StoreError {
    StoreError::Internal(format!("authenticating: {what}"))
}

fn io_error(error: io::Error) -> StoreError {
    StoreError::Unavailable(format!("authenticating: {error}"))
}

fn encode_error(error: io::Error) -> StoreError {
    StoreError::Internal(format!("encoding a startup message: {error}"))
}

/// The client side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), without channel
/// binding: the worker's socket exposes no TLS channel-binding data.
struct ScramClient {
    password: Vec<u8>,
    nonce: String,
    /// Set once the server's first message has been answered.
    expected_server_signature: Option<[u8; 32]>,
}

/// The GS2 header for "no channel binding", and its base64 for the final message.
const GS2_HEADER: &str = "n,,";
const GS2_HEADER_BASE64: &str = "biws";

impl ScramClient {
    fn new(password: &[u8]) -> Result<Self, StoreError> {
        let mut random = [0u8; 18];
        getrandom::fill(&mut random).map_err(|error| {
            StoreError::Internal(format!("no randomness for a SCRAM nonce: {error}"))
        })?;
        Ok(Self::with_nonce(password, BASE64.encode(random)))
    }

    fn with_nonce(password: &[u8], nonce: String) -> Self {
        // PostgreSQL applies SASLprep to the password when it is valid UTF-8 and SASLprep
        // accepts it, and uses the raw bytes otherwise; so do we.
        let password = std::str::from_utf8(password)
            .ok()
            .and_then(|text| stringprep::saslprep(text).ok())
            .map_or_else(
                || password.to_vec(),
                |prepared| prepared.as_bytes().to_vec(),
            );
        Self {
            password,
            nonce,
            expected_server_signature: None,
        }
    }

    /// PostgreSQL takes the user from the startup message, so the SCRAM user name is empty.
    fn first_message_bare(&self) -> String {
        format!("n=,r={}", self.nonce)
    }

    fn first_message(&self) -> String {
        format!("{GS2_HEADER}{}", self.first_message_bare())
    }

    /// Answers the server's first message with the proof, and remembers the signature the
    /// server must send back.
    fn final_message(&mut self, server_first: &[u8]) -> Result<String, StoreError> {
        let server_first =
            std::str::from_utf8(server_first).map_err(|_| protocol("non-UTF-8 SCRAM message"))?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attribute in server_first.split(',') {
            match attribute.split_once('=') {
                Some(("r", value)) => nonce = Some(value),
                Some(("s", value)) => salt = BASE64.decode(value).ok(),
                Some(("i", value)) => iterations = value.parse::<u32>().ok(),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(protocol("malformed SCRAM server-first message"));
        };
        if !nonce.starts_with(&self.nonce)
            || nonce.len() == self.nonce.len()
            || !(1..=MAX_SCRAM_ITERATIONS).contains(&iterations)
        {
            return Err(protocol("SCRAM server nonce or iteration count is invalid"));
        }

        let keys = cached_keys(&self.password, &salt, iterations);
        let without_proof = format!("c={GS2_HEADER_BASE64},r={nonce}");
        let auth_message = format!(
            "{},{server_first},{without_proof}",
            self.first_message_bare()
        );

        let stored_key: [u8; 32] = Sha256::digest(keys.client_key).into();
        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let mut proof = keys.client_key;
        proof
            .iter_mut()
            .zip(client_signature)
            .for_each(|(byte, mask)| *byte ^= mask);
        self.expected_server_signature = Some(hmac(&keys.server_key, auth_message.as_bytes()));

        Ok(format!("{without_proof},p={}", BASE64.encode(proof)))
    }

    /// Checks the server's final message: it must prove the server knows the password too.
    fn verify_server(&self, server_final: &[u8]) -> Result<(), StoreError> {
        let expected = self
            .expected_server_signature
            .ok_or_else(|| protocol("SCRAM final before proof"))?;
        let server_final =
            std::str::from_utf8(server_final).map_err(|_| protocol("non-UTF-8 SCRAM message"))?;
        let signature = server_final
            .split(',')
            .find_map(|attribute| attribute.strip_prefix("v="))
            .and_then(|value| BASE64.decode(value).ok())
            .ok_or_else(|| protocol("SCRAM server-final message carries no signature"))?;
        if signature != expected {
            return Err(protocol(
                "the server's SCRAM signature does not match; refusing the connection",
            ));
        }
        Ok(())
    }
}

/// The SCRAM keys for this password, salt and iteration count: derived once, then reused.
fn cached_keys(password: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
    let id = KeyId {
        password_digest: Sha256::digest(password).into(),
        salt: salt.to_vec(),
        iterations,
    };
    if let Some(keys) = KEY_CACHE.with(|cache| cache.borrow().get(&id).copied()) {
        return keys;
    }
    let keys = derive_keys(password, salt, iterations);
    KEY_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= KEY_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(id, keys);
    });
    keys
}

/// `SaltedPassword = Hi(password, salt, i)` (PBKDF2-HMAC-SHA-256), then the two keys.
fn derive_keys(password: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
    let keyed =
        <HmacSha256 as KeyInit>::new_from_slice(password).expect("HMAC takes keys of any length");
    let mut block = keyed.clone();
    block.update(salt);
    block.update(&1u32.to_be_bytes());
    let mut previous: [u8; 32] = block.finalize().into_bytes().into();
    let mut salted_password = previous;
    for _ in 1..iterations {
        let mut round = keyed.clone();
        round.update(&previous);
        previous = round.finalize().into_bytes().into();
        salted_password
            .iter_mut()
            .zip(previous)
            .for_each(|(byte, next)| *byte ^= next);
    }
    ScramKeys {
        client_key: hmac(&salted_password, b"Client Key"),
        server_key: hmac(&salted_password, b"Server Key"),
    }
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// A stream that has been through [`authenticate`], presented to tokio-postgres as a fresh
/// one: the driver's startup message is swallowed and answered with `AuthenticationOk`.
pub struct Authenticated<S> {
    inner: S,
    /// How much of [`AUTHENTICATION_OK`] the driver has read.
    replayed: usize,
    /// The first 8 bytes of the driver's startup message (length, protocol), as far as seen.
    header: [u8; 8],
    /// Bytes of the driver's startup message swallowed so far.
    swallowed: usize,
}

impl<S> Authenticated<S> {
    /// Wraps a stream on which [`authenticate`] has succeeded.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            replayed: 0,
            header: [0; 8],
            swallowed: 0,
        }
    }

    /// The startup message's total length, once its prefix has been seen.
    fn startup_length(&self) -> Option<usize> {
        (self.swallowed >= 4).then(|| {
            u32::from_be_bytes([
                self.header[0],
                self.header[1],
                self.header[2],
                self.header[3],
            ]) as usize
        })
    }

    fn startup_swallowed(&self) -> bool {
        self.swallowed >= self.header.len()
            && self
                .startup_length()
                .is_some_and(|length| self.swallowed >= length)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Authenticated<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.replayed < AUTHENTICATION_OK.len() {
            let pending = &AUTHENTICATION_OK[self.replayed..];
            let count = pending.len().min(buf.remaining());
            buf.put_slice(&pending[..count]);
            self.replayed += count;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(context, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Authenticated<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.startup_swallowed() || buf.is_empty() {
            return Pin::new(&mut self.inner).poll_write(context, buf);
        }
        // Consume the driver's startup message without sending it: the server has one already.
        let mut consumed = 0;
        while consumed < buf.len() && !self.startup_swallowed() {
            if self.swallowed < self.header.len() {
                let index = self.swallowed;
                self.header[index] = buf[consumed];
                self.swallowed += 1;
                consumed += 1;
                // Only a protocol 3.0 StartupMessage may be swallowed: anything else (an
                // SSLRequest from a future driver, say) would desynchronize the session.
                if self.swallowed == self.header.len() && self.header[4..] != PROTOCOL_VERSION_3 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the driver's first message is not a protocol 3.0 startup message",
                    )));
                }
            } else {
                let length = self.startup_length().unwrap_or(0);
                let take = (length - self.swallowed).min(buf.len() - consumed);
                self.swallowed += take;
                consumed += take;
            }
        }
        Poll::Ready(Ok(consumed))
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 section 3: user "user", password "pencil". PostgreSQL sends an empty SCRAM user
    // name, which changes client-first-message-bare and so the proof; the keys are the RFC's.
    const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const RFC_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    /// The server's side of the exchange, computed independently from the RFC's formulas.
    fn server_signature_for(
        password: &[u8],
        client_first_bare: &str,
        client_final_without_proof: &str,
    ) -> [u8; 32] {
        let keys = derive_keys(password, &BASE64.decode(RFC_SALT).unwrap(), 4096);
        let auth_message =
            format!("{client_first_bare},{RFC_SERVER_FIRST},{client_final_without_proof}");
        hmac(&keys.server_key, auth_message.as_bytes())
    }

    #[test]
    fn key_derivation_matches_rfc_7677() {
        // With the RFC's user name the proof and server signature are the RFC's own values.
        let keys = derive_keys(b"pencil", &BASE64.decode(RFC_SALT).unwrap(), 4096);
        let without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let auth_message =
            format!("n=user,r={RFC_CLIENT_NONCE},{RFC_SERVER_FIRST},{without_proof}");
        let stored_key: [u8; 32] = Sha256::digest(keys.client_key).into();
        let mut proof = keys.client_key;
        proof
            .iter_mut()
            .zip(hmac(&stored_key, auth_message.as_bytes()))
            .for_each(|(b, m)| *b ^= m);
        assert_eq!(
            BASE64.encode(proof),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            BASE64.encode(hmac(&keys.server_key, auth_message.as_bytes())),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn a_full_exchange_is_accepted_and_a_forged_server_is_refused() {
        let mut client = ScramClient::with_nonce(b"pencil", RFC_CLIENT_NONCE.to_owned());
        assert_eq!(
            client.first_message(),
            format!("n,,n=,r={RFC_CLIENT_NONCE}")
        );
        let reply = client.final_message(RFC_SERVER_FIRST.as_bytes()).unwrap();
        let (without_proof, proof) = reply.split_once(",p=").unwrap();
        assert_eq!(
            without_proof,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        assert_eq!(BASE64.decode(proof).unwrap().len(), 32);

        let genuine = server_signature_for(b"pencil", &client.first_message_bare(), without_proof);
        assert!(client
            .verify_server(format!("v={}", BASE64.encode(genuine)).as_bytes())
            .is_ok());
        let forged = server_signature_for(
            b"not-the-password",
            &client.first_message_bare(),
            without_proof,
        );
        assert!(client
            .verify_server(format!("v={}", BASE64.encode(forged)).as_bytes())
            .is_err());
        assert!(client.verify_server(b"e=invalid-proof").is_err());
    }

    #[test]
    fn server_nonces_that_do_not_extend_ours_are_refused() {
        let mut client = ScramClient::with_nonce(b"pencil", RFC_CLIENT_NONCE.to_owned());
        assert!(client
            .final_message(b"r=someone-else,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .is_err());
        assert!(client
            .final_message(b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .is_err());
        assert!(client.final_message(b"garbage").is_err());
    }

    #[test]
    fn derived_keys_are_cached_per_password_salt_and_iterations() {
        let first = cached_keys(b"cache-me", b"salt", 16);
        let again = cached_keys(b"cache-me", b"salt", 16);
        assert_eq!(first.client_key, again.client_key);
        let other_salt = cached_keys(b"cache-me", b"pepper", 16);
        assert_ne!(first.client_key, other_salt.client_key);
        assert_eq!(
            first.client_key,
            derive_keys(b"cache-me", b"salt", 16).client_key
        );
    }

    fn startup_message() -> Vec<u8> {
        let mut buf = BytesMut::new();
        frontend::startup_message([("user", "u"), ("database", "d")], &mut buf).unwrap();
        buf.to_vec()
    }

    #[tokio::test]
    async fn the_drivers_startup_is_swallowed_and_answered_with_authentication_ok() {
        let (client_end, mut server_end) = tokio::io::duplex(1024);
        let mut stream = Authenticated::new(client_end);
        // Written in two pieces, as a driver may.
        let startup = startup_message();
        stream.write_all(&startup[..3]).await.unwrap();
        stream.write_all(&startup[3..]).await.unwrap();
        stream.write_all(b"Q-after").await.unwrap();
        stream.flush().await.unwrap();

        let mut answer = [0u8; 9];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(answer, AUTHENTICATION_OK);

        let mut forwarded = [0u8; 7];
        server_end.read_exact(&mut forwarded).await.unwrap();
        assert_eq!(
            &forwarded, b"Q-after",
            "only what follows the startup reaches the server"
        );

        server_end.write_all(b"S-from-server").await.unwrap();
        let mut relayed = [0u8; 13];
        stream.read_exact(&mut relayed).await.unwrap();
        assert_eq!(&relayed, b"S-from-server");
    }

    #[tokio::test]
    async fn a_first_message_that_is_not_a_startup_is_refused() {
        let (client_end, _server_end) = tokio::io::duplex(1024);
        let mut stream = Authenticated::new(client_end);
        let mut ssl_request = BytesMut::new();
        frontend::ssl_request(&mut ssl_request);
        let error = stream.write_all(&ssl_request).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn absurd_iteration_counts_are_refused() {
        let mut client = ScramClient::with_nonce(b"pencil", RFC_CLIENT_NONCE.to_owned());
        let first = "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000";
        assert!(client.final_message(first.as_bytes()).is_err());
    }

    #[test]
    fn error_responses_are_classified_by_sqlstate() {
        let body = b"SFATAL\0C28P01\0Mpassword authentication failed for user \"x\"\0\0";
        match server_error(body) {
            StoreError::Internal(cause) => assert!(cause.contains("28P01")),
            other => panic!("expected internal, got {other:?}"),
        }
        assert!(matches!(
            server_error(b"C57P03\0Mstarting up\0\0"),
            StoreError::Unavailable(_)
        ));
    }
}
