//! Better Auth JWT-plugin tokens: asymmetric JWTs verified with the keys of a JWKS.
//!
//! The keys come from `JWKS_URL` (by default `BETTER_AUTH_URL` + `/api/auth/jwks`) or from a
//! `JWKS` setting holding the JSON. Fetched keys are cached per isolate: a token whose `kid`
//! is not cached triggers one refetch, at most every [`MIN_REFETCH_MS`], and the cache is
//! refreshed after [`CACHE_TTL_MS`]; a key gone from the JWKS stops verifying once the
//! refetch has seen it gone. When the JWKS cannot be fetched and no cached key matches, the
//! answer is 503, not 401: the token may well be fine.
//!
//! The decisions ([`KeyCache::decide`]), the JWKS parsing and the key/algorithm fit are pure
//! and unit-tested natively; the signature itself is checked by WebCrypto.

use std::cell::RefCell;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use worker::{js_sys, wasm_bindgen_futures::JsFuture};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{check_claims, webcrypto, AuthError, ClaimRules, Jwt};
use crate::domain::UserId;

#[wasm_bindgen(inline_js = r#"
export async function getText(url) {
  // A redirect is not followed: keys come from the configured URL or from nowhere.
  const response = await fetch(url, { headers: { Accept: 'application/json' }, redirect: 'manual' });
  return [response.status, response.status === 200 ? await response.text() : ''];
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = getText)]
    fn get_text(url: &str) -> js_sys::Promise;
}

/// The least time between two fetches triggered by unknown key ids, so that tokens with
/// made-up `kid`s cannot make the worker hammer the JWKS endpoint.
pub const MIN_REFETCH_MS: f64 = 5_000.0;
/// How long fetched keys are used before they are fetched again (and kept if that fails).
pub const CACHE_TTL_MS: f64 = 300_000.0;
/// The longest a JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// An asymmetric JWS algorithm this API can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Ed25519 (Better Auth's default).
    EdDSA,
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// ECDSA with P-521 and SHA-512.
    ES512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
}

impl Algorithm {
    /// Every algorithm, the default accepted set.
    pub const ALL: [Self; 5] = [
        Self::EdDSA,
        Self::ES256,
        Self::ES512,
        Self::RS256,
        Self::PS256,
    ];

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::ES512 => "ES512",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
        }
    }

    /// Parses a JOSE name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
    }

    /// The key type and curve this algorithm verifies with.
    fn key_shape(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::EdDSA => ("OKP", Some("Ed25519")),
            Self::ES256 => ("EC", Some("P-256")),
            Self::ES512 => ("EC", Some("P-521")),
            Self::RS256 | Self::PS256 => ("RSA", None),
        }
    }
}

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// Fetched from this URL.
    Url(String),
    /// The keys of the `JWKS` setting's JSON (parsed when the configuration is read), for
    /// deployments where the worker cannot fetch its own zone.
    Inline(Vec<Jwk>),
}

/// Everything JWKS verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksConfig {
    /// Where the keys come from.
    pub source: JwksSource,
    /// The accepted algorithms; a token's `alg` outside this set is refused.
    pub algorithms: Vec<Algorithm>,
    /// `iss` and `aud` to demand (by default `BETTER_AUTH_URL`'s origin, as Better Auth signs).
    pub rules: ClaimRules,
}

/// One public key of a JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    kid: String,
    kty: String,
    crv: Option<String>,
    alg: Option<String>,
    /// The public key alone, as JSON for WebCrypto's `importKey('jwk', ...)`.
    public: String,
}

impl Jwk {
    /// Whether this key may verify `algorithm`: its type and curve fit, and its own `alg`, if
    /// it names one, is the same.
    fn fits(&self, algorithm: Algorithm) -> bool {
        let (kty, crv) = algorithm.key_shape();
        self.kty == kty
            && self.crv.as_deref() == crv
            && self
                .alg
                .as_deref()
                .is_none_or(|alg| alg == algorithm.name())
    }
}

