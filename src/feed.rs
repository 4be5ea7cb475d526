//! The change feed's response: `{tasks, deleted, cursor, has_more}`, and the cursor that
//! continues it.
//!
//! The statement (`store::sql::list_changes`) returns changes of finished transactions only,
//! in transaction order, one more than asked. When that extra one is there, the next cursor
//! continues right after the last change delivered; otherwise it moves to the horizon (the
//! snapshot's xmin): every transaction below it had finished and was delivered, and any that
//! commits later has an id at or above it, so it is read next time. Following `cursor` until
//! `has_more` is false therefore misses no change, even when transactions commit out of order.
//! A change may come twice (a task changed again); clients apply them by id.

use crate::cursor::{FeedPosition, BEFORE_ANY_ID};
use crate::domain::{fitting_page, write_task_array, Task};
use crate::runtime::json;
use crate::store::{Change, ChangesPage};

/// A deleted id in the page: a quoted UUID.
const DELETED_ID_BYTES: usize = 38;

/// How long deletions are remembered: a cursor older than this is answered with 410.
pub const DELETIONS_KEPT_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// One page of the feed; [`FeedPage::to_json`] is its body.
#[derive(Debug, PartialEq)]
pub struct FeedPage {
    /// Tasks created or changed since the cursor, as they are now.
    pub tasks: Vec<Task>,
    /// Ids of tasks deleted since the cursor.
    pub deleted: Vec<String>,
    /// Where the next page, or the next sync, starts.
    pub cursor: String,
    /// Whether more changes are waiting now.
    pub has_more: bool,
}

impl FeedPage {
    /// The page's JSON: `{"tasks", "deleted", "cursor", "has_more"}`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(384 * self.tasks.len() + 128);
        let mut page = json::Object::open(&mut body);
        write_task_array(page.field("tasks"), &self.tasks);
        page.value("deleted", &self.deleted)
            .str("cursor", &self.cursor)
            .bool("has_more", self.has_more);
        page.close();
        body
    }
}

/// Builds the page from at most `limit + 1` changes; `encode` signs the next position.
pub fn page(
    page: ChangesPage,
    after: &FeedPosition,
    limit: u32,
    now_ms: i64,
    encode: impl Fn(&FeedPosition) -> String,
) -> FeedPage {
    let mut changes = page.changes;
    changes.truncate(limit as usize + 1);
    let asked = &changes[..changes.len().min(limit as usize)];
    let fits = fitting_page(
        asked,
        |(_, _, change)| match change {
            Change::Task(task) => Some(task),
            Change::Deleted(_) => None,
        },
        DELETED_ID_BYTES,
    );
    let has_more = changes.len() > fits;
    changes.truncate(fits);
    let next = match (has_more, changes.last()) {
        (true, Some((xid, id, _))) => FeedPosition {
            xid: xid.clone(),
            id: id.clone(),
            first_sync: after.first_sync,
            sync_start: after
                .first_sync
                .then(|| after.sync_start.clone().unwrap_or(page.horizon.clone())),
            issued_ms: after.issued_ms,
        },
        _ => FeedPosition {
            // The horizon never moves back behind a position already delivered.
            xid: later(&page.horizon, &after.xid).to_owned(),
            id: BEFORE_ANY_ID.to_owned(),
            first_sync: false,
            sync_start: None,
            issued_ms: now_ms,
        },
    };
    let mut tasks = Vec::new();
    let mut deleted = Vec::new();
    for (_, _, change) in changes {
        match change {
            Change::Task(task) => tasks.push(task),
            Change::Deleted(id) => deleted.push(id),
        }
    }
    FeedPage {
        tasks,
        deleted,
        cursor: encode(&next),
        has_more,
    }
}

/// Whether the clean-up removed a tombstone this cursor has not delivered: the user went past
/// the cap on tombstones kept, and the cursor is at or before the newest one removed. A
/// first sync reports no deletions before its start, so it misses nothing there.
pub fn missed_pruned(page: &ChangesPage, after: &FeedPosition) -> bool {
    let Some(pruned) = &page.pruned else {
        return false;
    };
    let from = match (&after.first_sync, &after.sync_start) {
        (false, _) => after.xid.as_str(),
        (true, Some(start)) => start.as_str(),
        (true, None) => return false,
    };
    later(pruned, from) == pruned.as_str()
}

