// The benchmark's chart of ratios ours/reference (scripts/lib/bench/chart.mjs), from a minimal
// results object: the SVG is well-formed, has one bar per scenario and metric the reference
// serves, and each bar's length is proportional to its ratio, with the line at 1 where a bar
// of ratio 1 would end.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ratioChartSvg, ratioPanels } from '../scripts/lib/bench/chart.mjs';

const row = (model, scenario, concurrency, cpu, p50) => ({ model, scenario, concurrency, api: { workerCpuMsPerRequest: cpu, p50Ms: p50 } });

/** Two models; c=1 rows that the chart leaves out (it draws each model's highest concurrency). */
const RESULT = {
  schema: 2,
  label: 'a <test> & its "label"',
  startedAt: '2026-12-01T10:00:00.000Z',
  settings: { auth: 'scram-sha-256', models: ['pgbouncer', 'neon'], concurrency: [1, 16] },
  rows: [
    row('pgbouncer', 'list', 1, 9, 9),
    row('pgbouncer', 'list', 16, 0.5, 10),
    row('pgbouncer', 'get', 16, 0.25, 5),
    row('pgbouncer', 'page-deep', 16, 0.9, 17),
    row('neon', 'list', 16, 0.6, 12),
  ],
  reference: {
    rows: [
      row('pgbouncer', 'list', 1, 1, 1),
      row('pgbouncer', 'list', 16, 1, 20),
      row('pgbouncer', 'get', 16, 1, 2.5),
      row('neon', 'list', 16, 0.4, 12),
    ],
  },
};

/** Throws unless `xml` is well-formed as far as tags go: every tag closed, in order, attributes quoted, text escaped. */
function assertWellFormed(xml) {
  const body = xml.replace(/^<\?xml [^?]*\?>\s*/, '');
  const stack = [];
  let roots = 0;
  let last = 0;
  for (const match of body.matchAll(/<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const text = body.slice(last, match.index);
    assert.doesNotMatch(text, /[<>]|&(?!(?:amp|lt|gt|quot|#\d+);)/, `unescaped text before ${match[0]}: ${JSON.stringify(text)}`);
    last = match.index + match[0].length;
    const [, closing, name, , selfClosing] = match;
    if (closing) {
      assert.equal(stack.pop(), name, `</${name}> closes the open tag`);
    } else {
      if (stack.length === 0) roots += 1;
      if (!selfClosing) stack.push(name);
    }
  }
  assert.equal(body.slice(last).trim(), '', 'nothing after the root element');
  assert.deepEqual(stack, [], 'every tag is closed');
  assert.equal(roots, 1, 'one root element');
  assert.match(body, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
}

const attributes = (tag) => Object.fromEntries([...tag.matchAll(/([\w:.-]+)="([^"]*)"/g)].map(([, name, value]) => [name, value]));
const bars = (svg) => [...svg.matchAll(/<rect class="bar"[^>]*>/g)].map(([tag]) => attributes(tag));

describe('the bench chart of ratios ours/reference', () => {
  const svg = ratioChartSvg(RESULT);

  test('is a well-formed, self-contained SVG', () => {
    assertWellFormed(svg);
    assert.doesNotMatch(svg, /<script|<style|@import|href=|url\(/i, 'no script, stylesheet or external resource');
    assert.match(svg, /a &lt;test&gt; &amp; its &quot;label&quot;/, 'the label is escaped');
  });

  test('draws one CPU bar and one p50 bar per scenario the reference serves, at the highest concurrency', () => {
    const drawn = bars(svg);
    for (const metric of ['cpu', 'p50']) {
      assert.deepEqual(
        drawn.filter((bar) => bar['data-metric'] === metric).map((bar) => `${bar['data-model']}/${bar['data-scenario']}`),
        ['pgbouncer/list', 'pgbouncer/get', 'neon/list'],
        metric,
      );
    }
    assert.match(svg, /not served by the reference: page-deep/);
    assert.deepEqual(ratioPanels(RESULT).map((panel) => [panel.model, panel.concurrency]), [['pgbouncer', 16], ['neon', 16]]);
  });

  test('makes each bar as long as its ratio, on one scale, with the line at 1 where ratio 1 ends', () => {
    const expected = { 'pgbouncer/list/cpu': 0.5, 'pgbouncer/list/p50': 0.5, 'pgbouncer/get/cpu': 0.25, 'pgbouncer/get/p50': 2, 'neon/list/cpu': 1.5, 'neon/list/p50': 1 };
    const drawn = bars(svg);
    assert.equal(drawn.length, Object.keys(expected).length);
    // One unit of ratio: from where the bars start to the line at 1 (coordinates are rounded to 0.01).
    const one = attributes(svg.match(/<line class="reference"[^>]*>/)[0]);
    assert.equal(one.x1, one.x2, 'the line at 1 is vertical');
    assert.equal(new Set(drawn.map((bar) => bar.x)).size, 1, 'every bar starts on the axis');
    const scale = Number(one.x1) - Number(drawn[0].x);
    assert.ok(scale > 100, `a unit is ${scale} wide`);
    for (const bar of drawn) {
      const key = `${bar['data-model']}/${bar['data-scenario']}/${bar['data-metric']}`;
      assert.ok(Math.abs(Number(bar['data-ratio']) - expected[key]) < 1e-9, `${key}: ratio ${bar['data-ratio']}`);
      assert.ok(Math.abs(Number(bar.width) - expected[key] * scale) <= 0.03, `${key}: width ${bar.width} for ratio ${expected[key]} at ${scale} a unit`);
    }
    const byKey = Object.fromEntries(drawn.map((bar) => [`${bar['data-model']}/${bar['data-scenario']}/${bar['data-metric']}`, bar]));
    assert.ok(Math.abs(Number(byKey['pgbouncer/get/p50'].width) - 8 * Number(byKey['pgbouncer/get/cpu'].width)) <= 0.05, 'ratio 2 is 8 times ratio 0.25');
    assert.ok(Math.abs(Number(byKey['neon/list/p50'].width) - scale) <= 0.02, 'a bar of ratio 1 ends on the line');
  });

  test('labels both axes', () => {
    assert.match(svg, />ours \/ reference[^<]*<\/text>/, 'the x axis');
    assert.match(svg, /transform="rotate\(-90[^"]*"[^>]*>scenario<\/text>/, 'the y axis');
    for (const tick of ['0', '0.5', '1', '1.5']) assert.match(svg, new RegExp(`>${tick.replace('.', '\\.')}</text>`), `tick ${tick}`);
  });

  test('refuses a run without the reference worker, which has no ratio to draw', () => {
    assert.deepEqual(ratioPanels({ ...RESULT, reference: null }), []);
    assert.throws(() => ratioChartSvg({ ...RESULT, reference: null }), /no reference worker/);
  });
});
