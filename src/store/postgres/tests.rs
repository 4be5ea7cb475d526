//! The client against a scripted server that follows the protocol as PostgreSQL does: it
//! reads messages strictly in order, answers each flight as it arrives, and ends the session
//! on a message of the wrong kind. Each test checks the rows, the errors and how many flights
//! (round trips) the client needed.

use super::*;
use crate::runtime::base64::{lenient_decode, standard_encode};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;

const PASSWORD: &str = "pencil";
const SALT: &[u8] = b"sixteen byte salt";

#[derive(Clone, Copy, PartialEq)]
enum Asks {
    Nothing,
    Cleartext,
    Md5,
    Scram,
}

/// How the fake server misbehaves, if it does.
#[derive(Clone, Copy, PartialEq)]
enum Twist {
    None,
    /// Signs SCRAM's final message with the wrong key.
    ForgedSignature,
    /// Answers SCRAM's proof with AuthenticationOk, no signature.
    NoSignature,
    /// Sends a row before authenticating.
    EarlyRow,
}

enum State {
    Startup,
    Password,
    SaslInitial,
    SaslResponse { auth_prefix: String, nonce: String },
    Ready,
    Closed,
}

struct FakeServer {
    asks: Asks,
    twist: Twist,
    rows: Vec<Row>,
    /// A statement error to answer with, as (SQLSTATE, message).
    fails_with: Option<(&'static str, &'static str)>,
    state: State,
    out: VecDeque<u8>,
    flights: usize,
    statements: Vec<String>,
}

impl FakeServer {
    fn new(asks: Asks) -> Self {
        Self {
            asks,
            twist: Twist::None,
            rows: vec![
                vec![Some("a".to_owned()), None],
                vec![Some("b".to_owned()), Some("é".to_owned())],
            ],
            fails_with: None,
            state: State::Startup,
            out: VecDeque::new(),
            flights: 0,
            statements: Vec::new(),
        }
    }

    fn message(&mut self, tag: u8, body: &[u8]) {
        self.out.push_back(tag);
        self.out
            .extend(((body.len() + 4) as u32).to_be_bytes().iter().copied());
        self.out.extend(body.iter().copied());
    }

    fn auth(&mut self, code: u32, data: &[u8]) {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(data);
        self.message(b'R', &body);
    }

    fn welcome(&mut self) {
        self.auth(0, b"");
        self.message(b'S', b"server_version\x0017.0\x00");
        self.message(b'K', &[0, 0, 0, 1, 0, 0, 0, 2]);
        self.message(b'Z', b"I");
    }

    fn fatal(&mut self, code: &str, text: &str) {
        self.message(
            b'E',
            format!("SFATAL\0C{code}\0M{text}\0Dsecret detail\0\0").as_bytes(),
        );
        self.state = State::Closed;
    }

