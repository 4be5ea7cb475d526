//! HS256 JWTs signed with `BETTER_AUTH_SECRET`: the tokens an app mints itself from its Better
//! Auth session (README, "From a Next.js app").
//!
//! Verification is pure (the clock is a parameter), so every rejection path is unit-tested
//! natively. Hardened beyond the signature: the header may not carry `crit`, and a token that
//! names an audience is refused unless `JWT_AUDIENCE` is set and matches, so a token the
//! secret signed for something else does not open this API.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{check_claims, AuthError, ClaimRules, Jwt};
use crate::domain::UserId;

/// The only algorithm this path accepts. Naming it here, rather than trusting the token's
/// header, is what stops `alg: none` and algorithm-confusion attacks.
const ALGORITHM: &str = "HS256";

/// The shared secret and the claims to demand.
pub struct Hs256Config {
    /// HMAC-SHA256 keyed with the secret, cloned for each token: keying costs two SHA-256
    /// compressions, which every token's check (about seven in all) would otherwise repeat.
    keyed: Hmac<Sha256>,
    rules: ClaimRules,
}

impl Hs256Config {
    /// Uses the secret's UTF-8 bytes as the HMAC key, as Better Auth does.
    pub fn new(secret: &str, rules: ClaimRules) -> Self {
        Self {
            keyed: <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes any key"),
            rules,
        }
    }
}

/// Verifies an HS256 token and returns the user it speaks for. The signature is checked
/// (in constant time) before anything of the payload is read: a forged token costs one HMAC
/// and no JSON.
pub fn verify(
    jwt: &Jwt<'_>,
    config: &Hs256Config,
    now: DateTime<Utc>,
) -> Result<UserId, AuthError> {
    if jwt.algorithm() != ALGORITHM {
        return Err(AuthError::WrongAlgorithm);
    }
    jwt.refuse_critical()?;
    let mut mac = config.keyed.clone();
    mac.update(jwt.signing_input());
    mac.verify_slice(jwt.signature())
        .map_err(|_| AuthError::BadSignature)?;
    let claims = jwt.claims()?;
    check_claims(&claims, &config.rules, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::CLOCK_LEEWAY_SECONDS;
    use jwt_compact::{
        alg::{Hs256, Hs256Key, Hs384},
        AlgorithmExt, Claims, Header,
    };
    use serde_json::{json, Value};

    const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

    fn config() -> Hs256Config {
        Hs256Config::new(SECRET, ClaimRules::default())
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
        super::verify(&Jwt::parse(token)?, &config(), now())
    }

    /// Base64url without padding, as JWT segments are encoded.
    fn b64(bytes: &[u8]) -> String {
        crate::runtime::base64::url_encode(bytes)
    }

    #[test]
    fn a_valid_token_yields_its_subject() {
        let user = verify(&sign(valid_claims(), SECRET)).unwrap();
        assert_eq!(user.as_str(), "user-1");
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for token in ["abc", "a.b", "!!.??.##"] {
            assert_eq!(verify(token), Err(AuthError::Malformed), "token {token:?}");
        }
    }

    #[test]
    fn a_token_signed_with_another_secret_is_rejected() {
        let token = sign(valid_claims(), "another-secret-that-is-also-long-enough");
        assert_eq!(verify(&token), Err(AuthError::BadSignature));
    }

    #[test]
    fn a_forged_signature_is_refused_before_its_payload_is_read() {
        let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = b64(b"not json at all");
        let forged = format!("{header}.{payload}.{}", b64(&[7; 32]));
        assert_eq!(verify(&forged), Err(AuthError::BadSignature));
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
    fn user_id_claims_name_the_user_only_where_allowed() {
        let exp = now().timestamp() + 60;
        // Better Auth's email-verification token, as its sign-up mails it.
        let verification = sign(
            json!({ "email": "a@example.com", "userId": "u1", "iat": exp - 60, "exp": exp }),
            SECRET,
        );
        assert_eq!(verify(&verification), Err(AuthError::NoUserId));
        let allowing = Hs256Config::new(
            SECRET,
            ClaimRules {
                user_id_claims: true,
                ..ClaimRules::default()
            },
        );
        for claims in [
            json!({ "userId": "u1", "exp": exp }),
            json!({ "user_id": "u1", "exp": exp }),
        ] {
            let token = sign(claims, SECRET);
            let user = super::verify(&Jwt::parse(&token).unwrap(), &allowing, now()).unwrap();
            assert_eq!(user.as_str(), "u1");
        }
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured_and_an_audience_needs_one() {
        let exp = now().timestamp() + 60;
        let token = sign(
            json!({ "sub": "u", "exp": exp, "iss": "https://app", "aud": ["api", "web"] }),
            SECRET,
        );
        let check = |issuer: Option<&str>, audience: Option<&str>| {
            let rules = ClaimRules {
                issuer: issuer.map(str::to_owned),
                audience: audience.map(str::to_owned),
                user_id_claims: false,
            };
            super::verify(
                &Jwt::parse(&token).unwrap(),
                &Hs256Config::new(SECRET, rules),
                now(),
            )
            .map(|_| ())
        };
        assert_eq!(check(Some("https://app"), Some("api")), Ok(()));
        assert_eq!(check(None, Some("web")), Ok(()));
        assert_eq!(
            check(Some("https://other"), Some("api")),
            Err(AuthError::WrongIssuer)
        );
        assert_eq!(check(None, Some("admin")), Err(AuthError::WrongAudience));
        assert_eq!(
            check(None, None),
            Err(AuthError::WrongAudience),
            "a token minted for some audience does not open an API that expects none"
        );
        let no_audience = sign(json!({ "sub": "u", "exp": exp }), SECRET);
        assert!(super::verify(&Jwt::parse(&no_audience).unwrap(), &config(), now()).is_ok());
    }

    #[test]
    fn a_header_with_critical_extensions_is_refused() {
        let header = b64(br#"{"alg":"HS256","crit":["exp"],"exp":1}"#);
        let claims = b64(valid_claims().to_string().as_bytes());
        let signing_input = format!("{header}.{claims}");
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(signing_input.as_bytes());
        let token = format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()));
        assert_eq!(verify(&token), Err(AuthError::CriticalHeader));
    }
}
