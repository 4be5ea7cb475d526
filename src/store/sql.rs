//! Every SQL statement the API runs, and nothing else. Both transports execute these same
//! statements; they differ only in how the bytes travel.
//!
//! Rules every statement here follows:
//! - values travel as parameters, never in the text; the only text that varies is chosen
//!   from closed enums (sort column, direction, status filter);
//! - every statement on `tasks` has `user_id = $1` in its WHERE clause, so a task that is not
//!   the caller's cannot be read, changed or deleted by any code path;
//! - for a caller with a Better Auth session token, the same statement also checks the session
//!   ([`finish`]): it exists, is unexpired and belongs to `$1`, or nothing is read or
//!   written, and the statement says whose session it was;
//! - every column comes back as text in one canonical form (see [`TASK_COLUMNS`]), so the two
//!   transports decode identical strings and return byte-identical JSON;
//! - reads must never be served from Hyperdrive's query cache (a task list must show the write
//!   that preceded it): deployments create the Hyperdrive config with caching disabled (see
//!   README), and the reads also call the non-immutable `to_char`, which Hyperdrive does not
//!   cache.

use crate::auth::Caller;
use crate::cursor::{FeedPosition, Position};
use crate::domain::{
    CompletionChange, ListQuery, NewTask, SortKey, SortOrder, StatusFilter, TaskId, TaskPatch,
    UserId,
};

/// A statement parameter. Parameters are typed as text or boolean on the wire; the statement
/// casts them (`$2::uuid`), which keeps the types identical whichever transport sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A text value or NULL.
    Text(Option<String>),
    /// A boolean value or NULL.
    Bool(Option<bool>),
}

/// One parameterized statement, ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The SQL text, with `$n` placeholders.
    pub text: String,
    /// The values for the placeholders, in order.
    pub params: Vec<Param>,
}

/// The task columns in the order [`super::task_from_row`] reads them. Timestamps are formatted
/// by the database as RFC 3339 UTC with microseconds, independent of the session's TimeZone
/// and DateStyle, which a pooled connection does not let us set.
pub const TASK_COLUMNS: &str = "id::text, user_id, title, description, completed::text, \
     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
     to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
     to_char(due_date, 'YYYY-MM-DD'), priority::text, to_json(tags)::text, version::text";

/// Task rows are [`TASK_COLUMNS`] wide.
pub const TASK_WIDTH: usize = 11;

/// What an `If-Match` header asks of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`, or `If-Match: *`: the task must exist, as for any write.
    None,
    /// The task's version must be one of these (the ETags sent).
    Versions(Vec<u64>),
}

