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
    resource Task, create NewTask, patch TaskPatch, id TaskId, fields TASK_FIELDS;
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
}

/// What `PATCH .../complete` does to the completion flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionChange {
    /// Flip it, atomically in the database.
    Toggle,
    /// Set it to this value.
    Set(bool),
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
    use super::*;

    fn tricky_task() -> Task {
        Task {
            title: "a \"quote\", a \\ and\n\t\u{1} \u{7f} é 😀 \u{2028}".to_owned(),
            description: Some("line\r\nbreak".to_owned()),
            completed: true,
            due_date: Some("2026-12-24".to_owned()),
            priority: Priority::Medium,
            tags: JsonArray::new(r#"["x\"y","é"]"#.to_owned()).unwrap(),
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
        let fields: [(&str, serde_json::Value); 10] = [
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
        assert!(page[0].get("version").is_none(), "the version is the ETag");
        assert_eq!(page[1]["title"], tricky_task().title);
        let mut empty = Vec::new();
        write_task_array(&mut empty, []);
        assert_eq!(empty, b"[]");
    }
}
