// Presenting benchmark results: the stdout tables, the markdown tables of docs/benchmark.md,
// our worker beside the reference worker, and the side-by-side comparison of two result files.
// Files of older schemas print too: a figure they lack shows as –, a table they lack (the I/O
// floor's) is left out.

const fixed = (digits) => (value) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const int = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–');
const ratio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : '–');
const pct = (value) => (Number.isFinite(value) ? `${value.toFixed(1)}%` : '–');
/** Milliseconds with 3 significant digits (0.183, 12.4, 153). */
const ms = (value) => (Number.isFinite(value) ? (value >= 100 ? value.toFixed(0) : value.toPrecision(3)) : '–');

/** The columns of the main table: one row per scenario and concurrency of one model. */
const COLUMNS = [
  { title: 'scenario', value: (row) => row.scenario },
  { title: 'c', value: (row) => String(row.concurrency), right: true },
  { title: 'req/s', value: (row) => int(row.api.rps), right: true },
  { title: 'p50 ms', value: (row) => ms(row.api.p50Ms), right: true },
  { title: 'p99 ms', value: (row) => ms(row.api.p99Ms), right: true },
  { title: 'errors', value: (row) => String(row.api.errors), right: true },
  { title: 'worker CPU ms/req', value: (row) => fixed(3)(row.api.workerCpuMsPerRequest), right: true },
  { title: 'db round trips/req', value: (row) => fixed(2)(row.api.dbRoundTripsPerRequest), right: true },
  { title: 'db CPU ms/req', value: (row) => fixed(3)(row.api.dbCpuMsPerRequest), right: true },
  { title: 'wrk CPU', value: (row) => pct(row.api.loadgenCpuPct), right: true },
  { title: 'API/db floor', value: (row) => ratio(row.ratios.dbFloor), right: true },
  { title: 'API/trust floor', value: (row) => ratio(row.ratios.trustFloor), right: true },
  { title: 'API/runtime floor', value: (row) => ratio(row.ratios.runtimeFloor), right: true },
];

/** The columns of a floor table (pgbench); `floor` picks the row's dbFloor or trustFloor. */
const floorColumns = (floor) => [
  { title: 'statement', value: (row) => row.scenario },
  { title: 'c', value: (row) => String(row.concurrency), right: true },
  { title: 'tx/s', value: (row) => int(floor(row).tps), right: true },
  { title: 'p50 ms', value: (row) => ms(floor(row).p50Ms), right: true },
  { title: 'p99 ms', value: (row) => ms(floor(row).p99Ms), right: true },
  { title: 'errors', value: (row) => String(floor(row).errors), right: true },
  { title: 'pgbench CPU ms/tx', value: (row) => fixed(3)(floor(row).clientCpuMsPerTransaction), right: true },
  { title: 'pgbench CPU', value: (row) => pct(floor(row).clientCpuPct), right: true },
  { title: 'db CPU ms/tx', value: (row) => fixed(3)(floor(row).dbCpuMsPerTransaction), right: true },
];

function textTable(columns, rows) {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) => Math.max(column.title.length, ...cells.map((line) => line[i].length)));
  const line = (values) =>
    values.map((value, i) => (columns[i].right ? value.padStart(widths[i]) : value.padEnd(widths[i]))).join('  ');
  return [line(columns.map((column) => column.title)), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}

function markdownTable(columns, rows) {
  const head = `| ${columns.map((column) => column.title).join(' | ')} |`;
  const rule = `|${columns.map((column) => (column.right ? '---:' : '---')).join('|')}|`;
  return [head, rule, ...rows.map((row) => `| ${columns.map((column) => column.value(row)).join(' | ')} |`)].join('\n');
}

