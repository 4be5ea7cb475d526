//! Configuration, read from the worker's bindings once per isolate into one typed value.
//!
//! Parsing goes through a lookup function so that every rule is unit-tested natively; a
//! missing or invalid setting is an error that names the setting, never a panic.

use std::{cell::OnceCell, rc::Rc};

use worker::Env;

use crate::{
    auth::{
        hs256::Hs256Config,
        jwks::{parse_jwks, Algorithm, JwksSource},
        session::SessionConfig,
        AuthConfig, ClaimRules, JwksConfig, SessionSchema,
    },
    cors::{AllowedOrigins, Cors},
    cursor::CursorKey,
    runtime::net::{http_host, is_loopback},
    store::{postgres::url::ConnectionUrl, DatabaseConfig, Redacted},
};

/// Name of the Hyperdrive binding in wrangler.toml.
pub const HYPERDRIVE_BINDING: &str = "HYPERDRIVE";

/// Shortest accepted `BETTER_AUTH_SECRET`. Better Auth asks for at least 32 characters; an
/// HMAC key shorter than that is within reach of offline guessing.
pub const MIN_SECRET_BYTES: usize = 32;

/// The secret `.dev.vars.example` publishes for local use; a production deployment that
/// kept it would accept tokens anyone can sign.
pub const DEVELOPMENT_SECRET: &str = "dev-only-secret-change-me-0123456789abcdef";

/// Everything a request needs to know about its deployment.
#[derive(Debug)]
pub struct Config {
    /// Token verification settings.
    pub auth: AuthConfig,
    /// The CORS policy.
    pub cors: Cors,
    /// How to reach PostgreSQL.
    pub database: DatabaseConfig,
    /// Signs list cursors (derived from `BETTER_AUTH_SECRET`).
    pub cursor_key: CursorKey,
    /// The rate limits' bindings and period.
    pub limits: Limits,
    /// The most tasks one user may have (`TASK_QUOTA`).
    pub task_quota: u32,
}

/// The Rate Limiting bindings of wrangler.toml and the period they were declared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Keyed on a verified user, or on the client address of a session token's request.
    pub requests: &'static str,
    /// Keyed on the client address: failed authentications and `/ready`.
    pub client: &'static str,
    /// The bindings' `period`, in seconds (`RATE_LIMIT_PERIOD`): a 429's `Retry-After`.
    pub period_seconds: u32,
}

/// The binding that limits each user's requests.
pub const USER_RATE_LIMITER: &str = "USER_RATE_LIMITER";
/// The binding that limits each client address's failed authentications and `/ready`.
pub const CLIENT_RATE_LIMITER: &str = "CLIENT_RATE_LIMITER";
/// The default task quota per user.
pub const DEFAULT_TASK_QUOTA: u32 = 100_000;

/// A setting that is missing or invalid. The message names the setting and goes to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

thread_local! {
    /// The isolate's configuration, read on its first request.
    static LOADED: OnceCell<Rc<Result<Config, ConfigError>>> = const { OnceCell::new() };
}

impl Config {
    /// The configuration of this isolate: read from the environment on its first request and
    /// kept. Bindings cannot change under a running isolate (a new secret or variable is a new
    /// deployment, served by new isolates), so reading them again per request would only
    /// repeat the work: some 20 binding lookups, the cursor key's derivation, the JWKS parse.
    pub fn for_isolate(env: &Env) -> Rc<Result<Self, ConfigError>> {
        LOADED.with(|loaded| loaded.get_or_init(|| Rc::new(Self::load(env))).clone())
    }

