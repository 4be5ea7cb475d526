// The task SQL, the request bodies and the task JSON.
//
// The statements are the Rust worker's own text (src/store/sql.rs), byte for byte, so that a
// benchmark of the two measures runtimes and drivers, not queries; tests/reference.test.mjs
// checks that both send the same SQL for every route.

import type { Row } from './db';

const COLUMNS =
  "id::text, user_id, title, description, completed::text, " +
  "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), " +
  "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), " +
  "to_char(due_date, 'YYYY-MM-DD'), priority::text, to_json(tags)::text, " +
  "to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), version::text";
const ONE_TASK = 'WHERE user_id = $1::text AND id = $2::uuid';

export const SQL = {
  // clock_timestamp() is volatile, so no query cache can answer for the database.
  ping: 'SELECT clock_timestamp()::text',
  select: `SELECT ${COLUMNS} FROM tasks ${ONE_TASK}`,
  insert:
    'INSERT INTO tasks (user_id, id, title, description, completed, due_date, priority, tags) ' +
    'SELECT $1::text, $2::uuid, $3::text, $4::text, $5::boolean, $6::date, $7::smallint, $8::text[] ' +
    // $9, the task quota: no row when the user has that many tasks already.
    'WHERE (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE user_id = $1::text LIMIT $9::bigint) AS held) < $9::bigint ' +
    `RETURNING ${COLUMNS}`,
  // $4 and $7 say whether to touch description and due date: NULL in $5 or $8 clears them.
  update:
    'UPDATE tasks SET title = COALESCE($3::text, title), ' +
    'description = CASE WHEN $4::boolean THEN $5::text ELSE description END, ' +
    'completed = COALESCE($6::boolean, completed), ' +
    'due_date = CASE WHEN $7::boolean THEN $8::date ELSE due_date END, ' +
    'priority = COALESCE($9::smallint, priority), tags = COALESCE($10::text[], tags) ' +
    `${ONE_TASK} RETURNING ${COLUMNS}`,
  toggle: `UPDATE tasks SET completed = COALESCE($3::boolean, NOT completed) ${ONE_TASK} RETURNING ${COLUMNS}`,
  delete: `DELETE FROM tasks ${ONE_TASK} RETURNING id::text`,
};

export interface ListQuery {
  status?: string;
  q?: string;
  tags: string[];
  limit: number;
}

/** The list statement for these filters, newest first; asks for one task more than `limit`. */
export function listStatement(user: string, query: ListQuery): { text: string; params: unknown[] } {
  const params: unknown[] = [user];
  let filters = '';
  if (query.status === 'pending') filters += ' AND NOT completed';
  if (query.status === 'completed') filters += ' AND completed';
  if (query.q !== undefined) {
    params.push(`%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    const n = params.length;
    filters +=
      ` AND (title || ' ' || coalesce(description, '')) ILIKE $${n}::text` +
      ` AND (title ILIKE $${n}::text OR description ILIKE $${n}::text)`;
  }
  if (query.tags.length > 0) {
    params.push(query.tags);
    filters += ` AND tags @> $${params.length}::text[]`;
  }
  params.push(query.limit + 1);
  return {
    text: `SELECT ${COLUMNS} FROM tasks WHERE user_id = $1::text${filters} ORDER BY created_at DESC, id DESC LIMIT $${params.length}::bigint`,
    params,
  };
}

const PRIORITIES = ['none', 'low', 'medium', 'high'];

export interface Task {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  created_at: string;
  updated_at: string;
  due_date: string | null;
  priority: string;
  tags: string[];
  completed_at: string | null;
}

export function taskFromRow(row: Row): Task {
  const [id, user_id, title, description, completed, created_at, updated_at, due_date, priority, tags, completed_at] = row;
  return {
    id: id!,
    user_id: user_id!,
    title: title!,
    description,
    completed: completed === 'true',
    created_at: created_at!,
    updated_at: updated_at!,
    due_date,
    priority: PRIORITIES[Number(priority)],
    tags: JSON.parse(tags ?? '[]'),
    completed_at,
  };
}

export interface FieldError {
  field: string;
  message: string;
}

/** A UUIDv7, time-ordered like the Rust worker's ids, so inserts append to the same index. */
export function newTaskId(): string {
  const hex = Date.now().toString(16).padStart(12, '0') +
    Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => b.toString(16).padStart(2, '0')).join('');
  const variant = ((parseInt(hex[15], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(12, 15)}-${variant}${hex.slice(16, 19)}-${hex.slice(19, 31)}`;
}

/**
 * The fields a create (`partial` false) or an update (`partial` true) sets, as statement
 * parameters, or the errors. Title trimmed to 1-200 characters, tags lower-cased without
 * duplicates, dates as YYYY-MM-DD: the API's rules.
 */
export function parseFields(body: unknown, partial: boolean) {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => (errors.push({ field, message }), undefined);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { errors: [{ field: 'body', message: 'must be a JSON object' }] };
  }
  const input = body as Record<string, unknown>;
  const present = (name: string) => input[name] !== undefined;

  let title: string | undefined;
  if (present('title')) {
    const trimmed = typeof input.title === 'string' ? input.title.trim() : '';
    if (trimmed.length === 0 || [...trimmed].length > 200) fail('title', 'must be a string of 1 to 200 characters');
    else title = trimmed;
  } else if (!partial) fail('title', 'is required');

  let description: string | null | undefined;
  if (present('description')) {
    if (input.description === null) description = null;
    else if (typeof input.description === 'string' && [...input.description].length <= 2000) description = input.description;
    else fail('description', 'must be a string of at most 2000 characters, or null');
  }

  let completed: boolean | undefined;
  if (present('completed')) {
    if (typeof input.completed === 'boolean') completed = input.completed;
    else fail('completed', 'must be true or false');
  }

  let dueDate: string | null | undefined;
  if (present('due_date')) {
    const raw = input.due_date;
    if (raw === null) dueDate = null;
    else if (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw) && new Date(`${raw}T00:00:00Z`).toISOString().startsWith(raw)) dueDate = raw;
    else fail('due_date', 'must be a date that exists, as YYYY-MM-DD, or null');
  }

  let priority: number | undefined;
  if (present('priority')) {
    priority = PRIORITIES.indexOf(String(input.priority));
    if (priority < 0) fail('priority', 'must be one of none, low, medium, high');
  }

  let tags: string[] | undefined;
  if (present('tags')) {
    const raw = input.tags;
    const clean = Array.isArray(raw) ? [...new Set(raw.map((tag) => (typeof tag === 'string' ? tag.trim().toLowerCase() : '')))] : [];
    if (!Array.isArray(raw) || clean.length > 20 || clean.some((tag) => tag.length === 0 || [...tag].length > 32)) {
      fail('tags', 'must be at most 20 tags of 1 to 32 characters');
    } else tags = clean;
  }

  return { errors, title, description, completed, dueDate, priority, tags };
}
