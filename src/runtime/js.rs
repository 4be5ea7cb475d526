//! Reading what JavaScript hands back: an error's message, a `[status, payload]` answer, the
//! clock.

use wasm_bindgen::prelude::*;
use worker::js_sys;

/// A thrown value's message for the log: an `Error`'s (a `DOMException`'s too) `message`, a
/// thrown string, or `fallback`.
pub fn error_message(error: &JsValue, fallback: &str) -> String {
    error
        .as_string()
        .or_else(|| {
            js_sys::Reflect::get(error, &"message".into())
                .ok()
                .and_then(|message| message.as_string())
        })
        .unwrap_or_else(|| fallback.to_owned())
}

/// The HTTP status and payload of an answer the glue returns as `[status, payload]`.
pub fn status_and_payload(answer: JsValue) -> (u16, JsValue) {
    let answer = js_sys::Array::<JsValue>::unchecked_from_js(answer);
    let status = answer.get(0).as_f64().unwrap_or_default() as u16;
    (status, answer.get(1))
}

/// The runtime's clock, in milliseconds since the Unix epoch: one call to `Date.now()`.
/// (worker's `Date::now()` builds a `Date` object and then asks it the time: two calls and an
/// object.)
pub fn now_millis() -> u64 {
    js_sys::Date::now() as u64
}
