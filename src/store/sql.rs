//! Every SQL statement the API runs, and nothing else. Both transports execute these same
//! statements; they differ only in how the bytes travel.
//!
//! Rules every statement here follows:
//! - values travel as parameters, never in the text; the only text that varies is chosen
//!   from closed enums (sort column, direction, status filter);
//! - every statement on `tasks` has `user_id = $1` in its WHERE clause, so a task that is not
//!   the caller's cannot be read, changed or deleted by any code path;
//! - for a caller with a Better Auth session token, the same statement also checks the session
//!   ([`Query::gate`]): it exists, is unexpired and belongs to `$1`, or nothing is read or
//!   written, and the statement says whose session it was;
//! - every column comes back as text in one canonical form (see [`task_columns`]), so the two
//!   transports decode identical strings and return byte-identical JSON;
//! - reads must never be served from Hyperdrive's query cache (a task list must show the write
//!   that preceded it): deployments create the Hyperdrive config with caching disabled (see
//!   README), and the reads also call the non-immutable `to_char`, which Hyperdrive does not
//!   cache.

use super::statement::{Placeholder, Query};
use crate::auth::Caller;
use crate::cursor::{FeedPosition, Position};
use crate::domain::fields::{text_array, Change, Field};
use crate::domain::{
    CompletionChange, ListQuery, NewTask, Param, Precondition, SortKey, SortOrder, StatusFilter,
    TaskId, TaskPatch, TASK_COLUMNS, TASK_FIELDS,
};

pub use super::statement::{Layout, Statement};

/// The task's columns as [`crate::domain::Task::decode`] reads them: each field's `select`
/// in the description's order, then the version.
pub fn task_columns() -> &'static str {
    TASK_COLUMNS
}

/// Task rows are [`task_columns`] wide: the fields and the version.
pub const TASK_WIDTH: usize = TASK_FIELDS.len() + 1;

/// A round trip that proves the database answers. `clock_timestamp()` is volatile, which keeps
/// Hyperdrive's query cache from answering in the database's place.
pub fn ping() -> Statement {
    Statement {
        text: "SELECT clock_timestamp()::text".to_owned(),
        params: Vec::new(),
        layout: Layout::default(),
    }
}

/// A statement on one task of the caller's: `$1` the user, `$2` the task.
fn one_task(caller: &Caller, task: TaskId) -> (Query<'_>, Placeholder) {
    let mut query = Query::new(caller);
    let id = query.bind_text(task.to_text());
    (query, id)
}

/// Appends `WHERE user_id = $1::text AND id = $2::uuid`, the version check of `If-Match`
/// and the session gate: the conditions of every write to one task.
fn where_task(query: &mut Query, id: Placeholder, precondition: &Precondition) {
    query.where_user().push(" AND id = ").arg(id, "uuid");
    query.if_match(precondition, "tasks", id);
    query.gate();
}

/// Where an insert's row comes from.
enum Source {
    /// `SELECT ... WHERE` the user has room under the quota.
    Room(u32),
    /// The same, and the session gate.
    Gated(u32),
    /// `SELECT ... WHERE EXISTS (SELECT 1 FROM claim)`: only if the idempotency key was
    /// claimed.
    Claimed,
}

/// Writes the INSERT of a new task, returning its columns: the user, the id, then every
/// written field of the description, in order. Answers the id's placeholder.
fn push_insert(query: &mut Query, task: &NewTask, source: Source) -> Placeholder {
    let mut columns = vec!["user_id", "id"];
    let mut values = vec![format!("{}::text", query.user())];
    let id = query.bind_text(task.id.to_text());
    values.push(format!("{id}::uuid"));
    task.bind(|column, field, param| {
        columns.push(column);
        values.push(format!("{}::{}", query.bind(param), field.cast));
    });
    query.push(&format!("INSERT INTO tasks ({}) ", columns.join(", ")));
    let values = values.join(", ");
    match source {
        Source::Room(quota) => {
            let room = room(query, quota);
            query.push(&format!("SELECT {values} WHERE {room}"))
        }
        Source::Gated(quota) => {
            let room = room(query, quota);
            query.push(&format!("SELECT {values} WHERE {room}")).gate()
        }
        Source::Claimed => query.push(&format!(
            "SELECT {values} WHERE EXISTS (SELECT 1 FROM claim)"
        )),
    };
    query.push(" RETURNING ").push(task_columns());
    id
}

