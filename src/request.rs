//! Turning request bodies into domain values, with every failure a precise client error.
//!
//! The parsing is pure over bytes and header values, so the bad-input table is unit-tested
//! natively; `read_body` is the only part that touches the runtime.

use serde_json::{Map, Value};

use crate::{
    domain::{
        CompletionChange, Description, DueDate, FieldError, NewTask, Priority, Tags, TaskId,
        TaskPatch, Title,
    },
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

/// Parses a create body: `{title, description?, completed?, due_date?, priority?, tags?}`;
/// other fields are ignored.
pub fn parse_new_task(content_type: Option<&str>, body: &[u8]) -> Result<NewTask, ApiError> {
    let object = json_object(content_type, body)?;
    let mut errors = Vec::new();

    let title = match object.get("title") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("title", "is required"));
            None
        }
        Some(value) => collect(
            &mut errors,
            string_field("title", value).and_then(Title::parse),
        ),
    };
    let description = match object.get("description") {
        None => None,
        Some(value) => collect(&mut errors, description_field(value)).flatten(),
    };
    let completed = match object.get("completed") {
        None => None,
        Some(value) => collect(&mut errors, bool_field("completed", value)),
    };
    let (due_date, priority, tags) = planning_fields(&object, &mut errors);

    match (title, errors.is_empty()) {
        (Some(title), true) => Ok(NewTask {
            id: TaskId::generate(),
            title,
            description,
            completed: completed.unwrap_or(false),
            due_date: due_date.flatten(),
            priority: priority.unwrap_or_default(),
            tags: tags.unwrap_or_default(),
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Parses an update body: any of `title`, `description` (null clears it), `completed`,
/// `due_date` (null clears it), `priority`, `tags` (`[]` clears them).
pub fn parse_patch(content_type: Option<&str>, body: &[u8]) -> Result<TaskPatch, ApiError> {
    let object = json_object(content_type, body)?;
    let mut errors = Vec::new();

    let title = object.get("title").and_then(|value| {
        collect(
            &mut errors,
            string_field("title", value).and_then(Title::parse),
        )
    });
    let description = object
        .get("description")
        .and_then(|value| collect(&mut errors, description_field(value)));
    let completed = object
        .get("completed")
        .and_then(|value| collect(&mut errors, bool_field("completed", value)));
    let (due_date, priority, tags) = planning_fields(&object, &mut errors);

    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let patch = TaskPatch {
        title,
        description,
        completed,
        due_date,
        priority,
        tags,
    };
    if patch.is_empty() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "body",
            "must contain at least one of title, description, completed, due_date, priority, tags",
        )]));
    }
    Ok(patch)
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
        Some(value) => bool_field("completed", value)
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
            json_kind(&other)
        ))),
        Err(error) => Err(ApiError::BadRequest(format!(
            "The request body is not valid JSON (line {}, column {}).",
            error.line(),
            error.column()
        ))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Records a field's error and yields its value when it has one.
fn collect<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

fn string_field<'a>(field: &str, value: &'a Value) -> Result<&'a str, FieldError> {
    value.as_str().ok_or_else(|| {
        FieldError::new(field, format!("must be a string, not {}", json_kind(value)))
    })
}

fn bool_field(field: &str, value: &Value) -> Result<bool, FieldError> {
    value.as_bool().ok_or_else(|| {
        FieldError::new(
            field,
            format!("must be a boolean, not {}", json_kind(value)),
        )
    })
}

/// `due_date`, `priority` and `tags`, each `None` when absent; `due_date` is `Some(None)` for
/// an explicit `null`. Errors are recorded field by field.
fn planning_fields(
    object: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> (Option<Option<DueDate>>, Option<Priority>, Option<Tags>) {
    let due_date = object
        .get("due_date")
        .and_then(|value| collect(errors, due_date_field(value)));
    let priority = object
        .get("priority")
        .and_then(|value| collect(errors, priority_field(value)));
    let tags = object
        .get("tags")
        .and_then(|value| collect(errors, tags_field(value)));
    (due_date, priority, tags)
}

/// `null` means "no due date"; a string must be a date that exists.
fn due_date_field(value: &Value) -> Result<Option<DueDate>, FieldError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => DueDate::parse("due_date", text).map(Some),
        other => Err(FieldError::new(
            "due_date",
            format!(
                "must be a date string (YYYY-MM-DD) or null, not {}",
                json_kind(other)
            ),
        )),
    }
}

fn priority_field(value: &Value) -> Result<Priority, FieldError> {
    string_field("priority", value).and_then(|text| Priority::parse("priority", text))
}

/// An array of strings; `[]` means no tags.
fn tags_field(value: &Value) -> Result<Tags, FieldError> {
    let Value::Array(items) = value else {
        return Err(FieldError::new(
            "tags",
            format!("must be an array of strings, not {}", json_kind(value)),
        ));
    };
    let texts = items
        .iter()
        .map(|item| {
            item.as_str().ok_or_else(|| {
                FieldError::new(
                    "tags",
                    format!("must be an array of strings, not of {}", json_kind(item)),
                )
            })
        })
        .collect::<Result<Vec<&str>, _>>()?;
    Tags::parse(texts)
}

/// `null` means "no description"; a string is validated.
fn description_field(value: &Value) -> Result<Option<Description>, FieldError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Description::parse(text).map(Some),
        other => Err(FieldError::new(
            "description",
            format!("must be a string or null, not {}", json_kind(other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
