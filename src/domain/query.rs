//! What a request asks for: a list's filters, order and page, the change feed's position, and
//! what `If-Match` asks of a write.

use super::values::{DueDate, FieldError, Priority, Search, Tag, MAX_TAGS};

/// Records a parameter's error and yields its value when it has one.
fn keep<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

/// Which tasks a list returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Every task.
    #[default]
    All,
    /// Tasks not yet completed.
    Pending,
    /// Completed tasks.
    Completed,
}

/// The column a list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Creation time.
    #[default]
    Created,
    /// Time of the last write.
    Updated,
    /// Title, case-insensitively.
    Title,
    /// Due date; tasks without one come last in both orders.
    DueDate,
    /// Priority.
    Priority,
}

impl SortKey {
    /// The query parameter's value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Title => "title",
            Self::DueDate => "due_date",
            Self::Priority => "priority",
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Smallest first.
    Ascending,
    /// Largest first.
    Descending,
}

/// A validated change-feed query: `since` (a cursor) and `limit` (1 to [`MAX_PAGE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesQuery {
    /// The cursor of the previous page; none for a first sync.
    pub since: Option<String>,
    /// At most this many changes.
    pub limit: u32,
}

impl ChangesQuery {
    /// Parses `since` and `limit`; other parameters are ignored.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FieldError>> {
        let (mut since, mut limit) = (None, None);
        for (name, value) in pairs {
            match name {
                "since" => since = Some(value),
                "limit" => limit = Some(value),
                _ => {}
            }
        }
        let limit = match limit {
            None => MAX_PAGE,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|limit| (1..=MAX_PAGE).contains(limit))
                .ok_or_else(|| {
                    vec![FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_PAGE}"),
                    )]
                })?,
        };
        Ok(Self {
            since: since.filter(|since| !since.is_empty()).map(str::to_owned),
            limit,
        })
    }
}

/// The most tasks one list response holds, and the default page size.
pub const MAX_PAGE: u32 = 1000;

/// A validated list query: filters, order, page size, and where the page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Which tasks to include.
    pub status: StatusFilter,
    /// A substring of the title or the description.
    pub search: Option<Search>,
    /// Any of these priorities (empty: any priority).
    pub priorities: Vec<Priority>,
    /// Every one of these tags.
    pub tags: Vec<Tag>,
    /// Due on or before this date (tasks without a due date are left out).
    pub due_before: Option<DueDate>,
    /// Due on or after this date (tasks without a due date are left out).
    pub due_after: Option<DueDate>,
    /// What to sort by.
    pub sort: SortKey,
    /// Which way.
    pub order: SortOrder,
    /// At most this many tasks, 1 to [`MAX_PAGE`].
    pub limit: u32,
    /// The `cursor` parameter as sent, checked against the rest by [`crate::cursor`].
    pub cursor: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            status: StatusFilter::All,
            search: None,
            priorities: Vec::new(),
            tags: Vec::new(),
            due_before: None,
            due_after: None,
            sort: SortKey::Created,
            order: SortOrder::Descending,
            limit: MAX_PAGE,
            cursor: None,
        }
    }
}

impl ListQuery {
    /// Parses the list's query parameters. Unknown parameters are ignored; a repeated one
    /// takes its last value, except `tag`, which may be repeated. Without `order`, dates of
    /// creation and change sort newest first, titles alphabetically, due dates soonest first
    /// and priorities highest first, which is what a person expects from each.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut raw = Parameters::default();
        let mut tags = Vec::new();
        for (name, value) in pairs {
            match name {
                "tag" => tags.push(value),
                "status" | "sort" | "order" | "q" | "priority" | "due_before" | "due_after"
                | "limit" | "cursor" => raw.insert(name, value),
                _ => {}
            }
        }

