//! A lean PostgreSQL client for what this worker does: one connection, one statement.
//!
//! A worker opens a connection per request (no I/O object may outlive its request), so what a
//! request costs is round trips and the work per connection, not statement throughput.
//! [`run`] sends the startup, authenticates, runs one statement with the extended protocol and
//! returns its rows as text, over any [`Wire`]. Messages are encoded with `postgres-protocol`,
//! the codec tokio-postgres itself uses; the statement and portal are unnamed, so nothing named
//! exists that a transaction-mode pool could route to the wrong backend.
//!
//! Round trips are saved by pipelining wherever the protocol allows:
//! - the statement goes out with the last message authentication needs from us (the password,
//!   or SCRAM's proof), or with the startup itself when the server is known to trust us;
//! - SCRAM's first message goes out with the startup when the server is known to ask for it.
//!
//! "Known" means the same server asked for that method on this isolate's previous connection
//! ([`remembered_method`]). A guess that proves wrong fails before the statement can run (the
//! server reads the pipelined messages as the wrong kind and ends the session), and the caller
//! retries once without a guess ([`ClientError::WrongGuess`]).
//!
//! Replies are read strictly in order: no row is accepted before `AuthenticationOk`, and after
//! SCRAM, `AuthenticationOk` only after the server's signature has been verified. A cleartext
//! or MD5 password request is answered only when [`Login::password_may_travel`] says the path
//! is safe for it (TLS, loopback, or the deployment's explicit opt-in); otherwise an on-path
//! attacker who answered "no TLS" could simply ask for the password. SCRAM is always answered:
//! it never reveals the password, and the server must prove it knows the password too.
//!
//! Round trips per connection, once the method is known: trust 1, SCRAM 2, password 2 (the
//! server's request comes first; MD5 needs its salt). The isolate's first connection to a
//! server takes one more; TLS negotiation (`sslmode` other than `disable`) one more.

mod bidi;
pub mod scram;
pub mod url;

use bytes::{Buf, BufMut, BytesMut};
use postgres_protocol::{authentication::md5_hash, message::frontend, IsNull};
use std::{cell::RefCell, io};

use super::{classify_sqlstate, sql::Statement, Row, StoreError};
use crate::domain::Param;
use scram::{ScramClient, SCRAM_SHA_256};

/// The type every parameter is declared as: unspecified, so the server takes each one's type
/// from the cast the statement gives it (`$2::uuid`, `$5::bigint`), as it would for a literal.
/// Declared as text instead, a value would reach the planner as a run-time cast of text.
const UNSPECIFIED_OID: u32 = 0;
/// Upper bound on one backend message (a page of 1000 tasks is well under 1 MiB), against a
/// hostile or confused peer making the isolate allocate without limit.
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// A connection's byte stream, as the client needs it.
#[allow(async_fn_in_trait)] // Only ever used in a single-threaded isolate.
pub trait Wire {
    /// Sends `bytes` as one flight.
    async fn send(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
    /// Appends whatever the server has sent next (at least one byte) to `inbox`; an error if
    /// the stream ended.
    async fn receive(&mut self, inbox: &mut BytesMut) -> Result<(), StoreError>;
}

/// How a server authenticated us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// It asked for nothing.
    Trust,
    /// It asked for a cleartext or MD5 password.
    Password,
    /// It asked for SCRAM-SHA-256.
    Scram,
}

/// Who we connect as, and where the password may go.
pub struct Login<'a> {
    /// The role.
    pub user: &'a str,
    /// Its password.
    pub password: &'a [u8],
    /// The database; PostgreSQL defaults it to the user name.
    pub database: Option<&'a str>,
    /// Command-line options for the backend, if any.
    pub options: Option<&'a str>,
    /// `application_name`, if any.
    pub application_name: Option<&'a str>,
    /// Whether a cleartext or MD5 password may be sent: the connection is encrypted, reaches a
    /// loopback address, or the deployment opted in. SCRAM is answered either way.
    pub password_may_travel: bool,
}

/// What a statement returned, and how the server authenticated us on the way.
#[derive(Debug)]
pub struct Outcome {
    /// The statement's rows, every value as text.
    pub rows: Vec<Row>,
    /// The method to guess for the next connection to this server.
    pub method: AuthMethod,
}

/// Why [`run`] failed.
#[derive(Debug)]
pub enum ClientError {
    /// The server asked for another method than the one guessed: nothing ran; connect again
    /// without a guess.
    WrongGuess,
    /// Anything else.
    Store(StoreError),
}