    /// Reads the configuration from the worker's environment.
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        let hyperdrive_bound = env.hyperdrive(HYPERDRIVE_BINDING).is_ok();
        Self::from_lookup(|name| text_binding(env, name), hyperdrive_bound)
    }

    /// Builds the configuration from a lookup of text settings; empty values count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        hyperdrive_bound: bool,
    ) -> Result<Self, ConfigError> {
        let setting = |name: &str| non_empty(lookup(name));

        let secret = setting("BETTER_AUTH_SECRET").ok_or_else(|| {
            ConfigError("BETTER_AUTH_SECRET is not set (use `wrangler secret put BETTER_AUTH_SECRET`, or .dev.vars locally)".to_owned())
        })?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "BETTER_AUTH_SECRET is shorter than {MIN_SECRET_BYTES} bytes"
            )));
        }
        let production = setting("ENVIRONMENT").as_deref() == Some("production");
        if production && secret == DEVELOPMENT_SECRET {
            return Err(ConfigError(
                "BETTER_AUTH_SECRET is the public development secret of .dev.vars.example but ENVIRONMENT is production; set your own with `wrangler secret put BETTER_AUTH_SECRET`".to_owned(),
            ));
        }
        if production {
            for name in ["BETTER_AUTH_URL", "JWKS_URL"] {
                if let Some(url) = setting(name) {
                    refuse_plain_http(name, &url)?;
                }
            }
        }
        let auth = auth_config(&secret, &setting)?;

        let cors = cors_config(&setting)?;
        let database = database_config(&setting, hyperdrive_bound)?;

        Ok(Self {
            auth,
            cors,
            database,
            cursor_key: CursorKey::derive(&secret),
            limits: Limits {
                requests: USER_RATE_LIMITER,
                client: CLIENT_RATE_LIMITER,
                period_seconds: match setting("RATE_LIMIT_PERIOD").as_deref() {
                    None | Some("60") => 60,
                    Some("10") => 10,
                    Some(_) => return Err(ConfigError(
                        "RATE_LIMIT_PERIOD must be 10 or 60, the rate limiting binding's period"
                            .to_owned(),
                    )),
                },
            },
            task_quota: match setting("TASK_QUOTA") {
                None => DEFAULT_TASK_QUOTA,
                Some(text) => text
                    .parse()
                    .ok()
                    .filter(|quota| *quota > 0)
                    .ok_or_else(|| {
                        ConfigError(
                            "TASK_QUOTA must be a whole number of tasks, at least 1".to_owned(),
                        )
                    })?,
            },
        })
    }
}

/// The credential kinds and how to check each.
///
/// - `AUTH_CREDENTIALS`: a comma-separated subset of `hs256`, `jwks`, `session`; by default
///   all three when `BETTER_AUTH_URL` (or a JWKS setting) is set, else `hs256` alone.
/// - JWKS tokens: keys from `JWKS` (JSON), else `JWKS_URL`, else `BETTER_AUTH_URL` +
///   `/api/auth/jwks`; algorithms from `JWT_ALGORITHMS` (default all five); `iss` and `aud`
///   from `JWT_ISSUER`/`JWT_AUDIENCE`, by default `BETTER_AUTH_URL`'s origin.
/// - HS256 tokens: `iss`/`aud` checked against `JWT_ISSUER`/`JWT_AUDIENCE` when set.
/// - Every JWT names its user in `sub`; `JWT_USER_ID_CLAIMS=true` also accepts `user_id` or
///   `userId` when `sub` is absent.
/// - Session tokens, signed or bare (`BETTER_AUTH_REQUIRE_SIGNATURE=true` refuses bare ones):
///   Better Auth's table `BETTER_AUTH_SESSION_TABLE` (default `session`) with
///   columns `BETTER_AUTH_SESSION_COLUMNS` (default `token,userId,expiresAt`).
fn auth_config(
    secret: &str,
    setting: &impl Fn(&str) -> Option<String>,
) -> Result<AuthConfig, ConfigError> {
    let base_url = setting("BETTER_AUTH_URL");
    let origin = base_url.as_deref().map(origin_of).transpose()?;
    let jwks_source = match (setting("JWKS"), setting("JWKS_URL"), &base_url) {
        (Some(json), _, _) => Some(JwksSource::Inline(
            parse_jwks(&json).map_err(|error| ConfigError(format!("JWKS: {error}")))?,
        )),
        (None, Some(url), _) => Some(JwksSource::Url(url)),
        (None, None, Some(base)) => Some(JwksSource::Url(format!(
            "{}/api/auth/jwks",
            base.trim_end_matches('/')
        ))),
        (None, None, None) => None,
    };

    let kinds: Vec<String> = match setting("AUTH_CREDENTIALS") {
        Some(list) => list.split(',').map(|kind| kind.trim().to_owned()).collect(),
        None if jwks_source.is_some() => vec!["hs256".into(), "jwks".into(), "session".into()],
        None => vec!["hs256".into()],
    };
    if let Some(unknown) = kinds
        .iter()
        .find(|kind| !matches!(kind.as_str(), "hs256" | "jwks" | "session"))
    {
        return Err(ConfigError(format!(
            "AUTH_CREDENTIALS has `{unknown}`; expected a list of hs256, jwks, session"
        )));
    }
    let accepts = |kind: &str| kinds.iter().any(|accepted| accepted == kind);

    let user_id_claims = flag(setting, "JWT_USER_ID_CLAIMS")?;
    let hs256 = accepts("hs256").then(|| {
        Hs256Config::new(
            secret,
            ClaimRules {
                issuer: setting("JWT_ISSUER"),
                audience: setting("JWT_AUDIENCE"),
                user_id_claims,
            },
        )
    });
    let jwks = match (accepts("jwks"), jwks_source) {
        (false, _) => None,
        (true, None) => {
            return Err(ConfigError(
                "AUTH_CREDENTIALS has jwks but no key source is set: set BETTER_AUTH_URL, JWKS_URL or JWKS".to_owned(),
            ))
        }
        (true, Some(source)) => Some(JwksConfig {
            source,
            algorithms: algorithms(setting("JWT_ALGORITHMS"))?,
            rules: ClaimRules {
                issuer: setting("JWT_ISSUER").or_else(|| origin.clone()),
                audience: setting("JWT_AUDIENCE").or_else(|| origin.clone()),
                user_id_claims,
            },
        }),
    };
    let session = if accepts("session") {
        let table = setting("BETTER_AUTH_SESSION_TABLE").unwrap_or_else(|| "session".to_owned());
        let columns = setting("BETTER_AUTH_SESSION_COLUMNS")
            .unwrap_or_else(|| "token,userId,expiresAt".to_owned());
        let schema = SessionSchema::new(&table, &columns).map_err(|reason| {
            ConfigError(format!(
                "BETTER_AUTH_SESSION_TABLE/BETTER_AUTH_SESSION_COLUMNS: {reason}"
            ))
        })?;
        Some(SessionConfig::new(
            secret,
            schema,
            flag(setting, "BETTER_AUTH_REQUIRE_SIGNATURE")?,
        ))
    } else {
        None
    };
    Ok(AuthConfig {
        hs256,
        jwks,
        session,
    })
}

