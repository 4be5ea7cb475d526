//! The Workers Rate Limiting binding (`[[ratelimits]]` in wrangler.toml): `limit({key})`
//! answers whether one more request under `key` fits its period's budget.
//!
//! Called through the binding's own `limit` method rather than worker's `RateLimiter`, whose
//! lookup insists on the runtime's class name: the tests' stand-in on plain workerd keeps the
//! method's contract, not the class.

use wasm_bindgen::{JsCast, JsValue};
use worker::{js_sys, wasm_bindgen_futures::JsFuture, Env};

/// Whether a request under `key` may go on. `None` when the binding is absent or did not
/// answer as the binding does: the caller decides what no answer means.
pub async fn allows(env: &Env, binding: &str, key: &str) -> Option<bool> {
    let limiter = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(binding)).ok()?;
    // Checked before reading `limit` from it: reading a property of `undefined` throws, and a
    // thrown error (its stack captured) cost a 401 about a fifth of its CPU.
    if !limiter.is_object() {
        return None;
    }
    let limit = js_sys::Reflect::get(&limiter, &JsValue::from_str("limit"))
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from_str(key)).ok()?;
    let promise = limit
        .call1(&limiter, &options)
        .ok()?
        .dyn_into::<js_sys::Promise>()
        .ok()?;
    let outcome = JsFuture::from(promise).await.ok()?;
    js_sys::Reflect::get(&outcome, &JsValue::from_str("success"))
        .ok()?
        .as_bool()
}
