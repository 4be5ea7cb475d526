//! Base64 as this API meets it: URL-safe without padding (JWTs, cursors, ETags) and standard
//! with padding (SCRAM, Better Auth's session signatures). Both go through the one URL-safe
//! codec jwt-compact brings, so the module holds one base64 implementation, not one per
//! alphabet and padding.

use base64ct::{Base64UrlUnpadded, Encoding};

/// URL-safe alphabet, no padding.
pub fn url_encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// URL-safe alphabet, no padding; `None` for anything else.
pub fn url_decode(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

/// Standard alphabet, padded.
pub fn standard_encode(bytes: &[u8]) -> String {
    let mut text: String = url_encode(bytes)
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !text.len().is_multiple_of(4) {
        text.push('=');
    }
    text
}

/// Either alphabet (not mixed), padded correctly or not at all.
pub fn lenient_decode(text: &str) -> Option<Vec<u8>> {
    let unpadded = text.trim_end_matches('=');
    let padding = text.len() - unpadded.len();
    if padding > 2 || (padding > 0 && !text.len().is_multiple_of(4)) {
        return None;
    }
    if unpadded.contains(['-', '_']) && unpadded.contains(['+', '/']) {
        return None;
    }
    let url_safe: String = unpadded
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    url_decode(&url_safe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4648_vectors_in_both_spellings() {
        for (bytes, standard) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(standard_encode(bytes), standard);
            assert_eq!(lenient_decode(standard).as_deref(), Some(bytes));
            let unpadded = standard.trim_end_matches('=');
            assert_eq!(url_encode(bytes), unpadded);
            assert_eq!(url_decode(unpadded).as_deref(), Some(bytes));
            assert_eq!(lenient_decode(unpadded).as_deref(), Some(bytes));
        }
        let bytes = [0xfb, 0xff, 0xbf];
        assert_eq!(standard_encode(&bytes), "+/+/");
        assert_eq!(url_encode(&bytes), "-_-_");
        assert_eq!(lenient_decode("-_-_").as_deref(), Some(&bytes[..]));
    }

    #[test]
    fn wrong_padding_mixed_alphabets_and_strays_are_refused() {
        for text in [
            "Zm9vYg=",
            "Zm9vYg===",
            "Zm9v=",
            "+_-/",
            "Zm9v!A==",
            "Zm9vYg===",
        ] {
            assert_eq!(lenient_decode(text), None, "{text}");
        }
        assert_eq!(
            url_decode("Zm8="),
            None,
            "no padding in the URL-safe spelling"
        );
    }
}