        let mut errors = Vec::new();
        let status = keep(
            &mut errors,
            match raw.get("status").copied() {
                None | Some("all") => Ok(StatusFilter::All),
                Some("pending") => Ok(StatusFilter::Pending),
                Some("completed") => Ok(StatusFilter::Completed),
                Some(_) => Err(FieldError::new(
                    "status",
                    "must be one of all, pending, completed",
                )),
            },
        );
        let sort = keep(
            &mut errors,
            match raw.get("sort").copied() {
                None | Some("created") => Ok(SortKey::Created),
                Some("updated") => Ok(SortKey::Updated),
                Some("title") => Ok(SortKey::Title),
                Some("due_date") => Ok(SortKey::DueDate),
                Some("priority") => Ok(SortKey::Priority),
                Some(_) => Err(FieldError::new(
                    "sort",
                    "must be one of created, updated, title, due_date, priority",
                )),
            },
        );
        let order = keep(
            &mut errors,
            match (raw.get("order").copied(), sort) {
                (None, Some(SortKey::Title | SortKey::DueDate)) => Ok(SortOrder::Ascending),
                (None, _) => Ok(SortOrder::Descending),
                (Some("asc"), _) => Ok(SortOrder::Ascending),
                (Some("desc"), _) => Ok(SortOrder::Descending),
                (Some(_), _) => Err(FieldError::new("order", "must be one of asc, desc")),
            },
        );
        let search = keep(
            &mut errors,
            raw.get("q").map(|q| Search::parse(q)).transpose(),
        );
        let priorities = keep(
            &mut errors,
            raw.get("priority")
                .map(|list| {
                    list.split(',')
                        .map(|name| Priority::parse("priority", name.trim()))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose(),
        );
        let tags = keep(
            &mut errors,
            if tags.len() > MAX_TAGS {
                Err(FieldError::new(
                    "tag",
                    format!("may be given at most {MAX_TAGS} times"),
                ))
            } else {
                tags.iter().map(|tag| Tag::parse("tag", tag)).collect()
            },
        );
        let due_before = keep(
            &mut errors,
            raw.get("due_before")
                .map(|date| DueDate::parse("due_before", date))
                .transpose(),
        );
        let due_after = keep(
            &mut errors,
            raw.get("due_after")
                .map(|date| DueDate::parse("due_after", date))
                .transpose(),
        );
        let limit = keep(
            &mut errors,
            match raw.get("limit") {
                None => Ok(MAX_PAGE),
                Some(text) => text
                    .parse::<u32>()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE).contains(limit))
                    .ok_or_else(|| {
                        FieldError::new(
                            "limit",
                            format!("must be a whole number from 1 to {MAX_PAGE}"),
                        )
                    }),
            },
        );

        match (
            status, search, priorities, tags, due_before, due_after, sort, order, limit,
        ) {
            (
                Some(status),
                Some(search),
                Some(priorities),
                Some(tags),
                Some(due_before),
                Some(due_after),
                Some(sort),
                Some(order),
                Some(limit),
            ) if errors.is_empty() => Ok(Self {
                status,
                search,
                priorities: priorities.unwrap_or_default(),
                tags,
                due_before,
                due_after,
                sort,
                order,
                limit,
                // `cursor=` (a client's empty next-cursor variable) is the first page.
                cursor: raw
                    .get("cursor")
                    .filter(|cursor| !cursor.is_empty())
                    .map(|cursor| (*cursor).to_owned()),
            }),
            _ => Err(errors),
        }
    }

    /// The filters and the order, in a canonical form: a cursor is valid only for the query
    /// that issued it.
    pub fn fingerprint(&self) -> String {
        let mut priorities: Vec<u8> = self.priorities.iter().map(|p| p.rank()).collect();
        priorities.sort_unstable();
        priorities.dedup();
        let mut tags: Vec<&str> = self.tags.iter().map(Tag::as_str).collect();
        tags.sort_unstable();
        tags.dedup();
        serde_json::json!([
            format!("{:?}", self.status),
            self.search.as_ref().map(Search::as_str),
            priorities,
            tags,
            self.due_before.map(DueDate::to_text),
            self.due_after.map(DueDate::to_text),
            self.sort.name(),
            format!("{:?}", self.order),
        ])
        .to_string()
    }
}

