//! A JWT as it arrives: split into its three segments, with its header read and nothing trusted.
//!
//! The header is decoded at once, since the kind of credential and the key that checks it are
//! named there, and so is the signature: it is short, and a token whose signature is not
//! base64url is malformed rather than forged. The claims are the largest part and the one a
//! forger writes freely; [`Jwt::claims`] decodes them, and the verifiers call it only once the
//! signature has been checked.

use std::{cell::RefCell, rc::Rc};

use jwt_compact::Claims;
use serde::{de::IgnoredAny, Deserialize};

use super::{AuthError, IdentityClaims};
use crate::runtime::base64;

/// The JOSE header fields this API reads (RFC 7515 section 4.1); the rest are ignored.
#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    cty: Option<String>,
    crit: Option<IgnoredAny>,
}

thread_local! {
    /// The last header segment read and what it says. An issuer's tokens share one header
    /// (the same `alg`, `typ` and `kid`), so most requests read theirs from here instead of
    /// decoding it; a different segment is decoded and takes its place.
    static LAST_HEADER: RefCell<Option<(String, Rc<Header>)>> = const { RefCell::new(None) };
}

/// A JWT as sent: not yet verified.
#[derive(Debug)]
pub struct Jwt<'a> {
    text: &'a str,
    header: Rc<Header>,
    signing_input: &'a str,
    claims: &'a str,
    signature: Vec<u8>,
}

/// Two tokens are the same if their text is.
impl PartialEq for Jwt<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Jwt<'_> {}

impl<'a> Jwt<'a> {
    /// Splits a compact JWS and reads its header: three base64url segments, the first a JSON
    /// object with an `alg` and no content type but JSON. The claims segment is only checked
    /// to be base64url here, so that a token which is not one is malformed on every path;
    /// [`Jwt::claims`] decodes it.
    pub fn parse(text: &'a str) -> Result<Self, AuthError> {
        let mut segments = text.split('.');
        let (Some(header), Some(claims), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(AuthError::Malformed);
        };
        if !is_base64url(claims) {
            return Err(AuthError::Malformed);
        }
        let header = read_header(header)?;
        let signature = base64::url_decode(signature).ok_or(AuthError::Malformed)?;
        Ok(Self {
            text,
            header,
            signing_input: &text[..text.len() - signature_len(text)],
            claims,
            signature,
        })
    }

    /// The token's text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The header's `alg`, as the token claims it.
    pub fn algorithm(&self) -> &str {
        &self.header.alg
    }

