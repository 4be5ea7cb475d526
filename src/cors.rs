//! CORS for browser frontends on other origins: which origins may call, and the headers that
//! tell the browser so. Pure, so the policy is unit-tested natively.

/// Request headers the API reads, which a browser must be allowed to send.
const ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key";
/// Response headers a frontend may read besides the CORS-safelisted ones.
const EXPOSED_HEADERS: &str = "ETag, Location, Link, X-Request-Id, Retry-After, WWW-Authenticate";
/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE_SECONDS: &str = "86400";

/// The CORS policy: which origins may call, and whether their requests may carry cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Origins allowed to read responses.
    pub origins: AllowedOrigins,
    /// Whether `Access-Control-Allow-Credentials: true` is sent (`CORS_ALLOW_CREDENTIALS`).
    /// The API authenticates with a bearer header, which needs no credentials mode; the flag
    /// only widens what an allowed origin may do, so it is off unless asked for.
    pub allow_credentials: bool,
}

/// The origins allowed to call the API, from `ALLOWED_ORIGINS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `*`: any origin (for development only; refused in production). The origin is echoed
    /// rather than sent as `*`, so the answer is the same with or without credentials.
    Any,
    /// An explicit list, compared case-insensitively and without a trailing slash.
    List(Vec<String>),
}

impl AllowedOrigins {
    /// Parses a comma-separated list; `*` anywhere in it allows every origin.
    pub fn parse(raw: &str) -> Self {
        let origins: Vec<String> = raw
            .split(',')
            .map(normalize)
            .filter(|origin| !origin.is_empty())
            .collect();
        if origins.iter().any(|origin| origin == "*") {
            Self::Any
        } else {
            Self::List(origins)
        }
    }

    /// Whether a request from `origin` may read the response. The opaque origin `null`
    /// (sandboxed frames, `file:` pages) is never allowed: anyone can forge it.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = normalize(origin);
        if origin == "null" {
            return false;
        }
        match self {
            Self::Any => true,
            Self::List(origins) => origins.contains(&origin),
        }
    }
}

impl Cors {
    /// No origin allowed, no credentials: what a worker whose settings cannot be read uses.
    pub fn deny_all() -> Self {
        Self {
            origins: AllowedOrigins::List(Vec::new()),
            allow_credentials: false,
        }
    }

    /// CORS headers for an ordinary response; empty when the origin is absent or not allowed.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        match self.allowed(origin) {
            Some(origin) => {
                let mut headers = self.origin_headers(origin);
                headers.push(("Access-Control-Expose-Headers", EXPOSED_HEADERS.to_owned()));
                headers
            }
            None => Vec::new(),
        }
    }

    /// CORS headers answering a preflight for a resource with these methods (`GET, POST`);
    /// empty when the origin is absent or not allowed, which makes the browser refuse the
    /// real request.
    pub fn preflight_headers(
        &self,
        origin: Option<&str>,
        methods: &str,
    ) -> Vec<(&'static str, String)> {
        match self.allowed(origin) {
            Some(origin) => {
                let mut headers = self.origin_headers(origin);
                headers.extend([
                    ("Access-Control-Allow-Methods", methods.to_owned()),
                    ("Access-Control-Allow-Headers", ALLOWED_HEADERS.to_owned()),
                    (
                        "Access-Control-Max-Age",
                        PREFLIGHT_MAX_AGE_SECONDS.to_owned(),
                    ),
                ]);
                headers
            }
            None => Vec::new(),
        }
    }

    fn allowed<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        origin.filter(|origin| self.origins.allows(origin))
    }

    fn origin_headers(&self, origin: &str) -> Vec<(&'static str, String)> {
        let mut headers = vec![("Access-Control-Allow-Origin", origin.to_owned())];
        if self.allow_credentials {
            headers.push(("Access-Control-Allow-Credentials", "true".to_owned()));
        }
        headers
    }
}

fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_modules_crash_answer_exposes_the_same_headers() {
        assert!(
            include_str!("entry.mjs")
                .contains(&format!("const EXPOSED_HEADERS = '{EXPOSED_HEADERS}';")),
            "src/entry.mjs's EXPOSED_HEADERS is {EXPOSED_HEADERS}"
        );
    }

    fn header<'a>(headers: &'a [(&str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    #[test]
    fn listed_origins_are_allowed_after_normalization() {
        let origins = AllowedOrigins::parse(" http://localhost:3000/ , https://App.example.com");
        assert!(origins.allows("http://localhost:3000"));
        assert!(origins.allows("https://app.example.com"));
        assert!(!origins.allows("https://evil.example.com"));
        assert!(!origins.allows("http://localhost:3001"));
    }

    #[test]
    fn a_wildcard_allows_any_origin_but_never_null() {
        let origins = AllowedOrigins::parse("*");
        assert_eq!(origins, AllowedOrigins::Any);
        assert!(origins.allows("https://anything.example"));
        assert!(!origins.allows("null"));
    }

    #[test]
    fn an_empty_setting_allows_nothing() {
        assert!(!AllowedOrigins::parse("").allows("http://localhost:3000"));
    }

    fn cors(origins: &str, allow_credentials: bool) -> Cors {
        Cors {
            origins: AllowedOrigins::parse(origins),
            allow_credentials,
        }
    }

    #[test]
    fn allowed_origins_are_echoed_without_credentials_unless_asked() {
        let headers = cors("*", false).response_headers(Some("http://localhost:3000"));
        assert_eq!(
            header(&headers, "Access-Control-Allow-Origin"),
            Some("http://localhost:3000")
        );
        assert_eq!(header(&headers, "Access-Control-Allow-Credentials"), None);
        assert!(header(&headers, "Access-Control-Expose-Headers")
            .unwrap()
            .contains("X-Request-Id"));

        let with_credentials = cors("http://localhost:3000", true);
        for headers in [
            with_credentials.response_headers(Some("http://localhost:3000")),
            with_credentials.preflight_headers(Some("http://localhost:3000"), "GET, OPTIONS"),
        ] {
            assert_eq!(
                header(&headers, "Access-Control-Allow-Credentials"),
                Some("true")
            );
        }
    }

    #[test]
    fn other_origins_and_same_origin_requests_get_no_cors_headers() {
        let origins = cors("http://localhost:3000", true);
        assert!(origins
            .response_headers(Some("https://evil.example"))
            .is_empty());
        assert!(origins.response_headers(None).is_empty());
        assert!(origins
            .preflight_headers(Some("https://evil.example"), "GET")
            .is_empty());
    }

    #[test]
    fn a_preflight_lists_methods_headers_and_max_age() {
        let headers = cors("http://localhost:3000", false)
            .preflight_headers(Some("http://localhost:3000"), "GET, POST, OPTIONS");
        assert_eq!(
            header(&headers, "Access-Control-Allow-Methods"),
            Some("GET, POST, OPTIONS")
        );
        assert_eq!(
            header(&headers, "Access-Control-Allow-Headers"),
            Some("Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key")
        );
        assert_eq!(header(&headers, "Access-Control-Max-Age"), Some("86400"));
    }
}