    fn handle(&mut self, tag: u8, body: &[u8]) {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Startup => {
                if self.twist == Twist::EarlyRow {
                    self.message(b'D', &[0, 0]);
                }
                match self.asks {
                    Asks::Nothing => {
                        self.welcome();
                        self.state = State::Ready;
                    }
                    Asks::Cleartext => {
                        self.auth(3, b"");
                        self.state = State::Password;
                    }
                    Asks::Md5 => {
                        self.auth(5, b"salt");
                        self.state = State::Password;
                    }
                    Asks::Scram => {
                        self.auth(10, b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0");
                        self.state = State::SaslInitial;
                    }
                }
            }
            State::Password if tag == b'p' => {
                let expected = match self.asks {
                    Asks::Md5 => md5_hash(b"u", PASSWORD.as_bytes(), *b"salt").into_bytes(),
                    _ => PASSWORD.as_bytes().to_vec(),
                };
                if body.strip_suffix(b"\0") == Some(&expected[..]) {
                    self.welcome();
                    self.state = State::Ready;
                } else {
                    self.fatal("28P01", "password authentication failed");
                }
            }
            State::SaslInitial if tag == b'p' => {
                let text = String::from_utf8_lossy(body).into_owned();
                let bare = &text[text.find("n=,r=").expect("client-first-message-bare")..];
                let nonce = format!("{}server-part", &bare[5..]);
                let first = format!("r={nonce},s={},i=4096", standard_encode(SALT));
                self.auth(11, first.as_bytes());
                self.state = State::SaslResponse {
                    auth_prefix: format!("{bare},{first}"),
                    nonce,
                };
            }
            State::SaslResponse { auth_prefix, nonce } if tag == b'p' => {
                let text = String::from_utf8_lossy(body).into_owned();
                let (without_proof, proof) = text.split_once(",p=").expect("a proof");
                assert_eq!(without_proof, format!("c=biws,r={nonce}"));
                let auth_message = format!("{auth_prefix},{without_proof}");
                let salted = salted_password(PASSWORD.as_bytes());
                let client_key = hmac(&salted, b"Client Key");
                let stored_key: [u8; 32] = Sha256::digest(client_key).into();
                let mut expected_proof = client_key;
                for (byte, mask) in expected_proof
                    .iter_mut()
                    .zip(hmac(&stored_key, auth_message.as_bytes()))
                {
                    *byte ^= mask;
                }
                if lenient_decode(proof).unwrap() != expected_proof {
                    return self.fatal("28P01", "password authentication failed");
                }
                let server_key = match self.twist {
                    Twist::ForgedSignature => hmac(&salted_password(b"other"), b"Server Key"),
                    _ => hmac(&salted, b"Server Key"),
                };
                if self.twist != Twist::NoSignature {
                    let signature = hmac(&server_key, auth_message.as_bytes());
                    self.auth(12, format!("v={}", standard_encode(&signature)).as_bytes());
                }
                self.welcome();
                self.state = State::Ready;
            }
            State::Ready => {
                self.state = State::Ready;
                match tag {
                    b'P' => {
                        let end = body[1..].iter().position(|byte| *byte == 0).unwrap() + 1;
                        self.statements
                            .push(String::from_utf8(body[1..end].to_vec()).unwrap());
                        self.message(b'1', b"");
                    }
                    b'B' => self.message(b'2', b""),
                    b'E' => match self.fails_with {
                        Some((code, text)) => self.message(
                            b'E',
                            format!("SERROR\0C{code}\0M{text}\0Dsecret detail\0\0").as_bytes(),
                        ),
                        None => {
                            for row in self.rows.clone() {
                                let mut body = (row.len() as u16).to_be_bytes().to_vec();
                                for value in row {
                                    match value {
                                        Some(text) => {
                                            body.extend((text.len() as i32).to_be_bytes());
                                            body.extend(text.as_bytes());
                                        }
                                        None => body.extend((-1i32).to_be_bytes()),
                                    }
                                }
                                self.message(b'D', &body);
                            }
                            self.message(b'C', b"SELECT 2\0");
                        }
                    },
                    b'S' => self.message(b'Z', b"I"),
                    b'X' => self.state = State::Closed,
                    _ => self.fatal("08P01", "invalid frontend message type"),
                }
            }
            State::Closed => {}
            // A message of the wrong kind during authentication, as PostgreSQL answers it.
            _ => self.fatal("08P01", "expected password response"),
        }
    }
}

impl Wire for FakeServer {
    async fn send(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.flights += 1;
        let mut rest = bytes;
        if matches!(self.state, State::Startup) {
            let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            rest = &rest[length..];
            self.handle(0, &[]);
        }
        while !rest.is_empty() {
            let length = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
            let (tag, body) = (rest[0], rest[5..=length].to_vec());
            rest = &rest[length + 1..];
            self.handle(tag, &body);
        }
        Ok(())
    }

