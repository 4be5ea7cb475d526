//! The Neon HTTP transport: each statement is one `fetch` to Neon's SQL-over-HTTP endpoint.
//!
//! Wire contract (from Neon's `@neondatabase/serverless` driver and its proxy):
//! `POST https://api.<region host>/sql` with headers `Neon-Connection-String`,
//! `Neon-Raw-Text-Output: true` and `Neon-Array-Mode: true`, body `{"query", "params"}`;
//! success is `{"fields", "rows": [[text | null, ...]], "command", "rowCount", ...}`; a
//! PostgreSQL error is HTTP 400 with `{"message", "code": SQLSTATE, ...}`. Raw text output
//! gives every value as PostgreSQL's text form, which is what [`super::sql`] asks for anyway.
//! Each operation of the API is a single statement, so the batch form (`{"queries": [...]}`)
//! is not needed here.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use super::{classify_sqlstate, sql::Param, sql::Statement, Row, StoreError, Transport};

/// Reaches PostgreSQL through Neon's HTTP SQL endpoint.
pub struct NeonHttpTransport {
    endpoint: String,
    connection_string: String,
}

impl NeonHttpTransport {
    /// Sends statements to `endpoint` for the database named by `connection_string`.
    pub fn new(endpoint: String, connection_string: String) -> Self {
        Self {
            endpoint,
            connection_string,
        }
    }

    fn request(&self, statement: &Statement) -> Result<Request, StoreError> {
        let headers = Headers::new();
        let internal = |error: worker::Error| {
            StoreError::Internal(format!("building the Neon request: {error}"))
        };
        for (name, value) in [
            ("Content-Type", "application/json"),
            ("Neon-Connection-String", self.connection_string.as_str()),
            ("Neon-Raw-Text-Output", "true"),
            ("Neon-Array-Mode", "true"),
        ] {
            headers.set(name, value).map_err(internal)?;
        }
        let body = request_body(statement).to_string();
        let mut init = RequestInit::new();
        // Never follow a redirect: the connection string, password included, is a header,
        // and fetch would send it on to wherever the redirect points.
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual)
            .with_body(Some(body.into()));
        Request::new_with_init(&self.endpoint, &init).map_err(internal)
    }
}

#[async_trait(?Send)]
impl Transport for NeonHttpTransport {
    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, StoreError> {
        let request = self.request(statement)?;
        let mut response = Fetch::Request(request).send().await.map_err(|error| {
            StoreError::Unavailable(format!("fetching the Neon endpoint: {error}"))
        })?;
        let status = response.status_code();
        let body = response.bytes().await.map_err(|error| {
            StoreError::Unavailable(format!("reading the Neon response: {error}"))
        })?;
        decode_response(status, &body)
    }
}

/// `{"query", "params"}`; booleans go as JSON booleans, which the proxy turns into `true` and
/// `false` text, as PostgreSQL expects for a `::boolean` parameter.
pub fn request_body(statement: &Statement) -> Value {
    let params: Vec<Value> = statement
        .params
        .iter()
        .map(|param| match param {
            Param::Text(Some(text)) => Value::String(text.clone()),
            Param::Bool(Some(flag)) => Value::Bool(*flag),
            Param::Text(None) | Param::Bool(None) => Value::Null,
        })
        .collect();
    json!({ "query": statement.text, "params": params })
}

#[derive(Deserialize)]
struct QueryResult {
    rows: Vec<Vec<Option<String>>>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: Option<String>,
}

/// Maps the endpoint's answer to rows or a [`StoreError`]. A 400 is PostgreSQL's (or the
/// proxy's) verdict on the request, classified by SQLSTATE; any other failure status means the
/// endpoint or the database behind it is not serving, which is worth a retry.
pub fn decode_response(status: u16, body: &[u8]) -> Result<Vec<Row>, StoreError> {
    match status {
        200 => serde_json::from_slice::<QueryResult>(body)
            .map(|result| result.rows)
            .map_err(|error| {
                StoreError::Internal(format!("unexpected Neon response body: {error}"))
            }),
        400 => {
            let error: ErrorBody = serde_json::from_slice(body).unwrap_or(ErrorBody {
                message: String::from_utf8_lossy(body).chars().take(200).collect(),
                code: None,
            });
            let code = error.code.filter(|code| !code.is_empty());
            let cause = format!(
                "Neon endpoint rejected the query ({}): {}",
                code.as_deref().unwrap_or("no SQLSTATE"),
                error.message
            );
            match code {
                Some(code) => Err(classify_sqlstate(&code, cause)),
                None => Err(StoreError::Internal(cause)),
            }
        }
        300..=399 => Err(StoreError::Unavailable(format!(
            "Neon endpoint answered a redirect (HTTP {status}), which is not followed: the request carries the connection string"
        ))),
        // 413 and 507: the request or the response is over the proxy's size limit, which no
        // retry changes.
        413 | 507 => Err(StoreError::Internal(format!(
            "Neon endpoint refused the size of the request or response (HTTP {status})"
        ))),
        _ => Err(StoreError::Unavailable(format!(
            "Neon endpoint answered HTTP {status}: {}",
            String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_keep_their_json_types_and_nulls() {
        let statement = Statement {
            text: "SELECT $1, $2, $3".to_owned(),
            params: vec![
                Param::Text(Some("it's".to_owned())),
                Param::Bool(Some(true)),
                Param::Text(None),
            ],
        };
        assert_eq!(
            request_body(&statement),
            json!({ "query": "SELECT $1, $2, $3", "params": ["it's", true, null] })
        );
    }

    #[test]
    fn array_mode_rows_decode_with_nulls() {
        let body = br#"{"fields":[],"command":"SELECT","rowCount":1,"rowAsArray":true,
            "rows":[["a",null,"true"]]}"#;
        assert_eq!(
            decode_response(200, body).unwrap(),
            [vec![Some("a".to_owned()), None, Some("true".to_owned())]]
        );
    }

    #[test]
    fn sql_errors_are_classified_by_sqlstate() {
        let retryable = br#"{"message":"too many connections","code":"53300"}"#;
        assert!(matches!(
            decode_response(400, retryable),
            Err(StoreError::Unavailable(_))
        ));
        let missing_table = br#"{"message":"relation \"tasks\" does not exist","code":"42P01"}"#;
        match decode_response(400, missing_table) {
            Err(StoreError::Internal(cause)) => assert!(cause.contains("42P01")),
            other => panic!("expected an internal error, got {other:?}"),
        }
    }

    #[test]
    fn a_400_without_sqlstate_is_internal_and_other_statuses_are_unavailable() {
        let auth = br#"{"message":"password authentication failed for user 'x'","code":""}"#;
        assert!(matches!(
            decode_response(400, auth),
            Err(StoreError::Internal(_))
        ));
        assert!(matches!(
            decode_response(400, b"not json"),
            Err(StoreError::Internal(_))
        ));
        assert!(matches!(
            decode_response(507, b"{}"),
            Err(StoreError::Internal(_))
        ));
        for status in [301, 307, 308, 500, 502, 503] {
            assert!(matches!(
                decode_response(status, b"{}"),
                Err(StoreError::Unavailable(_))
            ));
        }
    }

    #[test]
    fn an_unexpected_success_body_is_internal() {
        assert!(matches!(
            decode_response(200, b"{}"),
            Err(StoreError::Internal(_))
        ));
    }
}
