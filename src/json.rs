//! JSON written by hand into a byte buffer, where a generic serializer's per-field work shows
//! on the hot path (a page of tasks, the Neon request body, the feed's page).

use serde::Serialize;

/// Appends `value` as compact JSON, escaped as `serde_json` escapes it. Into a `Vec` this
/// cannot fail: strings, numbers, booleans and options of them have no error to report.
pub fn append(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Appends a JSON string, escaped as `serde_json` escapes it (control characters, `"` and
/// `\`; nothing else). Most strings of a task need no escape at all, and those are copied in
/// one go rather than through the serializer.
pub fn append_str(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\')
    {
        append(out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// [`append_str`] of the text, or `null`.
pub fn append_optional_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => append_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_byte_for_byte_as_serde_json_writes_them() {
        let mut every_ascii = String::new();
        for byte in 0..0x80_u8 {
            every_ascii.push(char::from(byte));
        }
        for text in [
            "",
            "plain",
            "2026-12-01T15:33:17.000Z",
            "say \"hi\"",
            "back\\slash",
            "line\nbreak\ttab\r",
            "\u{7f} \u{2028} é 😀",
            every_ascii.as_str(),
        ] {
            let mut ours = Vec::new();
            append_str(&mut ours, text);
            assert_eq!(ours, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
        let mut optional = Vec::new();
        append_optional_str(&mut optional, None);
        optional.push(b',');
        append_optional_str(&mut optional, Some("x"));
        assert_eq!(optional, b"null,\"x\"");
    }
}
