//! The task: its fields, declared once in [`describe_resource!`]'s table, and what is derived
//! from them (the stored [`Task`], the create [`NewTask`], the update [`TaskPatch`], the column
//! list, the row decoder, the JSON writer and the idempotency digest).
//!
//! To add a field, add its row here and its column in a migration; see README.md, "Adding a
//! field to tasks".

use super::fields::{describe_resource, JsonArray};
use super::values::{Description, DueDate, Priority, Tags, TaskId, Title};
use crate::runtime::json;

/// The SQL that renders a timestamp column as RFC 3339 in UTC with microseconds, whatever
/// the session's TimeZone and DateStyle (a pooled connection does not let us set them).
macro_rules! utc_timestamp {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
    };
}

describe_resource! {
    resource Task, create NewTask, patch TaskPatch, id TaskId,
    fields TASK_FIELDS, columns TASK_COLUMNS;
    /// UUID, hyphenated lower case.
    id: String = "id::text";
    /// The owner's user id.
    user_id: String = "user_id";
    /// The title: trimmed, 1 to 200 characters.
    title: String = "title", input Title;
    /// The description, or `null`; kept as written.
    description: Option<String> = "description", input Option<Description>;
    /// Whether the task is done.
    completed: bool = "completed::text", input bool;
    /// Creation time, RFC 3339 in UTC with microseconds, as the database formats it.
    created_at: String = utc_timestamp!("created_at");
    /// Time of the last write, in the same format.
    updated_at: String = utc_timestamp!("updated_at");
    /// The due date, `YYYY-MM-DD`, or `null`.
    due_date: Option<String> = "to_char(due_date, 'YYYY-MM-DD')", input Option<DueDate>;
    /// The priority.
    priority: Priority = "priority::text", input Priority;
    /// The tags, lower-case, in the order first given.
    tags: JsonArray = "to_json(tags)::text", input Tags;
    /// When the task was last completed, in the same format; `null` while it is pending.
    completed_at: Option<String> = utc_timestamp!("completed_at");
}

/// What `PATCH .../complete` does to the completion flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionChange {
    /// Flip it, atomically in the database.
    Toggle,
    /// Set it to this value.
    Set(bool),
}

/// The most bytes of JSON one page of tasks, or of changes, carries. A page of 1000 tasks
/// of plain text is about 400 KB; one whose every description is 2000 control characters,
/// each escaped to six bytes, would be 14 MB, which a phone on a slow network should not have
/// to take in one answer. Past the budget the page ends early, with its `next` link or
/// `has_more`, and at least one task.
pub const PAGE_BUDGET_BYTES: usize = 1 << 20;

/// What a page's JSON holds besides its entries, at most: the array's closing bracket, and a
/// feed page's `deleted` key, `cursor` (about 200 bytes) and `has_more`.
const PAGE_ENVELOPE_BYTES: usize = 1024;

/// How many of `entries`, from the first, fit a page of [`PAGE_BUDGET_BYTES`]: all of them
/// when their bounds do, which costs a sum; otherwise they are measured exactly, by writing
/// them. `task_of` gives an entry's task, or `None` for an entry of `other_bytes` (a feed's
/// deleted id). Always at least one.
pub fn fitting_page<T>(
    entries: &[T],
    task_of: impl Fn(&T) -> Option<&Task>,
    other_bytes: usize,
) -> usize {
    // One byte for the comma or bracket before each entry, and what surrounds the entries:
    // the closing bracket, and a feed page's other fields and cursor.
    let bound = |entry: &T| 1 + task_of(entry).map_or(other_bytes, Task::json_bound);
    let bounded: usize = PAGE_ENVELOPE_BYTES + entries.iter().map(bound).sum::<usize>();
    if bounded <= PAGE_BUDGET_BYTES {
        return entries.len();
    }
    let mut scratch = Vec::new();
    let mut used = PAGE_ENVELOPE_BYTES;
    for (count, entry) in entries.iter().enumerate() {
        used += 1 + match task_of(entry) {
            Some(task) => {
                scratch.clear();
                task.write_json(&mut scratch);
                scratch.len()
            }
            None => other_bytes,
        };
        if used > PAGE_BUDGET_BYTES {
            return count.max(1);
        }
    }
    entries.len()
}