/** A one-paragraph description of the run: machine, versions, settings. */
function header(result) {
  const { machine, settings, versions, wasm } = result;
  const coldStarts = (entries) => entries.map((entry) => `${entry.model} ${ms(entry.medianMs)} ms`).join(', ');
  const reference = versions.reference
    ? [`Reference worker: ${Object.entries(versions.reference).map(([name, version]) => `${name} ${version}`).join(', ')}`]
    : [];
  const relay =
    result.schema >= 2
      ? [
          'Path: each worker reaches its database (neon: the HTTP endpoint) through the bench’s relay, which counts round trips' +
            (settings.delayMs > 0 ? ` and, for the delayed pass at c=${settings.delayConcurrency}, adds ${settings.delayMs} ms each way` : ''),
        ]
      : [];
  return [
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}`,
    `Versions: workerd ${versions.workerd}, PostgreSQL ${versions.postgres}, PgBouncer ${versions.pgbouncer}, ${versions.wrk}, pgbench ${versions.pgbench}`,
    `Run: ${result.label ? `"${result.label}", ` : ''}${settings.quick ? 'quick smoke run, ' : ''}auth ${settings.auth}, ` +
      `${settings.durationS} s per measurement, ${settings.warmupS} s warm-up, ` +
      `${settings.floorTransactions ? `${settings.floorTransactions} transactions per floor client` : `${settings.floorDurationS} s per floor`}, ` +
      `${settings.readUsers} users x ${settings.tasksPerUser} tasks`,
    ...reference,
    ...relay,
    `Wasm: ${int(wasm.bytes)} bytes, ${int(wasm.gzipBytes)} gzip -9 (${(wasm.gzipBytes / 1024).toFixed(1)} KiB)`,
    `Cold start (spawn → first 200 from /health, median of ${result.coldStart[0]?.samplesMs.length ?? 0}): ` +
      coldStarts(result.coldStart) +
      (result.reference?.coldStart?.length ? `; reference ${coldStarts(result.reference.coldStart)}` : ''),
  ].join('\n');
}

const MODEL_TITLES = {
  pgbouncer: 'through PgBouncer (transaction mode; the stand-in for Hyperdrive’s pool)',
  direct: 'direct to PostgreSQL (a new server connection per request, as `wrangler dev`)',
  neon: 'over Neon’s HTTP SQL endpoint (the local stand-in; one fetch per statement)',
};

/** The columns of the reference worker's own table: ours without the floors. */
const REFERENCE_COLUMNS = COLUMNS.filter((column) => !/floor/.test(column.title) || column.title === 'API/runtime floor');

/** A/B as `ratio`, or – when either is missing. */
const over = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? ratio(a / b) : '–');

/**
 * Our rows of one model beside the reference's of the same scenario and concurrency, with
 * ratios ours/reference, and the p50 of the delayed pass on each scenario's highest-concurrency row.
 */
function sideBySide(result, model, table) {
  const ours = result.rows.filter((row) => row.model === model);
  const theirs = new Map(result.reference.rows.filter((row) => row.model === model).map((row) => [`${row.scenario}/${row.concurrency}`, row]));
  const delayed = new Map((result.delayed ?? []).filter((row) => row.model === model).map((row) => [`${row.worker}/${row.scenario}`, row]));
  const highest = Math.max(...ours.map((row) => row.concurrency));
  const pair = ({ row }, pick) => [pick(row), pick(theirs.get(`${row.scenario}/${row.concurrency}`))];
  const withDelay = ({ row }, who) => (row.concurrency === highest ? delayed.get(`${who}/${row.scenario}`)?.api.p50Ms : undefined);
  const cpu = (row) => row?.api.workerCpuMsPerRequest;
  const p50 = (row) => row?.api.p50Ms;
  const trips = (row) => row?.api.dbRoundTripsPerRequest ?? undefined;
  const { delayMs, delayConcurrency } = result.settings;
  const columns = [
    { title: 'scenario', value: ({ row }) => row.scenario },
    { title: 'c', value: ({ row }) => String(row.concurrency), right: true },
    { title: 'req/s ours', value: (key) => int(pair(key, (row) => row?.api.rps)[0]), right: true },
    { title: 'req/s ref', value: (key) => int(pair(key, (row) => row?.api.rps)[1]), right: true },
    { title: 'CPU ms/req ours', value: (key) => fixed(3)(pair(key, cpu)[0]), right: true },
    { title: 'CPU ms/req ref', value: (key) => fixed(3)(pair(key, cpu)[1]), right: true },
    { title: 'CPU ours/ref', value: (key) => over(...pair(key, cpu)), right: true },
    { title: 'p50 ms ours', value: (key) => ms(pair(key, p50)[0]), right: true },
    { title: 'p50 ms ref', value: (key) => ms(pair(key, p50)[1]), right: true },
    { title: 'p50 ours/ref', value: (key) => over(...pair(key, p50)), right: true },
    ...(delayMs > 0
      ? [
          { title: `p50 ms +${delayMs} ms ours`, value: (key) => ms(withDelay(key, 'ours')), right: true },
          { title: `p50 ms +${delayMs} ms ref`, value: (key) => ms(withDelay(key, 'reference')), right: true },
          { title: `p50 +${delayMs} ms ours/ref`, value: (key) => over(withDelay(key, 'ours'), withDelay(key, 'reference')), right: true },
        ]
      : []),
    { title: 'db round trips/req ours', value: (key) => fixed(2)(pair(key, trips)[0]), right: true },
    { title: 'db round trips/req ref', value: (key) => fixed(2)(pair(key, trips)[1]), right: true },
    { title: 'round trips ours/ref', value: (key) => over(...pair(key, trips)), right: true },
  ];
  const delayNote = delayMs > 0 ? `; +${delayMs} ms: the relay adding that much each way, at c=${delayConcurrency}, on each scenario's c=${highest} row` : '';
  const title = `Ours against the reference worker ${MODEL_TITLES[model] ?? model} (ratios ours/reference; – : not served by the reference, or not applicable${delayNote})`;
  return { title, text: table(columns, ours.map((row) => ({ row }))) };
}

