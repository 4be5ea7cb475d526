// A benchmark run's main ratios as one SVG chart. For each connection model the run measured the
// reference worker on, one row per scenario with two horizontal bars: our worker's CPU per
// request and its p50 latency, each over the reference worker's for the same scenario, model and
// concurrency (the highest the run measured for that model), as the side-by-side tables compute
// them. A bar's length is proportional to its ratio, and a line marks 1, the reference's own
// figure: a bar that stops short of it is a figure below the reference's.
//
// The SVG stands alone: no script, no stylesheet, no external font (the generic sans-serif).

const MODEL_NAMES = {
  pgbouncer: 'through PgBouncer (the local stand-in for Hyperdrive’s pool)',
  direct: 'direct to PostgreSQL (a new server connection per request)',
  neon: 'over Neon’s HTTP SQL endpoint (the local stand-in)',
};

const METRICS = [
  { key: 'cpu', name: 'worker CPU per request', color: '#2f6da3', pick: (row) => row?.api?.workerCpuMsPerRequest },
  { key: 'p50', name: 'p50 latency', color: '#e0893a', pick: (row) => row?.api?.p50Ms },
];

// Geometry, in SVG user units (pixels at 100%).
const WIDTH = 760;
const PLOT_LEFT = 136;
const PLOT_WIDTH = 540;
const BAR_HEIGHT = 9;
const BAR_GAP = 2;
const ROW_HEIGHT = 2 * BAR_HEIGHT + BAR_GAP + 7;
const PANEL_HEAD = 24;
const NOTE_HEIGHT = 16;
const PANEL_GAP = 10;
const FONT = 'font-family="sans-serif"';

/** Our figure over the reference's, or null when either is missing or the reference's is 0. */
const over = (ours, theirs) => (Number.isFinite(ours) && Number.isFinite(theirs) && theirs !== 0 ? ours / theirs : null);

/** Text and attribute values made safe for XML. */
const escape = (text) =>
  String(text).replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]);

/** A coordinate or length, rounded to 0.01. */
const at = (value) => String(Math.round(value * 100) / 100);

/** A tick's label: 0, 0.25, 0.5, 1, 1.5. */
const tickLabel = (value) => String(Math.round(value * 100) / 100);

/**
 * What the chart draws: one panel per model of the run with reference rows, in the run's model
 * order, each { model, concurrency, rows: [{ scenario, bars: [{ metric, ours, theirs, ratio }] }],
 * unserved: [scenario] } (the scenarios the reference has no row for). Empty when the run has
 * no reference worker.
 */
export function ratioPanels(result) {
  const referenceRows = result.reference?.rows ?? [];
  const models = [...(result.settings?.models ?? []), ...result.rows.map((row) => row.model)].filter(
    (model, index, all) => all.indexOf(model) === index,
  );
  const panels = [];
  for (const model of models) {
    const theirs = referenceRows.filter((row) => row.model === model);
    if (theirs.length === 0) continue;
    const ours = result.rows.filter((row) => row.model === model);
    const concurrency = Math.max(...ours.map((row) => row.concurrency));
    const rows = [];
    const unserved = [];
    for (const row of ours.filter((row) => row.concurrency === concurrency)) {
      const reference = theirs.find((other) => other.scenario === row.scenario && other.concurrency === concurrency);
      if (!reference) {
        unserved.push(row.scenario);
        continue;
      }
      const bars = METRICS.map((metric) => {
        const [mine, its] = [metric.pick(row), metric.pick(reference)];
        return { metric: metric.key, ours: mine, theirs: its, ratio: over(mine, its) };
      });
      rows.push({ scenario: row.scenario, bars });
    }
    if (rows.length > 0) panels.push({ model, concurrency, rows, unserved });
  }
  return panels;
}

/** The axis's end and tick step for ratios up to `largest`: at least 1.25, with room for labels. */
function axis(largest) {
  const step = largest * 1.15 <= 2 ? 0.25 : largest * 1.15 <= 4 ? 0.5 : 1;
  const end = Math.max(1.25, Math.ceil((largest * 1.15) / step) * step);
  return { end, step };
}

/**
 * The chart of `result` (a results object as `npm run bench` writes it) as an SVG document.
 * Throws when the run has nothing to draw (no reference worker).
 */
