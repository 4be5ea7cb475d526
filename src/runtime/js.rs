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

/// Unicode lowercase. ASCII is lowered here; anything else by the runtime's
/// `String.prototype.toLowerCase` in the worker (the same Unicode default case mapping as
/// `str::to_lowercase`, whose tables would add 14 KB to the module).
pub fn lowercase(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    #[cfg(target_arch = "wasm32")]
    return js_sys::JsString::from(text).to_lower_case().into();
    #[cfg(not(target_arch = "wasm32"))]
    return text.to_lowercase();
}
