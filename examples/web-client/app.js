// The example client: plain browser JavaScript, no build step. Every request is a cross-origin
// fetch with an Authorization header, so the browser sends a CORS preflight first; the API must
// list this page's origin in ALLOWED_ORIGINS.
//
// Types come from the generated OpenAPI types (editors with TypeScript's checkJs use them):
/** @typedef {import('../../types/api').components['schemas']['Task']} Task */
/** @typedef {import('../../types/api').components['schemas']['Problem']} Problem */

const $ = (selector) => document.querySelector(selector);

const settings = {
  get base() { return $('#api-base').value.trim().replace(/\/+$/, ''); },
  get user() { return $('#user-id').value.trim(); },
  get token() { return $('#token').value.trim(); },
};

/** An error response, carrying the problem document when the API sent one. */
class ApiError extends Error {
  /** @param {string} message @param {Problem | undefined} problem */
  constructor(message, problem) {
    super(message);
    this.problem = problem;
  }
}

/**
 * Calls the API. Resolves to the parsed JSON body (null for 204); rejects with an ApiError whose
 * message is the problem's `detail`, or a network error (which is also how a CORS refusal looks).
 */
async function api(method, path, body, extraHeaders = {}) {
  return (await send(`${settings.base}${path}`, method, body, extraHeaders)).data;
}

/** Sends one request to the API; resolves to { data, response }. */
async function send(url, method = 'GET', body = undefined, extraHeaders = {}) {
  const headers = { Authorization: `Bearer ${settings.token}`, ...extraHeaders };
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(
      `Network error (${error.message}): is the API running at ${settings.base}, and is this page's origin ` +
        `(${location.origin}) in its ALLOWED_ORIGINS?`,
    );
  }
  // Readable cross-origin only because the API lists it in Access-Control-Expose-Headers.
  $('#request-id').textContent = response.headers.get('X-Request-Id') ?? '(not exposed)';
  if (response.status === 204) return { data: null, response };
  const data = await response.json().catch(() => undefined);
  if (!response.ok) {
    throw new ApiError(data?.detail ?? `HTTP ${response.status}`, data);
  }
  return { data, response };
}

const tasksPath = () => `/api/${encodeURIComponent(settings.user)}/tasks`;
const taskPath = (id) => `${tasksPath()}/${encodeURIComponent(id)}`;

function showError(error) {
  const box = $('#error');
  box.replaceChildren(error.message);
  for (const { field, message } of error.problem?.errors ?? []) {
    const line = document.createElement('span');
    line.className = 'field-error';
    line.textContent = `${field}: ${message}`;
    box.append(line);
  }
  box.hidden = false;
  $('#message').textContent = '';
}

function showMessage(text) {
  $('#error').hidden = true;
  $('#message').textContent = text;
}

/**
 * Runs one user action: clears old errors, shows a new one if it fails. `data-actions` on the
 * body counts finished actions, so a test (or a curious developer) can wait for one to settle.
 */
async function act(action) {
  $('#error').hidden = true;
  document.body.dataset.busy = 'true';
  try {
    await action();
  } catch (error) {
    showError(error);
  } finally {
    document.body.dataset.busy = 'false';
    document.body.dataset.actions = String(Number(document.body.dataset.actions ?? 0) + 1);
  }
}

/** The tag the list is filtered by, set by clicking a tag chip. */
let tagFilter = '';
/** The next page's URL, from the last response's `Link: <…>; rel="next"`. */
let nextPage = null;
/** Tasks shown so far. */
let shown = [];
const PAGE_SIZE = 20;

function listQuery() {
  const query = new URLSearchParams({ status: $('#status-filter').value, sort: $('#sort').value, limit: String(PAGE_SIZE) });
  const search = $('#search').value.trim();
  if (search) query.set('q', search);
  if (tagFilter) query.append('tag', tagFilter);
  return query;
}

/** Loads the first page; "Load more" follows the `next` link (keyset paging). */
async function loadTasks() {
  if (!settings.user) throw new ApiError('Enter a user id (or a token whose `sub` names one), then load.');
  shown = [];
  await loadPage(`${settings.base}${tasksPath()}?${listQuery()}`);
  if (!feedCursor) feedCursor = await catchUp(null, () => {});
}