/// A handful of query parameters, each by its last value: a list query has at most nine
/// names, so a scan beats hashing them.
#[derive(Default)]
struct Parameters<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Parameters<'a> {
    fn insert(&mut self, name: &'a str, value: &'a str) {
        match self.0.iter_mut().find(|(existing, _)| *existing == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    fn get(&self, name: &str) -> Option<&&'a str> {
        self.0
            .iter()
            .find(|(existing, _)| *existing == name)
            .map(|(_, value)| value)
    }
}

/// What an `If-Match` header asks of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`, or `If-Match: *`: the row must exist, as for any write.
    None,
    /// The row's version must be one of these (the ETags sent).
    Versions(Vec<u64>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_defaults_to_newest_first() {
        assert_eq!(ListQuery::parse([]).unwrap(), ListQuery::default());
        assert_eq!(ListQuery::default().order, SortOrder::Descending);
    }

    #[test]
    fn list_query_sorts_titles_alphabetically_unless_told_otherwise() {
        let query = ListQuery::parse([("sort", "title")]).unwrap();
        assert_eq!(
            (query.sort, query.order),
            (SortKey::Title, SortOrder::Ascending)
        );
        let query = ListQuery::parse([("sort", "title"), ("order", "desc")]).unwrap();
        assert_eq!(query.order, SortOrder::Descending);
    }

    #[test]
    fn list_query_reports_every_invalid_parameter() {
        let errors = ListQuery::parse([
            ("status", "done"),
            ("sort", "id"),
            ("q", ""),
            ("priority", "high,urgent"),
            ("tag", ""),
            ("due_before", "2026-02-30"),
            ("due_after", "tomorrow"),
            ("limit", "1001"),
        ])
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "status",
                "sort",
                "q",
                "priority",
                "tag",
                "due_before",
                "due_after",
                "limit"
            ]
        );
        assert_eq!(
            ListQuery::parse([("order", "up")]).unwrap_err()[0].field,
            "order"
        );
    }

    #[test]
    fn list_query_takes_every_filter_and_repeated_tags() {
        let query = ListQuery::parse([
            ("q", "milk"),
            ("priority", "high, medium"),
            ("tag", "Home"),
            ("tag", "errands"),
            ("due_before", "2026-12-31"),
            ("due_after", "2026-12-01"),
            ("sort", "due_date"),
            ("limit", "100"),
            ("cursor", "abc"),
        ])
        .unwrap();
        assert_eq!(query.search.unwrap().like_pattern(), "%milk%");
        assert_eq!(query.priorities, [Priority::High, Priority::Medium]);
        assert_eq!(
            query.tags.iter().map(Tag::as_str).collect::<Vec<_>>(),
            ["home", "errands"]
        );
        assert_eq!(
            (query.sort, query.order),
            (SortKey::DueDate, SortOrder::Ascending)
        );
        assert_eq!(query.limit, 100);
        assert_eq!(query.cursor.as_deref(), Some("abc"));
        assert_eq!(
            ListQuery::parse([("cursor", "")]).unwrap().cursor,
            None,
            "the first page"
        );
        let by_priority = ListQuery::parse([("sort", "priority")]).unwrap();
        assert_eq!(by_priority.order, SortOrder::Descending, "high first");
    }

    #[test]
    fn the_fingerprint_ignores_paging_and_the_order_of_filters() {
        let a = ListQuery::parse([
            ("tag", "a"),
            ("tag", "b"),
            ("priority", "low,high"),
            ("limit", "5"),
        ])
        .unwrap();
        let b = ListQuery::parse([
            ("tag", "b"),
            ("tag", "a"),
            ("priority", "high,low"),
            ("cursor", "x"),
        ])
        .unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let other = ListQuery::parse([("tag", "a")]).unwrap();
        assert_ne!(a.fingerprint(), other.fingerprint());
    }

    #[test]
    fn search_patterns_escape_like_wildcards() {
        assert_eq!(
            Search::parse("50%_off\\").unwrap().like_pattern(),
            "%50\\%\\_off\\\\%"
        );
        assert!(Search::parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn list_query_ignores_unknown_parameters_and_takes_the_last_repeat() {
        let query =
            ListQuery::parse([("page", "2"), ("status", "all"), ("status", "pending")]).unwrap();
        assert_eq!(query.status, StatusFilter::Pending);
    }
}