impl From<StoreError> for ClientError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Where the connection stands.
enum Phase {
    /// The startup is sent; the server has not asked for anything yet.
    Started,
    /// A cleartext or MD5 password is sent; only AuthenticationOk may follow.
    PasswordSent,
    /// SCRAM's first message is sent; `offered` once the server has asked for SCRAM (with a
    /// guess, the first message goes out before it does). The challenge must follow.
    ScramStarted { client: ScramClient, offered: bool },
    /// The proof is sent; the server's signature must follow.
    ScramProved(ScramClient),
    /// The server proved it knows the password; only AuthenticationOk may follow.
    ScramVerified,
    /// Authenticated: the session's parameters and ReadyForQuery follow.
    Authenticated,
    /// The session is ready: the statement's results follow.
    Running,
}

/// Connects as `login`, runs `statement`, and returns its rows. `guess` is the method the
/// server asked for last time, if known; see the module documentation.
pub async fn run<W: Wire>(
    wire: &mut W,
    login: &Login<'_>,
    statement: &Statement,
    guess: Option<AuthMethod>,
) -> Result<Outcome, ClientError> {
    let mut flight = BytesMut::with_capacity(256 + statement.text.len());
    encode_startup(login, &mut flight)?;
    let mut statement_sent = false;
    let mut phase = match guess {
        Some(AuthMethod::Scram) => Phase::ScramStarted {
            client: start_scram(login, &mut flight)?,
            offered: false,
        },
        Some(AuthMethod::Trust) => {
            encode_statement(statement, &mut flight)?;
            statement_sent = true;
            Phase::Started
        }
        _ => Phase::Started,
    };
    wire.send(&flight).await?;
    flight.clear();

    let mut method = AuthMethod::Trust;
    let mut inbox = BytesMut::new();
    let mut rows = Vec::new();
    loop {
        let (tag, mut body) = next_message(wire, &mut inbox).await?;
        match tag {
            b'R' => {
                let code = auth_code(&mut body)?;
                let wrong_guess = match guess {
                    Some(AuthMethod::Trust) => code != 0,
                    Some(AuthMethod::Scram) => {
                        matches!(phase, Phase::ScramStarted { offered: false, .. }) && code != 10
                    }
                    _ => false,
                };
                if wrong_guess {
                    return Err(ClientError::WrongGuess);
                }
                phase = match (phase, code) {
                    (Phase::Started | Phase::PasswordSent | Phase::ScramVerified, 0) => {
                        Phase::Authenticated
                    }
                    (Phase::Started, 3 | 5) if !login.password_may_travel => {
                        return Err(refuse_password(code).into());
                    }
                    (Phase::Started, 3 | 5) => {
                        method = AuthMethod::Password;
                        if code == 3 {
                            frontend::password_message(login.password, &mut flight)
                        } else {
                            let salt: [u8; 4] = body
                                .get(..4)
                                .and_then(|salt| salt.try_into().ok())
                                .ok_or_else(|| protocol("short MD5 salt"))?;
                            let hash = md5_hash(login.user.as_bytes(), login.password, salt);
                            frontend::password_message(hash.as_bytes(), &mut flight)
                        }
                        .map_err(encode_error)?;
                        Phase::PasswordSent
                    }
                    (Phase::Started, 10) => {
                        method = AuthMethod::Scram;
                        offers_scram(&body)?;
                        Phase::ScramStarted {
                            client: start_scram(login, &mut flight)?,
                            offered: true,
                        }
                    }
                    (
                        Phase::ScramStarted {
                            client,
                            offered: false,
                        },
                        10,
                    ) => {
                        method = AuthMethod::Scram;
                        offers_scram(&body)?;
                        Phase::ScramStarted {
                            client,
                            offered: true,
                        }
                    }
                    (
                        Phase::ScramStarted {
                            mut client,
                            offered: true,
                        },
                        11,
                    ) => {
                        let reply = client.final_message(&body)?;
                        frontend::sasl_response(reply.as_bytes(), &mut flight)
                            .map_err(encode_error)?;
                        Phase::ScramProved(client)
                    }
                    (Phase::ScramProved(client), 12) => {
                        client.verify_server(&body)?;
                        Phase::ScramVerified
                    }
                    (_, code) => {
                        return Err(protocol(&format!(
                            "authentication request {code} out of order or unsupported"
                        ))
                        .into())
                    }
                };
                // The password or SCRAM's proof is the last thing the server needs from us:
                // the statement travels with it.
                if matches!(phase, Phase::PasswordSent | Phase::ScramProved(_)) && !statement_sent {
                    encode_statement(statement, &mut flight)?;
                    statement_sent = true;
                }
                if !flight.is_empty() {
                    wire.send(&flight).await?;
                    flight.clear();
                }
            }
            b'Z' => match phase {
                Phase::Authenticated => {
                    if !statement_sent {
                        encode_statement(statement, &mut flight)?;
                        statement_sent = true;
                        wire.send(&flight).await?;
                        flight.clear();
                    }
                    phase = Phase::Running;
                }
                Phase::Running => return Ok(Outcome { rows, method }),
                _ => return Err(protocol("ReadyForQuery before authentication finished").into()),
            },
            b'D' if matches!(phase, Phase::Running) => rows.push(decode_row(body)?),
            b'E' => {
                let action = match phase {
                    Phase::Running => "running a statement",
                    _ => "authenticating",
                };
                return Err(server_error(action, &body).into());
            }
            // Session parameters, the cancellation key, notices, a protocol version
            // negotiation: nothing this client needs.
            b'S' | b'K' | b'N' | b'v' => {}
            // ParseComplete, BindComplete, NoData, CommandComplete, EmptyQueryResponse.
            b'1' | b'2' | b'n' | b'C' | b'I' if matches!(phase, Phase::Running) => {}
            other => {
                return Err(protocol(&format!(
                    "unexpected message {:?} {}",
                    other as char,
                    match phase {
                        Phase::Running => "in a statement's results",
                        _ => "before authentication finished",
                    }
                ))
                .into())
            }
        }
    }
}

