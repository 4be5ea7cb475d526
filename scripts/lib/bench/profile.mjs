// A V8 CPU profile of the worker under load, through workerd's inspector (the DevTools
// protocol over a WebSocket). The .cpuprofile opens in Chrome DevTools' Performance panel;
// the summary printed here groups self time by kind of code.
//
// How to read it: V8 charges a runtime API called from JavaScript (socket reads and writes,
// stream locks, console.log) to the JavaScript function that calls it, which for a Rust
// worker is wasm-bindgen's glue in build/index.js (`__wbg_<name>`). So "JS glue" is largely
// the runtime's own work on the worker's behalf; "wasm" is the Rust code itself (names are
// stripped from the release build, so its functions show as wasm-function[N]).

/** Connects to workerd's inspector on 127.0.0.1:port; resolves { send(method, params), close() }. */
export async function connectInspector(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  if (!targets[0]?.webSocketDebuggerUrl) throw new Error('workerd offered no inspector target');
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error('could not connect to the inspector'));
  });
  let nextId = 0;
  const pending = new Map();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const waiter = pending.get(message.id);
    if (!waiter) return; // an event, not an answer
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`${message.error.message} (${message.error.code})`));
    else waiter.resolve(message.result);
  };
  return {
    send(method, params = {}) {
      const id = ++nextId;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    close: () => socket.close(),
  };
}

/** Profiles while `during()` runs; resolves the V8 profile. */
export async function profileWhile(inspector, during, { samplingIntervalUs = 100 } = {}) {
  await inspector.send('Profiler.enable');
  await inspector.send('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
  await inspector.send('Profiler.start');
  let failure;
  try {
    await during();
  } catch (error) {
    failure = error;
  }
  const { profile } = await inspector.send('Profiler.stop');
  if (failure) throw failure;
  return profile;
}

function kindOf({ functionName, url }) {
  if (functionName.startsWith('(')) return functionName.slice(1, -1); // idle, program, garbage collector
  if (url.startsWith('wasm://') || functionName.startsWith('wasm-function[') || functionName === 'wasm-to-js') return 'wasm';
  if (url.endsWith('index.js')) return 'JS glue (wasm-bindgen, and the runtime APIs it calls)';
  return 'runtime built-ins';
}

/** Self time by kind and by function, as shares of the profile's samples. */
export function summarizeProfile(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((sum, value) => sum + value, 0) || 1;
  const kinds = new Map();
  const functions = new Map();
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id).callFrame;
    const kind = kindOf(frame);
    kinds.set(kind, (kinds.get(kind) ?? 0) + us);
    // wasm-bindgen's import shims carry a hash suffix: __wbg_write_eb694c46174356a6.
    const name = (frame.functionName || '(anonymous)').replace(/^(__wbg_\w+?)_[0-9a-f]{16}$/, '$1');
    const key = kind === 'JS glue (wasm-bindgen, and the runtime APIs it calls)' || kind === 'wasm' ? name : `${name} [${kind}]`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const shares = (map) =>
    [...map].map(([name, us]) => ({ name, pct: (100 * us) / totalUs })).sort((a, b) => b.pct - a.pct);
  return { totalMs: totalUs / 1000, kinds: shares(kinds), functions: shares(functions) };
}

/** The summary as text: kinds, then the top functions. */
export function formatProfileSummary(title, summary, top = 15) {
  const line = ({ name, pct }) => `  ${pct.toFixed(1).padStart(5)}%  ${name}`;
  return [
    `${title}: ${summary.totalMs.toFixed(0)} ms sampled`,
    ...summary.kinds.map(line),
    `  top functions by self time:`,
    ...summary.functions.slice(0, top).map(line),
  ].join('\n');
}