/**
 * `ready` on the I/O floor beside both workers, one row per concurrency level: the CPU each
 * spends per request and how much of it is above the floor's, the runtime's own I/O for the
 * same round trip. Null when the run has no floor for `model` (older files never do).
 */
function ioFloorTable(result, model, table) {
  const floors = (result.ioFloor?.rows ?? []).filter((row) => row.model === model);
  if (floors.length === 0) return null;
  const find = (rows, floor) => rows?.find((row) => row.model === model && row.scenario === floor.scenario && row.concurrency === floor.concurrency);
  const cpu = (row) => row?.api.workerCpuMsPerRequest;
  const columns = [
    { title: 'c', value: (floor) => String(floor.concurrency), right: true },
    { title: 'req/s floor', value: (floor) => int(floor.api.rps), right: true },
    { title: 'db round trips/req floor', value: (floor) => fixed(2)(floor.api.dbRoundTripsPerRequest), right: true },
    { title: 'CPU ms/req ours', value: (floor) => fixed(3)(cpu(find(result.rows, floor))), right: true },
    { title: 'CPU ms/req ref', value: (floor) => fixed(3)(cpu(find(result.reference?.rows, floor))), right: true },
    { title: 'CPU ms/req floor', value: (floor) => fixed(3)(cpu(floor)), right: true },
    { title: 'above floor ours', value: (floor) => fixed(3)(floor.aboveFloor?.oursCpuMsPerRequest), right: true },
    { title: 'above floor ref', value: (floor) => fixed(3)(floor.aboveFloor?.referenceCpuMsPerRequest), right: true },
    { title: 'above floor ours/ref', value: (floor) => ratio(floor.aboveFloor?.oursOverReference), right: true },
  ];
  const title =
    `GET /ready on the I/O floor ${MODEL_TITLES[model] ?? model}: plain JavaScript making the same round trip and nothing else ` +
    '(above floor: a worker’s CPU ms/req minus the floor’s)';
  return { title, text: table(columns, floors) };
}

/** Upload size and cold start of both workers. */
function sizesAndStarts(result, table) {
  const rows = [];
  const { ours, reference } = result.upload ?? {};
  if (ours && reference) {
    rows.push({ what: `upload, KiB (${ours.by})`, ours: ours.kib, theirs: reference.kib, format: fixed(1) });
    rows.push({ what: `upload gzip, KiB (${ours.by})`, ours: ours.gzipKib, theirs: reference.gzipKib, format: fixed(1) });
  }
  for (const entry of result.coldStart) {
    const theirs = result.reference.coldStart?.find((other) => other.model === entry.model);
    rows.push({ what: `cold start ${entry.model}, ms`, ours: entry.medianMs, theirs: theirs?.medianMs, format: ms });
  }
  const columns = [
    { title: '', value: (row) => row.what },
    { title: 'ours', value: (row) => row.format(row.ours), right: true },
    { title: 'reference', value: (row) => row.format(row.theirs), right: true },
    { title: 'ours/reference', value: (row) => over(row.ours, row.theirs), right: true },
  ];
  return table(columns, rows);
}

/** The human-readable report for stdout (or, with `markdown`, for docs/benchmark.md). */
export function formatReport(result, { markdown = false } = {}) {
  const table = markdown ? markdownTable : textTable;
  const sections = [markdown ? header(result).split('\n').map((line) => `- ${line}`).join('\n') : header(result)];
  const heading = (title) => (markdown ? `**${title}**` : `== ${title}`);
  if (result.reference) sections.push(`${heading('Ours and the reference worker: size and cold start')}\n\n${sizesAndStarts(result, table)}`);
  for (const model of result.settings.models) {
    const rows = result.rows.filter((row) => row.model === model);
    if (rows.length === 0) continue;
    const title = `API ${MODEL_TITLES[model] ?? model}, auth ${result.settings.auth}`;
    sections.push(`${heading(title)}\n\n${table(COLUMNS, rows)}`);
    if (result.reference) {
      const theirs = result.reference.rows.filter((row) => row.model === model);
      // docs/benchmark.md gets the side-by-side table only.
      if (!markdown && theirs.length > 0) {
        sections.push(`-- The reference worker ${MODEL_TITLES[model] ?? model}\n\n${table(REFERENCE_COLUMNS, theirs)}`);
      }
      const { title: compared, text } = sideBySide(result, model, table);
      sections.push(`${markdown ? `**${compared}**` : `-- ${compared}`}\n\n${text}`);
    }
    const floor = ioFloorTable(result, model, table);
    if (floor) sections.push(`${markdown ? `**${floor.title}**` : `-- ${floor.title}`}\n\n${floor.text}`);
    const path = model === 'pgbouncer' ? 'through PgBouncer' : 'direct';
    const kinds = [
      { pick: (row) => row.dbFloor, title: `Database floor ${path}, auth ${result.settings.auth}: pgbench -C, the same statements` },
    ];
    if (result.settings.auth !== 'trust') {
      kinds.push({ pick: (row) => row.trustFloor, title: `Database floor ${path}, trust (no key derivation): pgbench -C, the same statements` });
    }
    // docs/benchmark.md gets one compact table of every floor instead (below).
    for (const { pick, title: floorTitle } of markdown ? [] : kinds) {
      const floors = rows.filter((row) => pick(row));
      if (floors.length === 0) continue;
      sections.push(`-- ${floorTitle}\n\n${table(floorColumns(pick), floors)}`);
    }
  }
  const floors = markdown && floorSummary(result);
  if (floors) sections.push(`**Database floors, pgbench -C, transactions/s**\n\n${floors}`);
  return sections.join('\n\n');
}

