//! Configuration, read from the worker's bindings once per request into one typed value.
//!
//! Parsing goes through a lookup function so that every rule is unit-tested natively; a
//! missing or invalid setting is an error that names the setting, never a panic.

use worker::Env;

use crate::{auth::AuthConfig, cors::AllowedOrigins};

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

        if !hyperdrive_bound {
            return Err(ConfigError(format!(
                "no database is configured: bind Hyperdrive as `{HYPERDRIVE_BINDING}` in wrangler.toml"
            )));
        }
        let database = DatabaseConfig::Hyperdrive {
            binding: HYPERDRIVE_BINDING,
        };

        Ok(Self {
            auth,
            allowed_origins,
            database,
        })
    }
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
    fn no_database_binding_is_named() {
        let error = load(&[("BETTER_AUTH_SECRET", SECRET)], false).unwrap_err();
        assert!(error.0.contains("HYPERDRIVE"));
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