/// Whether the user has fewer than `quota` tasks. It counts at most `quota` of them, through
/// the user's index, so a full account costs a bounded scan and an ordinary one a short one.
/// Concurrent creates are not serialized by it: a burst may pass the quota by its own size.
fn room(query: &mut Query, quota: u32) -> String {
    let user = query.user();
    let quota = query.bind_text(quota.to_string());
    format!(
        "(SELECT count(*) FROM (SELECT 1 FROM tasks WHERE user_id = {user}::text \
         LIMIT {quota}::bigint) AS held) < {quota}::bigint"
    )
}

/// Inserts a task and returns it, unless the user has `quota` tasks already: then no row. A
/// session caller's insert also passes the gate.
pub fn insert_task(caller: &Caller, task: &NewTask, quota: u32) -> Statement {
    let mut query = Query::new(caller);
    let source = match caller {
        Caller::User(_) => Source::Room(quota),
        Caller::Session { .. } => Source::Gated(quota),
    };
    push_insert(&mut query, task, source);
    query.finish(TASK_WIDTH)
}

/// How much one clean-up statement removes at most, and what it keeps per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleanup {
    /// The most rows of each kind one statement removes.
    pub batch: u32,
    /// The most idempotency keys kept per user; older ones go.
    pub keys_per_user: u32,
    /// The most tombstones kept per user; older ones go, and the user's feed horizon moves.
    pub tombstones_per_user: u32,
}

/// The clean-up: `$1` the batch, `$2` the keys and `$3` the tombstones kept per user.
/// An expired key is deleted only if it is still expired under its row lock: a create may
/// have reclaimed it since the batch was chosen. Tombstones are kept a day past the feed's 30
/// days: `deleted_at` is when the deleting transaction began, and a cursor issued while it
/// was still running is younger than its tombstone.
const CLEAN_UP: &str =
    "WITH expired_keys AS (DELETE FROM idempotency_keys WHERE (user_id, key) IN (\
             SELECT user_id, key FROM idempotency_keys \
             WHERE created_at < now() - interval '24 hours' ORDER BY created_at LIMIT $1::bigint) \
             AND created_at < now() - interval '24 hours' RETURNING 1), \
             old_tombstones AS (DELETE FROM task_deletions WHERE (user_id, task_id) IN (\
             SELECT user_id, task_id FROM task_deletions \
             WHERE deleted_at < now() - interval '31 days' ORDER BY deleted_at LIMIT $1::bigint) \
             RETURNING 1), \
             excess_keys AS (DELETE FROM idempotency_keys WHERE (user_id, key) IN (\
             SELECT user_id, key FROM (SELECT user_id, key, row_number() OVER (\
             PARTITION BY user_id ORDER BY created_at DESC, key DESC) AS newer \
             FROM idempotency_keys WHERE created_at >= now() - interval '24 hours') AS ranked \
             WHERE newer > $2::bigint LIMIT $1::bigint) RETURNING 1), \
             excess_tombstones AS (DELETE FROM task_deletions WHERE (user_id, task_id) IN (\
             SELECT user_id, task_id FROM (SELECT user_id, task_id, row_number() OVER (\
             PARTITION BY user_id ORDER BY deleted_xid DESC, task_id DESC) AS newer \
             FROM task_deletions WHERE deleted_at >= now() - interval '31 days') AS ranked \
             WHERE newer > $3::bigint LIMIT $1::bigint) RETURNING user_id, deleted_xid), \
             horizons AS (INSERT INTO feed_horizons (user_id, pruned_xid) \
             SELECT user_id, max(deleted_xid) FROM excess_tombstones GROUP BY user_id \
             ON CONFLICT (user_id) DO UPDATE SET \
             pruned_xid = greatest(feed_horizons.pruned_xid, EXCLUDED.pruned_xid) RETURNING 1) \
             SELECT (SELECT count(*) FROM expired_keys)::text, \
             (SELECT count(*) FROM old_tombstones)::text, \
             (SELECT count(*) FROM excess_keys)::text, \
             (SELECT count(*) FROM excess_tombstones)::text, \
             (SELECT count(*) FROM horizons)::text";

