//! Turning request bodies into domain values, with every failure a precise client error.
//!
//! The parsing is pure over bytes and header values, so the bad-input table is unit-tested
//! natively; `read_body` is the only part that touches the runtime.

use serde_json::{Map, Value};

use crate::{
    domain::{fields, CompletionChange, FieldError, NewTask, TaskId, TaskPatch},
    error::ApiError,
    runtime::http::{BodyError, Incoming},
};

/// The largest request body accepted. Tasks are small; anything bigger is a mistake or abuse.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads the body, refusing an oversized one as soon as it is known: from `Content-Length`
/// when declared, otherwise while streaming, so a chunked upload is never buffered whole.
pub async fn read_body(request: &Incoming) -> Result<Vec<u8>, ApiError> {
    let too_large = ApiError::PayloadTooLarge {
        limit_bytes: MAX_BODY_BYTES,
    };
    let declared = request
        .header("content-length")
        .and_then(|length| length.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(too_large);
    }
    match request.body(MAX_BODY_BYTES).await {
        Ok(body) => Ok(body),
        Err(BodyError::TooLarge) => Err(too_large),
        // The runtime's error text stays out of the body; a fixed sentence says what happened.
        Err(BodyError::Unreadable) => Err(ApiError::BadRequest(
            "The request body could not be read to its end.".to_owned(),
        )),
    }
}

/// The query parameters of a request URL, decoded as HTML forms encode them. Done here rather
/// than with `Request::url()`, whose full URL parser (with its Unicode host tables) would be
/// one of the largest things in the wasm, for the sake of a query string.
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let query = without_fragment
        .split_once('?')
        .map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The request URL with its `cursor` parameter replaced by `cursor`, the other parameters kept
/// as they came (re-encoded): the `next` link of a list page.
pub fn with_cursor(url: &str, pairs: &[(String, String)], cursor: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or_default();
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(name, _)| name != "cursor") {
        query.append_pair(name, value);
    }
    query.append_pair("cursor", cursor);
    format!("{base}?{}", query.finish())
}

/// Accepts `application/json` and `application/<something>+json`, with any parameters.
pub fn require_json(content_type: Option<&str>) -> Result<(), ApiError> {
    let essence = content_type
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) if other.starts_with("application/") && other.ends_with("+json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Parses a create body: the task's written fields (see [`crate::domain::task`]), `title`
/// required; other members are ignored.
pub fn parse_new_task(content_type: Option<&str>, body: &[u8]) -> Result<NewTask, ApiError> {
    let object = json_object(content_type, body)?;
    NewTask::from_json(TaskId::generate(), &object).map_err(ApiError::Validation)
}

/// Parses an update body: any of the task's written fields; `null` clears a nullable one,
/// `[]` clears the tags.
pub fn parse_patch(content_type: Option<&str>, body: &[u8]) -> Result<TaskPatch, ApiError> {
    let object = json_object(content_type, body)?;
    TaskPatch::from_json(&object).map_err(ApiError::Validation)
}

/// Parses the optional body of `PATCH .../complete`: none toggles, `{"completed": b}` sets.
pub fn parse_completion(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<CompletionChange, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(CompletionChange::Toggle);
    }
    let object = json_object(content_type, body)?;
    match object.get("completed") {
        None => Err(ApiError::Validation(vec![FieldError::new(
            "completed",
            "is required when a body is sent; send no body to toggle",
        )])),
        Some(value) => fields::boolean("completed", value)
            .map(CompletionChange::Set)
            .map_err(|error| ApiError::Validation(vec![error])),
    }
}