/// The usable keys of a JWKS document: those with a `kid`, meant for signatures, of a type
/// this API verifies, with the public parameters that type needs. Others are skipped. Read
/// through `serde_json::Value`, whose parser the module has anyway, rather than a parser
/// derived for this one shape.
pub fn parse_jwks(text: &str) -> Result<Vec<Jwk>, String> {
    let set: Value = serde_json::from_str(text)
        .map_err(|error| format!("the JWKS is not valid JSON: {error}"))?;
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWKS has no `keys` array")?;
    let text = |key: &Value, name: &str| key.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(keys
        .iter()
        .filter(|key| text(key, "use").is_none_or(|usage| usage == "sig"))
        .filter_map(|key| {
            let (kty, crv) = (text(key, "kty")?, text(key, "crv"));
            let (x, y, n, e) = (
                text(key, "x"),
                text(key, "y"),
                text(key, "n"),
                text(key, "e"),
            );
            let public = match (kty.as_str(), &crv, x, y, n, e) {
                ("OKP", Some(crv), Some(x), _, _, _) => json!({ "kty": "OKP", "crv": crv, "x": x }),
                ("EC", Some(crv), Some(x), Some(y), _, _) => {
                    json!({ "kty": "EC", "crv": crv, "x": x, "y": y })
                }
                ("RSA", _, _, _, Some(n), Some(e)) => json!({ "kty": "RSA", "n": n, "e": e }),
                _ => return None,
            };
            Some(Jwk {
                kid: text(key, "kid")?,
                kty,
                crv,
                alg: text(key, "alg"),
                public: public.to_string(),
            })
        })
        .collect())
}

/// The keys fetched from the JWKS URL, and when.
#[derive(Debug, Clone, Default)]
pub struct KeyCache {
    keys: Vec<Jwk>,
    /// When the cached keys were fetched; `None` before the first success.
    fetched_at_ms: Option<f64>,
    /// When the last fetch began, successful or not. Recorded as it begins, so a slow
    /// endpoint cannot let several fetches start within [`MIN_REFETCH_MS`].
    attempted_at_ms: Option<f64>,
    /// Whether that fetch is still under way (a request dropped mid-fetch leaves this set, so
    /// it counts only until the fetch's deadline has passed).
    in_flight: bool,
    /// Whether the last fetch that ended failed: until the next, an unknown key is a JWKS
    /// that cannot be had (503), not a key that does not exist (401).
    failed: bool,
}

/// What to do about a token's `kid`.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Verify with this cached key.
    Use(Jwk),
    /// Fetch the JWKS, then look again; `fallback` is the cached key to use if that fails.
    /// The fetch is recorded as begun: concurrent requests wait for it instead.
    Fetch { fallback: Option<Jwk> },
    /// Another request's fetch is under way: look again once it has ended.
    Wait,
    /// The key is unknown and a refetch was made too recently.
    Unknown,
    /// The key is unknown, and the fetch made too recently to try again failed.
    Unavailable,
}

impl KeyCache {
    /// Decides for a token naming `kid` at `now_ms`; a [`Decision::Fetch`] marks the fetch
    /// begun, so that only one request of the isolate makes it.
    pub fn decide(&mut self, kid: &str, now_ms: f64) -> Decision {
        let cached = self.find(kid);
        let since_attempt = self.attempted_at_ms.map(|attempted| now_ms - attempted);
        let attempted_recently = since_attempt.is_some_and(|elapsed| elapsed < MIN_REFETCH_MS);
        let in_flight = self.in_flight
            && since_attempt.is_some_and(|elapsed| elapsed < FETCH_TIMEOUT.as_millis() as f64);
        let stale = self
            .fetched_at_ms
            .is_none_or(|fetched| now_ms - fetched >= CACHE_TTL_MS);
        let decision = match cached {
            Some(key) if !stale || attempted_recently || in_flight => Decision::Use(key),
            Some(key) => Decision::Fetch {
                fallback: Some(key),
            },
            None if in_flight => Decision::Wait,
            None if attempted_recently && self.failed => Decision::Unavailable,
            None if attempted_recently => Decision::Unknown,
            None => Decision::Fetch { fallback: None },
        };
        if matches!(decision, Decision::Fetch { .. }) {
            self.attempted_at_ms = Some(now_ms);
            self.in_flight = true;
        }
        decision
    }

    /// Records the end of the fetch begun at `began_ms` and, when it succeeded, the keys it
    /// returned.
    pub fn record(&mut self, began_ms: f64, fetched: Option<Vec<Jwk>>) {
        self.in_flight = false;
        self.failed = fetched.is_none();
        if let Some(keys) = fetched {
            self.keys = keys;
            self.fetched_at_ms = Some(began_ms);
        }
    }

    fn find(&self, kid: &str) -> Option<Jwk> {
        self.keys.iter().find(|key| key.kid == kid).cloned()
    }
}