/** The change feed's cursor: where the next sync starts. */
let feedCursor = null;

/** Follows the change feed from `since` until it has nothing more; returns the new cursor. */
async function catchUp(since, apply) {
  let cursor = since;
  for (;;) {
    const query = new URLSearchParams(cursor ? { since: cursor } : {});
    const page = await api('GET', `/api/${encodeURIComponent(settings.user)}/changes?${query}`);
    apply(page);
    cursor = page.cursor;
    if (!page.has_more) return cursor;
  }
}

/**
 * Applies what other devices did since the last sync: changed tasks replace their old copy,
 * deleted ones disappear. (New tasks show on the next load, where the filters place them.)
 */
async function syncChanges() {
  if (!feedCursor || !settings.token) return;
  let changed = 0;
  feedCursor = await catchUp(feedCursor, ({ tasks, deleted }) => {
    const byId = new Map(tasks.map((task) => [task.id, task]));
    const before = shown.length;
    shown = shown.filter((task) => !deleted.includes(task.id)).map((task) => byId.get(task.id) ?? task);
    changed += before - shown.length + tasks.filter((task) => shown.some((s) => s.id === task.id)).length;
  });
  if (changed > 0) {
    render(shown);
    showMessage(`Synced ${changed} change${changed === 1 ? '' : 's'} from other devices.`);
  }
}

/** Appends a page of tasks; its Link header (exposed by the API) names the next one. */
async function loadPage(url) {
  const { data, response } = await send(url);
  shown = [...shown, ...data];
  nextPage = response.headers.get('Link')?.match(/<([^>]+)>;\s*rel="next"/)?.[1] ?? null;
  render(shown);
}

/** @param {Task[]} tasks */
function render(tasks) {
  const list = $('#tasks');
  list.replaceChildren(...tasks.map(taskItem));
  $('#empty').hidden = tasks.length > 0;
  $('#count').textContent = `(${tasks.length}${nextPage ? '+' : ''})`;
  $('#load-more').hidden = !nextPage;
  $('#tag-filter').hidden = !tagFilter;
  $('#clear-tag').textContent = `${tagFilter} ✕`;
}

/** @param {Task} task */
function taskItem(task) {
  const item = $('#task-template').content.firstElementChild.cloneNode(true);
  item.dataset.id = task.id;
  item.classList.toggle('done', task.completed);
  item.querySelector('.title').textContent = task.title;
  item.querySelector('.description').textContent = task.description ?? '';
  const today = new Date().toISOString().slice(0, 10);
  const due = item.querySelector('.due');
  // A done task says when it was done (its local date); a pending one when it is due.
  due.textContent = task.completed_at
    ? `done ${new Date(task.completed_at).toLocaleDateString()}`
    : task.due_date ? `due ${task.due_date}` : '';
  due.classList.toggle('overdue', Boolean(task.due_date && task.due_date < today && !task.completed));
  item.querySelector('.priority').textContent = task.priority === 'none' ? '' : `${task.priority} priority`;
  item.querySelector('.tags').replaceChildren(...task.tags.map((tag) => {
    const chip = document.createElement('button');
    chip.type = 'button';
    chip.className = 'tag';
    chip.textContent = `#${tag}`;
    chip.addEventListener('click', () => act(async () => {
      tagFilter = tag;
      await loadTasks();
    }));
    return chip;
  }));
  const toggle = item.querySelector('.toggle');
  toggle.checked = task.completed;
  toggle.addEventListener('change', () => act(async () => {
    // No body: the API flips `completed` atomically.
    const updated = await api('PATCH', `${taskPath(task.id)}/complete`);
    showMessage(`"${updated.title}" is ${updated.completed ? 'done' : 'not done'}.`);
    await loadTasks();
  }));
  item.querySelector('.edit').addEventListener('click', () => act(async () => {
    // The task's current version: the edit is saved only if nobody changed it meanwhile.
    const { data, response } = await send(`${settings.base}${taskPath(task.id)}`);
    item.replaceWith(editItem(data, response.headers.get('ETag')));
  }));
  item.querySelector('.delete').addEventListener('click', () => act(async () => {
    await api('DELETE', taskPath(task.id));
    showMessage(`Deleted "${task.title}".`);
    await loadTasks();
  }));
  return item;
}