/// The rows each part of a clean-up removed: expired keys, old tombstones, keys and
/// tombstones past their user's cap. Scans across users: only the scheduled handler runs it,
/// never a request. Every part takes at most `batch` rows, oldest first, by an index.
pub fn clean_up(limits: &Cleanup) -> Statement {
    let batch = limits.batch;
    let (keys, tombstones) = (limits.keys_per_user, limits.tombstones_per_user);
    Statement {
        text: CLEAN_UP.to_owned(),
        params: vec![
            Param::Text(Some(batch.to_string())),
            Param::Text(Some(keys.to_string())),
            Param::Text(Some(tombstones.to_string())),
        ],
        layout: Layout::default(),
    }
}

/// Reads one of the user's tasks.
pub fn select_task(caller: &Caller, task: TaskId) -> Statement {
    let (mut query, id) = one_task(caller, task);
    query
        .push("SELECT ")
        .push(task_columns())
        .push(" FROM tasks");
    where_task(&mut query, id, &Precondition::None);
    query.finish(TASK_WIDTH)
}

/// What an idempotent create found, in the first column of its row.
pub const CREATED: &str = "created";
/// The key was used before with the same request: the row is the task it created (all NULL
/// if that task has since been deleted).
pub const REPLAYED: &str = "replayed";
/// The key was used before with another request.
pub const REUSED: &str = "reused";
/// The key is being used by a request that has not finished.
pub const IN_PROGRESS: &str = "in-progress";
/// The key is new, but the user has as many tasks as the quota allows.
pub const QUOTA_REACHED: &str = "quota-reached";

/// Inserts a task under an `Idempotency-Key`, in one statement: the key is claimed (or
/// reclaimed after 24 hours) in the `claim` CTE, the task is inserted only if the claim
/// succeeded, and otherwise the key's earlier request, if it is within its 24 hours, is
/// reported. A user without room under the quota claims nothing: [`QUOTA_REACHED`], unless
/// the key's earlier request answers. Rows are laid out as the statement's [`Layout`] says (a
/// session caller's user id first), then one of [`CREATED`], [`REPLAYED`], [`REUSED`],
/// [`IN_PROGRESS`], [`QUOTA_REACHED`], then the task's columns. A concurrent request
/// with the same key waits on the key's row; when the first commits, the claim finds it taken
/// but the statement's snapshot cannot see it yet, which is reported as in progress.
pub fn insert_task_once(
    caller: &Caller,
    task: &NewTask,
    key: &str,
    request_hash: &str,
    quota: u32,
) -> Statement {
    let mut query = Query::new(caller);
    let task_id = push_insert(&mut query, task, Source::Claimed);
    let user = query.user();
    let key = query.bind_text(key);
    let hash = query.bind_text(request_hash);
    let room = room(&mut query, quota);
    let gate = query.gate_condition();
    query.cte(
        "claim",
        &format!(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, task_id) \
             SELECT {user}::text, {key}::text, {hash}::text, {task_id}::uuid WHERE {room}{gate} \
             ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
             task_id = EXCLUDED.task_id, created_at = now() \
             WHERE idempotency_keys.created_at < now() - interval '24 hours' RETURNING task_id"
        ),
    );
    query.cte(
        "prior",
        &format!(
            "SELECT request_hash, task_id FROM idempotency_keys \
             WHERE user_id = {user}::text AND key = {key}::text \
             AND created_at >= now() - interval '24 hours'"
        ),
    );
    let nulls = ", NULL".repeat(TASK_WIDTH);
    let columns = task_columns();
    query.finish_with(&|prefix| {
        format!(
            "SELECT {prefix}'{CREATED}', result.* FROM result \
             UNION ALL SELECT {prefix}CASE WHEN prior.request_hash = {hash}::text \
             THEN '{REPLAYED}' ELSE '{REUSED}' END, {columns} \
             FROM prior LEFT JOIN tasks ON tasks.user_id = {user}::text AND tasks.id = prior.task_id \
             WHERE NOT EXISTS (SELECT 1 FROM claim) \
             UNION ALL SELECT {prefix}CASE WHEN {room} THEN '{IN_PROGRESS}' \
             ELSE '{QUOTA_REACHED}' END{nulls} \
             WHERE NOT EXISTS (SELECT 1 FROM claim) AND NOT EXISTS (SELECT 1 FROM prior)"
        )
    })
}