thread_local! {
    /// This isolate's fetched keys.
    static CACHE: RefCell<KeyCache> = RefCell::new(KeyCache::default());
}

/// Why a JWKS token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksError {
    /// The token is refused (401).
    Refused(AuthError),
    /// No key could be had to check it (503); the cause is for the log.
    Unavailable(String),
}

impl From<AuthError> for JwksError {
    fn from(error: AuthError) -> Self {
        Self::Refused(error)
    }
}

/// The parts of a token checked before its key is needed.
#[derive(Debug)]
struct Parsed<'a> {
    algorithm: Algorithm,
    kid: &'a str,
}

fn parse_token<'a>(jwt: &'a Jwt<'_>, config: &JwksConfig) -> Result<Parsed<'a>, AuthError> {
    let algorithm = Algorithm::parse(jwt.algorithm())
        .filter(|algorithm| config.algorithms.contains(algorithm))
        .ok_or(AuthError::WrongAlgorithm)?;
    jwt.refuse_critical()?;
    let kid = jwt.key_id().ok_or(AuthError::MissingKeyId)?;
    Ok(Parsed { algorithm, kid })
}

/// Verifies a JWT-plugin token and returns the user it speaks for.
pub async fn verify(
    jwt: &Jwt<'_>,
    config: &JwksConfig,
    now: DateTime<Utc>,
) -> Result<UserId, JwksError> {
    let parsed = parse_token(jwt, config)?;
    let key = match &config.source {
        JwksSource::Inline(keys) => keys
            .iter()
            .find(|key| key.kid == parsed.kid)
            .cloned()
            .ok_or(AuthError::UnknownKey)?,
        JwksSource::Url(url) => cached_or_fetched(url, parsed.kid).await?,
    };
    if !key.fits(parsed.algorithm) {
        return Err(AuthError::KeyMismatch.into());
    }
    let genuine = webcrypto::verify(
        &key.public,
        parsed.algorithm.name(),
        jwt.signing_input(),
        jwt.signature(),
    )
    .await
    .map_err(|_| AuthError::KeyMismatch)?;
    if !genuine {
        return Err(AuthError::BadSignature.into());
    }
    Ok(check_claims(&jwt.claims()?, &config.rules, now)?)
}

/// How often a request waiting on another's JWKS fetch looks again.
const WAIT_STEP: Duration = Duration::from_millis(20);

async fn cached_or_fetched(url: &str, kid: &str) -> Result<Jwk, JwksError> {
    loop {
        let now_ms = crate::runtime::js::now_millis() as f64;
        let decision = CACHE.with(|cache| cache.borrow_mut().decide(kid, now_ms));
        match decision {
            Decision::Use(key) => return Ok(key),
            Decision::Unknown => return Err(AuthError::UnknownKey.into()),
            Decision::Unavailable => {
                return Err(JwksError::Unavailable(
                    "the JWKS could not be fetched a moment ago".to_owned(),
                ))
            }
            // Waiting on this request's own timer: another request's I/O cannot resume it.
            // The fetch ends within its deadline, after which `decide` stops answering Wait.
            Decision::Wait => {
                let _ = crate::runtime::deadline::sleep(WAIT_STEP).await;
            }
            Decision::Fetch { fallback } => {
                let fetched = fetch(url).await;
                let found = CACHE.with(|cache| {
                    let mut cache = cache.borrow_mut();
                    cache.record(now_ms, fetched.as_ref().ok().cloned());
                    cache.find(kid)
                });
                return match (fetched, found, fallback) {
                    (Ok(_), Some(key), _) => Ok(key),
                    (Ok(_), None, _) => Err(AuthError::UnknownKey.into()),
                    // The JWKS is down: a key cached before keeps working.
                    (Err(_), _, Some(key)) => Ok(key),
                    (Err(cause), _, None) => Err(JwksError::Unavailable(cause)),
                };
            }
        }
    }
}

