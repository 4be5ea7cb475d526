//! SCRAM-SHA-256 for PostgreSQL (RFC 5802, RFC 7677), with the derived keys cached per isolate.
//!
//! SCRAM makes the client run PBKDF2 (4096 HMAC-SHA-256 rounds by default) over the password
//! and the server's salt. A worker opens a connection per request, so deriving on every
//! connection dominated its CPU time (about 10 ms of a 12 ms request). The derived keys depend
//! only on the password, salt and iteration count: they are plain data that may outlive a
//! request (unlike sockets), so [`KEY_CACHE`] keeps them for the isolate's lifetime. Every
//! connection still runs the full exchange with fresh nonces, and the server's signature is
//! still verified: authentication is exactly as strong, just cheaper.

use crate::runtime::base64::{lenient_decode, standard_encode};
use hmac::{Hmac, Mac};
use pbkdf2::pbkdf2_hmac;
use sha2::{Digest, Sha256};
use std::cell::RefCell;

use super::{bidi, protocol};
use crate::store::StoreError;

/// The SASL mechanism name.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// Isolates are long-lived but see few distinct databases; a handful of entries is plenty.
const KEY_CACHE_CAPACITY: usize = 8;
/// The fewest PBKDF2 rounds accepted: RFC 7677 section 4 asks for at least 4096, PostgreSQL's
/// default. Fewer make a captured proof cheap to crack offline.
const MIN_SCRAM_ITERATIONS: u32 = 4096;
/// The most PBKDF2 rounds a server may demand. The derivation runs synchronously, so an absurd
/// count from a hostile endpoint would stall the isolate.
const MAX_SCRAM_ITERATIONS: u32 = 1_000_000;

type HmacSha256 = Hmac<Sha256>;

/// The SCRAM keys derived from a password: `ClientKey` and `ServerKey` of RFC 5802.
#[derive(Clone, Copy)]
struct ScramKeys {
    client_key: [u8; 32],
    server_key: [u8; 32],
}

/// Identifies derived keys without keeping the password itself as a map key.
#[derive(PartialEq, Eq)]
struct KeyId {
    password_digest: [u8; 32],
    salt: Vec<u8>,
    iterations: u32,
}

thread_local! {
    /// Derived SCRAM keys for this isolate (a worker isolate is single-threaded).
    static KEY_CACHE: RefCell<Vec<(KeyId, ScramKeys)>> = const { RefCell::new(Vec::new()) };
}

/// The client side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), without channel
/// binding: the worker's socket exposes no TLS channel-binding data.
pub struct ScramClient {
    password: Vec<u8>,
    nonce: String,
    /// Set once the server's first message has been answered: what the server's signature
    /// must be computed over, and with which key.
    expected_server_proof: Option<ServerProof>,
}

/// What the server's final message must be an HMAC of, and its key.
struct ServerProof {
    server_key: [u8; 32],
    auth_message: String,
}

/// The GS2 header for "no channel binding", and its base64 for the final message.
const GS2_HEADER: &str = "n,,";
const GS2_HEADER_BASE64: &str = "biws";

impl ScramClient {
    /// A client with a fresh random nonce.
    pub fn new(password: &[u8]) -> Result<Self, StoreError> {
        let mut random = [0u8; 18];
        getrandom::fill(&mut random).map_err(|error| {
            StoreError::Internal(format!("no randomness for a SCRAM nonce: {error}"))
        })?;
        Ok(Self::with_nonce(password, standard_encode(&random)))
    }

    fn with_nonce(password: &[u8], nonce: String) -> Self {
        // PostgreSQL applies SASLprep to the password when it is valid UTF-8 and SASLprep
        // accepts it, and uses the raw bytes otherwise; so do we.
        let password = std::str::from_utf8(password)
            .ok()
            .and_then(saslprep)
            .map_or_else(|| password.to_vec(), String::into_bytes);
        Self {
            password,
            nonce,
            expected_server_proof: None,
        }
    }

    /// PostgreSQL takes the user from the startup message, so the SCRAM user name is empty.
    fn first_message_bare(&self) -> String {
        format!("n=,r={}", self.nonce)
    }

    /// `client-first-message`, for the SASLInitialResponse.
    pub fn first_message(&self) -> String {
        format!("{GS2_HEADER}{}", self.first_message_bare())
    }

