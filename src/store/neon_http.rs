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
use serde_json::Value;
use wasm_bindgen::prelude::*;
use worker::{js_sys, wasm_bindgen_futures::JsFuture};

use crate::runtime::json;

use super::{classify_sqlstate, sql::Statement, Row, StoreError, Transport, STORAGE_TIMEOUT};
use crate::domain::Param;

// One call into JavaScript per statement: the request is built, sent and read there, under
// the storage call's deadline.
// `redirect: 'manual'`: the connection string, password included, is a header, and a followed
// redirect would send it on to wherever the redirect points.
#[wasm_bindgen(inline_js = r#"
export async function postQuery(endpoint, connectionString, body, limitMs) {
  const response = await fetch(endpoint, {
    method: 'POST',
    redirect: 'manual',
    signal: AbortSignal.timeout(limitMs),
    headers: {
      'Content-Type': 'application/json',
      'Neon-Connection-String': connectionString,
      'Neon-Raw-Text-Output': 'true',
      'Neon-Array-Mode': 'true',
    },
    body,
  });
  return [response.status, new Uint8Array(await response.arrayBuffer())];
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = postQuery)]
    fn post_query(
        endpoint: &str,
        connection_string: &str,
        body: &str,
        limit_ms: u32,
    ) -> js_sys::Promise;
}

/// Reaches PostgreSQL through Neon's HTTP SQL endpoint.
pub struct NeonHttpTransport<'a> {
    endpoint: &'a str,
    connection_string: &'a str,
}

impl<'a> NeonHttpTransport<'a> {
    /// Sends statements to `endpoint` for the database named by `connection_string`.
    pub fn new(endpoint: &'a str, connection_string: &'a str) -> Self {
        Self {
            endpoint,
            connection_string,
        }
    }
}

#[async_trait(?Send)]
impl Transport for NeonHttpTransport<'_> {
    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, StoreError> {
        let body = request_body(statement);
        let limit_ms = u32::try_from(STORAGE_TIMEOUT.as_millis()).unwrap_or(u32::MAX);
        let answer = JsFuture::from(post_query(
            self.endpoint,
            self.connection_string,
            &body,
            limit_ms,
        ))
        .await
        .map_err(|error| {
            StoreError::Unavailable(format!(
                "fetching the Neon endpoint: {}",
                crate::runtime::js::error_message(&error, "unknown error")
            ))
        })?;
        let (status, body) = crate::runtime::js::status_and_payload(answer);
        let body = js_sys::Uint8Array::unchecked_from_js(body).to_vec();
        decode_response(status, &body)
    }
}

/// `{"query", "params"}`; booleans go as JSON booleans, which the proxy turns into `true` and
/// `false` text, as PostgreSQL expects for a `::boolean` parameter. Written straight out,
/// without a JSON tree of copies first.
pub fn request_body(statement: &Statement) -> String {
    let mut body = Vec::with_capacity(statement.text.len() + 64);
    let mut object = json::Object::open(&mut body);
    object.str("query", &statement.text);
    json::append_array(
        object.field("params"),
        &statement.params,
        |out, param| match param {
            Param::Text(text) => json::append_optional_str(out, text.as_deref()),
            Param::Bool(flag) => json::append(out, flag),
        },
    );
    object.close();
    // Only JSON text went in.
    String::from_utf8(body).unwrap_or_default()
}

/// The part of a successful answer the worker reads. Parsed straight into rows rather than
/// through `serde_json::Value`: a page of 100 tasks is a thousand values, and building a
/// map and a tree for them first costs more than this parser's size.
#[derive(Deserialize)]
struct QueryResult {
    rows: Vec<Row>,
}

/// The `rows` of a successful answer, each an array of text or null.
fn rows_of(body: &[u8]) -> Option<Vec<Row>> {
    serde_json::from_slice::<QueryResult>(body)
        .ok()
        .map(|result| result.rows)
}

/// Maps the endpoint's answer to rows or a [`StoreError`]. A 400 is PostgreSQL's (or the
/// proxy's) verdict on the request, classified by SQLSTATE; any other failure status means the
/// endpoint or the database behind it is not serving, which is worth a retry.
pub fn decode_response(status: u16, body: &[u8]) -> Result<Vec<Row>, StoreError> {
    match status {
        200 => rows_of(body).ok_or_else(|| {
            StoreError::Internal("unexpected Neon response body: no `rows` of text".to_owned())
        }),
        400 => {
            let error: Value = serde_json::from_slice(body).unwrap_or_default();
            let message = match error.get("message").and_then(Value::as_str) {
                Some(message) => message.to_owned(),
                None => String::from_utf8_lossy(body).chars().take(200).collect(),
            };
            let code = error
                .get("code")
                .and_then(Value::as_str)
                .filter(|code| !code.is_empty());
            let cause = format!(
                "Neon endpoint rejected the query ({}): {}",
                code.unwrap_or("no SQLSTATE"),
                message
            );
            match code {
                Some(code) => Err(classify_sqlstate(code, cause)),
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
    use serde_json::json;

    #[test]
    fn parameters_keep_their_json_types_and_nulls() {
        let statement = Statement {
            text: "SELECT $1, $2, $3".to_owned(),
            params: vec![
                Param::Text(Some("it's".to_owned())),
                Param::Bool(Some(true)),
                Param::Text(None),
            ],
            layout: Default::default(),
        };
        let body: Value = serde_json::from_str(&request_body(&statement)).unwrap();
        assert_eq!(
            body,
            json!({ "query": "SELECT $1, $2, $3", "params": ["it's", true, null] })
        );
        let quoted = Statement {
            text: "SELECT '\"\\'".to_owned(),
            params: vec![
                Param::Bool(Some(false)),
                Param::Text(Some("a\"\n".to_owned())),
            ],
            layout: Default::default(),
        };
        let body: Value = serde_json::from_str(&request_body(&quoted)).unwrap();
        assert_eq!(
            body,
            json!({ "query": "SELECT '\"\\'", "params": [false, "a\"\n"] })
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