/// The user's changes after `after`: tasks created or changed and, unless this is a first
/// sync, tasks deleted, in the order of the transactions that made them, at most `limit + 1`
/// (the extra one says whether more follow). Only changes of transactions older than the
/// snapshot's xmin are taken: those have all finished, so nothing can commit behind the
/// position later and be missed. Rows: [a session caller's user id,] the xmin, the user's
/// pruned horizon (see [`clean_up`]), then the
/// change's transaction id, task id and kind (`task` or `deleted`), then the task's columns
/// (NULL for a deletion); one row with only the xmin when there are none.
pub fn list_changes(caller: &Caller, after: &FeedPosition, limit: u32) -> Statement {
    let mut query = Query::new(caller);
    let user = query.user();
    let xid = query.bind_text(after.xid.clone());
    let id = query.bind_text(after.id.clone());
    let limit = query.bind_text((limit + 1).to_string());
    let first_sync = query.bind(Param::Bool(Some(after.first_sync)));
    let sync_start = query.bind(Param::Text(after.sync_start.clone()));
    let gate = query.gate_condition();
    query.cte(
        "horizon",
        &format!(
            "SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin, \
             (SELECT pruned_xid FROM feed_horizons WHERE user_id = {user}::text) AS pruned"
        ),
    );
    let columns = task_columns();
    let deleted_nulls = ", NULL".repeat(TASK_WIDTH);
    // Every column as text (the transports decode text); the order key is the transaction id
    // zero-padded and the task id, both compared bytewise, as xid8 and uuid compare.
    query.push(&format!(
        "SELECT * FROM (\
         SELECT lpad(changed_xid::text, 20, '0') AS change_order, changed_xid::text AS change_xid, \
         id::text AS change_id, 'task' AS change_kind, {columns} \
         FROM tasks WHERE user_id = {user}::text AND (changed_xid, id) > ({xid}::xid8, {id}::uuid) \
         AND changed_xid < (SELECT xmin FROM horizon){gate} \
         UNION ALL SELECT lpad(deleted_xid::text, 20, '0'), deleted_xid::text, task_id::text, \
         'deleted'{deleted_nulls} \
         FROM task_deletions WHERE user_id = {user}::text AND (deleted_xid, task_id) > ({xid}::xid8, {id}::uuid) \
         AND deleted_xid < (SELECT xmin FROM horizon) \
         AND NOT ({first_sync}::boolean AND deleted_xid < coalesce({sync_start}::xid8, (SELECT xmin FROM horizon))){gate}) AS changes \
         ORDER BY change_order COLLATE \"C\", change_id COLLATE \"C\" LIMIT {limit}::bigint"
    ));
    let nulls = ", NULL".repeat(FEED_WIDTH);
    query.finish_with(&|prefix| {
        format!(
            "SELECT {prefix}(SELECT xmin::text FROM horizon), (SELECT pruned::text FROM horizon), \
             result.* FROM result \
             UNION ALL SELECT {prefix}(SELECT xmin::text FROM horizon), \
             (SELECT pruned::text FROM horizon){nulls} \
             WHERE NOT EXISTS (SELECT 1 FROM result)"
        )
    })
}

/// A change row after the horizon: order key, transaction id, task id, kind, task columns.
pub const FEED_WIDTH: usize = 4 + TASK_WIDTH;

/// The expression a list is ordered by. Due dates order through `COALESCE` with the infinity
/// that puts tasks without one last in either direction; each expression has an index of its
/// own (see migrations/).
fn sort_expression(sort: SortKey, order: SortOrder) -> &'static str {
    match (sort, order) {
        (SortKey::Created, _) => "created_at",
        (SortKey::Updated, _) => "updated_at",
        (SortKey::Title, _) => "lower(title)",
        (SortKey::DueDate, SortOrder::Ascending) => "COALESCE(due_date, 'infinity'::date)",
        (SortKey::DueDate, SortOrder::Descending) => "COALESCE(due_date, '-infinity'::date)",
        (SortKey::Priority, _) => "priority",
    }
}

/// A cursor's sort value, cast to compare with [`sort_expression`].
fn cursor_value(sort: SortKey, order: SortOrder, key: Placeholder) -> String {
    match (sort, order) {
        (SortKey::Created | SortKey::Updated, _) => format!("{key}::timestamptz"),
        (SortKey::Title, _) => format!("lower({key}::text)"),
        (SortKey::DueDate, SortOrder::Ascending) => {
            format!("COALESCE({key}::date, 'infinity'::date)")
        }
        (SortKey::DueDate, SortOrder::Descending) => {
            format!("COALESCE({key}::date, '-infinity'::date)")
        }
        (SortKey::Priority, _) => format!("{key}::smallint"),
    }
}

