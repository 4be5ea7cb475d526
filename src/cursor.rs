//! Opaque list cursors for keyset paging.
//!
//! A cursor names the last task of a page by its sort value and id, so the next page starts
//! right after it (no OFFSET: inserts and deletes elsewhere neither repeat nor skip a task that
//! existed throughout). It is signed with a key derived from `BETTER_AUTH_SECRET` over the
//! user and the query's filters and order: a tampered cursor, another user's cursor, or a
//! cursor used with other filters or another sort is refused with a 400. It carries only the
//! last task's sort value and id, both the caller's own.

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::{FieldError, ListQuery, SortKey, Task};

/// Bytes of the signature kept: 128 bits.
const SIGNATURE_BYTES: usize = 16;

/// Signs and checks cursors.
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CursorKey(<redacted>)")
    }
}

/// Where a page starts: after the task with this sort value and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The last task's sort value, as text (`None` for a task without a due date).
    #[serde(rename = "v")]
    pub value: Option<String>,
    /// The last task's id.
    #[serde(rename = "i")]
    pub id: String,
}

#[derive(Serialize)]
struct Payload {
    /// The first bytes of the query's fingerprint, to tell "other filters" from tampering.
    #[serde(rename = "q")]
    query: String,
    #[serde(flatten)]
    position: Position,
}

impl CursorKey {
    /// A key for cursors only, derived from the secret.
    pub fn derive(secret: &str) -> Self {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(b"edge-task-api list cursor v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn signature(&self, user: &str, payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(user.as_bytes());
        mac.update(&[0]);
        mac.update(payload.as_bytes());
        mac
    }

    /// `payload` signed for `user` in `domain` (`list`, `feed`): `<payload>.<signature>`.
    fn seal(&self, user: &str, domain: &str, payload: &str) -> String {
        let signature = self
            .signature(user, &format!("{domain}:{payload}"))
            .finalize()
            .into_bytes();
        format!(
            "{}.{}",
            crate::runtime::base64::url_encode(payload.as_bytes()),
            crate::runtime::base64::url_encode(&signature[..SIGNATURE_BYTES])
        )
    }

    /// The payload of a cursor this key sealed for `user` in `domain`, or `None`.
    fn open(&self, user: &str, domain: &str, cursor: &str) -> Option<String> {
        let (payload, signature) = cursor.split_once('.')?;
        let payload = String::from_utf8(crate::runtime::base64::url_decode(payload)?).ok()?;
        let signature = crate::runtime::base64::url_decode(signature)?;
        if signature.len() != SIGNATURE_BYTES {
            return None;
        }
        self.signature(user, &format!("{domain}:{payload}"))
            .verify_truncated_left(&signature)
            .ok()?;
        Some(payload)
    }

    /// The cursor for the page after `last`, for this user and query.
    pub fn encode(&self, user: &str, query: &ListQuery, last: &Task) -> String {
        let payload = Payload {
            query: fingerprint_digest(query),
            position: position_of(query.sort, last),
        };
        let payload = serde_json::to_string(&payload).expect("a cursor payload serializes");
        self.seal(user, "list", &payload)
    }

    /// The position a cursor names, if it is this user's and this query's.
    pub fn decode(
        &self,
        user: &str,
        query: &ListQuery,
        cursor: &str,
    ) -> Result<Position, FieldError> {
        let invalid = || {
            FieldError::new(
                "cursor",
                "is not a cursor this API issued for this user; start again without it",
            )
        };
        let payload = self.open(user, "list", cursor).ok_or_else(invalid)?;
        let payload = read_payload(&payload).ok_or_else(invalid)?;
        if payload.query != fingerprint_digest(query) {
            return Err(FieldError::new(
                "cursor",
                "was issued for other filters or another sort; follow the Link it came with, or start again without it",
            ));
        }
        Ok(payload.position)
    }

    /// The `cursor` of a change-feed page, for this user.
    pub fn encode_feed(&self, user: &str, position: &FeedPosition) -> String {
        let payload = serde_json::to_string(position).expect("a feed position serializes");
        self.seal(user, "feed", &payload)
    }

    /// The position a feed cursor names, if this API issued it for this user.
    pub fn decode_feed(&self, user: &str, cursor: &str) -> Result<FeedPosition, FieldError> {
        let invalid = || {
            FieldError::new(
                "since",
                "is not a cursor this API issued for this user; sync again without it",
            )
        };
        let payload = self.open(user, "feed", cursor).ok_or_else(invalid)?;
        read_feed_position(&payload).ok_or_else(invalid)
    }
}

// Cursors are read back through `serde_json::Value`, whose parser the module has anyway;
// parsers derived for these shapes (one with a flattened field) would each add their own.
// Only cursors this key signed get here, so a shape that does not fit is a bug, not input.

fn read_payload(text: &str) -> Option<Payload> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(Payload {
        query: value.get("q")?.as_str()?.to_owned(),
        position: Position {
            value: match value.get("v")? {
                Value::Null => None,
                other => Some(other.as_str()?.to_owned()),
            },
            id: value.get("i")?.as_str()?.to_owned(),
        },
    })
}

