// Presenting benchmark results: the stdout tables, the README's markdown tables, and the
// side-by-side comparison of two result files.

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
  return [
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}`,
    `Versions: workerd ${versions.workerd}, PostgreSQL ${versions.postgres}, PgBouncer ${versions.pgbouncer}, ${versions.wrk}, pgbench ${versions.pgbench}`,
    `Run: ${result.label ? `"${result.label}", ` : ''}${settings.quick ? 'quick smoke run, ' : ''}auth ${settings.auth}, ` +
      `${settings.durationS} s per measurement, ${settings.warmupS} s warm-up, ` +
      `${settings.floorTransactions ? `${settings.floorTransactions} transactions per floor client` : `${settings.floorDurationS} s per floor`}, ` +
      `${settings.readUsers} users x ${settings.tasksPerUser} tasks`,
    `Wasm: ${int(wasm.bytes)} bytes, ${int(wasm.gzipBytes)} gzip -9 (${(wasm.gzipBytes / 1024).toFixed(1)} KiB)`,
    `Cold start (spawn → first 200 from /health, median of ${result.coldStart[0]?.samplesMs.length ?? 0}): ` +
      result.coldStart.map((entry) => `${entry.model} ${ms(entry.medianMs)} ms`).join(', '),
  ].join('\n');
}

const MODEL_TITLES = {
  pgbouncer: 'through PgBouncer (transaction mode; the stand-in for Hyperdrive’s pool)',
  direct: 'direct to PostgreSQL (a new server connection per request, as `wrangler dev`)',
};

/** The human-readable report for stdout (or, with `markdown`, for the README). */
export function formatReport(result, { markdown = false } = {}) {
  const table = markdown ? markdownTable : textTable;
  const sections = [markdown ? header(result).split('\n').map((line) => `- ${line}`).join('\n') : header(result)];
  for (const model of result.settings.models) {
    const rows = result.rows.filter((row) => row.model === model);
    if (rows.length === 0) continue;
    const title = `API ${MODEL_TITLES[model] ?? model}, auth ${result.settings.auth}`;
    sections.push(`${markdown ? `**${title}**` : `== ${title}`}\n\n${table(COLUMNS, rows)}`);
    const path = model === 'pgbouncer' ? 'through PgBouncer' : 'direct';
    const kinds = [
      { pick: (row) => row.dbFloor, title: `Database floor ${path}, auth ${result.settings.auth}: pgbench -C, the same statements` },
    ];
    if (result.settings.auth !== 'trust') {
      kinds.push({ pick: (row) => row.trustFloor, title: `Database floor ${path}, trust (no key derivation): pgbench -C, the same statements` });
    }
    // The README gets one compact table of every floor instead (below).
    for (const { pick, title: floorTitle } of markdown ? [] : kinds) {
      const floors = rows.filter((row) => pick(row));
      if (floors.length === 0) continue;
      sections.push(`-- ${floorTitle}\n\n${table(floorColumns(pick), floors)}`);
    }
  }
  if (markdown) sections.push(`**Database floors, pgbench -C, transactions/s**\n\n${floorSummary(result)}`);
  return sections.join('\n\n');
}

/** Every floor's throughput side by side: one row per statement and concurrency. */
function floorSummary(result) {
  const { models, auth } = result.settings;
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
  return [
    `before: ${name(before)}`,
    `after:  ${name(after)}`,
    `wasm gzip: ${int(before.wasm.gzipBytes)} → ${int(after.wasm.gzipBytes)} bytes`,
    '',
    textTable(columns, rows),
  ].join('\n');
}
