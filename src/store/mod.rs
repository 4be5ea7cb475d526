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
pub mod statement;

use async_trait::async_trait;
use std::time::Duration;

use worker::Env;

use crate::auth::Caller;
use crate::cursor::{FeedPosition, Position};
use crate::domain::{
    CompletionChange, IdempotencyKey, ListQuery, NewTask, Precondition, Task, TaskId, TaskPatch,
};
use hyperdrive::HyperdriveTransport;
use neon_http::NeonHttpTransport;
use statement::{Layout, Statement};

/// The longest a single storage call may take, connection included, before the request is
/// answered with 503 rather than left hanging. Each transport keeps it with a timer of the
/// runtime's, set where the I/O starts.
pub const STORAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the worker reaches PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// Through the Hyperdrive binding of this name, with the lean PostgreSQL client over a TCP socket.
    Hyperdrive {
        /// The binding's name.
        binding: &'static str,
        /// `DB_ALLOW_PASSWORD_WITHOUT_TLS` (default on): answer a cleartext or MD5 password
        /// request on the binding's socket, which the runtime routes to Hyperdrive without
        /// TLS. Off: only SCRAM, which never reveals the password, is answered there.
        allow_password_without_tls: bool,
    },
    /// Through Neon's SQL-over-HTTP endpoint with `fetch`.
    NeonHttp {
        /// The `/sql` URL: `NEON_HTTP_ENDPOINT`, or derived from a Neon host (`*.neon.tech`).
        endpoint: String,
        /// `DATABASE_URL`, sent in the `Neon-Connection-String` header.
        connection_string: Redacted,
    },
}

/// A credential-bearing string that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    /// Wraps a credential-bearing string.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("<redacted>")
    }
}

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
    /// The user has as many tasks as the quota (carried) allows: nothing was written.
    QuotaExceeded(u32),
}

/// One change of the feed.
// Most changes are tasks: boxing them would cost an allocation per task to save space on
// deletions alone.
#[allow(clippy::large_enum_variant)]
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
    /// The newest transaction among the user's tombstones the clean-up removed to keep the
    /// user under the cap, if it ever did: a cursor at or before it may have missed one.
    pub pruned: Option<String>,
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
    async fn create(&self, caller: &Caller, task: &NewTask, quota: u32)
        -> Result<Task, StoreError>;
    /// Stores a new task unless `key` was used before: then the first request's task.
    async fn create_once(
        &self,
        caller: &Caller,
        task: &NewTask,
        key: &IdempotencyKey,
        quota: u32,
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
    Box::new(SqlStore::new(transport(database, env)))
}

/// The transport the configuration selects.
fn transport<'a>(database: &'a DatabaseConfig, env: &'a Env) -> Box<dyn Transport + 'a> {
    match database {
        DatabaseConfig::Hyperdrive {
            binding,
            allow_password_without_tls,
        } => Box::new(HyperdriveTransport::new(
            env,
            binding,
            *allow_password_without_tls,
        )),
        DatabaseConfig::NeonHttp {
            endpoint,
            connection_string,
        } => Box::new(NeonHttpTransport::new(endpoint, connection_string.expose())),
    }
}

#[async_trait(?Send)]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, StoreError> {
        (**self).query(statement).await
    }
}

/// What one clean-up statement removed: see [`sql::clean_up`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// Idempotency keys past their 24 hours.
    pub expired_keys: u64,
    /// Tombstones past their 30 days.
    pub old_tombstones: u64,
    /// Keys past their user's cap.
    pub excess_keys: u64,
    /// Tombstones past their user's cap.
    pub excess_tombstones: u64,
}

impl Cleaned {
    /// The four counts, in the order of the fields.
    pub fn counts(&self) -> [u64; 4] {
        [
            self.expired_keys,
            self.old_tombstones,
            self.excess_keys,
            self.excess_tombstones,
        ]
    }

    /// Adds another statement's counts to these.
    pub fn add(&mut self, other: &Self) {
        self.expired_keys += other.expired_keys;
        self.old_tombstones += other.old_tombstones;
        self.excess_keys += other.excess_keys;
        self.excess_tombstones += other.excess_tombstones;
    }
}

