//! Bearer credentials: which kind a request carries, and who it speaks for.
//!
//! Three kinds are accepted, each ending in the same user id and the same 403/404 rules:
//! - [`hs256`]: a JWT signed with `BETTER_AUTH_SECRET` (minted by the app itself);
//! - [`jwks`]: a JWT from Better Auth's JWT plugin, signed with an asymmetric key published
//!   at the JWKS endpoint (EdDSA, ES256, ES512, RS256, PS256), verified by the runtime's
//!   WebCrypto;
//! - [`session`]: a Better Auth session token (`<token>.<signature>`, the bearer plugin's
//!   `set-auth-token`), whose signature is checked here and whose session row is checked by
//!   the same SQL statement as the task operation, so a signed-out session fails at once.
//!
//! Which kinds are accepted is configuration. The kind is read from the credential's shape and
//! its header's `alg`, but the accepted algorithms come from configuration, never from the
//! token. Every refusal is a 401 whose `detail` names the check that failed.

pub mod hs256;
pub mod jwks;
pub mod jwt;
pub mod session;
mod webcrypto;

use chrono::{DateTime, Duration, Utc};
use jwt_compact::{Claims, TimeOptions, ValidationError};
use serde::Deserialize;

use crate::domain::UserId;
pub use jwks::JwksConfig;
pub use jwt::Jwt;
pub use session::{SessionSchema, SessionToken};

/// How far `exp` and `nbf` may be off, for clock skew between the issuer and the edge.
pub const CLOCK_LEEWAY_SECONDS: i64 = 30;

/// What verification needs, read once from configuration.
pub struct AuthConfig {
    /// HS256 tokens signed with the shared secret; `None` when not accepted.
    pub hs256: Option<hs256::Hs256Config>,
    /// Better Auth JWT-plugin tokens; `None` when not accepted.
    pub jwks: Option<JwksConfig>,
    /// Better Auth session tokens; `None` when not accepted.
    pub session: Option<session::SessionConfig>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AuthConfig")
            .field("hs256", &self.hs256.is_some())
            .field("jwks", &self.jwks)
            .field(
                "session",
                &self.session.as_ref().map(|config| &config.schema),
            )
            .finish()
    }
}

/// Who a request speaks for, once its credential has been checked as far as it can be
/// without the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A verified token named this user, and it is the path's user.
    User(UserId),
    /// A session token with a valid signature, for the path's user: the statement that serves
    /// the request also checks that the session exists, is unexpired and belongs to `user`.
    Session {
        /// The path's user, whom the session must belong to.
        user: UserId,
        /// The session token, without its signature.
        token: SessionToken,
        /// Where Better Auth keeps sessions.
        schema: SessionSchema,
    },
}

impl Caller {
    /// The user whose tasks the request may touch.
    pub fn user(&self) -> &UserId {
        match self {
            Self::User(user) | Self::Session { user, .. } => user,
        }
    }
}