/// `scheme://host[:port]` of an http(s) URL: what Better Auth puts in `iss` and `aud`.
fn origin_of(url: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError("BETTER_AUTH_URL must be an http:// or https:// URL".to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    if !matches!(scheme, "http" | "https") {
        return Err(invalid());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(invalid());
    }
    Ok(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

fn algorithms(list: Option<String>) -> Result<Vec<Algorithm>, ConfigError> {
    match list {
        None => Ok(Algorithm::ALL.to_vec()),
        Some(list) => list
            .split(',')
            .map(|name| {
                Algorithm::parse(name.trim()).ok_or_else(|| {
                    ConfigError(format!(
                        "JWT_ALGORITHMS has `{}`; expected EdDSA, ES256, ES512, RS256, PS256",
                        name.trim()
                    ))
                })
            })
            .collect(),
    }
}

/// Chooses the transport: `DB_TRANSPORT` when set; otherwise Hyperdrive when bound, else the
/// Neon HTTP endpoint when `DATABASE_URL` is set.
fn database_config(
    setting: &impl Fn(&str) -> Option<String>,
    hyperdrive_bound: bool,
) -> Result<DatabaseConfig, ConfigError> {
    let hyperdrive = || {
        if hyperdrive_bound {
            Ok(DatabaseConfig::Hyperdrive {
                binding: HYPERDRIVE_BINDING,
                // The binding's socket is routed by the runtime to Hyperdrive on the same
                // machine (its connection string says sslmode=disable, and its password is
                // made up per isolate), so whatever password method Hyperdrive asks for is
                // answered there unless the deployment opts out.
                allow_password_without_tls: flag_or(
                    setting,
                    "DB_ALLOW_PASSWORD_WITHOUT_TLS",
                    true,
                )?,
            })
        } else {
            Err(ConfigError(format!(
                "DB_TRANSPORT is hyperdrive but no Hyperdrive binding named `{HYPERDRIVE_BINDING}` exists"
            )))
        }
    };
    let neon_http = || {
        let url = setting("DATABASE_URL").ok_or_else(|| {
            ConfigError("DB_TRANSPORT is neon-http but DATABASE_URL is not set (use `wrangler secret put DATABASE_URL`)".to_owned())
        })?;
        let endpoint = match setting("NEON_HTTP_ENDPOINT") {
            Some(endpoint) => checked_endpoint(endpoint)?,
            None => neon_endpoint_for_host(&connection_host(&url)?)?,
        };
        Ok(DatabaseConfig::NeonHttp {
            endpoint,
            connection_string: Redacted::new(url),
        })
    };
    match setting("DB_TRANSPORT").as_deref() {
        Some("hyperdrive") => hyperdrive(),
        Some("neon-http") => neon_http(),
        Some(other) => Err(ConfigError(format!(
            "DB_TRANSPORT is `{other}`; expected hyperdrive or neon-http"
        ))),
        None if hyperdrive_bound => hyperdrive(),
        None if setting("DATABASE_URL").is_some() => neon_http(),
        None => Err(ConfigError(format!(
            "no database is configured: bind Hyperdrive as `{HYPERDRIVE_BINDING}` in wrangler.toml, or set DATABASE_URL for Neon's HTTP endpoint"
        ))),
    }
}

/// The host of a `postgres://` or `postgresql://` URL. Errors never include the URL, which
/// carries a password.
fn connection_host(url: &str) -> Result<String, ConfigError> {
    ConnectionUrl::parse(url)
        .map(|url| url.host)
        .map_err(|error| ConfigError(format!("DATABASE_URL cannot be read: {}", error.0)))
}

/// The endpoint Neon's driver derives from a Neon host: its first DNS label replaced by `api`,
/// e.g. `ep-x-1.us-east-2.aws.neon.tech` → `https://api.us-east-2.aws.neon.tech/sql`. Only for
/// Neon's own domain: the connection string, password included, travels to this endpoint, so
/// it is never derived for a host whose parent domain might belong to someone else.
fn neon_endpoint_for_host(host: &str) -> Result<String, ConfigError> {
    let host = host.to_ascii_lowercase();
    match host.split_once('.') {
        Some((_, region)) if region.ends_with(".neon.tech") => {
            Ok(format!("https://api.{region}/sql"))
        }
        _ => Err(ConfigError(
            "NEON_HTTP_ENDPOINT is not set and DATABASE_URL's host is not a Neon host (*.neon.tech); set NEON_HTTP_ENDPOINT to your SQL-over-HTTP endpoint".to_owned(),
        )),
    }
}

/// `NEON_HTTP_ENDPOINT` must be https, except to a loopback address (the local stand-in): the
/// request carries the connection string with its password.
fn checked_endpoint(endpoint: String) -> Result<String, ConfigError> {
    if https_or_loopback(&endpoint) {
        Ok(endpoint)
    } else {
        Err(ConfigError(
            "NEON_HTTP_ENDPOINT must be an https:// URL (plain http is accepted only to a loopback host: 127.x.x.x, localhost or [::1], without userinfo)".to_owned(),
        ))
    }
}

/// Whether a URL is https, or plain http to a loopback host (read from its authority).
fn https_or_loopback(url: &str) -> bool {
    url.starts_with("https://") || http_host(url).is_some_and(is_loopback)
}

/// A boolean setting: `true` or `false`, absent meaning false.
fn flag(setting: &impl Fn(&str) -> Option<String>, name: &str) -> Result<bool, ConfigError> {
    flag_or(setting, name, false)
}

/// A boolean setting: `true` or `false`, absent meaning `default`.
fn flag_or(
    setting: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match setting(name).as_deref() {
        None => Ok(default),
        Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ConfigError(format!("{name} must be true or false"))),
    }
}

/// In production, a URL keys are fetched from must be https (or loopback, for a local
/// stand-in): over plain http, anyone on the path could serve their own keys.
fn refuse_plain_http(name: &str, url: &str) -> Result<(), ConfigError> {
    if https_or_loopback(url) {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{name} must be an https:// URL when ENVIRONMENT is production"
        )))
    }
}

