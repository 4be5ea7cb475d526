//! Task storage: one interface for the handlers, one SQL module, one transport per way of
//! reaching PostgreSQL.
//!
//! [`TaskStore`] is what handlers call. [`SqlStore`] implements it once, for any
//! [`Transport`]: it builds statements from [`sql`] and decodes the rows, so a transport only
//! moves a statement to the database and text rows back. That keeps SQL out of the transports
//! and transport details out of the handlers.

pub mod hyperdrive;
pub mod neon_http;
pub mod postgres;
pub mod socket;
pub mod sql;

use async_trait::async_trait;
use std::time::Duration;

use worker::Env;

use crate::auth::Caller;
use crate::config::DatabaseConfig;
use crate::cursor::{FeedPosition, Position};
use crate::domain::{
    CompletionChange, IdempotencyKey, ListQuery, NewTask, Priority, TagsJson, Task, TaskId,
    TaskPatch,
};
use hyperdrive::HyperdriveTransport;
use neon_http::NeonHttpTransport;
use sql::{Precondition, Statement};

/// The longest a single storage call may take, connection included, before the request is
/// answered with 503 rather than left hanging. Each transport keeps it with a timer of the
/// runtime's, set where the I/O starts.
pub const STORAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a storage call failed. The string is the full cause, for the log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database could not be reached, refused work for now, or timed out: worth a retry.
    Unavailable(String),
    /// Anything else: a bug, a missing migration, a misconfigured credential.
    Internal(String),
    /// A session caller's session does not exist or has expired (signed out): nothing was
    /// read or written.
    SessionEnded,
    /// A session caller's session belongs to another user than the path's: nothing was read
    /// or written.
    SessionOfAnotherUser,
    /// `If-Match` named other versions than the task's: nothing was written. The task's
    /// current version.
    PreconditionFailed(String),
    /// The `Idempotency-Key` came with another request before: nothing was written.
    IdempotencyKeyReused,
    /// A request with the same `Idempotency-Key` has not finished: nothing was written.
    IdempotencyKeyInProgress,
}

/// One change of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A task created or changed, as it is now.
    Task(Task),
    /// The id of a task deleted.
    Deleted(String),
}

/// A page of the change feed: the changes with the transaction id of each, and the horizon
/// (the snapshot's xmin) below which every transaction has finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesPage {
    /// The changes, each with its transaction id and task id, in feed order.
    pub changes: Vec<(String, String, Change)>,
    /// Every transaction below this id had finished when the page was read.
    pub horizon: String,
}

/// What a create under an `Idempotency-Key` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// It created this task.
    New(Task),
    /// The key's first request created this task (`None`: since deleted); nothing new.
    Replayed(Option<Task>),
}

/// One row as text columns; NULL is `None`.
pub type Row = Vec<Option<String>>;

/// The storage operations of the API. Every method takes the caller first and can only see
/// the caller's user's tasks; for a session caller, the same statement checks the session.
#[async_trait(?Send)]
pub trait TaskStore {
    /// Proves the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The user's tasks, filtered and sorted: at most `query.limit + 1`, starting after `after`
    /// (the extra task says whether another page follows).
    async fn list(
        &self,
        caller: &Caller,
        query: &ListQuery,
        after: Option<&Position>,
    ) -> Result<Vec<Task>, StoreError>;
    /// Stores a new task and returns it as stored.
    async fn create(&self, caller: &Caller, task: &NewTask) -> Result<Task, StoreError>;
    /// Stores a new task unless `key` was used before: then the first request's task.
    async fn create_once(
        &self,
        caller: &Caller,
        task: &NewTask,
        key: &IdempotencyKey,
    ) -> Result<Created, StoreError>;
    /// The user's changes after `after`, at most `limit + 1`.
    async fn changes(
        &self,
        caller: &Caller,
        after: &FeedPosition,
        limit: u32,
    ) -> Result<ChangesPage, StoreError>;
    /// One task, if the user has it.
    async fn get(&self, caller: &Caller, task: TaskId) -> Result<Option<Task>, StoreError>;
    /// Applies a partial update; `None` if the user has no such task.
    async fn update(
        &self,
        caller: &Caller,
        task: TaskId,
        patch: &TaskPatch,
        precondition: &Precondition,
    ) -> Result<Option<Task>, StoreError>;
    /// Sets or toggles completion; `None` if the user has no such task.
    async fn change_completion(
        &self,
        caller: &Caller,
        task: TaskId,
        change: CompletionChange,
        precondition: &Precondition,
    ) -> Result<Option<Task>, StoreError>;
    /// Deletes a task; `false` if the user had no such task.
    async fn delete(
        &self,
        caller: &Caller,
        task: TaskId,
        precondition: &Precondition,
    ) -> Result<bool, StoreError>;
}

