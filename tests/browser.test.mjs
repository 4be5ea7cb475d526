// A real browser against the real worker: Chromium, driven by playwright-core, runs the
// example web client (examples/web-client/) served from a second loopback origin. Every call is
// a cross-origin fetch with an Authorization header, so Chromium sends real CORS preflights and
// enforces the answers. The tests assert on what the page shows, and on the server's state.
//
// Origins: the static server listens on 127.0.0.1:<port>. The page loaded as
// http://localhost:<port> is allowed (added to ALLOWED_ORIGINS); the same page loaded as
// http://127.0.0.1:<port> is another origin (host differs), not allowed, and must be blocked.
//
// A screenshot of the passing page is saved to results/ (git-ignored).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { serveDirectory } from '../scripts/lib/static-server.mjs';
import { startBetterAuth } from '../scripts/lib/better-auth.mjs';
import { findSystemTools } from '../scripts/lib/system.mjs';
import { ROOT } from '../scripts/lib/toolchain.mjs';
import { Api, newUser, now, signToken } from './support/api.mjs';
import { ALLOWED_ORIGIN, TEST_SECRET } from './support/fixtures.mjs';
import { sharedDatabase, stackWith } from './support/stack.mjs';

// The Chromium found on PATH (CHROMIUM_PATH overrides it); as root it is installed with
// apt-get when missing, as on CI. Without one, this suite is skipped with the install command.
const tools = process.env.CHROMIUM_PATH ? null : findSystemTools(['chromium']);
const CHROMIUM = process.env.CHROMIUM_PATH ?? tools.paths.chromium;
const SKIP = CHROMIUM ? false : `no Chromium on PATH; install it (${tools.hint}) or set CHROMIUM_PATH`;
const RESULTS = join(ROOT, 'results');
// The flags this machine needs: no sandbox as root, and no background connections, which a
// closed network refuses. playwright-core adds a fresh --user-data-dir.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

/** Performs a UI action and waits until the page has finished handling it. */
async function settle(page, action) {
  const before = Number(await page.evaluate(() => document.body.dataset.actions));
  await action();
  await page.waitForFunction((count) => Number(document.body.dataset.actions) > count, before, { timeout: 15_000 });
}

const titles = (page) => page.locator('#tasks .title').allTextContents();
const row = (page, title) => page.locator('#tasks li', { has: page.locator('.title', { hasText: title }) });

/** The worker's log lines for CORS preflights answered so far. */
const preflights = (stack) => stack.worker.logs().split('\n')
  .filter((line) => line.includes('"method":"OPTIONS"') && line.includes('"status":204')).length;