    async fn receive(&mut self, inbox: &mut BytesMut) -> Result<(), StoreError> {
        if self.out.is_empty() {
            // A real server would leave the client waiting (or has closed the connection).
            return Err(StoreError::Unavailable(
                "the server has nothing more to say".to_owned(),
            ));
        }
        // A few bytes at a time, so messages arrive split across reads.
        for _ in 0..7 {
            match self.out.pop_front() {
                Some(byte) => inbox.put_u8(byte),
                None => break,
            }
        }
        Ok(())
    }
}

fn salted_password(password: &[u8]) -> [u8; 32] {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, SALT, 4096, &mut salted);
    salted
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn login(password_may_travel: bool) -> Login<'static> {
    Login {
        user: "u",
        password: PASSWORD.as_bytes(),
        database: Some("d"),
        options: None,
        application_name: None,
        password_may_travel,
    }
}

fn statement() -> Statement {
    Statement {
        text: "SELECT $1::text, $2::boolean".to_owned(),
        params: vec![Param::Text(Some("x".to_owned())), Param::Bool(None)],
        layout: Default::default(),
    }
}

fn connect(
    server: &mut FakeServer,
    guess: Option<AuthMethod>,
    may_travel: bool,
) -> Result<Outcome, ClientError> {
    futures_util::FutureExt::now_or_never(run(server, &login(may_travel), &statement(), guess))
        .expect("the fake server never leaves the client pending")
}

#[test]
fn each_method_runs_the_statement_in_the_fewest_round_trips() {
    for (asks, method, first, known) in [
        (Asks::Nothing, AuthMethod::Trust, 2, 1),
        (Asks::Scram, AuthMethod::Scram, 3, 2),
        (Asks::Cleartext, AuthMethod::Password, 2, 2),
        (Asks::Md5, AuthMethod::Password, 2, 2),
    ] {
        let guesses = [(None, first), (Some(method), known)];
        for (guess, flights) in guesses {
            // Cleartext and MD5 are never guessed: the server's request comes first.
            let guess = guess.filter(|method| *method != AuthMethod::Password);
            let mut server = FakeServer::new(asks);
            let outcome = connect(&mut server, guess, true).unwrap();
            assert_eq!(outcome.method, method);
            assert_eq!(
                outcome.rows,
                [
                    vec![Some("a".to_owned()), None],
                    vec![Some("b".to_owned()), Some("é".to_owned())]
                ]
            );
            assert_eq!(server.statements, ["SELECT $1::text, $2::boolean"]);
            assert_eq!(server.flights, flights, "{method:?} guessing {guess:?}");
        }
    }
}

#[test]
fn a_wrong_guess_fails_before_the_statement_runs() {
    for (asks, guess) in [
        (Asks::Scram, AuthMethod::Trust),
        (Asks::Cleartext, AuthMethod::Trust),
        (Asks::Nothing, AuthMethod::Scram),
        (Asks::Md5, AuthMethod::Scram),
    ] {
        let mut server = FakeServer::new(asks);
        let result = connect(&mut server, Some(guess), true);
        assert!(matches!(result, Err(ClientError::WrongGuess)), "{result:?}");
        assert!(server.statements.is_empty());
    }
}

#[test]
fn the_servers_scram_signature_is_checked_before_any_row_is_used() {
    for twist in [Twist::ForgedSignature, Twist::NoSignature] {
        for guess in [None, Some(AuthMethod::Scram)] {
            let mut server = FakeServer::new(Asks::Scram);
            server.twist = twist;
            // The statement was pipelined with the proof, so its rows are on the wire too.
            let result = connect(&mut server, guess, true);
            assert!(
                matches!(&result, Err(ClientError::Store(StoreError::Internal(cause))) if cause.contains("SCRAM") || cause.contains("out of order")),
                "{result:?}"
            );
        }
    }
}