    /// Answers the server's first message with the proof, and remembers the signature the
    /// server must send back.
    pub fn final_message(&mut self, server_first: &[u8]) -> Result<String, StoreError> {
        let server_first =
            std::str::from_utf8(server_first).map_err(|_| protocol("non-UTF-8 SCRAM message"))?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attribute in server_first.split(',') {
            match attribute.split_once('=') {
                Some(("r", value)) => nonce = Some(value),
                Some(("s", value)) => salt = lenient_decode(value),
                Some(("i", value)) => iterations = value.parse::<u32>().ok(),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(protocol("malformed SCRAM server-first message"));
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(protocol("the SCRAM server nonce does not extend ours"));
        }
        if !(MIN_SCRAM_ITERATIONS..=MAX_SCRAM_ITERATIONS).contains(&iterations) {
            return Err(protocol(&format!(
                "the SCRAM iteration count {iterations} is outside {MIN_SCRAM_ITERATIONS}..={MAX_SCRAM_ITERATIONS}"
            )));
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
        self.expected_server_proof = Some(ServerProof {
            server_key: keys.server_key,
            auth_message,
        });

        Ok(format!("{without_proof},p={}", standard_encode(&proof)))
    }

    /// Checks the server's final message: it must prove the server knows the password too.
    pub fn verify_server(&self, server_final: &[u8]) -> Result<(), StoreError> {
        let expected = self
            .expected_server_proof
            .as_ref()
            .ok_or_else(|| protocol("SCRAM final before proof"))?;
        let server_final =
            std::str::from_utf8(server_final).map_err(|_| protocol("non-UTF-8 SCRAM message"))?;
        let signature = server_final
            .split(',')
            .find_map(|attribute| attribute.strip_prefix("v="))
            .and_then(lenient_decode)
            .ok_or_else(|| protocol("SCRAM server-final message carries no signature"))?;
        // `verify_slice` compares in constant time.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&expected.server_key)
            .expect("HMAC takes keys of any length");
        mac.update(expected.auth_message.as_bytes());
        mac.verify_slice(&signature).map_err(|_| {
            protocol("the server's SCRAM signature does not match; refusing the connection")
        })
    }
}

/// SASLprep (RFC 4013): `None` when the password has characters it prohibits. ASCII without
/// control characters, nearly every password, is its own result.
///
/// The character tables are RFC 3454's: from the `stringprep` crate, and for bidirectional
/// text from [`super::bidi`] (the crate's own check uses today's Unicode bidi classes, a table
/// five times the size, where PostgreSQL uses the RFC's). Normalization (NFKC) is
/// the runtime's own `String.prototype.normalize` in the worker, which keeps Unicode's
/// normalization tables (about 70 KB gzipped) out of the module.
fn saslprep(password: &str) -> Option<String> {
    use stringprep::tables;
    if password
        .chars()
        .all(|c| c.is_ascii() && !tables::ascii_control_character(c))
    {
        return Some(password.to_owned());
    }
    let mapped: String = password
        .chars()
        .filter(|c| !tables::commonly_mapped_to_nothing(*c))
        .map(|c| match tables::non_ascii_space_character(c) {
            true => ' ',
            false => c,
        })
        .collect();
    let normalized = nfkc(&mapped);
    let prohibited = |c: char| {
        tables::non_ascii_space_character(c)
            || tables::ascii_control_character(c)
            || tables::non_ascii_control_character(c)
            || tables::private_use(c)
            || tables::non_character_code_point(c)
            || tables::surrogate_code(c)
            || tables::inappropriate_for_plain_text(c)
            || tables::inappropriate_for_canonical_representation(c)
            || tables::change_display_properties_or_deprecated(c)
            || tables::tagging_character(c)
            || tables::unassigned_code_point(c)
    };
    if normalized.chars().any(prohibited) {
        return None;
    }
    // RFC 3454 section 6: right-to-left text may hold no left-to-right character, and must
    // start and end with a right-to-left one.
    let right_to_left = |c: char| bidi::contains(bidi::RAND_AL_CAT, c);
    if normalized.contains(right_to_left)
        && (normalized.contains(|c: char| bidi::contains(bidi::L_CAT, c))
            || !normalized.starts_with(right_to_left)
            || !normalized.ends_with(right_to_left))
    {
        return None;
    }
    Some(normalized)
}

/// Unicode NFKC, by the JavaScript runtime.
#[cfg(target_arch = "wasm32")]
fn nfkc(text: &str) -> String {
    worker::js_sys::JsString::from(text)
        .normalize("NFKC")
        .into()
}

/// Unicode NFKC, natively (unit tests).
#[cfg(not(target_arch = "wasm32"))]
fn nfkc(text: &str) -> String {
    unicode_normalization::UnicodeNormalization::nfkc(text).collect()
}

/// The SCRAM keys for this password, salt and iteration count: derived once, then reused.
fn cached_keys(password: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
    let id = KeyId {
        password_digest: Sha256::digest(password).into(),
        salt: salt.to_vec(),
        iterations,
    };
    let cached = KEY_CACHE.with(|cache| {
        cache
            .borrow()
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, keys)| *keys)
    });
    if let Some(keys) = cached {
        return keys;
    }
    let keys = derive_keys(password, salt, iterations);
    KEY_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= KEY_CACHE_CAPACITY {
            cache.remove(0);
        }
        cache.push((id, keys));
    });
    keys
}