/// The later of two transaction ids (decimal text, as xid8 prints).
fn later<'a>(a: &'a str, b: &'a str) -> &'a str {
    let value = |xid: &str| xid.parse::<u64>().unwrap_or(0);
    if value(a) >= value(b) {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> Task {
        Task::sample(id, "1")
    }

    fn encode(position: &FeedPosition) -> String {
        format!(
            "{}/{}/{}/{:?}/{}",
            position.xid, position.id, position.first_sync, position.sync_start, position.issued_ms
        )
    }

    #[test]
    fn a_full_page_continues_after_its_last_change() {
        let changes = vec![
            ("10".to_owned(), "a".to_owned(), Change::Task(task("a"))),
            (
                "11".to_owned(),
                "b".to_owned(),
                Change::Deleted("b".to_owned()),
            ),
            ("12".to_owned(), "c".to_owned(), Change::Task(task("c"))),
        ];
        let page = page(
            ChangesPage {
                changes,
                horizon: "20".to_owned(),
                pruned: None,
            },
            &FeedPosition::start(0),
            2,
            5,
            encode,
        );
        assert!(page.has_more);
        assert_eq!(page.tasks, [task("a")]);
        assert_eq!(page.deleted, ["b"]);
        assert_eq!(
            page.cursor, "11/b/true/Some(\"20\")/0",
            "still a first sync until it is done, from the first page's horizon and time"
        );
        let next = FeedPosition {
            xid: "11".to_owned(),
            id: "b".to_owned(),
            first_sync: true,
            sync_start: Some("20".to_owned()),
            issued_ms: 0,
        };
        let later_page = super::page(
            ChangesPage {
                changes: vec![
                    ("12".to_owned(), "c".to_owned(), Change::Task(task("c"))),
                    ("30".to_owned(), "d".to_owned(), Change::Task(task("d"))),
                ],
                horizon: "40".to_owned(),
                pruned: None,
            },
            &next,
            1,
            9,
            encode,
        );
        assert_eq!(
            later_page.cursor, "12/c/true/Some(\"20\")/0",
            "the first page's horizon and time stay"
        );
    }

    #[test]
    fn a_page_of_heavy_changes_stays_within_the_byte_budget_with_its_envelope() {
        let heavy = Task {
            description: Some("\u{1}".repeat(2000)),
            ..task("0190f0a0-0000-7000-8000-000000000001")
        };
        let changes = (0..1000)
            .map(|n| {
                let change = if n % 10 == 0 {
                    Change::Deleted(format!("0190f0a0-0000-7000-8000-{n:012}"))
                } else {
                    Change::Task(heavy.clone())
                };
                (format!("{}", 100 + n), format!("id{n:04}"), change)
            })
            .collect();
        let cut = page(
            ChangesPage {
                changes,
                horizon: "5000".to_owned(),
                pruned: None,
            },
            &FeedPosition::start(0),
            1000,
            5,
            |_| "c".repeat(200),
        );
        assert!(cut.has_more);
        assert!(!cut.tasks.is_empty());
        let written = cut.to_json().len();
        assert!(written <= crate::domain::PAGE_BUDGET_BYTES, "{written}");
    }

    #[test]
    fn a_cursor_at_or_before_a_pruned_tombstone_has_missed_it() {
        let pruned = |xid: &str| ChangesPage {
            changes: Vec::new(),
            horizon: "100".to_owned(),
            pruned: Some(xid.to_owned()),
        };
        let at = |xid: &str| FeedPosition {
            xid: xid.to_owned(),
            first_sync: false,
            ..FeedPosition::start(0)
        };
        assert!(missed_pruned(&pruned("50"), &at("50")));
        assert!(
            missed_pruned(&pruned("50"), &at("9")),
            "numerically, not as text"
        );
        assert!(!missed_pruned(&pruned("50"), &at("51")));
        assert!(!missed_pruned(
            &ChangesPage {
                pruned: None,
                ..pruned("0")
            },
            &at("1")
        ));
        assert!(!missed_pruned(&pruned("50"), &FeedPosition::start(0)));
        let continuing = FeedPosition {
            sync_start: Some("40".to_owned()),
            ..FeedPosition::start(0)
        };
        assert!(missed_pruned(&pruned("50"), &continuing));
    }

    #[test]
    fn a_page_is_written_as_its_four_fields() {
        let page = FeedPage {
            tasks: vec![task("a")],
            deleted: vec!["b".to_owned()],
            cursor: "c\"1".to_owned(),
            has_more: true,
        };
        let json: serde_json::Value = serde_json::from_slice(&page.to_json()).unwrap();
        assert_eq!(json["tasks"][0]["id"], "a");
        assert_eq!(json["deleted"], serde_json::json!(["b"]));
        assert_eq!(json["cursor"], "c\"1");
        assert_eq!(json["has_more"], true);
        assert_eq!(json.as_object().map(|fields| fields.len()), Some(4));
    }

    #[test]
    fn the_last_page_moves_the_cursor_to_the_horizon() {
        let changes = vec![("10".to_owned(), "a".to_owned(), Change::Task(task("a")))];
        let done = page(
            ChangesPage {
                changes,
                horizon: "20".to_owned(),
                pruned: None,
            },
            &FeedPosition::start(0),
            5,
            5,
            encode,
        );
        assert!(!done.has_more);
        assert_eq!(done.cursor, format!("20/{BEFORE_ANY_ID}/false/None/5"));
        let behind = FeedPosition {
            xid: "30".to_owned(),
            ..FeedPosition::start(0)
        };
        let empty = page(
            ChangesPage {
                changes: Vec::new(),
                horizon: "25".to_owned(),
                pruned: None,
            },
            &behind,
            5,
            5,
            encode,
        );
        assert!(
            empty.cursor.starts_with("30/"),
            "never back behind what was delivered"
        );
    }
}