fn read_feed_position(text: &str) -> Option<FeedPosition> {
    let value: Value = serde_json::from_str(text).ok()?;
    let first_sync = value.get("f")?.as_bool()?;
    Some(FeedPosition {
        xid: value.get("x")?.as_str()?.to_owned(),
        id: value.get("i")?.as_str()?.to_owned(),
        first_sync,
        sync_start: match value.get("s") {
            Some(start) => Some(start.as_str()?.to_owned()),
            // A first sync's cursor issued before `s` existed: every deletion from here on.
            None => first_sync.then(|| "0".to_owned()),
        },
        issued_ms: value.get("t")?.as_i64()?,
    })
}

/// Where a change feed continues: after the change of transaction `xid` to task `id`, with
/// every transaction below `xid` finished and delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedPosition {
    /// A transaction id (xid8, as text).
    #[serde(rename = "x")]
    pub xid: String,
    /// A task id; the nil UUID for "from the start of `xid`".
    #[serde(rename = "i")]
    pub id: String,
    /// Whether this is a first sync still under way: deletions are not reported to a client
    /// that has nothing to delete.
    #[serde(rename = "f")]
    pub first_sync: bool,
    /// Of a first sync's later pages: the horizon of its first page. A task deleted by a
    /// transaction at or after it may have been delivered on an earlier page, so its deletion
    /// is reported even during the first sync. `None` on the first page, whose statement
    /// uses its own horizon, and once the first sync is done.
    #[serde(rename = "s", skip_serializing_if = "Option::is_none")]
    pub sync_start: Option<String>,
    /// When the sync this cursor continues began, in milliseconds since the epoch: a page's
    /// cursor keeps it until the sync is done, so the window in which deletions are kept
    /// never restarts in the middle of a sync.
    #[serde(rename = "t")]
    pub issued_ms: i64,
}

/// The nil UUID: before every task id.
pub const BEFORE_ANY_ID: &str = "00000000-0000-0000-0000-000000000000";

impl FeedPosition {
    /// The start of a first sync.
    pub fn start(now_ms: i64) -> Self {
        Self {
            xid: "0".to_owned(),
            id: BEFORE_ANY_ID.to_owned(),
            first_sync: true,
            sync_start: None,
            issued_ms: now_ms,
        }
    }
}

fn fingerprint_digest(query: &ListQuery) -> String {
    let digest = Sha256::digest(query.fingerprint().as_bytes());
    crate::runtime::base64::url_encode(&digest[..8])
}

