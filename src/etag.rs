//! Entity tags (RFC 9110 section 8.8.3) and the conditional headers that compare them.
//!
//! A task's ETag is its version, which the database raises on every write: `"7"`. A list's
//! ETag is a digest of what determines the representation: each task's id and version, in
//! page order, and the next link. A task's JSON is a function of its row, and every write to
//! the row raises its version (a trigger), so the digest changes whenever a create, change or
//! delete alters what this URL returns, without hashing the whole body (for a page of 100
//! tasks that was a fifth of the request's CPU).
//!
//! The digest is MD5, as for S3's ETags: an entity tag needs only that different pages do not
//! digest alike by accident (nobody chooses the ids and versions it covers, the API and the
//! database do), and in software MD5 takes about half the cycles of SHA-256 per byte.

use md5::{Digest, Md5};

use crate::domain::{Precondition, Task};

/// The strong ETag of a task at this version.
pub fn for_version(version: &str) -> String {
    format!("\"{version}\"")
}

/// The strong ETag of a page of tasks with this next link.
pub fn for_list(tasks: &[Task], link: Option<&str>) -> String {
    let link = link.unwrap_or_default();
    // Gathered first: one call into the digest instead of four a task.
    let mut input = Vec::with_capacity(tasks.len() * 48 + link.len());
    for task in tasks {
        // Separators no id or version contains, so that no two pages digest alike.
        input.extend_from_slice(task.id.as_bytes());
        input.push(b':');
        input.extend_from_slice(task.version.as_bytes());
        input.push(b'\n');
    }
    input.extend_from_slice(link.as_bytes());
    format!(
        "\"l.{}\"",
        crate::runtime::base64::url_encode(Md5::digest(&input).as_slice())
    )
}

/// The entity tags of a header value, `*` aside: `"a", W/"b"` → [(false, a), (true, b)].
fn tags(header: &str) -> impl Iterator<Item = (bool, &str)> {
    header.split(',').filter_map(|tag| {
        let tag = tag.trim();
        let (weak, quoted) = match tag.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        let opaque = quoted.strip_prefix('"')?.strip_suffix('"')?;
        Some((weak, opaque))
    })
}

/// The most versions of an `If-Match` compared; a client lists one, a cache a few.
pub const MAX_IF_MATCH_TAGS: usize = 16;

/// What `If-Match` asks of a write to a task. `*` and no header ask only that the task exists;
/// otherwise the version must be one of the strong ETags listed (a weak one never matches:
/// If-Match compares strongly). A tag that is not a version a row can have (above the
/// database's bigint, or not a number) matches nothing, so it ends as 412, never as a bound
/// parameter the database refuses; tags beyond the first [`MAX_IF_MATCH_TAGS`] are not read.
pub fn if_match(header: Option<&str>) -> Precondition {
    match header.map(str::trim) {
        None | Some("*") => Precondition::None,
        Some(header) => Precondition::Versions(
            tags(header)
                .take(MAX_IF_MATCH_TAGS)
                .filter(|(weak, _)| !weak)
                .filter_map(|(_, opaque)| opaque.parse::<i64>().ok())
                .filter_map(|version| u64::try_from(version).ok())
                .collect(),
        ),
    }
}

/// Whether `If-None-Match` says the client has this representation already (weak comparison,
/// as RFC 9110 section 13.1.2 asks; `*` matches any current representation).
pub fn none_match(header: Option<&str>, etag: &str) -> bool {
    let Some(header) = header.map(str::trim) else {
        return false;
    };
    if header == "*" {
        return true;
    }
    let current = etag.trim_matches('"');
    tags(header).any(|(_, opaque)| opaque == current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_lists_strong_versions_and_star_asks_only_existence() {
        assert_eq!(if_match(None), Precondition::None);
        assert_eq!(if_match(Some(" * ")), Precondition::None);
        assert_eq!(if_match(Some("\"3\"")), Precondition::Versions(vec![3]));
        assert_eq!(
            if_match(Some("\"3\", W/\"4\", \"x\", \"5\"")),
            Precondition::Versions(vec![3, 5])
        );
        assert_eq!(
            if_match(Some("3")),
            Precondition::Versions(vec![]),
            "unquoted: no tag"
        );
        assert_eq!(
            if_match(Some(
                "\"9223372036854775808\", \"9223372036854775807\", \"-1\""
            )),
            Precondition::Versions(vec![i64::MAX as u64]),
            "above bigint or negative: no version a row can have"
        );
        let many: Vec<String> = (1..=40).map(|version| format!("\"{version}\"")).collect();
        assert_eq!(
            if_match(Some(&many.join(","))),
            Precondition::Versions((1..=MAX_IF_MATCH_TAGS as u64).collect())
        );
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let etag = for_version("7");
        assert_eq!(etag, "\"7\"");
        assert!(none_match(Some("\"7\""), &etag));
        assert!(none_match(Some("W/\"7\", \"8\""), &etag));
        assert!(none_match(Some("*"), &etag));
        assert!(!none_match(Some("\"6\""), &etag));
        assert!(!none_match(None, &etag));
    }

    fn task(id: &str, version: &str) -> Task {
        Task::sample(id, version)
    }

    #[test]
    fn a_list_etag_changes_with_a_task_the_order_or_the_link() {
        let page = [task("a", "1"), task("b", "1")];
        let first = for_list(&page, None);
        assert_eq!(first, for_list(&[task("a", "1"), task("b", "1")], None));
        for other in [
            for_list(&[task("a", "2"), task("b", "1")], None),
            for_list(&[task("b", "1"), task("a", "1")], None),
            for_list(&[task("a", "1")], None),
            for_list(&[task("a", "1"), task("b", "1"), task("c", "1")], None),
            for_list(&page, Some("<x>; rel=\"next\"")),
            for_list(&[task("a", "11")], None),
        ] {
            assert_ne!(first, other);
        }
        assert_ne!(
            for_list(&[task("a", "11")], None),
            for_list(&[task("a", "1"), task("1", "")], None),
            "the separators keep fields apart"
        );
        assert!(none_match(Some(&first), &first));
    }
}
