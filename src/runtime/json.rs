//! JSON written by hand into a byte buffer, where a generic serializer's per-field work shows
//! on the hot path: tasks and their pages, the feed's page, the problem document, the
//! access-log line and Neon's request body.

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

/// Appends a JSON array of `items`, each written by `write`.
pub fn append_array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
}

/// A JSON object written field by field into a buffer, for the hand-written bodies: it
/// writes the braces, the commas and the keys (the caller's constants, written as they are);
/// each value is written by the method named for its kind.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    /// Opens an object at the end of `out`.
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, empty: true }
    }

    /// Writes the next key and hands back the buffer for its value, which the caller writes.
    pub fn field(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string field ([`append_str`]).
    pub fn str(&mut self, key: &str, text: &str) -> &mut Self {
        append_str(self.field(key), text);
        self
    }

    /// A string or `null` field ([`append_optional_str`]).
    pub fn optional_str(&mut self, key: &str, text: Option<&str>) -> &mut Self {
        append_optional_str(self.field(key), text);
        self
    }

    /// A boolean field.
    pub fn bool(&mut self, key: &str, flag: bool) -> &mut Self {
        let literal: &[u8] = if flag { b"true" } else { b"false" };
        self.field(key).extend_from_slice(literal);
        self
    }

    /// A field whose value is JSON already.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.field(key).extend_from_slice(json.as_bytes());
        self
    }

    /// Any other field (numbers, arrays), by `serde_json` ([`append`]).
    pub fn value(&mut self, key: &str, value: &(impl Serialize + ?Sized)) -> &mut Self {
        append(self.field(key), value);
        self
    }

    /// Closes the object.
    pub fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_is_written_with_its_separators_whatever_its_length() {
        let mut out = Vec::new();
        for items in [&[][..], &["a"][..], &["a", "b\"", "c"][..]] {
            append_array(&mut out, items, |out, item| append_str(out, item));
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[] ["a"] ["a","b\"","c"] "#
        );
    }

    #[test]
    fn an_object_is_written_with_its_separators_whatever_its_fields() {
        let mut out = b"[".to_vec();
        Object::open(&mut out).close();
        out.push(b',');
        let mut object = Object::open(&mut out);
        object
            .str("a", "x\"y")
            .optional_str("b", None)
            .bool("c", false)
            .raw("d", r#"["t"]"#)
            .value("e", &[1, 2]);
        object.field("f").extend_from_slice(b"{}");
        object.close();
        out.push(b']');
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{},{"a":"x\"y","b":null,"c":false,"d":["t"],"e":[1,2],"f":{}}]"#
        );
    }

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