/// Fetches and parses the JWKS; the error is a cause for the log.
async fn fetch(url: &str) -> Result<Vec<Jwk>, String> {
    let request = async {
        // The URL is parsed by the runtime, and the request made in one call: worker's
        // Request and the url crate would add their own code to the module for one GET.
        let answer = JsFuture::from(get_text(url)).await.map_err(|error| {
            format!(
                "fetching the JWKS: {}",
                crate::runtime::js::error_message(&error, "unknown error")
            )
        })?;
        let (status, text) = crate::runtime::js::status_and_payload(answer);
        if status != 200 {
            return Err(format!("the JWKS endpoint answered HTTP {status}"));
        }
        parse_jwks(&text.as_string().unwrap_or_default())
    };
    crate::runtime::deadline::within(FETCH_TIMEOUT, request)
        .await
        .unwrap_or_else(|| {
            Err(format!(
                "the JWKS endpoint did not answer within {} s",
                FETCH_TIMEOUT.as_secs()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BETTER_AUTH_JWKS: &str = r#"{"keys":[
        {"crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kty":"OKP","kid":"ed-1","alg":"EdDSA"},
        {"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"ec-1","use":"sig"},
        {"kty":"RSA","n":"0vx7","e":"AQAB","kid":"rsa-1"},
        {"kty":"RSA","n":"0vx7","e":"AQAB","kid":"enc-1","use":"enc"},
        {"kty":"oct","k":"c2VjcmV0","kid":"hmac-1"},
        {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    ]}"#;

    fn keys() -> Vec<Jwk> {
        parse_jwks(BETTER_AUTH_JWKS).unwrap()
    }

    fn key(kid: &str) -> Jwk {
        keys().into_iter().find(|key| key.kid == kid).unwrap()
    }

    #[test]
    fn usable_signing_keys_are_parsed_down_to_their_public_parameters() {
        let kids: Vec<String> = keys().into_iter().map(|key| key.kid).collect();
        assert_eq!(
            kids,
            ["ed-1", "ec-1", "rsa-1"],
            "no encryption, symmetric or kid-less keys"
        );
        let ed: serde_json::Value = serde_json::from_str(&key("ed-1").public).unwrap();
        assert_eq!(
            ed,
            json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
        );
        assert!(parse_jwks("not json").is_err());
        assert!(parse_jwks(r#"{"keys": "none"}"#).is_err());
    }

    #[test]
    fn a_key_verifies_only_the_algorithms_its_type_and_alg_allow() {
        assert!(key("ed-1").fits(Algorithm::EdDSA));
        assert!(!key("ed-1").fits(Algorithm::ES256));
        assert!(key("ec-1").fits(Algorithm::ES256));
        assert!(!key("ec-1").fits(Algorithm::ES512), "P-256 is not P-521");
        assert!(key("rsa-1").fits(Algorithm::RS256) && key("rsa-1").fits(Algorithm::PS256));
        let mut pinned = key("rsa-1");
        pinned.alg = Some("RS256".to_owned());
        assert!(!pinned.fits(Algorithm::PS256), "a key's own alg wins");
    }

    fn parsed(token: &str) -> Jwt<'_> {
        Jwt::parse(token).unwrap()
    }

    fn token(header: &str) -> String {
        format!(
            "{}.e30.c2ln",
            crate::runtime::base64::url_encode(header.as_bytes())
        )
    }

    fn config(algorithms: Vec<Algorithm>) -> JwksConfig {
        JwksConfig {
            source: JwksSource::Inline(keys()),
            algorithms,
            rules: ClaimRules::default(),
        }
    }

    #[test]
    fn the_accepted_algorithms_come_from_configuration_not_the_token() {
        let ed = token(r#"{"alg":"EdDSA","kid":"ed-1"}"#);
        assert!(parse_token(&parsed(&ed), &config(Algorithm::ALL.to_vec())).is_ok());
        assert_eq!(
            parse_token(&parsed(&ed), &config(vec![Algorithm::RS256])).err(),
            Some(AuthError::WrongAlgorithm)
        );
        for header in [
            r#"{"alg":"none","kid":"ed-1"}"#,
            r#"{"alg":"HS256","kid":"ed-1"}"#,
        ] {
            assert_eq!(
                parse_token(&parsed(&token(header)), &config(Algorithm::ALL.to_vec())).err(),
                Some(AuthError::WrongAlgorithm),
                "{header}"
            );
        }
        assert_eq!(
            parse_token(
                &parsed(&token(r#"{"alg":"EdDSA"}"#)),
                &config(Algorithm::ALL.to_vec())
            )
            .err(),
            Some(AuthError::MissingKeyId)
        );
        assert_eq!(
            parse_token(
                &parsed(&token(r#"{"alg":"EdDSA","kid":"ed-1","crit":["b64"]}"#)),
                &config(Algorithm::ALL.to_vec())
            )
            .err(),
            Some(AuthError::CriticalHeader)
        );
    }

    #[test]
    fn the_first_token_fetches_then_known_keys_come_from_the_cache() {
        let mut cache = KeyCache::default();
        assert_eq!(
            cache.decide("ed-1", 0.0),
            Decision::Fetch { fallback: None }
        );
        cache.record(0.0, Some(keys()));
        assert_eq!(cache.decide("ed-1", 1.0), Decision::Use(key("ed-1")));
    }

    /// A fetch begun at `at` that returned `keys`.
    fn fetched(cache: &mut KeyCache, at: f64, keys: Option<Vec<Jwk>>) {
        assert!(matches!(cache.decide("any", at), Decision::Fetch { .. }));
        cache.record(at, keys);
    }

    #[test]
    fn an_unknown_kid_refetches_at_most_every_few_seconds() {
        let mut cache = KeyCache::default();
        fetched(&mut cache, 0.0, Some(keys()));
        assert_eq!(cache.decide("rotated-in", 1_000.0), Decision::Unknown);
        assert_eq!(
            cache.decide("rotated-in", MIN_REFETCH_MS),
            Decision::Fetch { fallback: None }
        );
    }

    #[test]
    fn requests_during_a_fetch_wait_for_it_and_a_slow_fetch_still_counts_from_its_start() {
        let mut cache = KeyCache::default();
        assert_eq!(
            cache.decide("ed-1", 0.0),
            Decision::Fetch { fallback: None }
        );
        assert_eq!(cache.decide("ed-1", 1.0), Decision::Wait);
        assert_eq!(cache.decide("made-up", 2_000.0), Decision::Wait);
        // The fetch took six seconds: a made-up kid right after it fetches again only once.
        cache.record(0.0, Some(keys()));
        assert_eq!(cache.decide("ed-1", 6_000.0), Decision::Use(key("ed-1")));
        assert_eq!(
            cache.decide("made-up", 6_000.0),
            Decision::Fetch { fallback: None }
        );
        assert_eq!(cache.decide("made-up-too", 6_001.0), Decision::Wait);
        assert_eq!(
            cache.decide("ed-1", 6_001.0),
            Decision::Use(key("ed-1")),
            "a cached key needs no wait"
        );
    }

    #[test]
    fn while_the_jwks_is_down_an_unknown_key_is_unavailable_not_refused() {
        let mut cache = KeyCache::default();
        let _ = cache.decide("ed-1", 0.0);
        assert_eq!(cache.decide("ed-1", 1.0), Decision::Wait);
        cache.record(0.0, None);
        assert_eq!(cache.decide("ed-1", 2.0), Decision::Unavailable);
        fetched(&mut cache, MIN_REFETCH_MS, Some(keys()));
        assert_eq!(
            cache.decide("made-up", MIN_REFETCH_MS + 1.0),
            Decision::Unknown
        );
    }

    #[test]
    fn a_fetch_abandoned_mid_way_stops_holding_others_at_its_deadline() {
        let mut cache = KeyCache::default();
        let _ = cache.decide("ed-1", 0.0);
        let deadline = FETCH_TIMEOUT.as_millis() as f64;
        assert_eq!(cache.decide("ed-1", deadline - 1.0), Decision::Wait);
        assert_eq!(
            cache.decide("ed-1", deadline),
            Decision::Fetch { fallback: None }
        );
    }

    #[test]
    fn a_key_removed_from_the_jwks_is_gone_after_the_refetch() {
        let mut cache = KeyCache::default();
        fetched(&mut cache, 0.0, Some(keys()));
        let without_ed: Vec<Jwk> = keys().into_iter().filter(|key| key.kid != "ed-1").collect();
        fetched(&mut cache, CACHE_TTL_MS, Some(without_ed));
        assert_eq!(cache.decide("ed-1", CACHE_TTL_MS + 1.0), Decision::Unknown);
    }

    #[test]
    fn stale_keys_are_refreshed_but_kept_when_the_jwks_is_down() {
        let mut cache = KeyCache::default();
        cache.record(0.0, Some(keys()));
        assert_eq!(
            cache.decide("ed-1", CACHE_TTL_MS),
            Decision::Fetch {
                fallback: Some(key("ed-1"))
            }
        );
        cache.record(CACHE_TTL_MS, None);
        assert_eq!(
            cache.decide("ed-1", CACHE_TTL_MS + 1.0),
            Decision::Use(key("ed-1")),
            "a failed refresh is not retried at once; the cached key stays in use"
        );
    }
}
