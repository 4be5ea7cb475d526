// A stand-in for Cloudflare's Workers Rate Limiting binding (`[[ratelimits]]` in wrangler.toml)
// on plain `workerd serve`, which has none: the test and benchmark stacks get one per entry of
// startWorkerd's `rateLimits` (scripts/lib/workerd.mjs).
//
// What it mirrors: the binding as Cloudflare documents it
// (developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit) and as Miniflare emulates
// it for `wrangler dev` (workers-sdk, packages/miniflare/src/workers/ratelimit/ratelimit.worker.ts
// and ratelimit-object.worker.ts, read at f8308360):
// - `env.NAME.limit({ key })` returns a promise of `{ success }`: true while the key is within
//   its budget, false once it is spent. Nothing else comes back (no remaining count, no reset
//   time).
// - The budget is `limit` calls per fixed window of `period` seconds (10 or 60). Windows are
//   aligned to the wall clock (window = floor(now / period)), so every key of a period starts a
//   new window at the same moment. A refused call does not count.
// - Counters belong to (namespace, period, key): two bindings with the same namespace_id share
//   them; the limit is a threshold on the count, not part of its identity.
// - Options other than `key`, `limit` and `period` are refused, as are a key that is not a
//   string (a missing key is ""), a limit that is not a number and a period other than 10 or 60:
//   the promise rejects with an Error.
// Where it differs: Cloudflare counts per location and eventually consistently (a few calls
// over the limit can pass); this counts exactly, in the memory of the worker's isolate (plain
// workerd runs one), and forgets everything when workerd stops.
//
// How workerd loads it: as an internal extension module behind a `wrapped` binding, as Miniflare
// does. workerd calls the default export once per binding, while it builds the worker's env,
// with the binding's settings as inner bindings (`limit`, `period`, `namespace`); the object it
// returns is env.NAME. The module imports nothing, so Node can load it too:
// tests/platform-standins.test.mjs drives `FixedWindows` with a clock of its own.

/** The window lengths Cloudflare accepts, in seconds. */
export const PERIODS = [10, 60];

const OPTION_NAMES = ['key', 'limit', 'period'];

/**
 * Counts calls per key in fixed windows of each period. `now` is the clock in milliseconds
 * since the epoch (Date.now unless a test gives another).
 */
export class FixedWindows {
  #now;
  /** period (seconds) -> { window, counts: Map(key -> calls allowed in that window) } */
  #periods = new Map();

  constructor(now = () => Date.now()) {
    this.#now = now;
  }

  /**
   * Counts one call for `key` against `limit` calls per `period` seconds; returns whether it
   * is allowed. A refused call is not counted.
   */
  take(key, limit, period) {
    const window = Math.floor(this.#now() / (period * 1000));
    let current = this.#periods.get(period);
    if (current?.window !== window) {
      // A new window for every key of this period at once: the old counts can go.
      current = { window, counts: new Map() };
      this.#periods.set(period, current);
    }
    const count = current.counts.get(key) ?? 0;
    if (count >= limit) return false;
    current.counts.set(key, count + 1);
    return true;
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** What the worker sees as env.NAME: one binding's settings over its namespace's counters. */
export class RateLimit {
  #windows;
  #limit;
  #period;

  constructor({ limit, period }, windows) {
    check(Number.isInteger(limit) && limit >= 0, `rate limit binding: limit must be a whole number, got ${limit}`);
    check(PERIODS.includes(period), `rate limit binding: period must be 10 or 60, got ${period}`);
    this.#limit = limit;
    this.#period = period;
    this.#windows = windows;
  }

  /** Counts one call for `options.key`; resolves { success }. */
  async limit(options) {
    check(typeof options === 'object' && options !== null, 'invalid rate limit options');
    const unknown = Object.keys(options).filter((name) => !OPTION_NAMES.includes(name));
    check(unknown.length === 0, `bad rate limit options: [${unknown.join(',')}]`);
    const { key = '', limit = this.#limit, period = this.#period } = options;
    check(typeof key === 'string', `invalid key: ${key}`);
    check(typeof limit === 'number', `limit must be a number: ${limit}`);
    check(typeof period === 'number', `period must be a number: ${period}`);
    check(PERIODS.includes(period), `unsupported period: ${period}`);
    return { success: this.#windows.take(key, limit, period) };
  }
}

/** namespace -> its FixedWindows, shared by every binding of that namespace in this isolate. */
const namespaces = new Map();

/** workerd's entry point for a wrapped binding: `env` holds the inner bindings. */
export default function makeBinding(env) {
  const namespace = String(env.namespace);
  if (!namespaces.has(namespace)) namespaces.set(namespace, new FixedWindows());
  return new RateLimit(env, namespaces.get(namespace));
}