fn json_object(content_type: Option<&str>, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    require_json(content_type)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "The request body is empty; send a JSON object.".to_owned(),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(ApiError::BadRequest(format!(
            "The request body must be a JSON object, not {}.",
            fields::json_kind(&other)
        ))),
        Err(error) => Err(ApiError::BadRequest(format!(
            "The request body is not valid JSON (line {}, column {}).",
            error.line(),
            error.column()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Priority, Tags};

    const JSON: Option<&str> = Some("application/json");

    fn field_errors(error: ApiError) -> Vec<(String, String)> {
        match error {
            ApiError::Validation(errors) => errors
                .into_iter()
                .map(|error| (error.field, error.message))
                .collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn query_pairs_are_decoded_and_the_fragment_ignored() {
        let pairs =
            query_pairs("https://x.dev/api/u/tasks?status=pending&sort=ti%74le&q=a+b#order=asc");
        assert_eq!(
            pairs,
            [
                ("status".to_owned(), "pending".to_owned()),
                ("sort".to_owned(), "title".to_owned()),
                ("q".to_owned(), "a b".to_owned()),
            ]
        );
        assert!(query_pairs("https://x.dev/api/u/tasks").is_empty());
    }

    #[test]
    fn the_next_link_keeps_every_filter_and_replaces_the_cursor() {
        let url = "https://api.example/api/u/tasks?tag=a+b&tag=c&cursor=old&sort=due_date#frag";
        let pairs = query_pairs(url);
        assert_eq!(
            with_cursor(url, &pairs, "new.cursor"),
            "https://api.example/api/u/tasks?tag=a+b&tag=c&sort=due_date&cursor=new.cursor"
        );
    }

    #[test]
    fn json_content_types_are_accepted_with_parameters_and_any_case() {
        for content_type in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(require_json(Some(content_type)).is_ok(), "{content_type}");
        }
    }

    #[test]
    fn other_content_types_are_unsupported() {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let error = parse_new_task(content_type, br#"{"title":"x"}"#).unwrap_err();
            assert_eq!(error.status(), 415, "{content_type:?}");
        }
    }

    #[test]
    fn a_minimal_create_body_gets_defaults() {
        let task = parse_new_task(JSON, br#"{"title":"  write tests  "}"#).unwrap();
        assert_eq!(task.title.as_str(), "write tests");
        assert_eq!(task.description, None);
        assert!(!task.completed);
    }

    #[test]
    fn a_full_create_body_is_taken_and_unknown_fields_ignored() {
        let body = br#"{"title":"t","description":"d","completed":true,"colour":9}"#;
        let task = parse_new_task(JSON, body).unwrap();
        assert_eq!(task.description.unwrap().as_str(), "d");
        assert!(task.completed);
    }

    #[test]
    fn malformed_and_non_object_bodies_are_bad_requests() {
        for (body, detail) in [
            (&b"{\"title\": "[..], "not valid JSON"),
            (b"[1,2]", "not an array"),
            (b"\"title\"", "not a string"),
            (b"null", "not null"),
            (b"   ", "empty"),
        ] {
            match parse_new_task(JSON, body).unwrap_err() {
                ApiError::BadRequest(text) => assert!(text.contains(detail), "{text}"),
                other => panic!("expected a bad request, got {other:?}"),
            }
        }
    }

    #[test]
    fn every_wrong_field_is_reported_at_once() {
        let body = br#"{"title":5,"description":[],"completed":"yes"}"#;
        let errors = field_errors(parse_new_task(JSON, body).unwrap_err());
        assert_eq!(
            errors,
            [
                ("title".into(), "must be a string, not a number".into()),
                (
                    "description".into(),
                    "must be a string or null, not an array".into()
                ),
                ("completed".into(), "must be a boolean, not a string".into()),
            ]
        );
    }

    #[test]
    fn a_missing_or_null_title_is_required() {
        for body in [&br#"{}"#[..], br#"{"title":null}"#] {
            let errors = field_errors(parse_new_task(JSON, body).unwrap_err());
            assert_eq!(errors, [("title".into(), "is required".into())]);
        }
    }

    #[test]
    fn the_task_model_fields_are_parsed_with_defaults() {
        let task = parse_new_task(JSON, br#"{"title":"t"}"#).unwrap();
        assert_eq!((task.due_date, task.priority), (None, Priority::None));
        assert!(task.tags.as_slice().is_empty());
        let body = br#"{"title":"t","due_date":"2026-12-24","priority":"high","tags":["Gifts","gifts","home"]}"#;
        let task = parse_new_task(JSON, body).unwrap();
        assert_eq!(task.due_date.unwrap().to_text(), "2026-12-24");
        assert_eq!(task.priority, Priority::High);
        assert_eq!(task.tags.as_slice().len(), 2);
    }

    #[test]
    fn invalid_task_model_fields_are_named() {
        let body = br#"{"title":"t","due_date":"2026-02-30","priority":"urgent","tags":"home"}"#;
        let errors = field_errors(parse_new_task(JSON, body).unwrap_err());
        let fields: Vec<_> = errors.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(fields, ["due_date", "priority", "tags"]);
        for body in [
            &br#"{"title":"t","due_date":20261224}"#[..],
            br#"{"title":"t","priority":3}"#,
            br#"{"title":"t","tags":[1]}"#,
        ] {
            assert_eq!(
                field_errors(parse_new_task(JSON, body).unwrap_err()).len(),
                1
            );
        }
    }

    #[test]
    fn a_patch_clears_due_dates_and_tags_and_leaves_absent_fields() {
        let patch = parse_patch(JSON, br#"{"due_date":null,"tags":[]}"#).unwrap();
        assert_eq!(patch.due_date, Some(None));
        assert_eq!(patch.tags, Some(Tags::default()));
        assert_eq!(patch.priority, None);
        let only_priority = parse_patch(JSON, br#"{"priority":"low"}"#).unwrap();
        assert_eq!((only_priority.due_date, only_priority.tags), (None, None));
    }

    #[test]
    fn a_patch_needs_at_least_one_known_field() {
        let errors = field_errors(parse_patch(JSON, br#"{"colour":"red"}"#).unwrap_err());
        assert_eq!(errors[0].0, "body");
    }

    #[test]
    fn a_patch_distinguishes_clearing_from_leaving_the_description() {
        let cleared = parse_patch(JSON, br#"{"description":null}"#).unwrap();
        assert_eq!(cleared.description, Some(None));
        let untouched = parse_patch(JSON, br#"{"completed":true}"#).unwrap();
        assert_eq!(untouched.description, None);
        assert_eq!(untouched.completed, Some(true));
    }

    #[test]
    fn a_patch_validates_like_create() {
        let errors = field_errors(parse_patch(JSON, br#"{"title":"   "}"#).unwrap_err());
        assert_eq!(errors, [("title".into(), "must not be empty".into())]);
    }

    #[test]
    fn completion_without_a_body_toggles_and_with_one_sets() {
        assert_eq!(
            parse_completion(None, b"").unwrap(),
            CompletionChange::Toggle
        );
        assert_eq!(
            parse_completion(JSON, br#"{"completed":false}"#).unwrap(),
            CompletionChange::Set(false)
        );
        assert_eq!(parse_completion(JSON, b"{}").unwrap_err().status(), 400);
        assert_eq!(
            parse_completion(Some("text/plain"), b"true")
                .unwrap_err()
                .status(),
            415
        );
    }
}
