//! Configuration, read from the worker's bindings once per request into one typed value.
//!
//! Parsing goes through a lookup function so that every rule is unit-tested natively; a
//! missing or invalid setting is an error that names the setting, never a panic.

use worker::Env;

use crate::{auth::AuthConfig, cors::AllowedOrigins, store::neon_http::endpoint_for_host};

/// Name of the Hyperdrive binding in wrangler.toml.
pub const HYPERDRIVE_BINDING: &str = "HYPERDRIVE";

/// Shortest accepted `BETTER_AUTH_SECRET`. Better Auth asks for at least 32 characters; an
/// HMAC key shorter than that is within reach of offline guessing.
pub const MIN_SECRET_BYTES: usize = 32;

/// Everything a request needs to know about its deployment.
#[derive(Debug)]
pub struct Config {
    /// Token verification settings.
    pub auth: AuthConfig,
    /// Origins allowed by CORS.
    pub allowed_origins: AllowedOrigins,
    /// How to reach PostgreSQL.
    pub database: DatabaseConfig,
}

/// How the worker reaches PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// Through the Hyperdrive binding of this name, with tokio-postgres over a socket.
    Hyperdrive { binding: &'static str },
    /// Through Neon's SQL-over-HTTP endpoint with `fetch`.
    NeonHttp {
        /// The `/sql` URL: `NEON_HTTP_ENDPOINT`, or derived from the connection string's host.
        endpoint: String,
        /// `DATABASE_URL`, sent in the `Neon-Connection-String` header.
        connection_string: Redacted,
    },
}

/// A credential-bearing string that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("<redacted>")
    }
}

/// A setting that is missing or invalid. The message names the setting and goes to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl Config {
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
        let setting = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };

        let secret = setting("BETTER_AUTH_SECRET").ok_or_else(|| {
            ConfigError("BETTER_AUTH_SECRET is not set (use `wrangler secret put BETTER_AUTH_SECRET`, or .dev.vars locally)".to_owned())
        })?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "BETTER_AUTH_SECRET is shorter than {MIN_SECRET_BYTES} bytes"
            )));
        }
        let auth = AuthConfig::new(&secret, setting("JWT_ISSUER"), setting("JWT_AUDIENCE"));

        let allowed_origins =
            AllowedOrigins::parse(&setting("ALLOWED_ORIGINS").unwrap_or_default());

        let database = database_config(&setting, hyperdrive_bound)?;

        Ok(Self {
            auth,
            allowed_origins,
            database,
        })
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
            Some(endpoint) => endpoint,
            None => endpoint_for_host(&connection_host(&url)?),
        };
        Ok(DatabaseConfig::NeonHttp {
            endpoint,
            connection_string: Redacted(url),
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
/// carries a password. Parsed by hand: a URL parser would add its Unicode host tables to the
/// wasm for the sake of one host name.
fn connection_host(url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| {
            ConfigError("DATABASE_URL must start with postgres:// or postgresql://".to_owned())
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_and_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host_and_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_and_port.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(ConfigError("DATABASE_URL has no valid host".to_owned()));
    }
    Ok(host.to_owned())
}

/// `ALLOWED_ORIGINS` alone, for answering with CORS headers when the rest of the
/// configuration is invalid.
pub fn allowed_origins(env: &Env) -> AllowedOrigins {
    AllowedOrigins::parse(&text_binding(env, "ALLOWED_ORIGINS").unwrap_or_default())
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
                binding: "HYPERDRIVE"
            }
        );
        assert_eq!(config.allowed_origins, AllowedOrigins::List(Vec::new()));
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
                connection_string: Redacted(NEON_URL.to_owned()),
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
        let cases: [(Settings, bool, &str); 5] = [
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
                "no valid host",
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
    fn allowed_origins_are_read() {
        let config = load(
            &[("BETTER_AUTH_SECRET", SECRET), ("ALLOWED_ORIGINS", "*")],
            true,
        )
        .unwrap();
        assert_eq!(config.allowed_origins, AllowedOrigins::Any);
    }
}
