//! Waiting on the runtime's timer: a pause, and a deadline on a future.
//!
//! Built on a promise rather than worker's `Delay`, which keeps the first waker it is polled
//! with: a request's first poll runs with a no-op waker (see [`super::driver`]), and only a
//! future that takes the waker of every poll wakes its task afterwards.

use std::{future::Future, pin::pin, task::Poll, time::Duration};
use wasm_bindgen::prelude::*;
use worker::{js_sys, wasm_bindgen_futures::JsFuture};

#[wasm_bindgen(inline_js = r#"
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = sleep)]
    fn sleep_promise(ms: u32) -> js_sys::Promise;
}

/// Resolves once `duration` has passed.
pub fn sleep(duration: Duration) -> JsFuture {
    JsFuture::from(sleep_promise(
        u32::try_from(duration.as_millis()).unwrap_or(u32::MAX),
    ))
}

/// `future`'s output, or `None` if `limit` passes first (the future is then dropped, which
/// closes whatever I/O it held).
pub async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut deadline = sleep(limit);
    std::future::poll_fn(|context| {
        if let Poll::Ready(output) = future.as_mut().poll(context) {
            return Poll::Ready(Some(output));
        }
        pin!(&mut deadline).poll(context).map(|_| None)
    })
    .await
}
