// `completed_at`: the moment a task was last completed, over both transports and every route
// that completes or reopens a task. The database sets it, so every write path agrees.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertTaskShape, newUser } from './support/api.mjs';
import { forEachTransport } from './support/stack.mjs';

forEachTransport((t) => {
  describe('completed_at', () => {
    test('null while pending; the moment of the write that completes it; null again when reopened', async () => {
      const user = newUser();
      const created = (await t.api.create(user, { title: 'water the plants' })).body;
      assertTaskShape(assert, created);
      assert.equal(created.completed_at, null);

      const done = (await t.api.complete(user, created.id)).body;
      assertTaskShape(assert, done);
      assert.equal(done.completed, true);
      assert.equal(done.completed_at, done.updated_at, 'the completing write is the moment');

      const reopened = (await t.api.complete(user, created.id, { completed: false })).body;
      assert.equal(reopened.completed_at, null);

      const viaPut = (await t.api.update(user, created.id, { completed: true })).body;
      assert.equal(viaPut.completed_at, viaPut.updated_at);
      assert.ok(viaPut.completed_at > done.completed_at, 'a later completion, a later moment');
      assert.deepEqual((await t.api.get(user, created.id)).body, viaPut);
    });

    test('kept while the task stays completed, through edits and a repeated completion', async () => {
      const user = newUser();
      const { id } = (await t.api.create(user, { title: 'file the taxes' })).body;
      const done = (await t.api.complete(user, id, { completed: true })).body;
      const renamed = (await t.api.update(user, id, { title: 'filed the taxes' })).body;
      assert.equal(renamed.completed_at, done.completed_at);
      assert.ok(renamed.updated_at > done.updated_at);
      const again = (await t.api.complete(user, id, { completed: true })).body;
      assert.equal(again.completed_at, done.completed_at, 'completing a completed task keeps its moment');
    });

    test('a task created completed was completed when it was created; lists and the feed carry it', async () => {
      const user = newUser();
      const created = (await t.api.create(user, { title: 'already done', completed: true })).body;
      assert.equal(created.completed_at, created.created_at);
      assert.deepEqual((await t.api.list(user)).body, [created]);
      const feed = await t.api.request('GET', `/api/${user.id}/changes`, { token: user.token });
      assert.deepEqual(feed.body.tasks, [created]);
    });

    test('clients cannot set it: it is not an input, and a body naming it alone changes nothing', async () => {
      const user = newUser();
      const created = (await t.api.create(user, { title: 'x', completed_at: '2020-01-01T00:00:00.000000Z' })).body;
      assert.equal(created.completed_at, null);
      const response = await t.api.update(user, created.id, { completed_at: '2020-01-01T00:00:00.000000Z' });
      assert.equal(response.status, 400);
      assert.equal(response.body.errors[0].field, 'body');
    });
  });
});