/// `SaltedPassword = Hi(password, salt, i)` (PBKDF2-HMAC-SHA-256), then the two keys.
fn derive_keys(password: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
    let mut salted_password = [0u8; 32];
    pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut salted_password);
    ScramKeys {
        client_key: hmac(&salted_password, b"Client Key"),
        server_key: hmac(&salted_password, b"Server Key"),
    }
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
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
        let keys = derive_keys(password, &lenient_decode(RFC_SALT).unwrap(), 4096);
        let auth_message =
            format!("{client_first_bare},{RFC_SERVER_FIRST},{client_final_without_proof}");
        hmac(&keys.server_key, auth_message.as_bytes())
    }

    #[test]
    fn key_derivation_matches_rfc_7677() {
        // With the RFC's user name the proof and server signature are the RFC's own values.
        let keys = derive_keys(b"pencil", &lenient_decode(RFC_SALT).unwrap(), 4096);
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
            standard_encode(&proof),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            standard_encode(&hmac(&keys.server_key, auth_message.as_bytes())),
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
        assert_eq!(lenient_decode(proof).unwrap().len(), 32);

        let genuine = server_signature_for(b"pencil", &client.first_message_bare(), without_proof);
        assert!(client
            .verify_server(format!("v={}", standard_encode(&genuine)).as_bytes())
            .is_ok());
        let forged = server_signature_for(
            b"not-the-password",
            &client.first_message_bare(),
            without_proof,
        );
        assert!(client
            .verify_server(format!("v={}", standard_encode(&forged)).as_bytes())
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
        let first = cached_keys(b"cache-me", b"salt", 4096);
        let again = cached_keys(b"cache-me", b"salt", 4096);
        assert_eq!(first.client_key, again.client_key);
        let other_salt = cached_keys(b"cache-me", b"pepper", 4096);
        assert_ne!(first.client_key, other_salt.client_key);
        assert_eq!(
            first.client_key,
            derive_keys(b"cache-me", b"salt", 4096).client_key
        );
    }

    #[test]
    fn iteration_counts_below_rfc_7677s_minimum_or_absurdly_high_are_refused() {
        for iterations in ["1", "4095", "4000000000"] {
            let mut client = ScramClient::with_nonce(b"pencil", RFC_CLIENT_NONCE.to_owned());
            let first =
                format!("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={iterations}");
            assert!(
                client.final_message(first.as_bytes()).is_err(),
                "{iterations}"
            );
        }
        let mut client = ScramClient::with_nonce(b"pencil", RFC_CLIENT_NONCE.to_owned());
        let minimum = "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert!(client.final_message(minimum.as_bytes()).is_ok());
    }

    #[test]
    fn saslprep_agrees_with_the_stringprep_crate() {
        for password in [
            "pencil",
            "correct horse battery staple",
            "I\u{00AD}X",
            "p\u{00E4}ssw\u{00F6}rd",
            "\u{FB01}le\u{00A0}name",
            "\u{2168}",
            "\u{05D0}\u{05D1}\u{05D2}",
            "\u{05D0}abc\u{05D1}",
            "\u{0627}1",
            "tab\there",
            "\u{0007}",
            "private\u{E000}",
            "tag\u{E0041}",
            "unassigned\u{0221}",
        ] {
            assert_eq!(
                saslprep(password),
                stringprep::saslprep(password)
                    .ok()
                    .map(|cow| cow.into_owned()),
                "{password:?}"
            );
        }
    }
}