/// Lists the user's tasks, filtered and ordered as asked, at most `query.limit + 1` of them
/// (the extra one says whether another page follows), starting after `after` when paging.
/// The id breaks ties, so the order is total, and paging is by key: a page starts strictly
/// after the last task of the one before.
pub fn list_tasks(caller: &Caller, list: &ListQuery, after: Option<&Position>) -> Statement {
    let mut query = Query::new(caller);
    query
        .push("SELECT ")
        .push(task_columns())
        .push(" FROM tasks");
    query.where_user();
    query.push(match list.status {
        StatusFilter::All => "",
        StatusFilter::Pending => " AND NOT completed",
        StatusFilter::Completed => " AND completed",
    });
    if let Some(search) = &list.search {
        let pattern = query.bind_text(search.like_pattern());
        // The first test can use the trigram index over both texts; the second makes the match
        // exact (a match across the joint of the two texts is not one).
        query.push(&format!(
            " AND (title || ' ' || coalesce(description, '')) ILIKE {pattern}::text \
             AND (title ILIKE {pattern}::text OR description ILIKE {pattern}::text)"
        ));
    }
    if !list.priorities.is_empty() {
        let ranks = list
            .priorities
            .iter()
            .map(|priority| priority.rank().to_string());
        query
            .push(" AND priority = ANY(")
            .push_bind(Param::Text(Some(text_array(ranks))), "smallint[]")
            .push(")");
    }
    if !list.tags.is_empty() {
        let tags = text_array(list.tags.iter().map(|tag| tag.as_str()));
        query
            .push(" AND tags @> ")
            .push_bind(Param::Text(Some(tags)), "text[]");
    }
    if let Some(date) = list.due_before {
        query
            .push(" AND due_date <= ")
            .push_bind(Param::Text(Some(date.to_text())), "date");
    }
    if let Some(date) = list.due_after {
        query
            .push(" AND due_date >= ")
            .push_bind(Param::Text(Some(date.to_text())), "date");
    }
    let (direction, beyond) = match list.order {
        SortOrder::Ascending => ("ASC", ">"),
        SortOrder::Descending => ("DESC", "<"),
    };
    let expression = sort_expression(list.sort, list.order);
    if let Some(position) = after {
        let key = query.bind(Param::Text(position.value.clone()));
        let id = query.bind_text(position.id.clone());
        let value = cursor_value(list.sort, list.order, key);
        query.push(&format!(
            " AND ({expression}, id) {beyond} ({value}, {id}::uuid)"
        ));
    }
    // Bound before the gate, so a session caller's token comes last, as in every statement.
    let limit = query.bind_text((list.limit + 1).to_string());
    query.gate();
    query
        .push(&format!(
            " ORDER BY {expression} {direction}, id {direction} LIMIT "
        ))
        .arg(limit, "bigint");
    query.finish(TASK_WIDTH)
}

/// Applies a partial update and returns the task. Each written field of the description is
/// set from its parameter when the patch changes it: a field that cannot be NULL through
/// `COALESCE`, a nullable one through a flag, since its NULL means "clear it".
pub fn update_task(
    caller: &Caller,
    task: TaskId,
    patch: &TaskPatch,
    precondition: &Precondition,
) -> Statement {
    let (mut query, id) = one_task(caller, task);
    let mut assignments = Vec::new();
    patch.bind(|column, field, change| {
        let (changed, value) = match change {
            Change::Set(param) => (true, param),
            Change::Keep(null) => (false, null),
        };
        assignments.push(if field.nullable {
            let flag = query.bind(Param::Bool(Some(changed)));
            let value = query.bind(value);
            format!(
                "{column} = CASE WHEN {flag}::boolean THEN {value}::{cast} ELSE {column} END",
                cast = field.cast
            )
        } else {
            let value = query.bind(value);
            format!(
                "{column} = COALESCE({value}::{cast}, {column})",
                cast = field.cast
            )
        });
    });
    query
        .push("UPDATE tasks SET ")
        .push(&assignments.join(", "));
    where_task(&mut query, id, precondition);
    query.push(" RETURNING ").push(task_columns());
    query.finish(TASK_WIDTH)
}