/// A way of running one statement against PostgreSQL.
#[async_trait(?Send)]
pub trait Transport {
    /// Runs the statement and returns its rows as text.
    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, StoreError>;
}

/// The store the configuration selects. Nothing is looked up or connected until the first
/// statement.
pub fn open<'a>(database: &'a DatabaseConfig, env: &'a Env) -> Box<dyn TaskStore + 'a> {
    match database {
        DatabaseConfig::Hyperdrive {
            binding,
            allow_password_without_tls,
        } => Box::new(SqlStore::new(HyperdriveTransport::new(
            env,
            binding,
            *allow_password_without_tls,
        ))),
        DatabaseConfig::NeonHttp {
            endpoint,
            connection_string,
        } => Box::new(SqlStore::new(NeonHttpTransport::new(
            endpoint,
            connection_string.expose(),
        ))),
    }
}

/// [`TaskStore`] over any [`Transport`].
pub struct SqlStore<T> {
    transport: T,
}

impl<T: Transport> SqlStore<T> {
    /// Wraps a transport.
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    async fn rows(&self, caller: &Caller, statement: Statement) -> Result<Vec<Row>, StoreError> {
        let rows = self.transport.query(&statement).await?;
        match caller {
            Caller::User(_) => Ok(rows),
            Caller::Session { user, .. } => session_rows(rows, user.as_str()),
        }
    }

    async fn task(
        &self,
        caller: &Caller,
        statement: Statement,
    ) -> Result<Option<Task>, StoreError> {
        self.rows(caller, statement)
            .await?
            .into_iter()
            .next()
            .map(task_from_row)
            .transpose()
    }
}

#[async_trait(?Send)]
impl<T: Transport> TaskStore for SqlStore<T> {
    async fn ping(&self) -> Result<(), StoreError> {
        self.transport.query(&sql::ping()).await.map(drop)
    }

    async fn list(
        &self,
        caller: &Caller,
        query: &ListQuery,
        after: Option<&Position>,
    ) -> Result<Vec<Task>, StoreError> {
        self.rows(caller, sql::list_tasks(caller, query, after))
            .await?
            .into_iter()
            .map(task_from_row)
            .collect()
    }

    async fn create(&self, caller: &Caller, task: &NewTask) -> Result<Task, StoreError> {
        self.task(caller, sql::insert_task(caller, task))
            .await?
            .ok_or_else(|| StoreError::Internal("INSERT ... RETURNING returned no row".to_owned()))
    }

    async fn create_once(
        &self,
        caller: &Caller,
        task: &NewTask,
        key: &IdempotencyKey,
    ) -> Result<Created, StoreError> {
        let statement = sql::insert_task_once(caller, task, key.as_str(), &task.request_digest());
        let mut row = self
            .rows(caller, statement)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                StoreError::Internal("an idempotent insert returned no row".to_owned())
            })?;
        let outcome = if row.is_empty() { None } else { row.remove(0) };
        let task = || -> Result<Option<Task>, StoreError> {
            match row.iter().all(Option::is_none) {
                true => Ok(None),
                false => task_from_row(row.clone()).map(Some),
            }
        };
        match outcome.as_deref() {
            Some(sql::CREATED) => task()?
                .map(Created::New)
                .ok_or_else(|| StoreError::Internal("a created task came back empty".to_owned())),
            Some(sql::REPLAYED) => Ok(Created::Replayed(task()?)),
            Some(sql::REUSED) => Err(StoreError::IdempotencyKeyReused),
            Some(sql::IN_PROGRESS) => Err(StoreError::IdempotencyKeyInProgress),
            _ => Err(StoreError::Internal(format!(
                "an idempotent insert answered {}",
                row_shape(&row)
            ))),
        }
    }

    async fn changes(
        &self,
        caller: &Caller,
        after: &FeedPosition,
        limit: u32,
    ) -> Result<ChangesPage, StoreError> {
        let rows = self
            .rows(caller, sql::list_changes(caller, after, limit))
            .await?;
        let horizon = rows
            .first()
            .and_then(|row| row.first())
            .cloned()
            .flatten()
            .ok_or_else(|| {
                StoreError::Internal("a change feed read returned no horizon".to_owned())
            })?;
        let mut changes = Vec::new();
        for row in rows {
            let mut columns = row.into_iter().skip(2);
            let (Some(xid), Some(id), Some(kind)) = (
                columns.next().flatten(),
                columns.next().flatten(),
                columns.next().flatten(),
            ) else {
                continue;
            };
            let change = match kind.as_str() {
                "task" => Change::Task(task_from_row(columns.collect())?),
                _ => Change::Deleted(id.clone()),
            };
            changes.push((xid, id, change));
        }
        Ok(ChangesPage { changes, horizon })
    }

    async fn get(&self, caller: &Caller, task: TaskId) -> Result<Option<Task>, StoreError> {
        self.task(caller, sql::select_task(caller, task)).await
    }

    async fn update(
        &self,
        caller: &Caller,
        task: TaskId,
        patch: &TaskPatch,
        precondition: &Precondition,
    ) -> Result<Option<Task>, StoreError> {
        let statement = sql::update_task(caller, task, patch, precondition);
        let rows = self.rows(caller, statement).await?;
        first_task(conditional_rows(rows, precondition)?)
    }

    async fn change_completion(
        &self,
        caller: &Caller,
        task: TaskId,
        change: CompletionChange,
        precondition: &Precondition,
    ) -> Result<Option<Task>, StoreError> {
        let statement = sql::change_completion(caller, task, change, precondition);
        let rows = self.rows(caller, statement).await?;
        first_task(conditional_rows(rows, precondition)?)
    }

    async fn delete(
        &self,
        caller: &Caller,
        task: TaskId,
        precondition: &Precondition,
    ) -> Result<bool, StoreError> {
        let rows = self
            .rows(caller, sql::delete_task(caller, task, precondition))
            .await?;
        Ok(!conditional_rows(rows, precondition)?.is_empty())
    }
}

