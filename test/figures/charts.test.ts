import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { barChart, lineChart, spectrumChart, svgToPng, writeFigure } from '../../src/figures/index.js';
import { InvalidArgumentError, NonFiniteError } from '../../src/errors.js';
import { allElements, allText, parseXml } from './xml.js';

const steps = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

function checkSvg(svg: string, width: number, height: number, texts: string[]): ReturnType<typeof parseXml> {
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  assert.equal(root.attrs.width, String(width));
  assert.equal(root.attrs.height, String(height));
  const all = allText(root);
  for (const t of texts) assert.ok(all.includes(t), `text "${t}" not found among ${JSON.stringify(all.slice(0, 60))}`);
  return root;
}

function decode(bytes: Uint8Array): PNG {
  return PNG.sync.read(Buffer.from(bytes));
}

/** Distinct non-grey colours of the drawn marks (lines, points, bars). */
function markColors(root: ReturnType<typeof parseXml>): Set<string> {
  const out = new Set<string>();
  for (const e of allElements(root)) {
    for (const k of ['stroke', 'fill']) {
      const c = e.attrs[k]?.toLowerCase();
      if (c && /^#[0-9a-f]{6}$/.test(c) && !/^#(\w\w)\1\1$/.test(c)) out.add(c);
    }
  }
  return out;
}

describe('lineChart', () => {
  test('valid SVG of the fixed default size with title, axis labels, legend and marker; a PNG of that size', async () => {
    const svg = await lineChart({
      title: 'Accuracy over training',
      x: { label: 'training step', log: true },
      y: { label: 'test accuracy', domain: [0, 1] },
      series: [
        { name: 'network', points: steps.map((s, i) => [s, 0.1 + 0.08 * i]) },
        { name: 'linear, N(0, I)', points: steps.map((s, i) => [s, 0.1 + 0.05 * i]), dashed: true },
      ],
      marker: { x: 256, label: 'best linear' },
      referenceLines: [{ y: 0.5, label: 'chance × 5' }],
    });
    const root = checkSvg(svg, 640, 400, ['Accuracy over training', 'training step', 'test accuracy', 'network', 'linear, N(0, I)', 'best linear', 'chance × 5']);
    const colors = markColors(root);
    assert.ok(colors.has('#0072b2') && colors.has('#e69f00'), `series colours: ${[...colors].join(' ')}`);
    assert.ok(allElements(root).some((e) => e.attrs['stroke-dasharray'] === '6,4'), 'the dashed series is dashed');
    const png = decode(svgToPng(svg));
    assert.deepEqual([png.width, png.height], [640, 400]);
    const wide = decode(svgToPng(svg, { width: 1280 }));
    assert.deepEqual([wide.width, wide.height], [1280, 800]);
    const half = decode(svgToPng(svg, { scale: 0.5 }));
    assert.deepEqual([half.width, half.height], [320, 200]);
  });

  test('custom size; log axes leave out non-positive points and keep the rest', async () => {
    const svg = await lineChart({
      title: 'KL', width: 500, height: 300, x: { label: 'step', log: true }, y: { label: 'KL (nats)', log: true },
      series: [{ name: 'quadratic', points: [[1, 0.5], [2, 0], [4, 0.1], [0, 3]] }],
    });
    const root = checkSvg(svg, 500, 300, ['KL', 'step', 'KL (nats)', 'quadratic']);
    // Two drawable points remain: one line path and two point symbols.
    const points = allElements(root).filter((e) => (e.attrs['aria-roledescription'] ?? '') === 'point');
    assert.equal(points.length, 2);
  });

  test('rejects bad input with typed errors', async () => {
    const base = { title: 't', x: { label: 'x' }, y: { label: 'y' } };
    await assert.rejects(lineChart({ ...base, series: [] }), InvalidArgumentError);
    await assert.rejects(lineChart({ ...base, series: [{ name: 'a', points: [[1, NaN]] }] }), NonFiniteError);
    await assert.rejects(lineChart({ ...base, series: [{ name: 'a', points: [] }, { name: 'a', points: [] }] }), InvalidArgumentError);
    await assert.rejects(lineChart({ ...base, title: ' ', series: [{ name: 'a', points: [] }] }), InvalidArgumentError);
    await assert.rejects(lineChart({ ...base, width: 10, series: [{ name: 'a', points: [] }] }), InvalidArgumentError);
    await assert.rejects(lineChart({ ...base, y: { label: 'y', log: true, domain: [0, 1] }, series: [{ name: 'a', points: [] }] }), InvalidArgumentError);
  });
});

describe('barChart and spectrumChart', () => {
  test('grouped bars: one rect per category and group, labelled', async () => {
    const cats = ['0', '1', '2', '3'];
    const svg = await barChart({
      title: 'Logit decomposition', x: { label: 'class' }, y: { label: 'logit' }, categories: cats,
      groups: [{ name: 'constant', values: [1, 2, -1, 0.5] }, { name: 'linear', values: [0.3, -2, 1, 2] }, { name: 'network', values: [1, 1, 1, 1] }],
    });
    const root = checkSvg(svg, 640, 400, ['Logit decomposition', 'class', 'logit', 'constant', 'linear', 'network', ...cats]);
    const bars = allElements(root).filter((e) => e.attrs['aria-roledescription'] === 'bar');
    assert.equal(bars.length, 12);
    await assert.rejects(barChart({ title: 't', x: { label: 'x' }, y: { label: 'y' }, categories: ['a'], groups: [{ name: 'g', values: [1, 2] }] }), InvalidArgumentError);
    await assert.rejects(barChart({ title: 't', x: { label: 'x' }, y: { label: 'y' }, categories: ['a'], groups: [{ name: 'g', values: [Infinity] }] }), NonFiniteError);
  });

  test('spectrum: eigenvalues by rank, largest first', async () => {
    const svg = await spectrumChart({ title: 'Spectrum of Γ_3', series: [{ name: 'step 64', values: [0.2, -1, 3, 0.5] }], width: 400, height: 300 });
    const root = checkSvg(svg, 400, 300, ['Spectrum of Γ_3', 'rank', 'eigenvalue', 'step 64']);
    // vega describes each point in its ARIA label as "rank: r; eigenvalue: v; …"; check the sort order.
    const labels = new Set(allElements(root).map((e) => e.attrs['aria-label'] ?? '').filter((l) => l.startsWith('rank: ')));
    const pairs = [...labels].map((l) => /^rank: (\d+); eigenvalue: (−?[\d.]+);/.exec(l)!).map((m) => [Number(m[1]), Number(m[2]!.replace('−', '-'))]);
    assert.deepEqual(pairs.sort((a, b) => a[0]! - b[0]!), [[1, 3], [2, 0.5], [3, 0.2], [4, -1]]);
    const logSvg = await spectrumChart({ title: 'Spectrum', series: [{ name: 's', values: [0.2, -1, 3, 0] }], logMagnitude: true, maxRank: 2 });
    checkSvg(logSvg, 640, 400, ['|eigenvalue|']);
    await assert.rejects(spectrumChart({ title: 's', series: [{ name: 's', values: [1] }], maxRank: 0 }), InvalidArgumentError);
  });
});

describe('writeFigure', () => {
  test('writes the SVG and a decodable PNG next to each other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyapprox-fig-'));
    try {
      const svg = await lineChart({ title: 'T', x: { label: 'x' }, y: { label: 'y' }, series: [{ name: 's', points: [[0, 1], [1, 2]] }] });
      const files = writeFigure(join(dir, 'sub', 'chart'), svg);
      assert.equal(files.svg, join(dir, 'sub', 'chart.svg'));
      assert.equal(readFileSync(files.svg, 'utf8'), svg);
      const png = decode(readFileSync(files.png));
      assert.deepEqual([png.width, png.height], [640, 400]);
      // Text is rendered (fonts found): the title region is not blank.
      let dark = 0;
      for (let y = 5; y < 30; y++) for (let x = 250; x < 390; x++) if (png.data[(y * 640 + x) * 4]! < 128) dark++;
      assert.ok(dark > 10, `title pixels: ${dark}`);
      assert.ok(!existsSync(join(dir, 'sub', 'chart')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('invalid SVG is refused', () => {
    assert.throws(() => svgToPng('<svg'), InvalidArgumentError);
    assert.throws(() => svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', { width: 0 }), InvalidArgumentError);
  });
});