/// The method the server at `endpoint` asked for on this isolate's last connection to it.
pub fn remembered_method(endpoint: &str) -> Option<AuthMethod> {
    METHODS.with(|methods| {
        methods
            .borrow()
            .iter()
            .find(|(known, _)| known == endpoint)
            .map(|(_, method)| *method)
    })
}

/// Remembers how `endpoint` authenticated us (`None`: forget it, after a wrong guess).
pub fn remember_method(endpoint: &str, method: Option<AuthMethod>) {
    METHODS.with(|methods| {
        let mut methods = methods.borrow_mut();
        let known = methods.iter().position(|(known, _)| known == endpoint);
        match (known, method) {
            (Some(index), Some(method)) => methods[index].1 = method,
            (Some(index), None) => {
                methods.remove(index);
            }
            (None, Some(method)) => {
                // Isolates see a handful of servers; bound the list against surprises.
                if methods.len() >= 8 {
                    methods.remove(0);
                }
                methods.push((endpoint.to_owned(), method));
            }
            (None, None) => {}
        }
    });
}

thread_local! {
    /// How each server authenticated us last (a worker isolate is single-threaded).
    static METHODS: RefCell<Vec<(String, AuthMethod)>> = const { RefCell::new(Vec::new()) };
}

/// The SSLRequest that asks a server to switch to TLS before the startup.
pub fn ssl_request() -> BytesMut {
    let mut buf = BytesMut::with_capacity(8);
    frontend::ssl_request(&mut buf);
    buf
}

/// The Terminate message that ends a session politely: `X` and its length, nothing else.
pub const TERMINATE: [u8; 5] = [b'X', 0, 0, 0, 4];

fn encode_startup(login: &Login<'_>, buf: &mut BytesMut) -> Result<(), StoreError> {
    let mut parameters = vec![("client_encoding", "UTF8"), ("user", login.user)];
    parameters.extend(login.database.map(|database| ("database", database)));
    parameters.extend(login.options.map(|options| ("options", options)));
    parameters.extend(
        login
            .application_name
            .map(|name| ("application_name", name)),
    );
    frontend::startup_message(parameters, buf).map_err(encode_error)
}

fn start_scram(login: &Login<'_>, buf: &mut BytesMut) -> Result<ScramClient, StoreError> {
    let client = ScramClient::new(login.password)?;
    frontend::sasl_initial_response(SCRAM_SHA_256, client.first_message().as_bytes(), buf)
        .map_err(encode_error)?;
    Ok(client)
}