/// Sets or toggles completion in one statement: the row lock serializes concurrent toggles,
/// so none is lost.
pub fn change_completion(
    caller: &Caller,
    task: TaskId,
    change: CompletionChange,
    precondition: &Precondition,
) -> Statement {
    let (mut query, id) = one_task(caller, task);
    let completed = Param::Bool(match change {
        CompletionChange::Toggle => None,
        CompletionChange::Set(completed) => Some(completed),
    });
    query
        .push("UPDATE tasks SET completed = COALESCE(")
        .push_bind(completed, "boolean")
        .push(", NOT completed)");
    where_task(&mut query, id, precondition);
    query.push(" RETURNING ").push(task_columns());
    query.finish(TASK_WIDTH)
}

/// Deletes one of the user's tasks; returns its id when there was one.
pub fn delete_task(caller: &Caller, task: TaskId, precondition: &Precondition) -> Statement {
    let (mut query, id) = one_task(caller, task);
    query.push("DELETE FROM tasks");
    where_task(&mut query, id, precondition);
    query.push(" RETURNING id::text");
    query.finish(1)
}

/// The description's fields, for checks that the statements agree with it.
pub fn fields() -> &'static [Field] {
    TASK_FIELDS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{SessionSchema, SessionToken};
    use crate::domain::{Description, DueDate, Priority, Tags, Title, UserId};

    fn user() -> Caller {
        Caller::User(UserId::parse("user-1").unwrap())
    }

    fn session() -> Caller {
        Caller::Session {
            user: UserId::parse("user-1").unwrap(),
            token: SessionToken::for_tests("the-session-token"),
            schema: SessionSchema::default(),
        }
    }

    fn every_task_statement() -> Vec<Statement> {
        let mut statements = statements_for(&user());
        statements.extend(statements_for(&session()));
        statements
    }

    fn statements_for(caller: &Caller) -> Vec<Statement> {
        let task = TaskId::generate();
        let new_task = NewTask {
            id: task,
            title: Title::parse("t").unwrap(),
            description: None,
            completed: false,
            due_date: DueDate::parse("due_date", "2026-12-24").ok(),
            priority: Priority::High,
            tags: Tags::parse(["home"]).unwrap(),
        };
        let patch = TaskPatch {
            title: None,
            description: Some(None),
            completed: Some(true),
            due_date: Some(None),
            priority: Some(Priority::Low),
            tags: Some(Tags::default()),
        };
        let mut statements = vec![
            insert_task(caller, &new_task, 100_000),
            select_task(caller, task),
            update_task(caller, task, &patch, &Precondition::None),
            change_completion(caller, task, CompletionChange::Toggle, &Precondition::None),
            delete_task(caller, task, &Precondition::None),
            update_task(caller, task, &patch, &Precondition::Versions(vec![3])),
            change_completion(
                caller,
                task,
                CompletionChange::Toggle,
                &Precondition::Versions(vec![3, 4]),
            ),
            delete_task(caller, task, &Precondition::Versions(vec![7])),
        ];
        let after = Position {
            value: Some("2026-12-01T00:00:00.000000Z".to_owned()),
            id: task.to_text(),
        };
        for status in [
            StatusFilter::All,
            StatusFilter::Pending,
            StatusFilter::Completed,
        ] {
            for sort in [
                SortKey::Created,
                SortKey::Updated,
                SortKey::Title,
                SortKey::DueDate,
                SortKey::Priority,
            ] {
                for order in [SortOrder::Ascending, SortOrder::Descending] {
                    let query = ListQuery {
                        status,
                        sort,
                        order,
                        ..ListQuery::default()
                    };
                    statements.push(list_tasks(caller, &query, None));
                    statements.push(list_tasks(caller, &query, Some(&after)));
                }
            }
        }
        statements.push(list_tasks(caller, &every_filter(), Some(&after)));
        statements
    }

    #[test]
    fn every_statement_is_scoped_to_the_user_in_its_first_parameter() {
        for statement in every_task_statement() {
            assert!(
                statement.text.contains("user_id = $1::text")
                    || statement.text.contains("VALUES ($1::text"),
                "{}",
                statement.text
            );
            assert_eq!(statement.params[0], Param::Text(Some("user-1".to_owned())));
        }
    }

    #[test]
    fn placeholders_and_parameters_agree_in_number() {
        for statement in every_task_statement() {
            let highest = (1..=statement.params.len() + 1)
                .rev()
                .find(|n| statement.text.contains(&format!("${n}")))
                .unwrap_or(0);
            assert_eq!(highest, statement.params.len(), "{}", statement.text);
        }
    }

    #[test]
    fn user_values_never_enter_the_sql_text() {
        let hostile = "'); DROP TABLE tasks; --";
        let user = Caller::User(UserId::parse(hostile).unwrap());
        let task = NewTask {
            id: TaskId::generate(),
            title: Title::parse(hostile).unwrap(),
            description: Some(Description::parse(hostile).unwrap()),
            completed: false,
            due_date: None,
            priority: Priority::None,
            tags: Tags::parse([hostile]).unwrap(),
        };
        let statement = insert_task(&user, &task, 100_000);
        assert!(!statement.text.contains("DROP"));
        assert!(statement
            .params
            .contains(&Param::Text(Some(hostile.to_owned()))));
    }

    #[test]
    fn lists_filter_and_order_as_asked_with_a_total_order() {
        let query = ListQuery {
            status: StatusFilter::Pending,
            sort: SortKey::Title,
            order: SortOrder::Ascending,
            ..ListQuery::default()
        };
        let statement = list_tasks(&user(), &query, None);
        assert!(statement.text.contains("AND NOT completed"));
        assert!(statement
            .text
            .ends_with("ORDER BY lower(title) ASC, id ASC LIMIT $2::bigint"));
        assert_eq!(
            statement.params[1],
            Param::Text(Some("1001".to_owned())),
            "one more than a page"
        );
    }

    #[test]
    fn toggling_leaves_the_new_value_to_the_database() {
        let statement = change_completion(
            &user(),
            TaskId::generate(),
            CompletionChange::Toggle,
            &Precondition::None,
        );
        assert!(statement
            .text
            .contains("COALESCE($3::boolean, NOT completed)"));
        assert_eq!(statement.params[2], Param::Bool(None));
    }

    #[test]
    fn a_session_callers_statement_checks_the_session_and_gates_every_write() {
        for statement in statements_for(&session()) {
            let text = &statement.text;
            assert!(
                text.starts_with("WITH caller AS (SELECT \"userId\"::text AS user_id FROM \"session\" WHERE \"token\" = $"),
                "{text}"
            );
            assert!(text.contains("\"expiresAt\" > now()"), "{text}");
            assert!(
                text.contains("EXISTS (SELECT 1 FROM caller WHERE caller.user_id = $1::text)"),
                "the work itself is gated: {text}"
            );
            assert!(statement
                .params
                .contains(&Param::Text(Some("the-session-token".to_owned()))));
        }
    }

    #[test]
    fn a_verified_callers_statements_are_unchanged_by_sessions() {
        for statement in statements_for(&user()) {
            assert!(!statement.text.contains("caller"), "{}", statement.text);
        }
    }

    fn every_filter() -> ListQuery {
        ListQuery::parse([
            ("q", "50%"),
            ("priority", "high,low"),
            ("tag", "home"),
            ("tag", "say \"hi\""),
            ("due_before", "2026-12-31"),
            ("due_after", "2026-12-01"),
            ("sort", "due_date"),
            ("limit", "100"),
        ])
        .unwrap()
    }

    #[test]
    fn every_filter_is_a_parameter_and_paging_is_by_key() {
        let after = Position {
            value: None,
            id: "0190f0a0-0000-7000-8000-000000000000".to_owned(),
        };
        let statement = list_tasks(&user(), &every_filter(), Some(&after));
        let text = &statement.text;
        for fragment in [
            "ILIKE $2::text",
            "priority = ANY($3::smallint[])",
            "tags @> $4::text[]",
            "due_date <= $5::date",
            "due_date >= $6::date",
            "(COALESCE(due_date, 'infinity'::date), id) > (COALESCE($7::date, 'infinity'::date), $8::uuid)",
            "ORDER BY COALESCE(due_date, 'infinity'::date) ASC, id ASC LIMIT $9::bigint",
        ] {
            assert!(text.contains(fragment), "{fragment} in {text}");
        }
        assert!(!text.contains("50%") && !text.contains("home"));
        assert_eq!(statement.params[1], Param::Text(Some("%50\\%%".to_owned())));
        assert_eq!(
            statement.params[3],
            Param::Text(Some("{\"home\",\"say \\\"hi\\\"\"}".to_owned())),
            "array elements quoted and escaped"
        );
        assert_eq!(
            statement.params[6],
            Param::Text(None),
            "no due date: the NULL sorts as infinity"
        );
    }

    #[test]
    fn descending_due_dates_still_put_tasks_without_one_last() {
        let query = ListQuery::parse([("sort", "due_date"), ("order", "desc")]).unwrap();
        let text = list_tasks(&user(), &query, None).text;
        assert!(text.contains("ORDER BY COALESCE(due_date, '-infinity'::date) DESC, id DESC"));
    }

    #[test]
    fn an_if_match_write_checks_and_locks_the_version_in_the_same_statement() {
        let statement = delete_task(
            &user(),
            TaskId::generate(),
            &Precondition::Versions(vec![3, 4]),
        );
        assert!(statement.text.starts_with(
            "WITH current AS (SELECT version::text FROM tasks WHERE user_id = $1::text AND id = $2::uuid FOR UPDATE)"
        ));
        assert!(statement.text.contains("AND version = ANY($3::bigint[])"));
        assert_eq!(statement.params[2], Param::Text(Some("{3,4}".to_owned())));
        let session = delete_task(
            &session(),
            TaskId::generate(),
            &Precondition::Versions(vec![3]),
        );
        assert!(
            session.text.starts_with("WITH caller AS"),
            "the session check wraps it all"
        );
        assert!(session.text.contains("FOR UPDATE"));
    }

    #[test]
    fn an_idempotent_create_claims_its_key_and_inserts_in_one_statement() {
        let task = NewTask {
            id: TaskId::generate(),
            title: Title::parse("t").unwrap(),
            description: None,
            completed: false,
            due_date: None,
            priority: Priority::None,
            tags: Tags::default(),
        };
        for caller in [user(), session()] {
            let statement = insert_task_once(&caller, &task, "key-1", "hash", 100_000);
            let text = &statement.text;
            assert_eq!(
                text.matches("WITH ").count(),
                1,
                "every CTE at the top level"
            );
            assert!(text.contains("INSERT INTO tasks (user_id, id, title, description, completed, due_date, priority, tags) SELECT $1::text"), "{text}");
            assert!(
                text.contains("WHERE EXISTS (SELECT 1 FROM claim) RETURNING"),
                "{text}"
            );
            assert!(
                text.contains("ON CONFLICT (user_id, key) DO UPDATE"),
                "{text}"
            );
            assert!(statement
                .params
                .contains(&Param::Text(Some("key-1".to_owned()))));
            let highest = (1..=statement.params.len() + 1)
                .rev()
                .find(|n| text.contains(&format!("${n}")))
                .unwrap_or(0);
            assert_eq!(highest, statement.params.len(), "{text}");
        }
        assert!(insert_task_once(&session(), &task, "k", "h", 100_000)
            .text
            .starts_with("WITH caller AS"));
    }

    #[test]
    fn the_insert_and_the_update_write_every_written_field_of_the_description() {
        let written: Vec<&str> = fields()
            .iter()
            .filter(|field| field.input.is_some())
            .map(|field| field.name)
            .collect();
        let task = NewTask::from_json(
            TaskId::generate(),
            &serde_json::from_str(r#"{"title":"t"}"#).unwrap(),
        )
        .unwrap();
        let insert = insert_task(&user(), &task, 100_000);
        assert!(
            insert.text.starts_with(&format!(
                "INSERT INTO tasks (user_id, id, {}) SELECT ",
                written.join(", ")
            )),
            "{}",
            insert.text
        );
        assert_eq!(insert.params.len(), 2 + written.len() + 1, "and the quota");
        assert!(insert
            .text
            .ends_with(&format!("RETURNING {}", task_columns())));
        let update = update_task(
            &user(),
            TaskId::generate(),
            &TaskPatch::default(),
            &Precondition::None,
        );
        for column in &written {
            assert!(
                update.text.contains(&format!("{column} = COALESCE("))
                    || update.text.contains(&format!("{column} = CASE WHEN")),
                "{column} in {}",
                update.text
            );
        }
    }

    #[test]
    fn a_task_row_is_as_wide_as_the_description() {
        let selected = task_columns().matches(", ").count() + 1;
        // The timestamp renderings have commas of their own, inside parentheses.
        let inner = fields()
            .iter()
            .map(|field| field.select.matches(", ").count())
            .sum::<usize>();
        assert_eq!(selected - inner, TASK_WIDTH);
        assert_eq!(TASK_WIDTH, fields().len() + 1, "the fields and the version");
    }
}