/// The work that spans users: run only by the scheduled handler (src/jobs.rs), never by a
/// request, which is why it is not part of [`TaskStore`].
#[async_trait(?Send)]
pub trait Maintenance {
    /// Removes one batch of what the bookkeeping tables no longer need.
    async fn clean_up(&self, limits: &sql::Cleanup) -> Result<Cleaned, StoreError>;
}

/// The maintenance side of the store the configuration selects.
pub fn open_maintenance<'a>(
    database: &'a DatabaseConfig,
    env: &'a Env,
) -> Box<dyn Maintenance + 'a> {
    Box::new(SqlStore::new(transport(database, env)))
}

#[async_trait(?Send)]
impl<T: Transport> Maintenance for SqlStore<T> {
    async fn clean_up(&self, limits: &sql::Cleanup) -> Result<Cleaned, StoreError> {
        let rows = self.transport.query(&sql::clean_up(limits)).await?;
        let counts: Vec<u64> = rows
            .into_iter()
            .next()
            .unwrap_or_default()
            .into_iter()
            .map(|count| count.and_then(|count| count.parse().ok()))
            .collect::<Option<_>>()
            .unwrap_or_default();
        let [expired_keys, old_tombstones, excess_keys, excess_tombstones, _horizons] = counts[..]
        else {
            return Err(StoreError::Internal(
                "the clean-up did not answer its five counts".to_owned(),
            ));
        };
        Ok(Cleaned {
            expired_keys,
            old_tombstones,
            excess_keys,
            excess_tombstones,
        })
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

    /// Runs a statement and answers the work's own rows, once the checks its [`Layout`]
    /// carries have passed: the session was the path user's, and `If-Match` matched.
    async fn rows(&self, caller: &Caller, statement: Statement) -> Result<Vec<Row>, StoreError> {
        let rows = self.transport.query(&statement).await?;
        checked_rows(statement.layout, rows, caller)
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

    async fn create(
        &self,
        caller: &Caller,
        task: &NewTask,
        quota: u32,
    ) -> Result<Task, StoreError> {
        // No row: the user has no room under the quota.
        self.task(caller, sql::insert_task(caller, task, quota))
            .await?
            .ok_or(StoreError::QuotaExceeded(quota))
    }

    async fn create_once(
        &self,
        caller: &Caller,
        task: &NewTask,
        key: &IdempotencyKey,
        quota: u32,
    ) -> Result<Created, StoreError> {
        let statement =
            sql::insert_task_once(caller, task, key.as_str(), &task.request_digest(), quota);
        let row = self
            .rows(caller, statement)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                StoreError::Internal("an idempotent insert returned no row".to_owned())
            })?;
        let OnceRow { outcome, task } = OnceRow::read(row)?;
        match (outcome.as_str(), task) {
            (sql::CREATED, Some(task)) => Ok(Created::New(task)),
            (sql::REPLAYED, task) => Ok(Created::Replayed(task)),
            (sql::REUSED, _) => Err(StoreError::IdempotencyKeyReused),
            (sql::IN_PROGRESS, _) => Err(StoreError::IdempotencyKeyInProgress),
            (sql::QUOTA_REACHED, _) => Err(StoreError::QuotaExceeded(quota)),
            (outcome, task) => Err(StoreError::Internal(format!(
                "an idempotent insert answered {outcome:?} with{} a task",
                if task.is_some() { "" } else { "out" }
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
        let mut horizon = None;
        let mut changes = Vec::new();
        for row in rows {
            let FeedRow {
                xmin,
                pruned,
                change,
            } = FeedRow::read(row)?;
            horizon.get_or_insert((xmin, pruned));
            changes.extend(change);
        }
        let (horizon, pruned) = horizon.ok_or_else(|| {
            StoreError::Internal("a change feed read returned no horizon".to_owned())
        })?;
        Ok(ChangesPage {
            changes,
            horizon,
            pruned,
        })
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
        self.task(caller, sql::update_task(caller, task, patch, precondition))
            .await
    }

    async fn change_completion(
        &self,
        caller: &Caller,
        task: TaskId,
        change: CompletionChange,
        precondition: &Precondition,
    ) -> Result<Option<Task>, StoreError> {
        let statement = sql::change_completion(caller, task, change, precondition);
        self.task(caller, statement).await
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
        Ok(!rows.is_empty())
    }
}

/// A row as its statement's [`Layout`] lays it out: what the statement's checks found, each
/// a field, then the work's own columns.
#[derive(Debug, PartialEq, Eq)]
struct Prefixed {
    /// For a session caller: the user whose live session the statement found, `None` when
    /// there was no live session.
    session_user: Option<Option<String>>,
    /// Under `If-Match`: the row's version before the write, `None` when there was no row.
    current_version: Option<Option<String>>,
    /// The work's own columns; all NULL when the work produced no row.
    own: Row,
}

impl Prefixed {
    fn read(layout: Layout, row: Row) -> Result<Self, StoreError> {
        let mut columns = row.into_iter();
        let mut prefix = |present: bool| match present {
            false => Ok(None),
            true => columns.next().map(Some).ok_or_else(|| {
                StoreError::Internal(format!("a row is shorter than its prefix {layout:?}"))
            }),
        };
        let session_user = prefix(layout.session)?;
        let current_version = prefix(layout.version)?;
        Ok(Self {
            session_user,
            current_version,
            own: columns.collect(),
        })
    }
}

/// The work's own rows of a statement whose rows carry `layout`'s checks, or what the checks
/// found: no live session, another user's session, or a version `If-Match` did not name.
fn checked_rows(layout: Layout, rows: Vec<Row>, caller: &Caller) -> Result<Vec<Row>, StoreError> {
    if layout == Layout::default() {
        return Ok(rows);
    }
    let rows = rows
        .into_iter()
        .map(|row| Prefixed::read(layout, row))
        .collect::<Result<Vec<_>, _>>()?;
    let first = rows
        .first()
        .ok_or_else(|| StoreError::Internal("a checked statement returned no row".to_owned()))?;
    if let Some(session_user) = &first.session_user {
        match session_user.as_deref() {
            None => return Err(StoreError::SessionEnded),
            Some(user) if user != caller.user().as_str() => {
                return Err(StoreError::SessionOfAnotherUser)
            }
            Some(_) => {}
        }
    }
    let current_version = first.current_version.clone().flatten();
    let written: Vec<Row> = rows
        .into_iter()
        .map(|row| row.own)
        .filter(|own| own.iter().any(Option::is_some))
        .collect();
    match (written.is_empty(), current_version) {
        (true, Some(version)) if layout.version => Err(StoreError::PreconditionFailed(version)),
        _ => Ok(written),
    }
}

/// A row of an idempotent create: what it found, then the task's columns (all NULL for none).
struct OnceRow {
    outcome: String,
    task: Option<Task>,
}

impl OnceRow {
    fn read(row: Row) -> Result<Self, StoreError> {
        let mut columns = row.into_iter();
        let outcome = columns.next().flatten().ok_or_else(|| {
            StoreError::Internal("an idempotent insert's row has no outcome".to_owned())
        })?;
        let rest: Row = columns.collect();
        let task = match rest.iter().all(Option::is_none) {
            true => None,
            false => Some(task_from_row(rest)?),
        };
        Ok(Self { outcome, task })
    }
}

/// A row of the change feed: the snapshot's xmin, the user's pruned horizon, then the change
/// if there is one.
struct FeedRow {
    xmin: String,
    pruned: Option<String>,
    change: Option<(String, String, Change)>,
}

impl FeedRow {
    fn read(row: Row) -> Result<Self, StoreError> {
        let malformed = || StoreError::Internal("a change row has no horizon".to_owned());
        let mut columns = row.into_iter();
        let xmin = columns.next().flatten().ok_or_else(malformed)?;
        let pruned = columns.next().ok_or_else(malformed)?;
        let _order = columns.next().ok_or_else(malformed)?;
        let (xid, id, kind) = (columns.next(), columns.next(), columns.next());
        let (Some(Some(xid)), Some(Some(id)), Some(Some(kind))) = (xid, id, kind) else {
            return Ok(Self {
                xmin,
                pruned,
                change: None,
            });
        };
        let change = match kind.as_str() {
            "task" => Change::Task(task_from_row(columns.collect())?),
            _ => Change::Deleted(id.clone()),
        };
        Ok(Self {
            xmin,
            pruned,
            change: Some((xid, id, change)),
        })
    }
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

/// Decodes a row laid out as [`sql::task_columns`]: exactly the description's fields and the
/// version. Each column is moved into the task, so a page of rows is decoded without copying
/// a value.
pub fn task_from_row(row: Row) -> Result<Task, StoreError> {
    if row.len() != sql::TASK_WIDTH {
        return Err(StoreError::Internal(format!(
            "a task row has {} columns, not {}: {}",
            row.len(),
            sql::TASK_WIDTH,
            row_shape(&row)
        )));
    }
    Task::decode(&mut row.into_iter()).map_err(|column| {
        StoreError::Internal(format!(
            "a task row's {column} column is not what the field stores"
        ))
    })
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
    use crate::domain::Priority;

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
            Some("2026-11-27T16:00:01.000000Z"),
            Some("2"),
        ]))
        .unwrap();
        assert_eq!(task.description, None);
        assert!(task.completed);
        assert_eq!(task.updated_at, "2026-11-27T16:00:01.000000Z");
        assert_eq!(task.due_date.as_deref(), Some("2026-12-24"));
        assert_eq!(task.priority, Priority::High);
        assert_eq!(task.tags.as_str(), r#"["gifts","home"]"#);
        assert_eq!(task.completed_at, Some(task.updated_at.clone()));
        assert_eq!(task.version, "2");
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
            None,
            Some("1"),
        ];
        assert!(task_from_row(row(&good)).is_ok());
        for (column, bad) in [
            (4, Some("t")),
            (2, None),
            (8, Some("7")),
            (9, Some("{a}")),
            (11, None),
        ] {
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
        let mut bad_priority = vec![Some("x".to_owned()); sql::TASK_WIDTH];
        bad_priority[2] = Some("my diary entry".to_owned());
        match task_from_row(bad_priority) {
            Err(StoreError::Internal(cause)) => {
                assert!(cause.contains("completed column"), "{cause}");
                assert!(!cause.contains("diary"), "{cause}");
            }
            other => panic!("expected an internal error, got {other:?}"),
        }
    }

    fn session_caller(user: &str) -> Caller {
        Caller::Session {
            user: crate::domain::UserId::parse(user).unwrap(),
            token: crate::auth::SessionToken::for_tests("t"),
            schema: crate::auth::SessionSchema::default(),
        }
    }

    const SESSION: Layout = Layout {
        session: true,
        version: false,
    };
    const VERSIONED: Layout = Layout {
        session: false,
        version: true,
    };

    #[test]
    fn session_rows_say_whose_session_it_was_and_carry_the_result() {
        let caller = session_caller("u1");
        let found = vec![row(&[Some("u1"), Some("a")]), row(&[Some("u1"), Some("b")])];
        assert_eq!(
            checked_rows(SESSION, found, &caller).unwrap(),
            [row(&[Some("a")]), row(&[Some("b")])]
        );
        let empty = vec![row(&[Some("u1"), None])];
        assert!(checked_rows(SESSION, empty, &caller).unwrap().is_empty());
        assert_eq!(
            checked_rows(SESSION, vec![row(&[None, None])], &caller),
            Err(StoreError::SessionEnded)
        );
        assert_eq!(
            checked_rows(SESSION, vec![row(&[Some("u2"), Some("a")])], &caller),
            Err(StoreError::SessionOfAnotherUser)
        );
        assert!(matches!(
            checked_rows(SESSION, Vec::new(), &caller),
            Err(StoreError::Internal(_))
        ));
    }

    #[test]
    fn versioned_rows_say_which_version_an_unmatched_if_match_found() {
        let caller = Caller::User(crate::domain::UserId::parse("u1").unwrap());
        let written = vec![row(&[Some("3"), Some("a")])];
        assert_eq!(
            checked_rows(VERSIONED, written, &caller).unwrap(),
            [row(&[Some("a")])]
        );
        assert_eq!(
            checked_rows(VERSIONED, vec![row(&[Some("4"), None])], &caller),
            Err(StoreError::PreconditionFailed("4".to_owned()))
        );
        assert!(checked_rows(VERSIONED, vec![row(&[None, None])], &caller)
            .unwrap()
            .is_empty());
        let both = Layout {
            session: true,
            version: true,
        };
        let session = session_caller("u1");
        assert_eq!(
            checked_rows(both, vec![row(&[Some("u1"), Some("5"), None])], &session),
            Err(StoreError::PreconditionFailed("5".to_owned()))
        );
        assert_eq!(
            checked_rows(both, vec![row(&[None, None, None])], &session),
            Err(StoreError::SessionEnded)
        );
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
