//! Bearer-token authentication: HS256 JWTs signed with `BETTER_AUTH_SECRET`.
//!
//! Verification is pure (the clock is a parameter), so every rejection path is unit-tested
//! natively. Any failure is a 401; which one is told to the caller in `detail`, because a
//! frontend developer debugging an integration needs to know, and none of it is secret.

use chrono::{DateTime, Duration, Utc};
use jwt_compact::{
    alg::{Hs256, Hs256Key},
    AlgorithmExt, Claims, TimeOptions, UntrustedToken, ValidationError,
};
use serde::Deserialize;

use crate::domain::UserId;

/// How far `exp` and `nbf` may be off, for clock skew between the issuer and the edge.
pub const CLOCK_LEEWAY_SECONDS: i64 = 30;

/// The only algorithm accepted. Naming it here, rather than trusting the token's header, is
/// what stops `alg: none` and algorithm-confusion attacks.
const ALGORITHM: &str = "HS256";

/// What verification needs: the shared secret and the optional issuer and audience to demand.
pub struct AuthConfig {
    key: Hs256Key,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AuthConfig")
            .field("key", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl AuthConfig {
    /// Uses the secret's UTF-8 bytes as the HMAC key, as Better Auth does.
    pub fn new(secret: &str, issuer: Option<String>, audience: Option<String>) -> Self {
        Self {
            key: Hs256Key::new(secret.as_bytes()),
            issuer,
            audience,
        }
    }
}

/// Why a request was not authenticated. Each variant's message is the 401's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header.
    MissingHeader,
    /// A scheme other than `Bearer`, or no token after it.
    NotBearer,
    /// Not three base64url segments with a JSON header.
    Malformed,
    /// A header `alg` other than HS256, `none` included.
    WrongAlgorithm,
    /// The signature does not match the secret.
    BadSignature,
    /// The claims are not a JSON object of the expected types.
    MalformedClaims,
    /// No `exp` claim.
    MissingExpiry,
    /// `exp` is in the past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not include the configured audience.
    WrongAudience,
    /// None of `sub`, `user_id`, `userId` holds a usable user id.
    NoUserId,
}

impl AuthError {
    /// The `WWW-Authenticate` challenge. RFC 6750 section 3.1: a request that carries no
    /// bearer credentials at all gets the bare scheme, without an error code.
    pub fn challenge(self) -> &'static str {
        match self {
            Self::MissingHeader | Self::NotBearer => "Bearer",
            _ => r#"Bearer error="invalid_token""#,
        }
    }

    /// A sentence for the problem body's `detail`.
    pub fn detail(self) -> &'static str {
        match self {
            Self::MissingHeader => {
                "The request has no Authorization header; send `Authorization: Bearer <token>`."
            }
            Self::NotBearer => "The Authorization header must use the Bearer scheme with a token.",
            Self::Malformed => "The bearer token is not a well-formed JWT.",
            Self::WrongAlgorithm => "The token must be signed with HS256.",
            Self::BadSignature => "The token's signature is not valid.",
            Self::MalformedClaims => "The token's claims are not valid JSON of the expected types.",
            Self::MissingExpiry => "The token has no expiry (`exp`) claim.",
            Self::Expired => "The token has expired.",
            Self::NotYetValid => "The token is not valid yet (`nbf` is in the future).",
            Self::WrongIssuer => "The token was issued by an unexpected issuer.",
            Self::WrongAudience => "The token is not meant for this API (audience mismatch).",
            Self::NoUserId => "The token does not name a user (`sub`, `user_id` or `userId`).",
        }
    }
}

/// The claims this API reads beyond the registered time claims.
#[derive(Debug, Deserialize)]
struct IdentityClaims {
    sub: Option<String>,
    user_id: Option<String>,
    #[serde(rename = "userId")]
    user_id_camel: Option<String>,
    iss: Option<String>,
    #[serde(default)]
    aud: Audience,
}

/// `aud` may be one string or an array of strings (RFC 7519 section 4.1.3).
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Self::None => false,
            Self::One(audience) => audience == wanted,
            Self::Many(audiences) => audiences.iter().any(|audience| audience == wanted),
        }
    }
}