#[test]
fn rows_before_authentication_are_refused() {
    let mut server = FakeServer::new(Asks::Nothing);
    server.twist = Twist::EarlyRow;
    let result = connect(&mut server, None, true);
    assert!(
        matches!(&result, Err(ClientError::Store(StoreError::Internal(cause))) if cause.contains("before authentication")),
        "{result:?}"
    );
}

#[test]
fn a_password_request_without_a_safe_path_gets_no_password() {
    for asks in [Asks::Cleartext, Asks::Md5] {
        let mut server = FakeServer::new(asks);
        let result = connect(&mut server, None, false);
        assert!(
            matches!(&result, Err(ClientError::Store(StoreError::Unavailable(cause))) if cause.contains("refusing to send it")),
            "{result:?}"
        );
        assert_eq!(server.flights, 1, "only the startup was sent");
    }
}

#[test]
fn server_errors_are_classified_by_sqlstate_without_their_detail() {
    let mut server = FakeServer::new(Asks::Nothing);
    server.fails_with = Some(("40001", "could not serialize access"));
    match connect(&mut server, None, true) {
        Err(ClientError::Store(StoreError::Unavailable(cause))) => {
            assert_eq!(
                cause,
                "running a statement: 40001 could not serialize access"
            );
        }
        other => panic!("expected a retryable error, got {other:?}"),
    }
    let mut server = FakeServer::new(Asks::Nothing);
    server.fails_with = Some(("42P01", "relation \"tasks\" does not exist"));
    assert!(matches!(
        connect(&mut server, None, true),
        Err(ClientError::Store(StoreError::Internal(_)))
    ));

    let mut server = FakeServer::new(Asks::Scram);
    let wrong = Login {
        password: b"wrong",
        ..login(true)
    };
    let result =
        futures_util::FutureExt::now_or_never(run(&mut server, &wrong, &statement(), None))
            .unwrap();
    match result {
        Err(ClientError::Store(StoreError::Internal(cause))) => {
            assert!(cause.starts_with("authenticating: 28P01"), "{cause}");
            assert!(!cause.contains("secret detail"), "{cause}");
        }
        other => panic!("expected an authentication failure, got {other:?}"),
    }
}

#[test]
fn methods_are_remembered_per_endpoint_and_forgotten_on_request() {
    remember_method("db-a:5432/u/d", Some(AuthMethod::Scram));
    remember_method("db-b:5432/u/d", Some(AuthMethod::Trust));
    assert_eq!(remembered_method("db-a:5432/u/d"), Some(AuthMethod::Scram));
    assert_eq!(remembered_method("db-b:5432/u/d"), Some(AuthMethod::Trust));
    remember_method("db-a:5432/u/d", None);
    assert_eq!(remembered_method("db-a:5432/u/d"), None);
}

#[test]
fn terminate_is_what_the_codec_encodes() {
    let mut encoded = BytesMut::new();
    frontend::terminate(&mut encoded);
    assert_eq!(&encoded[..], &TERMINATE[..]);
}

#[test]
fn a_data_row_decodes_text_nulls_and_empty_values_and_refuses_a_short_one() {
    let mut body = BytesMut::new();
    body.extend_from_slice(&3u16.to_be_bytes());
    body.extend_from_slice(&2i32.to_be_bytes());
    body.extend_from_slice("é".as_bytes());
    body.extend_from_slice(&(-1i32).to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    assert_eq!(
        decode_row(body.clone()).unwrap(),
        [Some("é".to_owned()), None, Some(String::new())]
    );
    for cut in 1..body.len() {
        let mut short = body.clone();
        short.truncate(cut);
        // Every cut leaves a length or a value unfinished.
        assert!(decode_row(short).is_err(), "cut at {cut}");
    }
    let mut latin1 = BytesMut::new();
    latin1.extend_from_slice(&1u16.to_be_bytes());
    latin1.extend_from_slice(&1i32.to_be_bytes());
    latin1.extend_from_slice(&[0xe9]);
    assert!(decode_row(latin1).is_err());
}
