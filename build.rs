//! Compacts openapi.json for the worker to serve: the document is kept readable in the
//! repository, and its indentation would only be bytes in the deployed module.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo::rerun-if-changed=openapi.json");
    let document = fs::read_to_string("openapi.json").expect("openapi.json is readable");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.json");
    fs::write(out, compact(&document)).expect("OUT_DIR is writable");
}

/// The JSON text without the white space between tokens; strings are kept byte for byte.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}