    /// The header's `kid`, if it names a key.
    pub fn key_id(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// Refuses a header with critical extensions (RFC 7515 section 4.1.11): this API
    /// understands none.
    pub fn refuse_critical(&self) -> Result<(), AuthError> {
        match self.header.crit {
            None => Ok(()),
            Some(_) => Err(AuthError::CriticalHeader),
        }
    }

    /// What the signature covers: the header and claims segments as sent.
    pub fn signing_input(&self) -> &'a [u8] {
        self.signing_input.as_bytes()
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The claims, decoded and parsed. Call it only after the signature has been checked.
    pub fn claims(&self) -> Result<Claims<IdentityClaims>, AuthError> {
        base64::url_decode(self.claims)
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(AuthError::MalformedClaims)
    }
}

/// The header a segment encodes, from [`LAST_HEADER`] when it is the segment read last.
fn read_header(segment: &str) -> Result<Rc<Header>, AuthError> {
    let known = LAST_HEADER.with_borrow(|last| {
        last.as_ref()
            .filter(|(known, _)| known == segment)
            .map(|(_, header)| Rc::clone(header))
    });
    if let Some(header) = known {
        return Ok(header);
    }
    // A derived struct would take a JSON array too; RFC 7515 says the header is an object.
    let header: Header = base64::url_decode(segment)
        .filter(|json| json.trim_ascii_start().starts_with(b"{"))
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(AuthError::Malformed)?;
    if header
        .cty
        .as_deref()
        .is_some_and(|content_type| !content_type.eq_ignore_ascii_case("json"))
    {
        return Err(AuthError::Malformed);
    }
    let header = Rc::new(header);
    LAST_HEADER.set(Some((segment.to_owned(), Rc::clone(&header))));
    Ok(header)
}

/// Whether a segment could be unpadded base64url: its alphabet, and a length a whole number
/// of bytes encodes to.
fn is_base64url(segment: &str) -> bool {
    segment.len() % 4 != 1
        && segment
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// The length of the last segment and the dot before it.
fn signature_len(text: &str) -> usize {
    text.rfind('.').map_or(0, |dot| text.len() - dot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        base64::url_encode(text.as_bytes())
    }

    #[test]
    fn the_segments_are_split_and_the_header_read() {
        let header = b64(r#"{"alg":"EdDSA","kid":"k1","typ":"JWT","x5c":["ignored"]}"#);
        let claims = b64(r#"{"sub":"u1"}"#);
        let text = format!("{header}.{claims}.c2ln");
        let jwt = Jwt::parse(&text).unwrap();
        assert_eq!(jwt.algorithm(), "EdDSA");
        assert_eq!(jwt.key_id(), Some("k1"));
        assert_eq!(jwt.signing_input(), format!("{header}.{claims}").as_bytes());
        assert_eq!(jwt.signature(), b"sig");
        assert_eq!(jwt.refuse_critical(), Ok(()));
        assert_eq!(jwt.claims().unwrap().custom.sub.as_deref(), Some("u1"));
    }

    #[test]
    fn a_token_that_is_not_three_base64url_segments_with_a_json_header_is_malformed() {
        let header = b64(r#"{"alg":"HS256"}"#);
        for text in [
            String::new(),
            format!("{header}.e30"),
            format!("{header}.e30.c2ln.c2ln"),
            format!("{header}.e30.c2l+"),
            format!("{}.e30.c2ln", b64("not json")),
            format!("{}.e30.c2ln", b64(r#"{"typ":"JWT"}"#)),
            format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","alg":"none"}"#)),
            format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","kid":7}"#)),
            format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","cty":"CBOR"}"#)),
            format!("{}.e30.c2ln", b64(r#"["HS256",null,null,null]"#)),
            format!("{header}.!!.c2ln"),
            format!("{header}.e30=.c2ln"),
            format!("{header}.e30xx.c2ln"),
        ] {
            assert_eq!(Jwt::parse(&text), Err(AuthError::Malformed), "{text}");
        }
        let json_content = format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","cty":"JSON"}"#));
        assert!(Jwt::parse(&json_content).is_ok());
    }

    #[test]
    fn a_header_read_before_comes_from_the_cache_and_another_replaces_it() {
        let parse = |header: &str| {
            let text = format!("{}.e30.c2ln", b64(header));
            Jwt::parse(&text).unwrap().header
        };
        let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
        let first = parse(hs256);
        assert!(
            Rc::ptr_eq(&first, &parse(hs256)),
            "the same segment is not decoded again"
        );
        let other = parse(r#"{"alg":"EdDSA","kid":"k2"}"#);
        assert_eq!(
            (other.alg.as_str(), other.kid.as_deref()),
            ("EdDSA", Some("k2"))
        );
        let again = parse(hs256);
        assert!(
            !Rc::ptr_eq(&first, &again),
            "the other segment took its place"
        );
        assert_eq!((again.alg.as_str(), again.kid.as_deref()), ("HS256", None));

        let refused = format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","cty":"CBOR"}"#));
        for _ in 0..2 {
            assert_eq!(Jwt::parse(&refused), Err(AuthError::Malformed));
        }
        assert!(
            Rc::ptr_eq(&again, &parse(hs256)),
            "a refused header is not kept"
        );
    }

    #[test]
    fn the_claims_are_read_only_when_asked_for() {
        let header = b64(r#"{"alg":"HS256"}"#);
        let text = format!("{header}.{}.c2ln", b64("not json"));
        let jwt = Jwt::parse(&text).expect("claims are not read by parse");
        assert_eq!(jwt.claims().err(), Some(AuthError::MalformedClaims));
        // Base64url in its alphabet and length, but with trailing bits set: only a decode
        // tells.
        let text = format!("{header}.e31.c2ln");
        let jwt = Jwt::parse(&text).expect("nor decoded");
        assert_eq!(jwt.claims().err(), Some(AuthError::MalformedClaims));
    }

    #[test]
    fn a_header_with_crit_is_refused_and_a_null_crit_counts_as_none() {
        let with = format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","crit":["b64"]}"#));
        assert_eq!(
            Jwt::parse(&with).unwrap().refuse_critical(),
            Err(AuthError::CriticalHeader)
        );
        let null = format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","crit":null}"#));
        assert_eq!(Jwt::parse(&null).unwrap().refuse_critical(), Ok(()));
    }
}
