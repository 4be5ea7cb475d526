//! Runs each request's future on the JavaScript event loop, without a task queue.
//!
//! A request's future waits only on JavaScript promises. wasm-bindgen's executor answers
//! each of their callbacks by queueing a microtask that polls the future later, and runs the
//! first poll in one as well. Here the future is polled at once: on the call that brings the
//! request, and then straight from the callback that wakes it. A request that needs no I/O
//! (a 401, a 404, a cached `/health`) answers with a Response rather than a promise of one.
//!
//! A waker holds only the id of its request; the futures themselves stay on this thread, in
//! [`RUNNING`], until they finish.

use std::{
    cell::{Cell, RefCell},
    future::Future,
    pin::Pin,
    rc::Rc,
    sync::Arc,
    task::{Context, Poll, Wake, Waker},
};

use wasm_bindgen::JsValue;
use worker::js_sys;

/// What a request's future resolves to: the Response, or the value its promise rejects with.
pub type Outcome = Result<JsValue, JsValue>;

type RequestFuture = Pin<Box<dyn Future<Output = Outcome>>>;

/// Where a request's future is in its polling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a wake.
    Idle,
    /// Being polled.
    Polling,
    /// Woken while being polled: poll again before waiting.
    PolledAgain,
}

/// One request in flight.
struct Request {
    id: u64,
    future: RefCell<RequestFuture>,
    state: Cell<State>,
    /// The promise's resolve and reject functions, once the first poll was pending.
    settle: RefCell<Option<(js_sys::Function, js_sys::Function)>>,
    waker: Waker,
}

thread_local! {
    /// The requests whose futures have not finished, by id: a handful at a time, so a scan.
    static RUNNING: RefCell<Vec<Rc<Request>>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// A waker names its request by id, so it holds nothing that is tied to this thread.
struct RequestWaker(u64);

impl Wake for RequestWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let request = RUNNING
            .with_borrow(|running| running.iter().find(|request| request.id == self.0).cloned());
        // A request that has finished may still be woken by what it left behind: nothing to do.
        let Some(request) = request else { return };
        if request.state.get() != State::Idle {
            request.state.set(State::PolledAgain);
            return;
        }
        if let Some(outcome) = poll(&request) {
            if let Some((resolve, reject)) = request.settle.borrow_mut().take() {
                let (function, value) = match &outcome {
                    Ok(value) => (resolve, value),
                    Err(value) => (reject, value),
                };
                // Settling a promise does not throw.
                let _ = function.call1(&JsValue::UNDEFINED, value);
            }
        }
    }
}

/// Runs `future`: its Response at once if it needs no I/O, otherwise a promise of it.
pub fn run(future: impl Future<Output = Outcome> + 'static) -> JsValue {
    let id = NEXT_ID.with(|next| {
        let id = next.get();
        next.set(id.wrapping_add(1));
        id
    });
    let request = Rc::new(Request {
        id,
        future: RefCell::new(Box::pin(future)),
        state: Cell::new(State::Idle),
        settle: RefCell::new(None),
        waker: Waker::from(Arc::new(RequestWaker(id))),
    });
    RUNNING.with_borrow_mut(|running| running.push(Rc::clone(&request)));
    match poll(&request) {
        Some(Ok(response)) => response,
        Some(Err(error)) => js_sys::Promise::reject(&error).into(),
        None => {
            let promise = js_sys::Promise::new(&mut |resolve, reject| {
                *request.settle.borrow_mut() = Some((resolve, reject));
            });
            promise.into()
        }
    }
}

/// Polls until the future is pending with no wake since, or done; done, it leaves
/// [`RUNNING`] and its outcome is returned.
fn poll(request: &Rc<Request>) -> Option<Outcome> {
    loop {
        request.state.set(State::Polling);
        let mut context = Context::from_waker(&request.waker);
        let polled = request.future.borrow_mut().as_mut().poll(&mut context);
        match polled {
            Poll::Ready(outcome) => {
                request.state.set(State::Idle);
                RUNNING.with_borrow_mut(|running| {
                    running.retain(|other| other.id != request.id);
                });
                return Some(outcome);
            }
            Poll::Pending if request.state.get() == State::PolledAgain => continue,
            Poll::Pending => {
                request.state.set(State::Idle);
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Poll;

    /// A future that is pending until `wakes` wakes have come, waking itself once in between
    /// while it is being polled, as a future may.
    struct Countdown {
        polls: Rc<Cell<u32>>,
        left: u32,
        waker: Rc<RefCell<Option<Waker>>>,
    }

    impl Future for Countdown {
        type Output = Outcome;

        fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Outcome> {
            self.polls.set(self.polls.get() + 1);
            if self.left == 0 {
                return Poll::Ready(Ok(JsValue::UNDEFINED));
            }
            self.left -= 1;
            if self.left == 1 {
                // Woken while polled: the driver must poll again rather than wait.
                context.waker().wake_by_ref();
            }
            *self.waker.borrow_mut() = Some(context.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn a_future_is_polled_at_once_again_when_woken_while_polled_and_then_leaves() {
        let polls = Rc::new(Cell::new(0));
        let waker = Rc::new(RefCell::new(None));
        let request = Rc::new(Request {
            id: u64::MAX,
            future: RefCell::new(Box::pin(Countdown {
                polls: Rc::clone(&polls),
                left: 3,
                waker: Rc::clone(&waker),
            })),
            state: Cell::new(State::Idle),
            settle: RefCell::new(None),
            waker: Waker::from(Arc::new(RequestWaker(u64::MAX))),
        });
        RUNNING.with_borrow_mut(|running| running.push(Rc::clone(&request)));
        // 3 → 2: pending, no wake.
        assert!(poll(&request).is_none());
        assert_eq!(polls.get(), 1);
        // The wake polls at once: 2 → 1 wakes itself, so 1 → 0 follows in the same wake,
        // and the poll after that finishes.
        let take = || {
            waker
                .borrow_mut()
                .take()
                .expect("the future left its waker")
        };
        take().wake();
        assert_eq!(polls.get(), 3);
        assert!(RUNNING.with_borrow(|running| running.iter().any(|r| r.id == u64::MAX)));
        take().wake();
        assert_eq!(polls.get(), 4);
        assert!(
            RUNNING.with_borrow(|running| running.is_empty()),
            "a finished request leaves"
        );
        // A wake after the end finds nothing to poll.
        Waker::from(Arc::new(RequestWaker(u64::MAX))).wake();
        assert_eq!(polls.get(), 4);
    }
}
