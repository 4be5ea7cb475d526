// The reference worker: the task API as a user would write it in TypeScript from Cloudflare's
// docs, for the benchmark to measure the Rust worker against (`npm run bench -- --reference`).
// Hono routes, jose verifies HS256 tokens signed with BETTER_AUTH_SECRET, and db.ts reaches
// PostgreSQL per request. Not part of the API's deployment.
//
//   GET /health, GET /ready                a database round trip, no auth
//   GET|POST /api/:userId/tasks            list (limit, q, tag, status) and create
//   GET|PUT|DELETE /api/:userId/tasks/:id
//   PATCH /api/:userId/tasks/:id/complete  no body toggles; {"completed": bool} sets
//
// Left out, unlike the Rust worker: paging cursors and Link, ETags and If-Match, Idempotency-Key,
// the change feed, CORS, Better Auth's JWKS and session tokens.

import { Hono, type Context } from 'hono';
import { routePath } from 'hono/route';
import { jwtVerify } from 'jose';
import { query, type Env } from './db';
import { listStatement, newTaskId, parseFields, SQL, taskFromRow, type FieldError } from './tasks';

type App = { Bindings: Env; Variables: { userId: string } };

const app = new Hono<App>();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An RFC 9457 problem response, in the Rust worker's vocabulary. */
function problem(c: Context<App>, status: number, slug: string, title: string, detail: string, errors?: FieldError[]) {
  return c.body(JSON.stringify({ type: `tag:edge-task-api,2026:${slug}`, title, status, detail, errors }), status as 400, {
    'Content-Type': 'application/problem+json',
  });
}
/** The most tasks one user may have, as the worker's default `TASK_QUOTA`. */
const TASK_QUOTA = 100_000;
const notFound = (c: Context<App>) => problem(c, 404, 'not-found', 'Not found', 'No such resource exists for this user.');
const invalid = (c: Context<App>, errors: FieldError[]) =>
  problem(c, 400, 'validation-error', 'Invalid request', 'The request has invalid fields; see `errors`.', errors);

// One access-log line per request, as the Rust worker writes it.
app.use('*', async (c, next) => {
  const started = Date.now();
  const requestId = c.req.header('cf-ray') ?? crypto.randomUUID();
  await next();
  c.header('X-Request-Id', requestId);
  const status = c.res.status;
  console.log(
    JSON.stringify({
      level: status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info',
      request_id: requestId,
      method: c.req.method,
      route: routePath(c, -1),
      status,
      duration_ms: Date.now() - started,
      user_id: c.get('userId') ?? null,
    }),
  );
});

const databaseState = async (c: Context<App>) => {
  try {
    await query(c.env, c.executionCtx, SQL.ping);
  } catch (error) {
    console.error(JSON.stringify({ level: 'error', message: 'the database check failed', cause: String(error) }));
    c.header('Retry-After', '5');
    return problem(c, 503, 'service-unavailable', 'Service unavailable', 'The database is unavailable right now; retry in 5 seconds.');
  }
  return c.json({ status: 'ok', database: 'ok' });
};
app.get('/health', databaseState);
app.get('/ready', databaseState);

// Every /api/ route: a valid HS256 token whose subject is the path's user.
app.use('/api/:userId/*', async (c, next) => {
  const token = c.req.header('Authorization')?.match(/^Bearer\s+(\S+)$/i)?.[1];
  let subject: string | undefined;
  try {
    if (!token) throw new Error('no bearer token');
    const key = new TextEncoder().encode(c.env.BETTER_AUTH_SECRET);
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp'], clockTolerance: 30 });
    subject = payload.sub;
  } catch {
    c.header('WWW-Authenticate', 'Bearer error="invalid_token"');
    return problem(c, 401, 'invalid-token', 'Unauthorized', 'Send a valid bearer token: Authorization: Bearer <token>.');
  }
  if (subject !== c.req.param('userId')) {
    return problem(c, 403, 'forbidden', 'Forbidden', "The token's user may not access another user's tasks.");
  }
  c.set('userId', subject);
  await next();
});