fn first_task(rows: Vec<Row>) -> Result<Option<Task>, StoreError> {
    rows.into_iter().next().map(task_from_row).transpose()
}

/// Unwraps the rows of an `If-Match` write ([`sql::finish`]): each is
/// prefixed with the task's current version (NULL when it does not exist), and a write that
/// did not happen comes as one row whose other columns are all NULL.
fn conditional_rows(rows: Vec<Row>, precondition: &Precondition) -> Result<Vec<Row>, StoreError> {
    if *precondition == Precondition::None {
        return Ok(rows);
    }
    let current = rows.first().and_then(|row| row.first()).cloned().flatten();
    let written: Vec<Row> = rows
        .into_iter()
        .map(|row| row.into_iter().skip(1).collect::<Row>())
        .filter(|row| row.iter().any(Option::is_some))
        .collect();
    match (written.is_empty(), current) {
        (false, _) | (true, None) => Ok(written),
        (true, Some(version)) => Err(StoreError::PreconditionFailed(version)),
    }
}

/// Unwraps the rows of a session caller's statement ([`sql::finish`]): each is prefixed
/// with the session's user id, NULL when there is no live session, and an empty result comes
/// as one row whose other columns are all NULL.
fn session_rows(rows: Vec<Row>, path_user: &str) -> Result<Vec<Row>, StoreError> {
    let session_user = rows
        .first()
        .and_then(|row| row.first())
        .ok_or_else(|| StoreError::Internal("a session statement returned no row".to_owned()))?;
    match session_user.as_deref() {
        None => return Err(StoreError::SessionEnded),
        Some(user) if user != path_user => return Err(StoreError::SessionOfAnotherUser),
        Some(_) => {}
    }
    Ok(rows
        .into_iter()
        .map(|row| row.into_iter().skip(1).collect::<Row>())
        .filter(|row| row.iter().any(Option::is_some))
        .collect())
}

/// The shape of a row for the log: its width and which columns are NULL, never its values
/// (a task's title and description are the user's data).
fn row_shape(row: &[Option<String>]) -> String {
    let nulls: Vec<String> = row
        .iter()
        .enumerate()
        .filter(|(_, value)| value.is_none())
        .map(|(index, _)| index.to_string())
        .collect();
    format!("{} columns, NULL at [{}]", row.len(), nulls.join(", "))
}

/// Decodes a row laid out as [`sql::TASK_COLUMNS`]. The columns are checked in place and then
/// moved into the task, so a page of rows is decoded without copying a value.
pub fn task_from_row(row: Row) -> Result<Task, StoreError> {
    let malformed = |row: &[Option<String>]| {
        StoreError::Internal(format!(
            "unexpected task row shape (expected id, user_id, title, description, completed, created_at, updated_at, due_date, priority, tags, version): {}",
            row_shape(row)
        ))
    };
    let columns: [Option<String>; sql::TASK_WIDTH] =
        row.try_into().map_err(|row: Row| malformed(&row))?;
    let completed = match columns[4].as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(malformed(&columns)),
    };
    let Some(priority) = columns[8].as_deref().and_then(Priority::from_rank) else {
        return Err(malformed(&columns));
    };
    if !columns[9]
        .as_deref()
        .is_some_and(|tags| tags.starts_with('[') && tags.ends_with(']'))
    {
        return Err(malformed(&columns));
    }
    match columns {
        [Some(id), Some(user_id), Some(title), description, _, Some(created_at), Some(updated_at), due_date, _, Some(tags), Some(version)] => {
            Ok(Task {
                id,
                user_id,
                title,
                description,
                completed,
                created_at,
                updated_at,
                due_date,
                priority,
                tags: TagsJson::from_database(tags),
                version,
            })
        }
        columns => Err(malformed(&columns)),
    }
}

