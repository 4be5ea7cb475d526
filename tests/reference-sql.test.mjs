// The benchmark's reference worker (reference/) sends PostgreSQL the Rust worker's own SQL,
// byte for byte, so that the benchmark compares runtimes and drivers rather than queries.
// This is the everyday check of that promise, without running either worker: the reference's
// statements, imported from its TypeScript source, against the statements the worker's code
// builds (examples/sql-statements.rs) for the benchmark's request bodies. The full tier's
// tests/reference.test.mjs checks the same on the wire, route by route.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workerStatements } from '../scripts/lib/bench/workload.mjs';

// Node 22 strips the TypeScript's types on import; the module has no runtime imports.
const { SQL, listStatement } = await import('../reference/src/tasks.ts');

test("the reference worker's statements are the worker's, byte for byte", () => {
  const ours = workerStatements();
  for (const name of ['ping', 'select', 'insert', 'update', 'toggle', 'delete']) {
    assert.equal(SQL[name], ours[name].text, `the ${name} statement`);
  }
  const list = listStatement('bench-user', { tags: [], limit: 1000 });
  assert.equal(list.text, ours.list.text, 'the list statement');
  assert.deepEqual(list.params.map(String), ours.list.params, "the list statement's parameters");
});