/// `ALLOWED_ORIGINS` and `CORS_ALLOW_CREDENTIALS`. `*` is for development: with
/// `ENVIRONMENT=production` it is a misconfiguration, since it lets any site read the API's
/// answers for whoever holds a token.
fn cors_config(setting: &impl Fn(&str) -> Option<String>) -> Result<Cors, ConfigError> {
    let origins = AllowedOrigins::parse(&setting("ALLOWED_ORIGINS").unwrap_or_default());
    if origins == AllowedOrigins::Any && setting("ENVIRONMENT").as_deref() == Some("production") {
        return Err(ConfigError(
            "ALLOWED_ORIGINS is `*` but ENVIRONMENT is production; list your frontend's origins"
                .to_owned(),
        ));
    }
    Ok(Cors {
        origins,
        allow_credentials: flag(setting, "CORS_ALLOW_CREDENTIALS")?,
    })
}

/// The CORS policy alone, for answering with CORS headers when the rest of the configuration
/// is invalid; a CORS setting that is itself invalid allows no origin.
pub fn cors(env: &Env) -> Cors {
    let setting = |name: &str| non_empty(text_binding(env, name));
    cors_config(&setting).unwrap_or_else(|_| Cors::deny_all())
}

/// A setting's trimmed value; an empty one counts as unset.
fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// A text binding: a `[vars]` entry or a secret; both are strings to the worker.
fn text_binding(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|value| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn load(settings: &[(&str, &str)], hyperdrive_bound: bool) -> Result<Config, ConfigError> {
        let settings: HashMap<String, String> = settings
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Config::from_lookup(|name| settings.get(name).cloned(), hyperdrive_bound)
    }

    #[test]
    fn a_minimal_configuration_uses_hyperdrive_and_allows_no_origins() {
        let config = load(&[("BETTER_AUTH_SECRET", SECRET)], true).unwrap();
        assert_eq!(
            config.database,
            DatabaseConfig::Hyperdrive {
                binding: "HYPERDRIVE",
                allow_password_without_tls: true,
            }
        );
        assert_eq!(config.cors, Cors::deny_all());
    }

    #[test]
    fn production_refuses_the_development_secret_and_plain_http_key_sources() {
        let example = include_str!("../.dev.vars.example");
        assert!(
            example.contains(&format!("BETTER_AUTH_SECRET={DEVELOPMENT_SECRET}\n")),
            "the constant is .dev.vars.example's secret"
        );
        let production = ("ENVIRONMENT", "production");
        let error = load(
            &[("BETTER_AUTH_SECRET", DEVELOPMENT_SECRET), production],
            true,
        )
        .unwrap_err();
        assert!(error.0.contains("public development secret"), "{}", error.0);
        assert!(load(&[("BETTER_AUTH_SECRET", DEVELOPMENT_SECRET)], true).is_ok());
        for name in ["BETTER_AUTH_URL", "JWKS_URL"] {
            let plain = load(
                &[
                    ("BETTER_AUTH_SECRET", SECRET),
                    production,
                    (name, "http://auth.example.com"),
                ],
                true,
            )
            .unwrap_err();
            assert!(plain.0.starts_with(name), "{}", plain.0);
            for fine in ["https://auth.example.com", "http://127.0.0.1:3000"] {
                assert!(
                    load(
                        &[("BETTER_AUTH_SECRET", SECRET), production, (name, fine)],
                        true
                    )
                    .is_ok(),
                    "{name}={fine}"
                );
            }
        }
    }

    #[test]
    fn a_missing_or_blank_secret_is_named() {
        for settings in [&[][..], &[("BETTER_AUTH_SECRET", "   ")]] {
            let error = load(settings, true).unwrap_err();
            assert!(
                error.0.starts_with("BETTER_AUTH_SECRET is not set"),
                "{}",
                error.0
            );
        }
    }

    #[test]
    fn a_short_secret_is_refused() {
        let error = load(&[("BETTER_AUTH_SECRET", "short")], true).unwrap_err();
        assert!(error.0.contains("shorter than 32 bytes"));
    }

    #[test]
    fn no_database_at_all_names_both_options() {
        let error = load(&[("BETTER_AUTH_SECRET", SECRET)], false).unwrap_err();
        assert!(error.0.contains("HYPERDRIVE") && error.0.contains("DATABASE_URL"));
    }

    const NEON_URL: &str = "postgres://alice:s3cret@ep-cool-1.us-east-2.aws.neon.tech/neondb";

    fn database(
        settings: &[(&str, &str)],
        hyperdrive_bound: bool,
    ) -> Result<DatabaseConfig, ConfigError> {
        let mut all = vec![("BETTER_AUTH_SECRET", SECRET)];
        all.extend_from_slice(settings);
        load(&all, hyperdrive_bound).map(|config| config.database)
    }

    #[test]
    fn database_url_alone_selects_neon_http_with_the_derived_endpoint() {
        assert_eq!(
            database(&[("DATABASE_URL", NEON_URL)], false).unwrap(),
            DatabaseConfig::NeonHttp {
                endpoint: "https://api.us-east-2.aws.neon.tech/sql".to_owned(),
                connection_string: Redacted::new(NEON_URL.to_owned()),
            }
        );
    }

    #[test]
    fn hyperdrive_wins_when_both_are_configured_unless_overridden() {
        let both = [("DATABASE_URL", NEON_URL)];
        assert!(matches!(
            database(&both, true).unwrap(),
            DatabaseConfig::Hyperdrive { .. }
        ));
        let forced = [("DATABASE_URL", NEON_URL), ("DB_TRANSPORT", "neon-http")];
        assert!(matches!(
            database(&forced, true).unwrap(),
            DatabaseConfig::NeonHttp { .. }
        ));
    }

    #[test]
    fn the_endpoint_override_is_used_as_given() {
        let settings = [
            ("DATABASE_URL", NEON_URL),
            ("NEON_HTTP_ENDPOINT", "http://127.0.0.1:4444/sql"),
        ];
        match database(&settings, false).unwrap() {
            DatabaseConfig::NeonHttp { endpoint, .. } => {
                assert_eq!(endpoint, "http://127.0.0.1:4444/sql")
            }
            other => panic!("expected neon-http, got {other:?}"),
        }
    }

    #[test]
    fn transport_misconfigurations_name_the_setting_and_never_the_password() {
        type Settings<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Settings, bool, &str); 9] = [
            (
                &[("DB_TRANSPORT", "hyperdrive")],
                false,
                "no Hyperdrive binding",
            ),
            (
                &[("DB_TRANSPORT", "neon-http")],
                true,
                "DATABASE_URL is not set",
            ),
            (
                &[("DB_TRANSPORT", "carrier-pigeon")],
                true,
                "expected hyperdrive or neon-http",
            ),
            (
                &[("DATABASE_URL", "mysql://u:s3cret@h/db")],
                false,
                "must start with postgres://",
            ),
            (
                &[("DATABASE_URL", "postgres://u:s3cret@/db")],
                false,
                "it has no host",
            ),
            (
                &[("DATABASE_URL", "postgres://u:s3cret@db.example.com/db")],
                false,
                "not a Neon host",
            ),
            (
                &[
                    ("DATABASE_URL", NEON_URL),
                    ("NEON_HTTP_ENDPOINT", "http://sql.example.com/sql"),
                ],
                false,
                "must be an https:// URL",
            ),
            (
                &[("DB_ALLOW_PASSWORD_WITHOUT_TLS", "yes")],
                true,
                "must be true or false",
            ),
            (
                &[("ALLOWED_ORIGINS", "*"), ("ENVIRONMENT", "production")],
                true,
                "ENVIRONMENT is production",
            ),
        ];
        for (settings, hyperdrive_bound, expected) in cases {
            let error = database(settings, hyperdrive_bound).unwrap_err();
            assert!(error.0.contains(expected), "{settings:?}: {}", error.0);
            assert!(!error.0.contains("s3cret"));
        }
    }

    #[test]
    fn the_host_is_found_behind_credentials_and_before_port_path_and_query() {
        for (url, host) in [
            ("postgres://u:p@EP-C.AWS.NEON.TECH/db", "EP-C.AWS.NEON.TECH"),
            (
                "postgres://u:p@ep-a.aws.neon.tech/db?sslmode=require",
                "ep-a.aws.neon.tech",
            ),
            ("postgresql://ep-b.aws.neon.tech:5432", "ep-b.aws.neon.tech"),
            ("postgres://u:p%40ss@host.example/db", "host.example"),
            ("postgres://u:p@[::1]:5432/db", "::1"),
        ] {
            assert_eq!(connection_host(url).unwrap(), host, "{url}");
        }
    }

    #[test]
    fn debug_output_hides_the_connection_string() {
        let config = load(
            &[("BETTER_AUTH_SECRET", SECRET), ("DATABASE_URL", NEON_URL)],
            false,
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret") && !shown.contains(SECRET));
    }

    #[test]
    fn without_better_auth_only_hs256_is_accepted() {
        let config = load(&[("BETTER_AUTH_SECRET", SECRET)], true).unwrap();
        assert!(config.auth.hs256.is_some());
        assert!(config.auth.jwks.is_none() && config.auth.session.is_none());
    }

    #[test]
    fn better_auth_url_turns_on_all_three_kinds_with_its_jwks_and_origin() {
        let config = load(
            &[
                ("BETTER_AUTH_SECRET", SECRET),
                ("BETTER_AUTH_URL", "https://App.example.com/"),
            ],
            true,
        )
        .unwrap();
        let jwks = config.auth.jwks.unwrap();
        assert_eq!(
            jwks.source,
            JwksSource::Url("https://App.example.com/api/auth/jwks".to_owned())
        );
        assert_eq!(jwks.algorithms, Algorithm::ALL.to_vec());
        assert_eq!(
            jwks.rules,
            ClaimRules {
                issuer: Some("https://app.example.com".to_owned()),
                audience: Some("https://app.example.com".to_owned()),
                user_id_claims: false,
            }
        );
        assert!(config.auth.hs256.is_some() && config.auth.session.is_some());
    }

    #[test]
    fn credential_kinds_algorithms_and_key_sources_are_configurable() {
        let config = load(
            &[
                ("BETTER_AUTH_SECRET", SECRET),
                ("AUTH_CREDENTIALS", "jwks"),
                ("JWKS", r#"{"keys":[]}"#),
                ("JWT_ALGORITHMS", "ES256, RS256"),
                ("JWT_AUDIENCE", "tasks-api"),
            ],
            true,
        )
        .unwrap();
        assert!(config.auth.hs256.is_none() && config.auth.session.is_none());
        let jwks = config.auth.jwks.unwrap();
        assert_eq!(jwks.source, JwksSource::Inline(Vec::new()));
        assert_eq!(jwks.algorithms, [Algorithm::ES256, Algorithm::RS256]);
        assert_eq!(jwks.rules.audience.as_deref(), Some("tasks-api"));
        assert_eq!(jwks.rules.issuer, None);
    }

    #[test]
    fn auth_misconfigurations_name_the_setting() {
        for (settings, expected) in [
            (
                &[("AUTH_CREDENTIALS", "hs256,passwords")][..],
                "AUTH_CREDENTIALS",
            ),
            (&[("AUTH_CREDENTIALS", "jwks")], "no key source"),
            (
                &[("BETTER_AUTH_URL", "ftp://auth.example")],
                "BETTER_AUTH_URL",
            ),
            (
                &[
                    ("BETTER_AUTH_URL", "https://a.example"),
                    ("JWT_ALGORITHMS", "HS256"),
                ],
                "JWT_ALGORITHMS",
            ),
            (
                &[
                    ("BETTER_AUTH_URL", "https://a.example"),
                    ("BETTER_AUTH_SESSION_TABLE", "x;y"),
                ],
                "BETTER_AUTH_SESSION_TABLE",
            ),
        ] {
            let mut all = vec![("BETTER_AUTH_SECRET", SECRET)];
            all.extend_from_slice(settings);
            let error = load(&all, true).unwrap_err();
            assert!(error.0.contains(expected), "{settings:?}: {}", error.0);
        }
    }

    #[test]
    fn cors_settings_are_read() {
        let config = load(
            &[
                ("BETTER_AUTH_SECRET", SECRET),
                ("ALLOWED_ORIGINS", "*"),
                ("CORS_ALLOW_CREDENTIALS", "true"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(config.cors.origins, AllowedOrigins::Any);
        assert!(config.cors.allow_credentials);
    }

    #[test]
    fn endpoints_are_derived_only_for_neon_hosts() {
        assert_eq!(
            neon_endpoint_for_host("ep-cool-darkness-123456.us-east-2.aws.neon.tech").unwrap(),
            "https://api.us-east-2.aws.neon.tech/sql"
        );
        for host in [
            "localhost",
            "db.example.com",
            "neon.tech.evil.example",
            "ep-x.neon.tech",
        ] {
            assert!(neon_endpoint_for_host(host).is_err(), "{host}");
        }
    }

    #[test]
    fn plain_http_endpoints_are_accepted_only_on_loopback() {
        for endpoint in [
            "https://api.neon.example/sql",
            "http://127.0.0.1:4444/sql",
            "http://localhost:8/sql",
            "http://[::1]:9/sql",
        ] {
            assert!(checked_endpoint(endpoint.to_owned()).is_ok(), "{endpoint}");
        }
        for endpoint in [
            "http://127.0.0.1.evil.example/sql",
            "http://localhost.evil.example/sql",
            "http://127.0.0.1:80@evil.example/sql",
            "http://localhost@evil.example/sql",
            "ftp://x/sql",
        ] {
            assert!(checked_endpoint(endpoint.to_owned()).is_err(), "{endpoint}");
        }
    }
}
