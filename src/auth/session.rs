//! Better Auth session tokens, as its bearer plugin hands them out (`set-auth-token`): the
//! signed session cookie's value, `<token>.<signature>`, where the signature is the base64
//! HMAC-SHA-256 of `<token>` keyed with the Better Auth secret.
//!
//! The signature is checked here, without I/O. Whether the session exists and is unexpired is
//! checked by the SQL statement that serves the request (see [`crate::store::sql`]), against
//! Better Auth's `session` table, whose names [`SessionSchema`] holds.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::AuthError;

/// The longest session token accepted (Better Auth's are 32 characters).
const MAX_TOKEN_CHARS: usize = 255;

/// What checking a session token needs: the secret, whether a bare token will do, and where
/// Better Auth keeps sessions.
pub struct SessionConfig {
    key: Vec<u8>,
    /// Refuse a bare token, as the bearer plugin's `requireSignature` does
    /// (`BETTER_AUTH_REQUIRE_SIGNATURE`).
    pub require_signature: bool,
    /// The session table and its columns.
    pub schema: SessionSchema,
}

impl SessionConfig {
    /// The secret's UTF-8 bytes are the HMAC key, as Better Auth uses them.
    pub fn new(secret: &str, schema: SessionSchema, require_signature: bool) -> Self {
        Self {
            key: secret.as_bytes().to_vec(),
            require_signature,
            schema,
        }
    }
}

/// Better Auth's session table and the three columns read from it, as validated SQL
/// identifiers. The defaults are Better Auth's (`session`: `token`, `userId`, `expiresAt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSchema {
    table: String,
    token: String,
    user_id: String,
    expires_at: String,
}

impl Default for SessionSchema {
    fn default() -> Self {
        Self {
            table: "session".to_owned(),
            token: "token".to_owned(),
            user_id: "userId".to_owned(),
            expires_at: "expiresAt".to_owned(),
        }
    }
}

impl SessionSchema {
    /// A table and `token,userId,expiresAt` column names; each must be a plain identifier
    /// (letters, digits, underscores; a letter or underscore first), since they become SQL.
    pub fn new(table: &str, columns: &str) -> Result<Self, String> {
        let names: Vec<&str> = columns.split(',').map(str::trim).collect();
        let [token, user_id, expires_at] = names[..] else {
            return Err("must list three columns: token, user id, expiry".to_owned());
        };
        for name in [table, token, user_id, expires_at] {
            let mut characters = name.chars();
            let starts_well = characters
                .next()
                .is_some_and(|first| first.is_ascii_alphabetic() || first == '_');
            if !starts_well || !characters.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("`{name}` is not a plain SQL identifier"));
            }
        }
        Ok(Self {
            table: table.to_owned(),
            token: token.to_owned(),
            user_id: user_id.to_owned(),
            expires_at: expires_at.to_owned(),
        })
    }

    /// The quoted table name.
    pub fn table(&self) -> String {
        quote(&self.table)
    }

    /// The quoted token column.
    pub fn token_column(&self) -> String {
        quote(&self.token)
    }

    /// The quoted user id column.
    pub fn user_id_column(&self) -> String {
        quote(&self.user_id)
    }

    /// The quoted expiry column.
    pub fn expires_at_column(&self) -> String {
        quote(&self.expires_at)
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{identifier}\"")
}

/// A session token whose signature was valid: the part that names the session row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// The token, as stored in the session table.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A token that skipped the signature check, for unit tests of the statements.
    #[cfg(test)]
    pub fn for_tests(token: &str) -> Self {
        Self(token.to_owned())
    }
}

/// Checks `<token>.<signature>` against the secret. A bare token is taken as it is unless a
/// signature is required: Better Auth's bearer plugin signs a bare token itself and looks it
/// up, so the signature proves nothing the session row does not. What proves the token is the
/// row, which the request's statement checks either way.
pub fn verify(credential: &str, config: &SessionConfig) -> Result<SessionToken, AuthError> {
    let Some((token, signature)) = credential.split_once('.') else {
        if config.require_signature {
            return Err(AuthError::SessionUnsigned);
        }
        return bare(credential);
    };
    let token = bare(token)?;
    // Standard or URL-safe base64, padded or not: Better Auth signs with `btoa` (standard,
    // padded) and verifies either alphabet.
    let signature =
        crate::runtime::base64::lenient_decode(signature).ok_or(AuthError::SessionBadSignature)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&config.key).expect("HMAC takes any key");
    mac.update(token.as_str().as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&signature)
        .map_err(|_| AuthError::SessionBadSignature)?;
    Ok(token)
}

fn bare(token: &str) -> Result<SessionToken, AuthError> {
    if token.is_empty() || token.chars().count() > MAX_TOKEN_CHARS {
        return Err(AuthError::Malformed);
    }
    Ok(SessionToken(token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-better-auth-secret-of-at-least-32-bytes";

    fn config() -> SessionConfig {
        SessionConfig::new(SECRET, SessionSchema::default(), false)
    }

    /// Signs as better-call's `signCookieValue` does: `btoa` of the HMAC, padded.
    fn sign(token: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(token.as_bytes());
        let signature = crate::runtime::base64::standard_encode(&mac.finalize().into_bytes());
        format!("{token}.{signature}")
    }

    #[test]
    fn a_token_signed_with_the_secret_is_accepted_in_either_alphabet() {
        let signed = sign("Jr3fGdJW5wMGyuKuSDhIrBYIDM0eiLtQ");
        assert_eq!(
            verify(&signed, &config()).unwrap().as_str(),
            "Jr3fGdJW5wMGyuKuSDhIrBYIDM0eiLtQ"
        );
        let url_safe = signed
            .replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .to_owned();
        assert!(verify(&url_safe, &config()).is_ok());
    }

    #[test]
    fn a_bad_signature_or_shape_is_refused() {
        let signed = sign("session-token");
        let other_token = signed.replacen("session", "s3ssion", 1);
        assert_eq!(
            verify(&other_token, &config()),
            Err(AuthError::SessionBadSignature)
        );
        let other_secret = SessionConfig::new(&"x".repeat(40), SessionSchema::default(), false);
        assert_eq!(
            verify(&signed, &other_secret),
            Err(AuthError::SessionBadSignature)
        );
        assert_eq!(
            verify("token.not base64!", &config()),
            Err(AuthError::SessionBadSignature)
        );
        assert_eq!(verify(".c2ln", &config()), Err(AuthError::Malformed));
    }

    #[test]
    fn a_bare_token_is_taken_unless_a_signature_is_required() {
        let token = "Jr3fGdJW5wMGyuKuSDhIrBYIDM0eiLtQ";
        assert_eq!(verify(token, &config()).unwrap().as_str(), token);
        let strict = SessionConfig::new(SECRET, SessionSchema::default(), true);
        assert_eq!(verify(token, &strict), Err(AuthError::SessionUnsigned));
        assert!(verify(&sign(token), &strict).is_ok());
    }

    #[test]
    fn schema_names_must_be_plain_identifiers() {
        let schema = SessionSchema::new("auth_session", "token, user_id, expires_at").unwrap();
        assert_eq!(schema.table(), "\"auth_session\"");
        assert_eq!(schema.user_id_column(), "\"user_id\"");
        for (table, columns) in [
            ("session\"; DROP TABLE tasks; --", "token,userId,expiresAt"),
            ("session", "token,userId"),
            ("session", "token,user id,expiresAt"),
            ("1session", "token,userId,expiresAt"),
        ] {
            assert!(
                SessionSchema::new(table, columns).is_err(),
                "{table} {columns}"
            );
        }
    }
}