/// The sort value of a task, as the list statement compares it.
fn position_of(sort: SortKey, task: &Task) -> Position {
    let value = match sort {
        SortKey::Created => Some(task.created_at.clone()),
        SortKey::Updated => Some(task.updated_at.clone()),
        SortKey::Title => Some(task.title.clone()),
        SortKey::DueDate => task.due_date.clone(),
        SortKey::Priority => Some(task.priority.rank().to_string()),
    };
    Position {
        value,
        id: task.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Priority;

    fn task() -> Task {
        Task {
            user_id: "alice".to_owned(),
            title: "Buy milk".to_owned(),
            created_at: "2026-12-01T10:00:00.000001Z".to_owned(),
            updated_at: "2026-12-01T10:00:00.000001Z".to_owned(),
            priority: Priority::High,
            ..Task::sample("0190f0a0-0000-7000-8000-000000000001", "1")
        }
    }

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        ListQuery::parse(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn a_cursor_round_trips_for_its_user_and_query() {
        let key = CursorKey::derive("a-secret-of-at-least-thirty-two-bytes!");
        let by_priority = query(&[("sort", "priority"), ("tag", "home")]);
        let cursor = key.encode("alice", &by_priority, &task());
        let position = key.decode("alice", &by_priority, &cursor).unwrap();
        assert_eq!(position.value.as_deref(), Some("3"));
        assert_eq!(position.id, task().id);
        let paged = query(&[("sort", "priority"), ("tag", "home"), ("limit", "10")]);
        assert!(
            key.decode("alice", &paged, &cursor).is_ok(),
            "the page size may change"
        );
    }

    #[test]
    fn feed_cursors_round_trip_and_are_nobody_elses() {
        let key = CursorKey::derive("a-secret-of-at-least-thirty-two-bytes!");
        let position = FeedPosition {
            xid: "42".to_owned(),
            sync_start: Some("40".to_owned()),
            ..FeedPosition::start(1_800_000_000_000)
        };
        let cursor = key.encode_feed("alice", &position);
        assert_eq!(key.decode_feed("alice", &cursor).unwrap(), position);
        let done = FeedPosition {
            first_sync: false,
            ..FeedPosition::start(1_800_000_000_000)
        };
        let cursor = key.encode_feed("alice", &done);
        assert_eq!(key.decode_feed("alice", &cursor).unwrap().sync_start, None);
        // A first sync's cursor from before its start was kept: every deletion is reported.
        let older = key.seal("alice", "feed", r#"{"x":"42","i":"a","f":true,"t":1}"#);
        assert_eq!(
            key.decode_feed("alice", &older)
                .unwrap()
                .sync_start
                .as_deref(),
            Some("0")
        );
        assert!(key.decode_feed("bob", &cursor).is_err());
        let list_cursor = key.encode("alice", &query(&[]), &task());
        assert!(
            key.decode_feed("alice", &list_cursor).is_err(),
            "a list cursor is not a feed cursor"
        );
    }

    #[test]
    fn tampered_foreign_and_mismatched_cursors_are_refused() {
        let key = CursorKey::derive("a-secret-of-at-least-thirty-two-bytes!");
        let default = query(&[]);
        let cursor = key.encode("alice", &default, &task());
        let (payload, signature) = cursor.split_once('.').unwrap();
        let forged_payload = crate::runtime::base64::url_encode(
            String::from_utf8(crate::runtime::base64::url_decode(payload).unwrap())
                .unwrap()
                .replace("2026", "2027")
                .as_bytes(),
        );
        for bad in [
            format!("{forged_payload}.{signature}"),
            format!(
                "{payload}.{}",
                crate::runtime::base64::url_encode(&[0u8; 16])
            ),
            "garbage".to_owned(),
            format!("{payload}."),
        ] {
            assert!(key.decode("alice", &default, &bad).is_err(), "{bad}");
        }
        assert!(
            key.decode("bob", &default, &cursor).is_err(),
            "another user's cursor"
        );
        let other_key = CursorKey::derive("another-secret-of-at-least-32-bytes!!");
        assert!(other_key.decode("alice", &default, &cursor).is_err());
        let mismatch = key
            .decode("alice", &query(&[("sort", "title")]), &cursor)
            .unwrap_err();
        assert!(
            mismatch.message.contains("other filters"),
            "{}",
            mismatch.message
        );
    }
}