app.get('/api/:userId/tasks', async (c) => {
  const limit = Number(c.req.query('limit') ?? 1000);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return invalid(c, [{ field: 'limit', message: 'must be 1 to 1000' }]);
  const q = c.req.query('q');
  const tags = (c.req.queries('tag') ?? []).map((tag) => tag.trim().toLowerCase());
  const { text, params } = listStatement(c.get('userId'), { status: c.req.query('status'), q, tags, limit });
  const rows = await query(c.env, c.executionCtx, text, params);
  return c.json(rows.slice(0, limit).map(taskFromRow));
});

app.post('/api/:userId/tasks', async (c) => {
  const fields = parseFields(await c.req.json().catch(() => null), false);
  if (fields.errors.length > 0) return invalid(c, fields.errors);
  const { title, description = null, completed = false, dueDate = null, priority = 0, tags = [] } = fields;
  const quota = String(TASK_QUOTA);
  const [row] = await query(c.env, c.executionCtx, SQL.insert, [c.get('userId'), newTaskId(), title, description, completed, dueDate, priority, tags, quota]);
  if (!row) {
    return problem(c, 409, 'quota-exceeded', 'Task quota reached', `This user has ${quota} tasks, the most the API keeps for one user; delete some to add more.`);
  }
  const task = taskFromRow(row);
  c.header('Location', `/api/${encodeURIComponent(task.user_id)}/tasks/${task.id}`);
  return c.json(task, 201);
});

app.get('/api/:userId/tasks/:id', async (c) => {
  const id = c.req.param('id');
  if (!UUID.test(id)) return notFound(c);
  const [row] = await query(c.env, c.executionCtx, SQL.select, [c.get('userId'), id.toLowerCase()]);
  return row ? c.json(taskFromRow(row)) : notFound(c);
});

app.put('/api/:userId/tasks/:id', async (c) => {
  const id = c.req.param('id');
  if (!UUID.test(id)) return notFound(c);
  const fields = parseFields(await c.req.json().catch(() => null), true);
  if (fields.errors.length > 0) return invalid(c, fields.errors);
  const { title = null, description, completed = null, dueDate, priority = null, tags = null } = fields;
  const params = [c.get('userId'), id.toLowerCase(), title, description !== undefined, description ?? null, completed, dueDate !== undefined, dueDate ?? null, priority, tags];
  const [row] = await query(c.env, c.executionCtx, SQL.update, params);
  return row ? c.json(taskFromRow(row)) : notFound(c);
});

app.patch('/api/:userId/tasks/:id/complete', async (c) => {
  const id = c.req.param('id');
  if (!UUID.test(id)) return notFound(c);
  const text = await c.req.text();
  let completed: boolean | null = null;
  if (text.trim() !== '') {
    const body = (() => {
      try {
        return JSON.parse(text);
      } catch {
        return null;
      }
    })();
    if (typeof body?.completed !== 'boolean') return invalid(c, [{ field: 'completed', message: 'must be true or false; send no body to toggle' }]);
    completed = body.completed;
  }
  const [row] = await query(c.env, c.executionCtx, SQL.toggle, [c.get('userId'), id.toLowerCase(), completed]);
  return row ? c.json(taskFromRow(row)) : notFound(c);
});

app.delete('/api/:userId/tasks/:id', async (c) => {
  const id = c.req.param('id');
  if (!UUID.test(id)) return notFound(c);
  const rows = await query(c.env, c.executionCtx, SQL.delete, [c.get('userId'), id.toLowerCase()]);
  return rows.length > 0 ? c.body(null, 204) : notFound(c);
});

app.notFound(notFound);
app.onError((error, c) => {
  console.error(JSON.stringify({ level: 'error', message: 'request failed on the server side', cause: String(error) }));
  return problem(c, 500, 'internal-error', 'Internal server error', 'Something went wrong on our side; the error has been logged.');
});

export default app;