/// The credential in an `Authorization: Bearer` header, sorted by kind.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A JWT whose header says HS256.
    Hs256(Jwt<'a>),
    /// A JWT with any other `alg` (checked against configuration by [`jwks`]).
    Asymmetric(Jwt<'a>),
    /// A session token: signed (`<token>.<signature>`, percent-decoded when it came encoded)
    /// or, as Better Auth's `getSession()` gives it, the bare token.
    Session(String),
}

/// Why a request was not authenticated. Each variant's message is the 401's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header.
    MissingHeader,
    /// A scheme other than `Bearer`, or no token after it.
    NotBearer,
    /// Neither a JWT (three base64url segments, the first a JSON object) nor a session token.
    Malformed,
    /// A kind of credential this deployment does not accept.
    KindNotAccepted(&'static str),
    /// A header `alg` that is not accepted, `none` included.
    WrongAlgorithm,
    /// The header lists extensions (`crit`) that must be understood; none are.
    CriticalHeader,
    /// The header names no key (`kid`).
    MissingKeyId,
    /// No key of the JWKS has this `kid` (after refetching it).
    UnknownKey,
    /// The key's type does not fit the token's `alg`.
    KeyMismatch,
    /// The signature does not match.
    BadSignature,
    /// The claims (read once the signature is good) are not base64url of a JSON object of
    /// the expected types.
    MalformedClaims,
    /// No `exp` claim.
    MissingExpiry,
    /// `exp` is in the past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` does not include the expected audience, or is present where none is expected.
    WrongAudience,
    /// `sub` holds no usable user id (nor, where `JWT_USER_ID_CLAIMS` allows them, `user_id`
    /// or `userId`).
    NoUserId,
    /// A session token whose signature is not the secret's.
    SessionBadSignature,
    /// A session token without a signature, where `BETTER_AUTH_REQUIRE_SIGNATURE` demands one.
    SessionUnsigned,
    /// A session token with a valid signature but no live session (signed out, expired).
    SessionNotFound,
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
    pub fn detail(self) -> String {
        match self {
            Self::MissingHeader => {
                "The request has no Authorization header; send `Authorization: Bearer <token>`."
                    .into()
            }
            Self::NotBearer => {
                "The Authorization header must use the Bearer scheme with a token.".into()
            }
            Self::Malformed => {
                "The bearer credential is neither a well-formed JWT nor a session token.".into()
            }
            Self::KindNotAccepted(kind) => format!("This API does not accept {kind}."),
            Self::WrongAlgorithm => "The token's signing algorithm (`alg`) is not accepted.".into(),
            Self::CriticalHeader => {
                "The token's header has critical extensions (`crit`) this API does not understand."
                    .into()
            }
            Self::MissingKeyId => "The token's header names no signing key (`kid`).".into(),
            Self::UnknownKey => "The token's signing key (`kid`) is not in the JWKS.".into(),
            Self::KeyMismatch => "The token's signing key does not fit its algorithm.".into(),
            Self::BadSignature => "The token's signature is not valid.".into(),
            Self::MalformedClaims => {
                "The token's claims are not valid JSON of the expected types.".into()
            }
            Self::MissingExpiry => "The token has no expiry (`exp`) claim.".into(),
            Self::Expired => "The token has expired.".into(),
            Self::NotYetValid => "The token is not valid yet (`nbf` is in the future).".into(),
            Self::WrongIssuer => "The token was issued by an unexpected issuer (`iss`).".into(),
            Self::WrongAudience => "The token is not meant for this API (`aud`).".into(),
            Self::NoUserId => "The token does not name its user in `sub`.".into(),
            Self::SessionBadSignature => "The session token's signature is not valid.".into(),
            Self::SessionUnsigned => {
                "The session token must be signed (`<token>.<signature>`, as `set-auth-token` gives it).".into()
            }
            Self::SessionNotFound => {
                "The session has ended or does not exist; sign in again.".into()
            }
        }
    }
}

/// Why a request may not go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No valid credential (401).
    Unauthenticated(AuthError),
    /// A valid credential for another user than the path's (403); the token's user, when known.
    Forbidden { token_user: Option<UserId> },
    /// The keys to check the credential could not be had (503); the cause is for the log.
    Unavailable(String),
}

impl From<AuthError> for Denied {
    fn from(error: AuthError) -> Self {
        Self::Unauthenticated(error)
    }
}

/// Checks the `Authorization` header against the configuration and the path's user.
pub async fn authorize(
    header: Option<&str>,
    path_user: &str,
    config: &AuthConfig,
    now: DateTime<Utc>,
) -> Result<Caller, Denied> {
    let user = match classify(header)? {
        Credential::Hs256(jwt) => {
            let hs256 = config.hs256.as_ref().ok_or(AuthError::KindNotAccepted(
                "HS256 tokens signed with the shared secret",
            ))?;
            hs256::verify(&jwt, hs256, now)?
        }
        Credential::Asymmetric(jwt) => {
            let jwks = config.jwks.as_ref().ok_or(AuthError::WrongAlgorithm)?;
            jwks::verify(&jwt, jwks, now)
                .await
                .map_err(|error| match error {
                    jwks::JwksError::Refused(error) => Denied::Unauthenticated(error),
                    jwks::JwksError::Unavailable(cause) => Denied::Unavailable(cause),
                })?
        }
        Credential::Session(signed) => {
            let sessions = config
                .session
                .as_ref()
                .ok_or(AuthError::KindNotAccepted("session tokens"))?;
            let token = session::verify(&signed, sessions)?;
            // Whose session it is, the database says; the statement requires the path's user.
            let user = UserId::parse(path_user).ok_or(Denied::Forbidden { token_user: None })?;
            return Ok(Caller::Session {
                user,
                token,
                schema: sessions.schema.clone(),
            });
        }
    };
    if user.as_str() != path_user {
        return Err(Denied::Forbidden {
            token_user: Some(user),
        });
    }
    Ok(Caller::User(user))
}

/// Sorts the credential of an `Authorization` header value by its shape.
pub fn classify(header: Option<&str>) -> Result<Credential<'_>, AuthError> {
    let header = header.ok_or(AuthError::MissingHeader)?;
    let token = bearer_token(header).ok_or(AuthError::NotBearer)?;
    match token.matches('.').count() {
        2 => {
            let jwt = Jwt::parse(token)?;
            Ok(if jwt.algorithm() == "HS256" {
                Credential::Hs256(jwt)
            } else {
                Credential::Asymmetric(jwt)
            })
        }
        // The cookie's value, which the bearer plugin hands out, may arrive percent-encoded.
        _ if token.contains('%') => {
            let decoded = percent_encoding::percent_decode_str(token)
                .decode_utf8()
                .map_err(|_| AuthError::Malformed)?;
            session_shaped(&decoded).ok_or(AuthError::Malformed)
        }
        _ => session_shaped(token).ok_or(AuthError::Malformed),
    }
}