/// Verifies an `Authorization` header value and returns the user it speaks for.
pub fn authenticate(
    header: Option<&str>,
    config: &AuthConfig,
    now: DateTime<Utc>,
) -> Result<UserId, AuthError> {
    let header = header.ok_or(AuthError::MissingHeader)?;
    let token = bearer_token(header).ok_or(AuthError::NotBearer)?;
    let untrusted = UntrustedToken::new(token).map_err(|_| AuthError::Malformed)?;
    if untrusted.algorithm() != ALGORITHM {
        return Err(AuthError::WrongAlgorithm);
    }

    let token = Hs256
        .validator::<IdentityClaims>(&config.key)
        .validate(&untrusted)
        .map_err(|error| match error {
            ValidationError::AlgorithmMismatch { .. } => AuthError::WrongAlgorithm,
            ValidationError::MalformedClaims(_) => AuthError::MalformedClaims,
            _ => AuthError::BadSignature,
        })?;
    let claims = token.claims();
    check_time(claims, now)?;

    let identity = &claims.custom;
    if let Some(issuer) = &config.issuer {
        if identity.iss.as_deref() != Some(issuer.as_str()) {
            return Err(AuthError::WrongIssuer);
        }
    }
    if let Some(audience) = &config.audience {
        if !identity.aud.contains(audience) {
            return Err(AuthError::WrongAudience);
        }
    }

    let user = identity
        .sub
        .as_deref()
        .or(identity.user_id.as_deref())
        .or(identity.user_id_camel.as_deref())
        .ok_or(AuthError::NoUserId)?;
    UserId::parse(user).ok_or(AuthError::NoUserId)
}

