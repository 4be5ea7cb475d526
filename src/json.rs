//! JSON written by hand into a byte buffer, where a generic serializer's per-field work shows
//! on the hot path (a page of tasks, the Neon request body, the feed's page).

use serde::Serialize;

/// Appends `value` as compact JSON, escaped as `serde_json` escapes it. Into a `Vec` this
/// cannot fail: strings, numbers, booleans and options of them have no error to report.
pub fn append(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    let _ = serde_json::to_writer(&mut *out, value);
}