/// How many of `tasks`, from the first, fit a page of [`PAGE_BUDGET_BYTES`].
pub fn tasks_fitting_page(tasks: &[Task]) -> usize {
    fitting_page(tasks, |task| Some(task), 0)
}

/// Tasks as a JSON array, each by [`Task::write_json`].
pub fn write_task_array<'a>(out: &mut Vec<u8>, tasks: impl IntoIterator<Item = &'a Task>) {
    json::append_array(out, tasks, |out, task| task.write_json(out));
}

#[cfg(test)]
impl Task {
    /// A task with this id and version and placeholder fields, for unit tests.
    pub fn sample(id: &str, version: &str) -> Self {
        Self {
            id: id.to_owned(),
            version: version.to_owned(),
            ..Self::placeholder()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fields::Field;
    use super::*;

    fn tricky_task() -> Task {
        Task {
            title: "a \"quote\", a \\ and\n\t\u{1} \u{7f} é 😀 \u{2028}".to_owned(),
            description: Some("line\r\nbreak".to_owned()),
            completed: true,
            due_date: Some("2026-12-24".to_owned()),
            priority: Priority::Medium,
            tags: JsonArray::new(r#"["x\"y","é"]"#.to_owned()).unwrap(),
            completed_at: Some("2026-12-02T08:00:00.000000Z".to_owned()),
            ..Task::sample("0190f0a0-0000-7000-8000-000000000001", "3")
        }
    }

    #[test]
    fn a_task_is_written_as_serde_json_would_write_its_fields_in_order() {
        let task = tricky_task();
        let mut written = Vec::new();
        task.write_json(&mut written);
        // serde_json's own writer on the same fields, in the same order, is the yardstick.
        let mut expected = String::from("{");
        let fields: [(&str, serde_json::Value); 11] = [
            ("id", task.id.clone().into()),
            ("user_id", task.user_id.clone().into()),
            ("title", task.title.clone().into()),
            ("description", task.description.clone().into()),
            ("completed", task.completed.into()),
            ("created_at", task.created_at.clone().into()),
            ("updated_at", task.updated_at.clone().into()),
            ("due_date", task.due_date.clone().into()),
            ("priority", "medium".into()),
            ("tags", serde_json::json!(["x\"y", "é"])),
            ("completed_at", task.completed_at.clone().into()),
        ];
        for (index, (name, value)) in fields.iter().enumerate() {
            if index > 0 {
                expected.push(',');
            }
            expected.push_str(&format!("{}:{}", serde_json::json!(name), value));
        }
        expected.push('}');
        assert_eq!(String::from_utf8(written).unwrap(), expected);
    }

    #[test]
    fn the_json_bound_is_never_below_what_is_written() {
        let control = Task {
            description: Some("\u{1}".repeat(2000)),
            ..tricky_task()
        };
        for task in [Task::sample("a", "1"), tricky_task(), control] {
            let mut written = Vec::new();
            task.write_json(&mut written);
            assert!(task.json_bound() >= written.len(), "{}", task.title);
        }
    }

    #[test]
    fn a_page_stops_at_its_byte_budget_measured_exactly_and_keeps_at_least_one() {
        let heavy = Task {
            description: Some("\u{1}".repeat(2000)),
            ..Task::sample("0190f0a0-0000-7000-8000-000000000001", "1")
        };
        let mut one = Vec::new();
        heavy.write_json(&mut one);
        let page = vec![heavy; 1000];
        let fits = tasks_fitting_page(&page);
        let mut written = Vec::new();
        write_task_array(&mut written, &page[..fits]);
        assert!(written.len() <= PAGE_BUDGET_BYTES, "{}", written.len());
        assert_eq!(
            fits,
            (PAGE_BUDGET_BYTES - PAGE_ENVELOPE_BYTES) / (one.len() + 1),
            "exact, not by the bound"
        );
        let plain = vec![Task::sample("a", "1"); 1000];
        assert_eq!(tasks_fitting_page(&plain), 1000);
        let huge = Task {
            title: "x".repeat(PAGE_BUDGET_BYTES),
            ..Task::sample("a", "1")
        };
        assert_eq!(tasks_fitting_page(&[huge]), 1);
        let deletions = vec![(); 10];
        assert_eq!(fitting_page(&deletions, |_| None, 40), 10);
    }

    #[test]
    fn a_page_of_tasks_is_a_json_array_and_absent_values_are_null() {
        let plain = Task::sample("a", "1");
        let mut written = Vec::new();
        write_task_array(&mut written, [&plain, &tricky_task()]);
        let page: serde_json::Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(page.as_array().map(Vec::len), Some(2));
        assert_eq!(page[0]["description"], serde_json::Value::Null);
        assert_eq!(page[0]["due_date"], serde_json::Value::Null);
        assert_eq!(page[0]["completed"], false);
        assert_eq!(page[0]["priority"], "none");
        assert_eq!(page[0]["tags"], serde_json::json!([]));
        assert_eq!(page[0]["completed_at"], serde_json::Value::Null);
        assert!(page[0].get("version").is_none(), "the version is the ETag");
        assert_eq!(page[1]["title"], tricky_task().title);
        let mut empty = Vec::new();
        write_task_array(&mut empty, []);
        assert_eq!(empty, b"[]");
    }

    fn names(fields: impl Iterator<Item = &'static Field>) -> Vec<&'static str> {
        fields.map(|field| field.name).collect()
    }

    fn written() -> Vec<&'static str> {
        names(TASK_FIELDS.iter().filter(|field| field.input.is_some()))
    }

    #[test]
    fn the_json_writer_writes_every_field_of_the_description_in_order() {
        let mut written = Vec::new();
        Task::placeholder().write_json(&mut written);
        let text = String::from_utf8(written).unwrap();
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut expected = names(TASK_FIELDS.iter());
        assert_eq!(keys.len(), expected.len(), "{text}");
        // serde_json's map sorts its keys; the order is read off the text.
        let mut positions: Vec<(usize, &str)> = keys
            .iter()
            .map(|key| (text.find(&format!("\"{key}\":")).unwrap(), *key))
            .collect();
        positions.sort();
        let in_text: Vec<&str> = positions.into_iter().map(|(_, key)| key).collect();
        assert_eq!(in_text, expected);
        expected.sort();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn a_row_decodes_only_in_the_descriptions_shape_and_names_a_bad_column() {
        let placeholder = Task::placeholder();
        let mut row: Vec<Option<String>> = TASK_FIELDS
            .iter()
            .map(|field| match field.name {
                "completed" => Some("false".to_owned()),
                "priority" => Some("0".to_owned()),
                "tags" => Some("[]".to_owned()),
                _ => Some("x".to_owned()),
            })
            .collect();
        row.push(Some("7".to_owned()));
        let task = Task::decode(&mut row.clone().into_iter()).unwrap();
        assert_eq!(task.version, "7");
        assert_eq!(task.completed, placeholder.completed);
        let short = row[..row.len() - 1].to_vec();
        assert_eq!(Task::decode(&mut short.into_iter()), Err("version"));
        for field in TASK_FIELDS {
            let index = TASK_FIELDS.iter().position(|f| f == field).unwrap();
            let mut broken = row.clone();
            broken[index] = match field.name {
                "completed" | "priority" | "tags" => Some("not what it stores".to_owned()),
                _ => continue,
            };
            assert_eq!(Task::decode(&mut broken.into_iter()), Err(field.name));
        }
    }

    fn object(json: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_written_field_is_parsed_digested_and_patched() {
        let id = TaskId::generate();
        let base = NewTask::from_json(id, &object(r#"{"title":"t"}"#)).unwrap();
        for field in TASK_FIELDS {
            let Some(input) = field.input else { continue };
            let body = object(&format!(
                r#"{{"title":"t","{}":{}}}"#,
                field.name, input.example
            ));
            let changed = NewTask::from_json(id, &body)
                .unwrap_or_else(|errors| panic!("{}: {errors:?}", field.name));
            assert_ne!(
                changed.request_digest(),
                base.request_digest(),
                "{} must enter the idempotency digest",
                field.name
            );
            let mut bound = Vec::new();
            changed.bind(|column, binding, _| bound.push((column, binding)));
            assert!(
                bound.contains(&(field.name, input)),
                "{} is inserted",
                field.name
            );

            let patch = TaskPatch::from_json(&object(&format!(
                r#"{{"{}":{}}}"#,
                field.name, input.example
            )))
            .unwrap();
            let mut set = Vec::new();
            patch.bind(|column, _, change| {
                if matches!(change, super::super::fields::Change::Set(_)) {
                    set.push(column);
                }
            });
            assert_eq!(set, [field.name], "a patch of {} sets it alone", field.name);
        }
        let mut inserted = Vec::new();
        base.bind(|column, _, _| inserted.push(column));
        assert_eq!(inserted, written());
    }

    #[test]
    fn an_empty_patch_names_every_written_field() {
        let errors = TaskPatch::from_json(&object(r#"{"colour":"red"}"#)).unwrap_err();
        assert_eq!(errors[0].field, "body");
        assert_eq!(
            errors[0].message,
            format!("must contain at least one of {}", written().join(", "))
        );
    }

    /// The component schema `name` of openapi.json.
    fn schema(name: &str) -> serde_json::Value {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../openapi.json")).unwrap();
        document["components"]["schemas"][name].clone()
    }

    fn property_names(schema: &serde_json::Value) -> Vec<String> {
        schema["properties"]
            .as_object()
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// `documented` against `described`: the fields one has and the other lacks, by name.
    fn disagreement(documented: &[String], described: &[&str]) -> (Vec<String>, Vec<String>) {
        let missing = described
            .iter()
            .filter(|name| !documented.iter().any(|documented| documented == *name))
            .map(|name| name.to_string())
            .collect();
        let extra = documented
            .iter()
            .filter(|name| !described.contains(&name.as_str()))
            .cloned()
            .collect();
        (missing, extra)
    }

    fn assert_documents(what: &str, documented: &[String], described: &[&str]) {
        let (missing, extra) = disagreement(documented, described);
        assert!(
            missing.is_empty() && extra.is_empty(),
            "openapi.json's {what} lacks {missing:?} and has {extra:?} beyond the task's description"
        );
    }

    #[test]
    fn openapi_documents_exactly_the_descriptions_fields() {
        let all = names(TASK_FIELDS.iter());
        let task = schema("Task");
        assert_documents("Task.properties", &property_names(&task), &all);
        let required: Vec<String> = serde_json::from_value(task["required"].clone()).unwrap();
        assert_documents("Task.required", &required, &all);

        let written = written();
        assert_documents(
            "TaskCreate.properties",
            &property_names(&schema("TaskCreate")),
            &written,
        );
        let update = schema("TaskUpdate");
        let branches = update["anyOf"].as_array().unwrap();
        let mut each_required = Vec::new();
        for branch in branches {
            assert_documents("a TaskUpdate branch", &property_names(branch), &written);
            each_required
                .extend(serde_json::from_value::<Vec<String>>(branch["required"].clone()).unwrap());
        }
        assert_documents("TaskUpdate's one-field branches", &each_required, &written);
    }

    #[test]
    fn the_openapi_check_names_what_disagrees() {
        let documented = vec!["id".to_owned(), "colour".to_owned()];
        assert_eq!(
            disagreement(&documented, &["id", "title"]),
            (vec!["title".to_owned()], vec!["colour".to_owned()])
        );
    }
}
