//! Statements built from parts, in order: text and its parameters move together, so a
//! placeholder's number cannot drift from its value, and no finished text is ever edited.
//!
//! A [`Query`] is one caller's statement under construction. Its work (the INSERT, UPDATE,
//! DELETE or SELECT) is written with [`Query::push`] and [`Query::arg`]; the parts every
//! statement may need are methods that add both their text and their parameters:
//! - [`Query::gate`]: for a session caller, the session check (its `caller` CTE and the
//!   condition that stops the work unless the session is the path user's);
//! - [`Query::if_match`]: `If-Match` (a `current` CTE that reads and locks the row's version,
//!   and the condition that does the work only for one of the versions sent);
//! - [`Query::cte`]: any other common table expression, such as an idempotency claim.
//!
//! [`Query::finish`] puts them together and records the row [`Layout`] that results, which
//! the store reads the rows by.

use std::fmt;

use crate::auth::Caller;
use crate::domain::{Param, Precondition};

/// One parameterized statement, ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The SQL text, with `$n` placeholders.
    pub text: String,
    /// The values for the placeholders, in order.
    pub params: Vec<Param>,
    /// What each row carries before the work's own columns.
    pub layout: Layout,
}

/// The columns a statement's rows carry before the work's own, in this order. When either is
/// present, a work that produced no row still answers one row, its own columns all NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// The user whose live session the statement found (NULL: none): a session caller's.
    pub session: bool,
    /// The row's version before the write (NULL: no such row): a write under `If-Match`.
    pub version: bool,
}

/// A parameter's position: written into the text as `$n` only through this handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder(usize);

impl fmt::Display for Placeholder {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "${}", self.0)
    }
}

/// The column that says whose session it was, from the `caller` CTE.
const SESSION_COLUMN: &str = "(SELECT user_id FROM caller)";
/// The column that says which version the row had, from the `current` CTE.
const VERSION_COLUMN: &str = "(SELECT version FROM current)";

/// One caller's statement under construction. The caller's user id is always `$1`.
pub struct Query<'a> {
    caller: &'a Caller,
    params: Vec<Param>,
    ctes: Vec<String>,
    work: String,
    layout: Layout,
}

impl<'a> Query<'a> {
    /// A statement for this caller, its user id bound as `$1`.
    pub fn new(caller: &'a Caller) -> Self {
        Self {
            caller,
            params: vec![Param::Text(Some(caller.user().as_str().to_owned()))],
            ctes: Vec::new(),
            work: String::new(),
            layout: Layout::default(),
        }
    }

    /// The caller's user id: `$1`.
    pub fn user(&self) -> Placeholder {
        Placeholder(1)
    }

    /// Binds a parameter; its placeholder is written where the text needs it.
    pub fn bind(&mut self, param: Param) -> Placeholder {
        self.params.push(param);
        Placeholder(self.params.len())
    }

    /// Binds a text parameter.
    pub fn bind_text(&mut self, text: impl Into<String>) -> Placeholder {
        self.bind(Param::Text(Some(text.into())))
    }

    /// Appends SQL text to the work.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.work.push_str(sql);
        self
    }

    /// Appends a placeholder with its cast: `$n::cast`.
    pub fn arg(&mut self, placeholder: Placeholder, cast: &str) -> &mut Self {
        self.work.push_str(&format!("{placeholder}::{cast}"));
        self
    }

    /// Binds a parameter and appends it with its cast.
    pub fn push_bind(&mut self, param: Param, cast: &str) -> &mut Self {
        let placeholder = self.bind(param);
        self.arg(placeholder, cast)
    }

    /// Appends `WHERE user_id = $1::text`, the condition every statement on a user's rows has.
    pub fn where_user(&mut self) -> &mut Self {
        let user = self.user();
        self.push(" WHERE user_id = ").arg(user, "text")
    }

    /// Appends the session gate to the work: nothing for a verified caller; for a session
    /// caller, a condition that holds only when the token's live session is the path user's.
    pub fn gate(&mut self) -> &mut Self {
        let gate = self.gate_condition();
        self.push(&gate)
    }

    /// The session gate's text, for a CTE's WHERE clause; the `caller` CTE is added (and the
    /// token bound) the first time a session caller's statement asks for it.
    pub fn gate_condition(&mut self) -> String {
        let Caller::Session { token, schema, .. } = self.caller else {
            return String::new();
        };
        if !self.layout.session {
            self.layout.session = true;
            let token = self.bind_text(token.as_str());
            self.ctes.push(format!(
                "caller AS (SELECT {user}::text AS user_id FROM {table} \
                 WHERE {token_column} = {token}::text AND {expires} > now() LIMIT 1)",
                user = schema.user_id_column(),
                table = schema.table(),
                token_column = schema.token_column(),
                expires = schema.expires_at_column(),
            ));
        }
        format!(
            " AND EXISTS (SELECT 1 FROM caller WHERE caller.user_id = {}::text)",
            self.user()
        )
    }

    /// Applies `If-Match` to a write of the row `id` of `table`: the work is done only where
    /// the row's version is one of those sent, and a `current` CTE reads and locks the
    /// version, so the rows say which version there was. Nothing for no precondition.
    pub fn if_match(&mut self, precondition: &Precondition, table: &str, id: Placeholder) {
        let Precondition::Versions(versions) = precondition else {
            return;
        };
        let list = versions
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let versions = self.bind_text(format!("{{{list}}}"));
        self.push(" AND version = ANY(")
            .arg(versions, "bigint[]")
            .push(")");
        let gate = self.gate_condition();
        self.layout.version = true;
        self.ctes.push(format!(
            "current AS (SELECT version::text FROM {table} \
             WHERE user_id = {user}::text AND id = {id}::uuid{gate} FOR UPDATE)",
            user = self.user(),
        ));
    }

    /// Adds a common table expression before the work.
    pub fn cte(&mut self, name: &str, body: &str) {
        self.ctes.push(format!("{name} AS ({body})"));
    }

    /// The statement. With no CTE it is the work itself. Otherwise the work runs as the
    /// `result` CTE and each row is prefixed as [`Layout`] says; a work that produced no row
    /// answers one row whose `width` own columns are NULL. The CTEs stay at the top level,
    /// where PostgreSQL requires data-modifying ones.
    pub fn finish(self, width: usize) -> Statement {
        if self.ctes.is_empty() {
            return Statement {
                text: self.work,
                params: self.params,
                layout: self.layout,
            };
        }
        let prefixes = self.prefix_columns().join(", ");
        let nulls = ", NULL".repeat(width);
        self.finish_with(&|_| {
            format!(
                "SELECT {prefixes}, result.* FROM result \
                 UNION ALL SELECT {prefixes}{nulls} \
                 WHERE NOT EXISTS (SELECT 1 FROM result)"
            )
        })
    }

    /// The statement with its own final SELECT over `result`: `select` gets the session
    /// column and its comma (empty for a verified caller), which must lead every row.
    pub fn finish_with(self, select: &dyn Fn(&str) -> String) -> Statement {
        let session = if self.layout.session {
            format!("{SESSION_COLUMN}, ")
        } else {
            String::new()
        };
        let mut ctes = self.ctes;
        ctes.push(format!("result AS ({})", self.work));
        Statement {
            text: format!("WITH {} {}", ctes.join(", "), select(&session)),
            params: self.params,
            layout: self.layout,
        }
    }

    fn prefix_columns(&self) -> Vec<&'static str> {
        let mut columns = Vec::new();
        if self.layout.session {
            columns.push(SESSION_COLUMN);
        }
        if self.layout.version {
            columns.push(VERSION_COLUMN);
        }
        columns
    }
}