/** @param {Task} task */
function editItem(task, etag) {
  const item = $('#edit-template').content.firstElementChild.cloneNode(true);
  item.dataset.id = task.id;
  const title = item.querySelector('.edit-title');
  const description = item.querySelector('.edit-description');
  title.value = task.title;
  description.value = task.description ?? '';
  item.querySelector('.cancel').addEventListener('click', () => item.replaceWith(taskItem(task)));
  item.querySelector('form').addEventListener('submit', (event) => {
    event.preventDefault();
    act(async () => {
      // An emptied description is cleared with null. If-Match: another device's change since
      // the edit began is not silently overwritten (412).
      try {
        const updated = await api('PUT', taskPath(task.id), {
          title: title.value,
          description: description.value === '' ? null : description.value,
        }, etag ? { 'If-Match': etag } : {});
        showMessage(`Saved "${updated.title}".`);
      } catch (error) {
        if (error.problem?.status !== 412) throw error;
        showError(new ApiError('This task was changed on another device while you were editing it. It has been reloaded: edit it again.'));
      }
      await loadTasks();
    });
  });
  return item;
}

/**
 * Better Auth, called as a frontend calls it: a cross-origin POST (Better Auth checks the
 * Origin against its trustedOrigins), no cookies; the bearer plugin returns the session token
 * in `set-auth-token`, and the jwt plugin exchanges it for a JWT at /api/auth/token.
 */
async function betterAuth(path, { method = 'POST', body, session } = {}) {
  const base = $('#auth-base').value.trim().replace(/\/+$/, '');
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (session) headers.Authorization = `Bearer ${session}`;
  let response;
  try {
    response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(`Network error (${error.message}): is Better Auth running at ${base} and trusting ${location.origin}?`);
  }
  const data = await response.json().catch(() => undefined);
  if (!response.ok) throw new ApiError(data?.message ?? `Better Auth answered HTTP ${response.status}`);
  return { data, session: response.headers.get('set-auth-token') };
}

/** Signs in (or up), then puts the chosen credential and the user id in the connection form. */
async function signIn(kind) {
  const email = $('#email').value.trim();
  const password = $('#password').value;
  const body = kind === 'up' ? { email, password, name: email.split('@')[0] } : { email, password };
  const { data, session } = await betterAuth(`/api/auth/sign-${kind}/email`, { body });
  if (!session) throw new ApiError('Better Auth sent no set-auth-token: is its bearer() plugin on?');
  const credential = document.querySelector('input[name="credential"]:checked').value;
  const token = credential === 'jwt'
    ? (await betterAuth('/api/auth/token', { method: 'GET', session })).data.token
    : session;
  sessionStorage.setItem('session', session);
  feedCursor = null;
  $('#token').value = token;
  $('#user-id').value = data.user.id;
  sessionStorage.setItem('token', token);
  localStorage.setItem('user-id', data.user.id);
  $('#identity').textContent = `Signed in as ${data.user.email} (${data.user.id}); calling the API with the ${
    credential === 'jwt' ? 'JWT from the jwt plugin' : 'session token from the bearer plugin'}.`;
  await loadTasks();
  showMessage(`Signed ${kind === 'up' ? 'up' : 'in'} as ${data.user.email}.`);
}

/** The user id a token names (`sub`, else `user_id`/`userId`), read without verifying it. */
function tokenUser(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(payload));
    return claims.sub ?? claims.user_id ?? claims.userId;
  } catch {
    return undefined;
  }
}

const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/**
 * DEVELOPMENT ONLY, a fallback for running the API without Better Auth: signs an HS256 JWT in
 * the browser, exactly as the API verifies them. A real app signs users in with Better Auth
 * (above), or mints tokens on its server, where the secret lives.
 */