/// A text[] parameter as PostgreSQL's array literal: every element double-quoted, with `"`
/// and `\` escaped, so no element can end the literal early.
fn text_array(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let quoted: Vec<String> = items
        .into_iter()
        .map(|item| {
            format!(
                "\"{}\"",
                item.as_ref().replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// What a session caller's statement adds to its WHERE clause: the session must be the path
/// user's. Empty for a caller whose token was verified already.
fn gate(caller: &Caller) -> &'static str {
    match caller {
        Caller::User(_) => "",
        Caller::Session { .. } => {
            " AND EXISTS (SELECT 1 FROM caller WHERE caller.user_id = $1::text)"
        }
    }
}

/// The column that says whose session it was, from the `caller` CTE.
const SESSION_PREFIX: &str = "(SELECT user_id FROM caller)";

/// The `caller` CTE of a session caller: the live session of its token (the gate reads it).
fn caller_cte(caller: &Caller, params: &mut Vec<Param>) -> Option<String> {
    let Caller::Session { token, schema, .. } = caller else {
        return None;
    };
    params.push(Param::Text(Some(token.as_str().to_owned())));
    Some(format!(
        "caller AS (SELECT {user}::text AS user_id FROM {table} \
         WHERE {token} = ${n}::text AND {expires} > now() LIMIT 1)",
        user = schema.user_id_column(),
        table = schema.table(),
        token = schema.token_column(),
        expires = schema.expires_at_column(),
        n = params.len(),
    ))
}

/// The statement as it runs for this caller and precondition; unchanged for a verified
/// caller without one. The work runs as the `result` CTE, after up to two others, each adding
/// a column before the result's:
/// - for a session caller, `caller` looks the session up (the statement's gate reads it) and
///   its column is the session's user id, NULL when there is no live session;
/// - under `If-Match`, `current` reads and locks the task's version, the work runs only where
///   the version is one of those sent, and its column is the current version (NULL when the
///   task does not exist).
///
/// A result with no rows comes back as one row whose other columns are all NULL. So one round
/// trip checks the session and the version and does the work, atomically: of two writers with
/// the same ETag, the second waits for the first's lock, then finds the version changed. The
/// CTEs stay at the top level, where PostgreSQL requires data-modifying ones.
pub fn finish(
    caller: &Caller,
    precondition: &Precondition,
    mut statement: Statement,
    width: usize,
) -> Statement {
    let mut ctes = Vec::new();
    let mut prefixes = Vec::new();
    if let Some(cte) = caller_cte(caller, &mut statement.params) {
        ctes.push(cte);
        prefixes.push(SESSION_PREFIX);
    }
    if let Precondition::Versions(versions) = precondition {
        let list = versions
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        statement
            .params
            .push(Param::Text(Some(format!("{{{list}}}"))));
        let n = statement.params.len();
        statement.text = statement.text.replacen(
            "WHERE user_id = $1::text AND id = $2::uuid",
            &format!(
                "WHERE user_id = $1::text AND id = $2::uuid AND version = ANY(${n}::bigint[])"
            ),
            1,
        );
        ctes.push(format!(
            "current AS (SELECT version::text FROM tasks \
             WHERE user_id = $1::text AND id = $2::uuid{gate} FOR UPDATE)",
            gate = gate(caller)
        ));
        prefixes.push("(SELECT version FROM current)");
    }
    if ctes.is_empty() {
        return statement;
    }
    let prefixes = prefixes.join(", ");
    let nulls = ", NULL".repeat(width);
    Statement {
        text: format!(
            "WITH {ctes}, result AS ({inner}) \
             SELECT {prefixes}, result.* FROM result \
             UNION ALL SELECT {prefixes}{nulls} \
             WHERE NOT EXISTS (SELECT 1 FROM result)",
            ctes = ctes.join(", "),
            inner = statement.text,
        ),
        params: statement.params,
    }
}

fn user_and_task(user: &UserId, task: TaskId) -> Vec<Param> {
    vec![
        Param::Text(Some(user.as_str().to_owned())),
        Param::Text(Some(task.to_text())),
    ]
}

/// A round trip that proves the database answers. `clock_timestamp()` is volatile, which keeps
/// Hyperdrive's query cache from answering in the database's place.
pub fn ping() -> Statement {
    Statement {
        text: "SELECT clock_timestamp()::text".to_owned(),
        params: Vec::new(),
    }
}

/// Inserts a task and returns it. A session caller's insert is an INSERT ... SELECT, so that the
/// gate can stop it.
pub fn insert_task(caller: &Caller, task: &NewTask) -> Statement {
    let user = caller.user();
    let row =
        "$1::text, $2::uuid, $3::text, $4::text, $5::boolean, $6::date, $7::smallint, $8::text[]";
    let values = match caller {
        Caller::User(_) => format!("VALUES ({row})"),
        Caller::Session { .. } => format!("SELECT {row} WHERE true{}", gate(caller)),
    };
    let statement = Statement {
        text: format!(
            "INSERT INTO tasks (user_id, id, title, description, completed, due_date, priority, tags) \
             {values} \
             RETURNING {TASK_COLUMNS}"
        ),
        params: vec![
            Param::Text(Some(user.as_str().to_owned())),
            Param::Text(Some(task.id.to_text())),
            Param::Text(Some(task.title.as_str().to_owned())),
            Param::Text(
                task.description
                    .as_ref()
                    .map(|text| text.as_str().to_owned()),
            ),
            Param::Bool(Some(task.completed)),
            Param::Text(task.due_date.map(|date| date.to_text())),
            Param::Text(Some(task.priority.rank().to_string())),
            Param::Text(Some(text_array(task.tags.as_slice().iter().map(|tag| tag.as_str())))),
        ],
    };
    finish(caller, &Precondition::None, statement, TASK_WIDTH)
}

/// Reads one of the user's tasks.
pub fn select_task(caller: &Caller, task: TaskId) -> Statement {
    let gate = gate(caller);
    let statement = Statement {
        text: format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = $1::text AND id = $2::uuid{gate}"
        ),
        params: user_and_task(caller.user(), task),
    };
    finish(caller, &Precondition::None, statement, TASK_WIDTH)
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

/// Inserts a task under an `Idempotency-Key`, in one statement: the key is claimed (or
/// reclaimed after 24 hours) in the `claim` CTE, the task is inserted only if the claim
/// succeeded, and otherwise the key's earlier request is reported. Rows are prefixed like
/// [`finish`]'s (a session caller's user id first), then one of [`CREATED`], [`REPLAYED`],
/// [`REUSED`], [`IN_PROGRESS`], then the task's columns. A concurrent request with the same
/// key waits on the key's row; when the first commits, the claim finds it taken but the
/// statement's snapshot cannot see it yet, which is reported as in progress.
pub fn insert_task_once(
    caller: &Caller,
    task: &NewTask,
    key: &str,
    request_hash: &str,
) -> Statement {
    let insert = insert_task(&Caller::User(caller.user().clone()), task);
    let mut params = insert.params;
    params.push(Param::Text(Some(key.to_owned())));
    let key_param = params.len();
    params.push(Param::Text(Some(request_hash.to_owned())));
    let hash_param = params.len();
    let gate = gate(caller);
    let mut ctes = Vec::new();
    let mut prefix = String::new();
    if let Some(cte) = caller_cte(caller, &mut params) {
        ctes.push(cte);
        prefix = format!("{SESSION_PREFIX}, ");
    }
    let task_insert = insert.text.replacen("VALUES (", "SELECT ", 1).replacen(
        ") RETURNING",
        " WHERE EXISTS (SELECT 1 FROM claim) RETURNING",
        1,
    );
    ctes.push(format!(
        "claim AS (INSERT INTO idempotency_keys (user_id, key, request_hash, task_id) \
         SELECT $1::text, ${key_param}::text, ${hash_param}::text, $2::uuid WHERE true{gate} \
         ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
         task_id = EXCLUDED.task_id, created_at = now() \
         WHERE idempotency_keys.created_at < now() - interval '24 hours' RETURNING task_id)"
    ));
    ctes.push(format!(
        "prior AS (SELECT request_hash, task_id FROM idempotency_keys \
         WHERE user_id = $1::text AND key = ${key_param}::text)"
    ));
    ctes.push(format!("result AS ({task_insert})"));
    let nulls = ", NULL".repeat(TASK_WIDTH);
    Statement {
        text: format!(
            "WITH {ctes} \
             SELECT {prefix}'{CREATED}', result.* FROM result \
             UNION ALL SELECT {prefix}CASE WHEN prior.request_hash = ${hash_param}::text \
             THEN '{REPLAYED}' ELSE '{REUSED}' END, {TASK_COLUMNS} \
             FROM prior LEFT JOIN tasks ON tasks.user_id = $1::text AND tasks.id = prior.task_id \
             WHERE NOT EXISTS (SELECT 1 FROM claim) \
             UNION ALL SELECT {prefix}'{IN_PROGRESS}'{nulls} \
             WHERE NOT EXISTS (SELECT 1 FROM claim) AND NOT EXISTS (SELECT 1 FROM prior)",
            ctes = ctes.join(", "),
        ),
        params,
    }
}

/// The user's changes after `after`: tasks created or changed and, unless this is a first
/// sync, tasks deleted, in the order of the transactions that made them, at most `limit + 1`
/// (the extra one says whether more follow). Only changes of transactions older than the
/// snapshot's xmin are taken: those have all finished, so nothing can commit behind the
/// position later and be missed. Rows: [a session caller's user id,] the xmin, then the
/// change's transaction id, task id and kind (`task` or `deleted`), then the task's columns
/// (NULL for a deletion); one row with only the xmin when there are none.
pub fn list_changes(caller: &Caller, after: &FeedPosition, limit: u32) -> Statement {
    let mut params = vec![
        Param::Text(Some(caller.user().as_str().to_owned())),
        Param::Text(Some(after.xid.clone())),
        Param::Text(Some(after.id.clone())),
        Param::Text(Some((limit + 1).to_string())),
        Param::Bool(Some(after.first_sync)),
    ];
    let gate = gate(caller);
    let mut ctes = Vec::new();
    let mut prefix = String::new();
    if let Some(cte) = caller_cte(caller, &mut params) {
        ctes.push(cte);
        prefix = format!("{SESSION_PREFIX}, ");
    }
    ctes.push("horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)".to_owned());
    let deleted_nulls = ", NULL".repeat(TASK_WIDTH);
    // Every column as text (the transports decode text); the order key is the transaction id
    // zero-padded and the task id, both compared bytewise, as xid8 and uuid compare.
    ctes.push(format!(
        "result AS (SELECT * FROM (\
         SELECT lpad(changed_xid::text, 20, '0') AS change_order, changed_xid::text AS change_xid, \
         id::text AS change_id, 'task' AS change_kind, {TASK_COLUMNS} \
         FROM tasks WHERE user_id = $1::text AND (changed_xid, id) > ($2::xid8, $3::uuid) \
         AND changed_xid < (SELECT xmin FROM horizon){gate} \
         UNION ALL SELECT lpad(deleted_xid::text, 20, '0'), deleted_xid::text, task_id::text, \
         'deleted'{deleted_nulls} \
         FROM task_deletions WHERE user_id = $1::text AND (deleted_xid, task_id) > ($2::xid8, $3::uuid) \
         AND deleted_xid < (SELECT xmin FROM horizon) AND NOT $5::boolean{gate}) AS changes \
         ORDER BY change_order COLLATE \"C\", change_id COLLATE \"C\" LIMIT $4::bigint)"
    ));
    let nulls = ", NULL".repeat(FEED_WIDTH);
    Statement {
        text: format!(
            "WITH {ctes} \
             SELECT {prefix}(SELECT xmin::text FROM horizon), result.* FROM result \
             UNION ALL SELECT {prefix}(SELECT xmin::text FROM horizon){nulls} \
             WHERE NOT EXISTS (SELECT 1 FROM result)",
            ctes = ctes.join(", "),
        ),
        params,
    }
}

/// A change row after the horizon: order key, transaction id, task id, kind, task columns.
pub const FEED_WIDTH: usize = 4 + TASK_WIDTH;

/// The expression a list is ordered by, and how a cursor's value is cast to compare with it.
/// Due dates order through `COALESCE` with the infinity that puts tasks without one last in
/// either direction; each expression has an index of its own (see migrations/).
fn sort_expression(sort: SortKey, order: SortOrder) -> (&'static str, &'static str) {
    match (sort, order) {
        (SortKey::Created, _) => ("created_at", "$K::timestamptz"),
        (SortKey::Updated, _) => ("updated_at", "$K::timestamptz"),
        (SortKey::Title, _) => ("lower(title)", "lower($K::text)"),
        (SortKey::DueDate, SortOrder::Ascending) => (
            "COALESCE(due_date, 'infinity'::date)",
            "COALESCE($K::date, 'infinity'::date)",
        ),
        (SortKey::DueDate, SortOrder::Descending) => (
            "COALESCE(due_date, '-infinity'::date)",
            "COALESCE($K::date, '-infinity'::date)",
        ),
        (SortKey::Priority, _) => ("priority", "$K::smallint"),
    }
}

/// Lists the user's tasks, filtered and ordered as asked, at most `query.limit + 1` of them
/// (the extra one says whether another page follows), starting after `after` when paging.
/// The id breaks ties, so the order is total, and paging is by key: a page starts strictly
/// after the last task of the one before.
pub fn list_tasks(caller: &Caller, query: &ListQuery, after: Option<&Position>) -> Statement {
    let mut params = vec![Param::Text(Some(caller.user().as_str().to_owned()))];
    let next = |param: Param, params: &mut Vec<Param>| {
        params.push(param);
        params.len()
    };
    let mut filters = String::new();
    filters.push_str(match query.status {
        StatusFilter::All => "",
        StatusFilter::Pending => " AND NOT completed",
        StatusFilter::Completed => " AND completed",
    });
    if let Some(search) = &query.search {
        let n = next(Param::Text(Some(search.like_pattern())), &mut params);
        // The first test can use the trigram index over both texts; the second makes the match
        // exact (a match across the joint of the two texts is not one).
        filters.push_str(&format!(
            " AND (title || ' ' || coalesce(description, '')) ILIKE ${n}::text \
             AND (title ILIKE ${n}::text OR description ILIKE ${n}::text)"
        ));
    }
    if !query.priorities.is_empty() {
        let ranks = query
            .priorities
            .iter()
            .map(|priority| priority.rank().to_string());
        let n = next(Param::Text(Some(text_array(ranks))), &mut params);
        filters.push_str(&format!(" AND priority = ANY(${n}::smallint[])"));
    }
    if !query.tags.is_empty() {
        let n = next(
            Param::Text(Some(text_array(query.tags.iter().map(|tag| tag.as_str())))),
            &mut params,
        );
        filters.push_str(&format!(" AND tags @> ${n}::text[]"));
    }
    if let Some(date) = query.due_before {
        let n = next(Param::Text(Some(date.to_text())), &mut params);
        filters.push_str(&format!(" AND due_date <= ${n}::date"));
    }
    if let Some(date) = query.due_after {
        let n = next(Param::Text(Some(date.to_text())), &mut params);
        filters.push_str(&format!(" AND due_date >= ${n}::date"));
    }
    let (expression, cursor_cast) = sort_expression(query.sort, query.order);
    let (direction, beyond) = match query.order {
        SortOrder::Ascending => ("ASC", ">"),
        SortOrder::Descending => ("DESC", "<"),
    };
    if let Some(position) = after {
        let key = next(Param::Text(position.value.clone()), &mut params);
        let id = next(Param::Text(Some(position.id.clone())), &mut params);
        let cursor_value = cursor_cast.replace("$K", &format!("${key}"));
        filters.push_str(&format!(
            " AND ({expression}, id) {beyond} ({cursor_value}, ${id}::uuid)"
        ));
    }
    let limit = next(
        Param::Text(Some((query.limit + 1).to_string())),
        &mut params,
    );
    let gate = gate(caller);
    let statement = Statement {
        text: format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = $1::text{filters}{gate} \
             ORDER BY {expression} {direction}, id {direction} LIMIT ${limit}::bigint"
        ),
        params,
    };
    finish(caller, &Precondition::None, statement, TASK_WIDTH)
}

/// Applies a partial update and returns the task. `$4` and `$7` say whether to touch the
/// description and the due date at all, since NULL in `$5` and `$8` means "clear it".
pub fn update_task(
    caller: &Caller,
    task: TaskId,
    patch: &TaskPatch,
    precondition: &Precondition,
) -> Statement {
    let mut params = user_and_task(caller.user(), task);
    params.extend([
        Param::Text(patch.title.as_ref().map(|title| title.as_str().to_owned())),
        Param::Bool(Some(patch.description.is_some())),
        Param::Text(
            patch
                .description
                .as_ref()
                .and_then(|description| description.as_ref())
                .map(|description| description.as_str().to_owned()),
        ),
        Param::Bool(patch.completed),
        Param::Bool(Some(patch.due_date.is_some())),
        Param::Text(patch.due_date.flatten().map(|date| date.to_text())),
        Param::Text(patch.priority.map(|priority| priority.rank().to_string())),
        Param::Text(
            patch
                .tags
                .as_ref()
                .map(|tags| text_array(tags.as_slice().iter().map(|tag| tag.as_str()))),
        ),
    ]);
    let statement = Statement {
        text: format!(
            "UPDATE tasks SET \
             title = COALESCE($3::text, title), \
             description = CASE WHEN $4::boolean THEN $5::text ELSE description END, \
             completed = COALESCE($6::boolean, completed), \
             due_date = CASE WHEN $7::boolean THEN $8::date ELSE due_date END, \
             priority = COALESCE($9::smallint, priority), \
             tags = COALESCE($10::text[], tags) \
             WHERE user_id = $1::text AND id = $2::uuid{gate} \
             RETURNING {TASK_COLUMNS}",
            gate = gate(caller)
        ),
        params,
    };
    finish(caller, precondition, statement, TASK_WIDTH)
}

/// Sets or toggles completion in one statement: the row lock serializes concurrent toggles,
/// so none is lost.
pub fn change_completion(
    caller: &Caller,
    task: TaskId,
    change: CompletionChange,
    precondition: &Precondition,
) -> Statement {
    let mut params = user_and_task(caller.user(), task);
    params.push(Param::Bool(match change {
        CompletionChange::Toggle => None,
        CompletionChange::Set(completed) => Some(completed),
    }));
    let statement = Statement {
        text: format!(
            "UPDATE tasks SET completed = COALESCE($3::boolean, NOT completed) \
             WHERE user_id = $1::text AND id = $2::uuid{gate} \
             RETURNING {TASK_COLUMNS}",
            gate = gate(caller)
        ),
        params,
    };
    finish(caller, precondition, statement, TASK_WIDTH)
}

/// Deletes one of the user's tasks; returns its id when there was one.
pub fn delete_task(caller: &Caller, task: TaskId, precondition: &Precondition) -> Statement {
    let gate = gate(caller);
    let statement = Statement {
        text: format!(
            "DELETE FROM tasks WHERE user_id = $1::text AND id = $2::uuid{gate} RETURNING id::text"
        ),
        params: user_and_task(caller.user(), task),
    };
    finish(caller, precondition, statement, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{SessionSchema, SessionToken};
    use crate::domain::{Description, DueDate, Priority, Tags, Title};

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
            insert_task(caller, &new_task),
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
        let statement = insert_task(&user, &task);
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
            let statement = insert_task_once(&caller, &task, "key-1", "hash");
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
        assert!(insert_task_once(&session(), &task, "k", "h")
            .text
            .starts_with("WITH caller AS"));
    }
}