/** Every floor's throughput side by side: one row per statement and concurrency; null without floors. */
function floorSummary(result) {
  const { auth } = result.settings;
  // The neon model has none: pgbench speaks PostgreSQL's protocol, not Neon's HTTP.
  const models = result.settings.models.filter((model) => result.rows.some((row) => row.model === model && row.dbFloor));
  if (models.length === 0) return null;
  const floors = models.flatMap((model) => [
    { model, pick: (row) => row.dbFloor, title: `${model} ${auth === 'trust' ? 'trust' : 'SCRAM'}` },
    ...(auth === 'trust' ? [] : [{ model, pick: (row) => row.trustFloor, title: `${model} trust` }]),
  ]);
  const keys = result.rows.filter((row) => row.model === models[0] && row.dbFloor);
  const columns = [
    { title: 'statement', value: (row) => row.scenario },
    { title: 'c', value: (row) => String(row.concurrency), right: true },
    ...floors.map(({ model, pick, title }) => ({
      title,
      right: true,
      value: (key) => {
        const row = result.rows.find((r) => r.model === model && r.scenario === key.scenario && r.concurrency === key.concurrency);
        return int(row && pick(row)?.tps);
      },
    })),
  ];
  return markdownTable(columns, keys);
}

/** Side-by-side comparison of two result files (before → after). */
export function formatComparison(before, after) {
  const key = (row) => `${row.model}/${row.scenario}/${row.concurrency}`;
  const previous = new Map(before.rows.map((row) => [key(row), row]));
  const change = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && a !== 0 ? ratio(b / a) : '–');
  const rows = after.rows.filter((row) => previous.has(key(row))).map((row) => ({ row, old: previous.get(key(row)) }));
  const columns = [
    { title: 'model', value: ({ row }) => row.model },
    { title: 'scenario', value: ({ row }) => row.scenario },
    { title: 'c', value: ({ row }) => String(row.concurrency), right: true },
    { title: 'req/s before', value: ({ old }) => int(old.api.rps), right: true },
    { title: 'req/s after', value: ({ row }) => int(row.api.rps), right: true },
    { title: 'change', value: ({ row, old }) => change(old.api.rps, row.api.rps), right: true },
    { title: 'worker ms/req before', value: ({ old }) => fixed(3)(old.api.workerCpuMsPerRequest), right: true },
    { title: 'worker ms/req after', value: ({ row }) => fixed(3)(row.api.workerCpuMsPerRequest), right: true },
    { title: 'change', value: ({ row, old }) => change(old.api.workerCpuMsPerRequest, row.api.workerCpuMsPerRequest), right: true },
    { title: 'p50 before', value: ({ old }) => ms(old.api.p50Ms), right: true },
    { title: 'p50 after', value: ({ row }) => ms(row.api.p50Ms), right: true },
    { title: 'API/db floor after', value: ({ row }) => ratio(row.ratios.dbFloor), right: true },
    { title: 'API/trust floor after', value: ({ row }) => ratio(row.ratios.trustFloor), right: true },
  ];
  const name = (result) => `${result.label || '(no label)'} at ${result.startedAt}`;
  const upload = (result) => result.upload?.ours?.gzipKib;
  return [
    `before: ${name(before)}`,
    `after:  ${name(after)}`,
    `wasm gzip: ${int(before.wasm?.gzipBytes)} → ${int(after.wasm?.gzipBytes)} bytes`,
    ...(upload(before) || upload(after) ? [`upload gzip (wrangler): ${fixed(1)(upload(before))} → ${fixed(1)(upload(after))} KiB`] : []),
    '',
    textTable(columns, rows),
  ].join('\n');
}