/// Parse, Bind, Execute and Sync for the unnamed statement and portal: parameters in text
/// form, typed by the statement's casts; every result column as text.
fn encode_statement(statement: &Statement, buf: &mut BytesMut) -> Result<(), StoreError> {
    let types = statement.params.iter().map(|_| UNSPECIFIED_OID);
    frontend::parse("", &statement.text, types, buf).map_err(encode_error)?;
    frontend::bind(
        "",
        "",
        [0],
        &statement.params,
        |param, buf| {
            let text = match param {
                Param::Text(value) => value.as_deref(),
                Param::Bool(value) => value.map(|value| if value { "true" } else { "false" }),
            };
            Ok(match text {
                Some(text) => {
                    buf.put_slice(text.as_bytes());
                    IsNull::No
                }
                None => IsNull::Yes,
            })
        },
        [],
        buf,
    )
    .map_err(|_| StoreError::Internal("encoding a statement's parameters".to_owned()))?;
    frontend::execute("", 0, buf).map_err(encode_error)?;
    frontend::sync(buf);
    Ok(())
}

/// The next whole backend message: its type byte and body.
async fn next_message<W: Wire>(
    wire: &mut W,
    inbox: &mut BytesMut,
) -> Result<(u8, BytesMut), StoreError> {
    loop {
        if inbox.len() >= 5 {
            let length = u32::from_be_bytes([inbox[1], inbox[2], inbox[3], inbox[4]]) as usize;
            if !(4..=MAX_MESSAGE_BYTES).contains(&length) {
                return Err(protocol(&format!("implausible message length {length}")));
            }
            if inbox.len() > length {
                let mut message = inbox.split_to(length + 1);
                let tag = message[0];
                message.advance(5);
                return Ok((tag, message));
            }
        }
        wire.receive(inbox).await?;
    }
}

/// The authentication request code that starts every `R` message; `body` keeps its data.
fn auth_code(body: &mut BytesMut) -> Result<u32, StoreError> {
    if body.len() < 4 {
        return Err(protocol("authentication message too short"));
    }
    Ok(body.get_u32())
}

fn offers_scram(mechanisms: &[u8]) -> Result<(), StoreError> {
    if mechanisms
        .split(|byte| *byte == 0)
        .any(|name| name == SCRAM_SHA_256.as_bytes())
    {
        Ok(())
    } else {
        Err(protocol("the server offers no SASL mechanism we support"))
    }
}

fn refuse_password(code: u32) -> StoreError {
    StoreError::Unavailable(format!(
        "authenticating: the server asked for a {} password on a connection without TLS; refusing to send it (only SCRAM is answered there; DB_ALLOW_PASSWORD_WITHOUT_TLS is false)",
        if code == 3 { "cleartext" } else { "MD5" }
    ))
}

/// A DataRow: a count, then each value as a length (-1 for NULL) and its text. Read by
/// offset over the message's bytes: a page is a thousand values.
fn decode_row(body: BytesMut) -> Result<Row, StoreError> {
    let malformed = || StoreError::Internal("a malformed DataRow from the database".to_owned());
    let mut rest: &[u8] = &body;
    let mut take = |count: usize| -> Result<&[u8], StoreError> {
        if rest.len() < count {
            return Err(malformed());
        }
        let (taken, after) = rest.split_at(count);
        rest = after;
        Ok(taken)
    };
    let count = take(2)?;
    let columns = u16::from_be_bytes([count[0], count[1]]) as usize;
    let mut row = Vec::with_capacity(columns);
    for _ in 0..columns {
        let length = take(4)?;
        let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        let Ok(length) = usize::try_from(length) else {
            // -1: NULL.
            row.push(None);
            continue;
        };
        let text = std::str::from_utf8(take(length)?).map_err(|_| {
            StoreError::Internal("a value from the database is not UTF-8".to_owned())
        })?;
        row.push(Some(text.to_owned()));
    }
    Ok(row)
}

/// Turns an ErrorResponse into a [`StoreError`] by its SQLSTATE. Only the code and the primary
/// message are kept: a DETAIL can quote row values (a task's text).
fn server_error(action: &str, body: &[u8]) -> StoreError {
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
    classify_sqlstate(&code, format!("{action}: {code} {message}"))
}

/// A violation of the protocol by the server (or something posing as it).
pub(crate) fn protocol(what: &str) -> StoreError {
    StoreError::Internal(format!("database protocol: {what}"))
}

fn encode_error(error: io::Error) -> StoreError {
    StoreError::Internal(format!("encoding a message to the database: {error}"))
}

#[cfg(test)]
mod tests;