/// One dot (signed) or none (bare); a bare token must look like one of Better Auth's
/// (letters, digits, `-` and `_`), so that no stray header text is looked up as a session.
fn session_shaped(token: &str) -> Option<Credential<'static>> {
    let shaped = match token.matches('.').count() {
        0 => token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_')),
        1 => true,
        _ => false,
    };
    shaped.then(|| Credential::Session(token.to_owned()))
}

/// Accepts the scheme name in any case, as RFC 9110 section 11.1 requires.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The claims this API reads beyond the registered time claims.
#[derive(Debug, Deserialize)]
pub struct IdentityClaims {
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

    fn is_present(&self) -> bool {
        !matches!(self, Self::None)
    }
}

/// What the claims of a verified token must say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimRules {
    /// `iss` must equal this, when set.
    pub issuer: Option<String>,
    /// `aud` must include this when set; when unset, a token that carries an `aud` is
    /// refused (it was minted for some other recipient).
    pub audience: Option<String>,
    /// Whether a token without `sub` may name its user in `user_id` or `userId`
    /// (`JWT_USER_ID_CLAIMS`). Off by default: Better Auth signs its email-verification
    /// tokens with the same secret as `{email, userId}`, and those travel in links.
    pub user_id_claims: bool,
}

/// Checks time, issuer and audience, and returns the user the token names.
pub fn check_claims(
    claims: &Claims<IdentityClaims>,
    rules: &ClaimRules,
    now: DateTime<Utc>,
) -> Result<UserId, AuthError> {
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

    let identity = &claims.custom;
    if let Some(issuer) = &rules.issuer {
        if identity.iss.as_deref() != Some(issuer.as_str()) {
            return Err(AuthError::WrongIssuer);
        }
    }
    let audience_ok = match &rules.audience {
        Some(audience) => identity.aud.contains(audience),
        None => !identity.aud.is_present(),
    };
    if !audience_ok {
        return Err(AuthError::WrongAudience);
    }

    let fallback = || {
        rules
            .user_id_claims
            .then(|| {
                identity
                    .user_id
                    .as_deref()
                    .or(identity.user_id_camel.as_deref())
            })
            .flatten()
    };
    let user = identity
        .sub
        .as_deref()
        .or_else(fallback)
        .ok_or(AuthError::NoUserId)?;
    UserId::parse(user).ok_or(AuthError::NoUserId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_sorted_by_shape_and_alg() {
        let hs = "eyJhbGciOiJIUzI1NiJ9.e30.c2ln";
        let header = format!("Bearer {hs}");
        assert!(matches!(classify(Some(&header)), Ok(Credential::Hs256(jwt)) if jwt.text() == hs));
        let ed = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.e30.c2ln";
        let header = format!("bearer {ed}");
        assert!(
            matches!(classify(Some(&header)), Ok(Credential::Asymmetric(jwt)) if jwt.text() == ed)
        );
        assert_eq!(
            classify(Some("Bearer abc123.c2lnbmF0dXJl")),
            Ok(Credential::Session("abc123.c2lnbmF0dXJl".to_owned()))
        );
        assert_eq!(
            classify(Some("Bearer abc123.c2ln%2Bbg%3D%3D")),
            Ok(Credential::Session("abc123.c2ln+bg==".to_owned())),
            "the cookie's percent-encoded form"
        );
    }

    #[test]
    fn headers_without_a_bearer_credential_are_refused() {
        assert_eq!(classify(None), Err(AuthError::MissingHeader));
        for header in ["Basic dTpw", "Bearer", "Bearer   ", "token"] {
            assert_eq!(
                classify(Some(header)),
                Err(AuthError::NotBearer),
                "{header}"
            );
        }
        assert_eq!(
            classify(Some("Bearer Jr3fGdJW5wMGyuKuSDhIrBYIDM0eiLtQ")),
            Ok(Credential::Session(
                "Jr3fGdJW5wMGyuKuSDhIrBYIDM0eiLtQ".to_owned()
            )),
            "getSession()'s bare token"
        );
        for header in [
            "Bearer no/dots+here",
            "Bearer a.b.c.d",
            "Bearer %FF.x",
            "Bearer !!.x.y",
        ] {
            assert_eq!(
                classify(Some(header)),
                Err(AuthError::Malformed),
                "{header}"
            );
        }
    }

    #[test]
    fn no_credentials_get_the_bare_challenge() {
        assert_eq!(AuthError::MissingHeader.challenge(), "Bearer");
        assert_eq!(
            AuthError::Expired.challenge(),
            r#"Bearer error="invalid_token""#
        );
    }
}