export function ratioChartSvg(result) {
  const panels = ratioPanels(result);
  if (panels.length === 0) throw new Error('the run has no reference worker rows: there is no ratio ours/reference to draw');
  const ratios = panels.flatMap((panel) => panel.rows.flatMap((row) => row.bars.map((bar) => bar.ratio))).filter((ratio) => ratio !== null);
  const { end, step } = axis(Math.max(1, ...ratios));
  const scale = PLOT_WIDTH / end;
  const x = (ratio) => PLOT_LEFT + ratio * scale;

  const out = [];
  const subtitle = [result.label, result.startedAt?.slice(0, 10), result.settings?.auth && `auth ${result.settings.auth}`]
    .filter(Boolean)
    .join(' · ');
  out.push(`<text x="16" y="24" ${FONT} font-size="15" font-weight="bold" fill="#222">Our worker over the reference worker, per scenario (1 = the same)</text>`);
  if (subtitle) out.push(`<text x="16" y="42" ${FONT} font-size="11" fill="#555">${escape(subtitle)}</text>`);

  // Legend.
  let legendX = PLOT_LEFT;
  for (const metric of METRICS) {
    out.push(`<rect x="${legendX}" y="52" width="14" height="${BAR_HEIGHT}" fill="${metric.color}"/>`);
    const label = `${metric.name}, ours/reference`;
    out.push(`<text x="${legendX + 19}" y="60" ${FONT} font-size="11" fill="#222">${escape(label)}</text>`);
    legendX += 30 + label.length * 6;
  }
  out.push(`<line x1="${legendX}" y1="50" x2="${legendX}" y2="63" stroke="#b22222" stroke-width="1.5"/>`);
  out.push(`<text x="${legendX + 6}" y="60" ${FONT} font-size="11" fill="#222">1 = the reference</text>`);

  const plotTop = 74;
  let y = plotTop;
  const body = [];
  for (const panel of panels) {
    body.push(
      `<text x="28" y="${y + 16}" ${FONT} font-size="12" font-weight="bold" fill="#222">${escape(`${MODEL_NAMES[panel.model] ?? panel.model}, c=${panel.concurrency}`)}</text>`,
    );
    y += PANEL_HEAD;
    for (const row of panel.rows) {
      body.push(`<text x="${PLOT_LEFT - 8}" y="${at(y + BAR_HEIGHT + BAR_GAP / 2 + 4)}" ${FONT} font-size="11" text-anchor="end" fill="#222">${escape(row.scenario)}</text>`);
      row.bars.forEach((bar, index) => {
        const metric = METRICS.find((candidate) => candidate.key === bar.metric);
        const top = y + index * (BAR_HEIGHT + BAR_GAP);
        if (bar.ratio === null) {
          body.push(`<text x="${PLOT_LEFT + 4}" y="${at(top + BAR_HEIGHT - 1)}" ${FONT} font-size="9" fill="#777">–</text>`);
          return;
        }
        const tip = `${row.scenario}, ${panel.model}, c=${panel.concurrency}: ${metric.name} ${bar.ours} ms against ${bar.theirs} ms, ${bar.ratio.toFixed(2)}x`;
        body.push(
          `<rect class="bar" data-model="${escape(panel.model)}" data-scenario="${escape(row.scenario)}" data-metric="${bar.metric}" data-ratio="${bar.ratio}" ` +
            `x="${PLOT_LEFT}" y="${at(top)}" width="${at(bar.ratio * scale)}" height="${BAR_HEIGHT}" fill="${metric.color}"><title>${escape(tip)}</title></rect>`,
        );
        // A white outline keeps the figure legible where it crosses the line at 1.
        body.push(
          `<text x="${at(x(bar.ratio) + 4)}" y="${at(top + BAR_HEIGHT - 1)}" ${FONT} font-size="9" fill="#333" stroke="#ffffff" stroke-width="3" paint-order="stroke">${bar.ratio.toFixed(2)}x</text>`,
        );
      });
      y += ROW_HEIGHT;
    }
    if (panel.unserved.length > 0) {
      body.push(`<text x="${PLOT_LEFT + 6}" y="${y + 10}" ${FONT} font-size="10" fill="#666">${escape(`not served by the reference: ${panel.unserved.join(', ')}`)}</text>`);
      y += NOTE_HEIGHT;
    }
    y += PANEL_GAP;
  }
  const plotBottom = y;

  // Grid and the line at 1 go under the bars.
  const ticks = [];
  for (let tick = 0; tick <= end + 1e-9; tick += step) ticks.push(Math.round(tick * 100) / 100);
  for (const tick of ticks) {
    if (tick !== 0 && tick !== 1) out.push(`<line x1="${at(x(tick))}" y1="${plotTop}" x2="${at(x(tick))}" y2="${plotBottom}" stroke="#e4e4e4"/>`);
  }
  out.push(`<line class="reference" data-ratio="1" x1="${at(x(1))}" y1="${plotTop}" x2="${at(x(1))}" y2="${plotBottom}" stroke="#b22222" stroke-width="1.5"/>`);
  out.push(`<line x1="${PLOT_LEFT}" y1="${plotTop}" x2="${PLOT_LEFT}" y2="${plotBottom}" stroke="#444"/>`);
  out.push(...body);

  // The x axis: ticks, their labels, its title. The y axis: the scenarios, titled.
  out.push(`<line x1="${PLOT_LEFT}" y1="${plotBottom}" x2="${PLOT_LEFT + PLOT_WIDTH}" y2="${plotBottom}" stroke="#444"/>`);
  for (const tick of ticks) {
    out.push(`<line x1="${at(x(tick))}" y1="${plotBottom}" x2="${at(x(tick))}" y2="${plotBottom + 4}" stroke="#444"/>`);
    out.push(`<text x="${at(x(tick))}" y="${plotBottom + 16}" ${FONT} font-size="10" text-anchor="middle" fill="#222">${tickLabel(tick)}</text>`);
  }
  out.push(
    `<text x="${PLOT_LEFT + PLOT_WIDTH / 2}" y="${plotBottom + 34}" ${FONT} font-size="11" text-anchor="middle" fill="#222">ours / reference, same scenario, model and concurrency (below 1: less than the reference)</text>`,
  );
  const middle = (plotTop + plotBottom) / 2;
  out.push(`<text x="14" y="${at(middle)}" ${FONT} font-size="11" text-anchor="middle" fill="#222" transform="rotate(-90 14 ${at(middle)})">scenario</text>`);

  const height = plotBottom + 48;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${escape(`Our worker's CPU per request and p50 latency over the reference worker's, per scenario${subtitle ? ` (${subtitle})` : ''}`)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