/// Accepts the scheme name in any case, as RFC 9110 section 11.1 requires.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn check_time(claims: &Claims<IdentityClaims>, now: DateTime<Utc>) -> Result<(), AuthError> {
    let options = TimeOptions::new(Duration::seconds(CLOCK_LEEWAY_SECONDS), move || now);
    claims
        .validate_expiration(&options)
        .map_err(|error| match error {
            ValidationError::Expired => AuthError::Expired,
            _ => AuthError::MissingExpiry,
        })?;
    if claims.not_before.is_some() {
        claims
            .validate_maturity(&options)
            .map_err(|_| AuthError::NotYetValid)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_compact::{alg::Hs384, Header};
    use serde_json::{json, Value};

    const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

    fn config() -> AuthConfig {
        AuthConfig::new(SECRET, None, None)
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn sign(claims: Value, secret: &str) -> String {
        let claims = Claims::new(claims);
        Hs256
            .token(&Header::empty(), &claims, &Hs256Key::new(secret.as_bytes()))
            .unwrap()
    }

    fn valid_claims() -> Value {
        json!({ "sub": "user-1", "exp": now().timestamp() + 600 })
    }

    fn verify(token: &str) -> Result<UserId, AuthError> {
        authenticate(Some(&format!("Bearer {token}")), &config(), now())
    }

    /// Base64url without padding, as JWT segments are encoded.
    fn b64(bytes: &[u8]) -> String {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_valid_token_yields_its_subject() {
        let user = verify(&sign(valid_claims(), SECRET)).unwrap();
        assert_eq!(user.as_str(), "user-1");
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        let header = format!("bearer {}", sign(valid_claims(), SECRET));
        assert!(authenticate(Some(&header), &config(), now()).is_ok());
    }

    #[test]
    fn user_id_falls_back_to_user_id_claims_when_sub_is_absent() {
        let exp = now().timestamp() + 60;
        let snake = sign(json!({ "user_id": "snake", "exp": exp }), SECRET);
        let camel = sign(json!({ "userId": "camel", "exp": exp }), SECRET);
        assert_eq!(verify(&snake).unwrap().as_str(), "snake");
        assert_eq!(verify(&camel).unwrap().as_str(), "camel");
    }

    #[test]
    fn missing_header_and_other_schemes_are_rejected() {
        assert_eq!(
            authenticate(None, &config(), now()),
            Err(AuthError::MissingHeader)
        );
        for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token"] {
            assert_eq!(
                authenticate(Some(header), &config(), now()),
                Err(AuthError::NotBearer),
                "header {header:?}"
            );
        }
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for token in ["abc", "a.b", "a.b.c.d", "!!.??.##"] {
            assert_eq!(verify(token), Err(AuthError::Malformed), "token {token:?}");
        }
    }

    #[test]
    fn a_token_signed_with_another_secret_is_rejected() {
        let token = sign(valid_claims(), "another-secret-that-is-also-long-enough");
        assert_eq!(verify(&token), Err(AuthError::BadSignature));
    }

    #[test]
    fn alg_none_is_rejected() {
        let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64(valid_claims().to_string().as_bytes());
        assert_eq!(
            verify(&format!("{header}.{claims}.")),
            Err(AuthError::WrongAlgorithm)
        );
    }

    #[test]
    fn a_valid_signature_under_a_changed_alg_is_rejected() {
        let token = sign(valid_claims(), SECRET);
        let (_, rest) = token.split_once('.').unwrap();
        let header = b64(br#"{"alg":"HS384","typ":"JWT"}"#);
        assert_eq!(
            verify(&format!("{header}.{rest}")),
            Err(AuthError::WrongAlgorithm)
        );
    }

    #[test]
    fn other_hmac_algorithms_are_rejected_even_with_the_right_secret() {
        let claims = Claims::new(valid_claims());
        let token = Hs384
            .token(
                &Header::empty(),
                &claims,
                &jwt_compact::alg::Hs384Key::new(SECRET.as_bytes()),
            )
            .unwrap();
        assert_eq!(verify(&token), Err(AuthError::WrongAlgorithm));
    }

    #[test]
    fn expiry_is_required_and_enforced_with_leeway() {
        let no_exp = sign(json!({ "sub": "u" }), SECRET);
        assert_eq!(verify(&no_exp), Err(AuthError::MissingExpiry));

        let within_leeway = now().timestamp() - CLOCK_LEEWAY_SECONDS + 1;
        assert!(verify(&sign(json!({ "sub": "u", "exp": within_leeway }), SECRET)).is_ok());

        let past_leeway = now().timestamp() - CLOCK_LEEWAY_SECONDS - 1;
        assert_eq!(
            verify(&sign(json!({ "sub": "u", "exp": past_leeway }), SECRET)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn not_before_is_honoured() {
        let exp = now().timestamp() + 600;
        let future = now().timestamp() + CLOCK_LEEWAY_SECONDS + 10;
        let token = sign(json!({ "sub": "u", "exp": exp, "nbf": future }), SECRET);
        assert_eq!(verify(&token), Err(AuthError::NotYetValid));

        let past = now().timestamp() - 10;
        let token = sign(json!({ "sub": "u", "exp": exp, "nbf": past }), SECRET);
        assert!(verify(&token).is_ok());
    }

    #[test]
    fn claims_of_the_wrong_type_are_rejected() {
        let token = sign(json!({ "sub": 42, "exp": now().timestamp() + 60 }), SECRET);
        assert_eq!(verify(&token), Err(AuthError::MalformedClaims));
    }

    #[test]
    fn a_token_without_a_usable_user_id_is_rejected() {
        let exp = now().timestamp() + 60;
        for claims in [json!({ "exp": exp }), json!({ "sub": "", "exp": exp })] {
            assert_eq!(
                verify(&sign(claims.clone(), SECRET)),
                Err(AuthError::NoUserId),
                "claims {claims}"
            );
        }
    }

    #[test]
    fn issuer_and_audience_are_checked_only_when_configured() {
        let exp = now().timestamp() + 60;
        let token = sign(
            json!({ "sub": "u", "exp": exp, "iss": "https://app", "aud": ["api", "web"] }),
            SECRET,
        );
        let header = format!("Bearer {token}");
        let check = |issuer: Option<&str>, audience: Option<&str>| {
            let config = AuthConfig::new(
                SECRET,
                issuer.map(str::to_owned),
                audience.map(str::to_owned),
            );
            authenticate(Some(&header), &config, now()).map(|_| ())
        };
        assert_eq!(check(None, None), Ok(()));
        assert_eq!(check(Some("https://app"), Some("api")), Ok(()));
        assert_eq!(
            check(Some("https://other"), None),
            Err(AuthError::WrongIssuer)
        );
        assert_eq!(check(None, Some("admin")), Err(AuthError::WrongAudience));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains(SECRET));
        assert!(shown.contains("<redacted>"));
    }
}