async function mintDevToken(secret, userId, lifetimeSeconds = 3600) {
  const encoder = new TextEncoder();
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(encoder.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const claims = base64url(encoder.encode(JSON.stringify({ sub: userId, iat: now, exp: now + lifetimeSeconds })));
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const signature = await crypto.subtle.sign('HMAC', key, encoder.encode(`${header}.${claims}`));
  return `${header}.${claims}.${base64url(signature)}`;
}

function start() {
  const params = new URLSearchParams(location.search);
  $('#api-base').value = params.get('api') ?? localStorage.getItem('api-base') ?? 'http://127.0.0.1:8787';
  $('#user-id').value = params.get('user') ?? localStorage.getItem('user-id') ?? '';
  $('#token').value = sessionStorage.getItem('token') ?? '';
  $('#auth-base').value = params.get('auth') ?? localStorage.getItem('auth-base') ?? 'http://127.0.0.1:8788';

  $('#account').addEventListener('submit', (event) => {
    event.preventDefault();
    localStorage.setItem('auth-base', $('#auth-base').value);
    act(() => signIn('in'));
  });
  $('#sign-up').addEventListener('click', () => act(() => signIn('up')));
  $('#sign-out').addEventListener('click', () => act(async () => {
    await betterAuth('/api/auth/sign-out', { body: {}, session: sessionStorage.getItem('session') });
    sessionStorage.removeItem('session');
    $('#identity').textContent = 'Signed out: the session token stops working at once; a JWT already issued lasts until it expires.';
  }));

  $('#settings').addEventListener('submit', (event) => {
    event.preventDefault();
    feedCursor = null;
    if (!settings.user && tokenUser(settings.token)) $('#user-id').value = tokenUser(settings.token);
    localStorage.setItem('api-base', settings.base);
    localStorage.setItem('user-id', settings.user);
    sessionStorage.setItem('token', settings.token);
    act(async () => {
      await loadTasks();
      showMessage(`Connected to ${settings.base} as ${settings.user}.`);
    });
  });

  $('#mint').addEventListener('click', () => act(async () => {
    if (!settings.user) throw new ApiError('Enter a user id to mint a token for.');
    const secret = $('#dev-secret').value;
    if (new TextEncoder().encode(secret).length < 32) throw new ApiError('The secret must be at least 32 bytes.');
    $('#token').value = await mintDevToken(secret, settings.user);
    sessionStorage.setItem('token', settings.token);
    showMessage(`Minted a one-hour dev token for ${settings.user}.`);
  }));

  $('#add').addEventListener('submit', (event) => {
    event.preventDefault();
    act(async () => {
      const description = $('#new-description').value;
      const tags = $('#new-tags').value.split(',').map((tag) => tag.trim()).filter(Boolean);
      const body = {
        title: $('#new-title').value,
        ...(description ? { description } : {}),
        // An empty date input sends "", which the API takes as no date.
        due_date: $('#new-due').value,
        priority: $('#new-priority').value,
        tags,
      };
      // One key per task to add: a retry after a network failure or a 503 creates it once.
      const key = crypto.randomUUID();
      /** @type {Task} */
      let created;
      for (let attempt = 1; ; attempt += 1) {
        try {
          created = await api('POST', tasksPath(), body, { 'Idempotency-Key': key });
          break;
        } catch (error) {
          // A network failure, a 503, a 429 or the same key still in flight; not a full quota.
          const retryable = !error.problem || [429, 503].includes(error.problem.status)
            || error.problem.type?.endsWith(':idempotency-key-in-progress');
          if (!retryable || attempt === 3) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        }
      }
      for (const field of ['#new-title', '#new-description', '#new-due', '#new-tags']) $(field).value = '';
      $('#new-priority').value = 'none';
      showMessage(`Added "${created.title}".`);
      await loadTasks();
    });
  });

  for (const control of [$('#status-filter'), $('#sort'), $('#search')]) {
    control.addEventListener('change', () => act(loadTasks));
  }
  $('#clear-tag').addEventListener('click', () => act(async () => {
    tagFilter = '';
    await loadTasks();
  }));
  $('#load-more').addEventListener('click', () => act(() => loadPage(nextPage)));
  $('#sync').addEventListener('click', () => act(syncChanges));
  // Other devices' changes arrive through the change feed, without reloading the list.
  setInterval(() => {
    if (document.body.dataset.busy !== 'true' && feedCursor) syncChanges().catch(() => {});
  }, 10_000);
  document.body.dataset.busy = 'false';
  document.body.dataset.actions = '0';
}

start();