describe('the example web client in Chromium', { timeout: 900_000, skip: SKIP }, () => {
  let stack;
  let pages;
  let browser;
  let allowedOrigin;
  let blockedOrigin;
  let betterAuth;

  before(async () => {
    pages = await serveDirectory(join(ROOT, 'examples', 'web-client'));
    allowedOrigin = `http://localhost:${pages.port}`;
    blockedOrigin = `http://127.0.0.1:${pages.port}`;
    const postgres = await sharedDatabase();
    betterAuth = await startBetterAuth({ databaseUrl: postgres.url, secret: TEST_SECRET, trustedOrigins: [allowedOrigin] });
    stack = await stackWith({ ALLOWED_ORIGINS: `${ALLOWED_ORIGIN},${allowedOrigin}`, BETTER_AUTH_URL: betterAuth.url });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    await betterAuth?.close();
    await pages?.close();
  });

  for (const [credential, label] of [['jwt', /JWT from the jwt plugin/], ['session', /session token from the bearer plugin/]]) {
    test(`signing up with Better Auth in the page, then calling the API with the ${credential}`, async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const email = `${credential}-${Date.now()}@example.com`;
      try {
        await page.goto(`${allowedOrigin}/?api=${encodeURIComponent(stack.url)}&auth=${encodeURIComponent(betterAuth.url)}`);
        await page.fill('#email', email);
        await page.fill('#password', 'correct horse battery staple');
        await page.check(`input[name="credential"][value="${credential}"]`);
        await settle(page, () => page.click('#sign-up'));
        assert.equal(await page.isVisible('#error'), false, await page.textContent('#error'));
        assert.match(await page.textContent('#identity'), label);
        await page.fill('#new-title', `added with the ${credential}`);
        await settle(page, () => page.click('#add-button'));
        assert.deepEqual(await titles(page), [`added with the ${credential}`]);

        const userId = await page.inputValue('#user-id');
        const token = await page.inputValue('#token');
        assert.equal((await new Api(stack.url).list({ id: userId, token })).body.length, 1);
        if (credential === 'session') {
          await settle(page, () => page.click('#sign-out'));
          await settle(page, () => page.click('#connect'));
          assert.match(await page.textContent('#error'), /session has ended/);
        }
      } finally {
        await context.close();
      }
    });
  }

  test('an allowed origin runs the whole task lifecycle', async () => {
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error));
    const user = newUser();
    const preflightsBefore = preflights(stack);
    try {
      await page.goto(`${allowedOrigin}/?api=${encodeURIComponent(stack.url)}&user=${user.id}`);

      // Mint a dev token in the page (WebCrypto HMAC), as a developer would against npm start.
      await page.locator('#dev-token summary').click();
      await page.fill('#dev-secret', TEST_SECRET);
      await settle(page, () => page.click('#mint'));
      assert.match(await page.inputValue('#token'), /^[\w-]+\.[\w-]+\.[\w-]+$/);

      await settle(page, () => page.click('#connect'));
      assert.match(await page.textContent('#message'), /Connected to .* as user_/);
      assert.equal(await page.isVisible('#empty'), true, 'an empty list says so');

      for (const [title, description] of [['Buy milk', '2 litres'], ['Walk the dog', '']]) {
        await page.fill('#new-title', title);
        await page.fill('#new-description', description);
        await settle(page, () => page.click('#add-button'));
        assert.equal(await page.textContent('#message'), `Added "${title}".`);
      }
      assert.deepEqual(await titles(page), ['Walk the dog', 'Buy milk'], 'newest first');
      assert.equal(await row(page, 'Buy milk').locator('.description').textContent(), '2 litres');

      await settle(page, () => row(page, 'Buy milk').locator('.toggle').click());
      assert.equal(await page.textContent('#message'), '"Buy milk" is done.');
      assert.match(await row(page, 'Buy milk').getAttribute('class'), /\bdone\b/);
      assert.equal(await row(page, 'Buy milk').locator('.toggle').isChecked(), true);

      await row(page, 'Walk the dog').locator('.edit').click();
      await page.fill('#tasks .editing .edit-title', 'Walk the cat');
      await page.fill('#tasks .editing .edit-description', 'twice round the park');
      await settle(page, () => page.click('#tasks .editing .save'));
      assert.equal(await page.textContent('#message'), 'Saved "Walk the cat".');
      assert.deepEqual(await titles(page), ['Walk the cat', 'Buy milk']);

      await settle(page, () => row(page, 'Buy milk').locator('.delete').click());
      assert.equal(await page.textContent('#message'), 'Deleted "Buy milk".');
      assert.deepEqual(await titles(page), ['Walk the cat']);

      // A rejected request shows the problem's detail and its field errors.
      await page.fill('#new-title', '   ');
      await settle(page, () => page.click('#add-button'));
      assert.equal(await page.isVisible('#error'), true);
      const error = await page.textContent('#error');
      assert.match(error, /The request has invalid fields/);
      assert.match(error, /title: must not be empty/);

      assert.equal(await page.textContent('#count'), '(1)');
      assert.match(await page.textContent('#request-id'), /^[0-9a-f]{32}$/, 'X-Request-Id is exposed to the page');
      assert.deepEqual(pageErrors, []);
      assert.ok(preflights(stack) > preflightsBefore, 'Chromium sent CORS preflights and the worker answered them');

      // The page showed what the server stored.
      const stored = (await new Api(stack.url).list(user)).body;
      assert.deepEqual(stored.map((task) => [task.title, task.description, task.completed]),
        [['Walk the cat', 'twice round the park', false]]);

      await page.fill('#new-title', '');
      await settle(page, () => page.click('#connect'));
      mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: join(RESULTS, 'browser-client.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a todo app: due dates, priorities, tags, a tag filter, search, sorting and load more', async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 1000 } });
    const page = await context.newPage();
    const user = newUser();
    const api = new Api(stack.url);
    try {
      // 25 tasks already there: more than one page of 20.
      for (let n = 0; n < 25; n += 1) await api.seed(user, { title: `old ${String(n).padStart(2, '0')}` });
      await page.goto(`${allowedOrigin}/?api=${encodeURIComponent(stack.url)}&user=${user.id}`);
      await page.fill('#token', user.token);
      await settle(page, () => page.click('#connect'));
      assert.equal((await titles(page)).length, 20);
      assert.equal(await page.isVisible('#load-more'), true);
      await settle(page, () => page.click('#load-more'));
      assert.equal((await titles(page)).length, 25, 'the next page, through the Link header');
      assert.equal(await page.isVisible('#load-more'), false);

      await page.fill('#new-title', 'Buy presents');
      await page.fill('#new-due', '2026-12-20');
      await page.selectOption('#new-priority', 'high');
      await page.fill('#new-tags', 'Gifts, errands');
      await settle(page, () => page.click('#add-button'));
      const stored = (await api.list(user, '?tag=gifts')).body;
      assert.deepEqual(stored.map((task) => [task.title, task.due_date, task.priority, task.tags]),
        [['Buy presents', '2026-12-20', 'high', ['gifts', 'errands']]]);
      assert.match(await row(page, 'Buy presents').textContent(), /due 2026-12-20.*high priority.*#gifts/s);

      await settle(page, () => row(page, 'Buy presents').locator('.tag', { hasText: '#errands' }).click());
      assert.deepEqual(await titles(page), ['Buy presents'], 'filtered by the clicked tag');
      await settle(page, () => page.click('#clear-tag'));
      await page.fill('#search', 'old 1');
      await settle(page, () => page.dispatchEvent('#search', 'change'));
      assert.equal((await titles(page)).length, 10, 'old 10 to old 19');
      await page.fill('#search', '');
      await page.selectOption('#sort', 'priority');
      await settle(page, () => page.dispatchEvent('#sort', 'change'));
      assert.equal((await titles(page))[0], 'Buy presents', 'highest priority first');
    } finally {
      await context.close();
    }
  });

  test('several devices: an edit that lost the race says so, retried adds create once, deletions elsewhere disappear', async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 1000 } });
    const page = await context.newPage();
    const user = newUser();
    const api = new Api(stack.url);
    try {
      const contested = await api.seed(user, { title: 'contested' });
      const doomed = await api.seed(user, { title: 'doomed' });
      await page.goto(`${allowedOrigin}/?api=${encodeURIComponent(stack.url)}&user=${user.id}`);
      await page.fill('#token', user.token);
      await settle(page, () => page.click('#connect'));

      // This device starts editing; another device changes the task meanwhile.
      await settle(page, () => row(page, 'contested').locator('.edit').click());
      await api.update(user, contested.id, { title: 'changed elsewhere' });
      await page.fill('#tasks .edit-title', 'my edit');
      await settle(page, () => page.click('#tasks .save'));
      assert.match(await page.textContent('#error'), /changed on another device/);
      assert.equal((await api.get(user, contested.id)).body.title, 'changed elsewhere', 'nothing overwritten');
      assert.ok((await titles(page)).includes('changed elsewhere'), 'reloaded');

      // Another device deletes a task; a sync takes it off this page.
      await api.remove(user, doomed.id);
      await settle(page, () => page.click('#sync'));
      assert.ok(!(await titles(page)).includes('doomed'));

      // Adds carry an Idempotency-Key: one task per add.
      await page.fill('#new-title', 'added once');
      await settle(page, () => page.click('#add-button'));
      assert.equal((await api.list(user, '?q=added+once')).body.length, 1);
    } finally {
      await context.close();
    }
  });

  test('an origin not in ALLOWED_ORIGINS is blocked by the browser', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleLines = [];
    page.on('console', (message) => consoleLines.push(message.text()));
    const user = newUser();
    try {
      await page.goto(`${blockedOrigin}/?api=${encodeURIComponent(stack.url)}&user=${user.id}`);
      await page.fill('#token', user.token);

      await settle(page, () => page.click('#connect'));
      const error = await page.textContent('#error');
      assert.match(error, /^Network error \(Failed to fetch\)/);
      assert.ok(error.includes(blockedOrigin), 'the page names its origin');

      await page.fill('#new-title', 'must never be stored');
      await settle(page, () => page.click('#add-button'));
      assert.match(await page.textContent('#error'), /^Network error/);
      assert.equal(await page.locator('#tasks li').count(), 0);

      // The same fetch from page script fails too, and Chromium says why.
      const outcome = await page.evaluate(async ({ url, token }) => {
        try {
          const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
          return `answered ${response.status}`;
        } catch (failure) {
          return `${failure.name}: ${failure.message}`;
        }
      }, { url: `${stack.url}/api/${user.id}/tasks`, token: user.token });
      assert.equal(outcome, 'TypeError: Failed to fetch');
      assert.ok(consoleLines.some((line) => /blocked by CORS policy/.test(line)), consoleLines.join('\n'));

      // The preflight was refused, so the POST never reached the worker.
      assert.deepEqual((await new Api(stack.url).list(user)).body, []);
    } finally {
      await context.close();
    }
  });

  test('the page is no loophole: a token minted with another secret is refused with the problem detail', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const user = newUser();
    try {
      await page.goto(`${allowedOrigin}/?api=${encodeURIComponent(stack.url)}&user=${user.id}`);
      await page.fill('#token', signToken({ sub: user.id, exp: now() + 600 }, { secret: 'x'.repeat(40) }));
      await settle(page, () => page.click('#connect'));
      assert.equal(await page.textContent('#error'), "The token's signature is not valid.");
    } finally {
      await context.close();
    }
  });
});
