// Waiting, for the scripts and the tests: a pause of some milliseconds, a pause of one turn of
// the event loop, and polling until something holds.

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves after one turn of the event loop (pending I/O callbacks run first); times nothing. */
export const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Calls `probe()` (it may return a promise) until `done(value)` holds for what it gives, and
 * resolves with that value. Between calls it waits for `pause()` (default: 100 ms). It stops
 * after `attempts` calls or at the first call that ends after `timeoutMs` has passed, whichever
 * comes first, and then resolves with the last value: the caller decides whether that is a
 * failure. At least one of `attempts` and `timeoutMs` must be given.
 *
 * `done` defaults to truthiness, so `until(() => condition())` waits for a condition.
 */
export async function until(probe, { done = Boolean, pause = () => sleep(100), attempts = Infinity, timeoutMs = Infinity } = {}) {
  if (attempts === Infinity && timeoutMs === Infinity) throw new TypeError('until: give attempts or timeoutMs');
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const value = await probe();
    if (done(value) || attempt >= attempts || Date.now() >= deadline) return value;
    await pause();
  }
}