/// Sorts a SQLSTATE into retryable unavailability or an internal fault.
pub fn classify_sqlstate(code: &str, cause: String) -> StoreError {
    let retryable = code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources, too many connections
        || code.starts_with("57P") // server shutting down or starting up
        || code == "40001" // serialization failure
        || code == "40P01" // deadlock detected
        || code == "55P03" // lock not available
        || code == "57014"; // statement cancelled, e.g. by statement_timeout
    if retryable {
        StoreError::Unavailable(cause)
    } else {
        StoreError::Internal(cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[Option<&str>]) -> Row {
        values
            .iter()
            .map(|value| value.map(str::to_owned))
            .collect()
    }

    #[test]
    fn a_full_row_decodes_into_a_task() {
        let task = task_from_row(row(&[
            Some("0190f0a0-0000-7000-8000-000000000000"),
            Some("u"),
            Some("title"),
            None,
            Some("true"),
            Some("2026-11-27T16:00:00.000001Z"),
            Some("2026-11-27T16:00:01.000000Z"),
            Some("2026-12-24"),
            Some("3"),
            Some(r#"["gifts","home"]"#),
            Some("2"),
        ]))
        .unwrap();
        assert_eq!(task.description, None);
        assert!(task.completed);
        assert_eq!(task.updated_at, "2026-11-27T16:00:01.000000Z");
        assert_eq!(task.due_date.as_deref(), Some("2026-12-24"));
        assert_eq!(task.priority, Priority::High);
        assert_eq!(task.tags.as_str(), r#"["gifts","home"]"#);
    }

    #[test]
    fn rows_of_the_wrong_shape_are_internal_errors() {
        assert!(matches!(
            task_from_row(row(&[Some("id")])),
            Err(StoreError::Internal(_))
        ));
        let good = [
            Some("i"),
            Some("u"),
            Some("t"),
            None,
            Some("false"),
            Some("c"),
            Some("u"),
            None,
            Some("0"),
            Some("[]"),
            Some("1"),
        ];
        assert!(task_from_row(row(&good)).is_ok());
        for (column, bad) in [(4, Some("t")), (2, None), (8, Some("7")), (9, Some("{a}"))] {
            let mut broken = good;
            broken[column] = bad;
            assert!(
                task_from_row(row(&broken)).is_err(),
                "column {column} = {bad:?}"
            );
        }
    }

    #[test]
    fn a_malformed_row_is_logged_by_shape_never_by_value() {
        let secret_title = row(&[Some("i"), Some("u"), Some("my diary entry"), None]);
        match task_from_row(secret_title) {
            Err(StoreError::Internal(cause)) => {
                assert!(cause.contains("4 columns, NULL at [3]"), "{cause}");
                assert!(!cause.contains("diary"), "{cause}");
            }
            other => panic!("expected an internal error, got {other:?}"),
        }
    }

    #[test]
    fn session_rows_say_whose_session_it_was_and_carry_the_result() {
        let found = vec![row(&[Some("u1"), Some("a")]), row(&[Some("u1"), Some("b")])];
        assert_eq!(
            session_rows(found, "u1").unwrap(),
            [row(&[Some("a")]), row(&[Some("b")])]
        );
        let empty = vec![row(&[Some("u1"), None])];
        assert!(session_rows(empty, "u1").unwrap().is_empty());
        assert_eq!(
            session_rows(vec![row(&[None, None])], "u1"),
            Err(StoreError::SessionEnded)
        );
        assert_eq!(
            session_rows(vec![row(&[Some("u2"), Some("a")])], "u1"),
            Err(StoreError::SessionOfAnotherUser)
        );
        assert!(matches!(
            session_rows(Vec::new(), "u1"),
            Err(StoreError::Internal(_))
        ));
    }

    #[test]
    fn sqlstates_are_sorted_into_retryable_and_not() {
        for code in ["08006", "53300", "57P01", "57P03", "40001"] {
            assert!(
                matches!(
                    classify_sqlstate(code, String::new()),
                    StoreError::Unavailable(_)
                ),
                "{code}"
            );
        }
        for code in ["42P01", "28P01", "23514", "22P02"] {
            assert!(
                matches!(
                    classify_sqlstate(code, String::new()),
                    StoreError::Internal(_)
                ),
                "{code}"
            );
        }
    }
}
