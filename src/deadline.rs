//! A deadline on a future, kept by the runtime's timer.

use std::{future::Future, pin::pin, task::Poll, time::Duration};

/// `future`'s output, or `None` if `limit` passes first (the future is then dropped, which
/// closes whatever I/O it held).
pub async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut deadline = pin!(worker::Delay::from(limit));
    std::future::poll_fn(|context| {
        if let Poll::Ready(output) = future.as_mut().poll(context) {
            return Poll::Ready(Some(output));
        }
        deadline.as_mut().poll(context).map(|()| None)
    })
    .await
}
