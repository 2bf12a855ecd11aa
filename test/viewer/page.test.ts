/**
 * The page's pure helpers (src/viewer/page/format.ts, charts.ts), checked against the library's own
 * implementations where one exists (the PuOr map of src/figures, the projection of the SVD attack) and against
 * hand-computed geometry.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Matrix } from '../../src/linalg/matrix.js';
import { PUOR_ANCHORS, divergingColor } from '../../src/figures/colormap.js';
import { projectOut as projectOutMatrix, singularDirections } from '../../src/analysis/svdAttack.js';
import { Rng } from '../../src/numerics/random.js';
import {
  MINUS, argmax, divergingRgb, formatNumber, formatPercent, hexToRgb, imagePixels, parseDisplayedNumber, projectOut, symmetricScale,
} from '../../src/viewer/page/format.js';
import {
  CHART_MARGIN, escapeXml, formatTick, groupedBarsSvg, lineChartScales, lineChartSvg, logTicks, niceTicks, spectrumSvg, type LineChartOptions,
} from '../../src/viewer/page/charts.js';

const anchors = PUOR_ANCHORS.map(hexToRgb);

describe('formatting', () => {
  test('formatNumber: 4 significant digits, a real minus sign, scientific outside [1e-3, 1e5)', () => {
    assert.equal(formatNumber(0.10468161624172141), '0.1047');
    assert.equal(formatNumber(-0.4200293256523878), `${MINUS}0.4200`);
    assert.equal(formatNumber(13.2701), '13.27');
    assert.equal(formatNumber(1.549e-5), '1.549e-5');
    assert.equal(formatNumber(-123456), `${MINUS}1.235e+5`);
    assert.equal(formatNumber(0), '0');
    assert.equal(formatNumber(NaN), 'n/a');
    assert.equal(formatPercent(0.9806), '98.06\u00a0%');
  });

  test('parseDisplayedNumber inverts formatNumber to 4 significant digits', () => {
    fc.assert(fc.property(fc.double({ min: -1e8, max: 1e8, noNaN: true }).filter((x) => Math.abs(x) > 1e-12), (x) => {
      const back = parseDisplayedNumber(`λ₁ = ${formatNumber(x)}`);
      return Math.abs(back - x) <= 5e-4 * Math.abs(x);
    }));
    assert.equal(parseDisplayedNumber(formatPercent(0.4144)), 0.4144);
  });
});

describe('colour map', () => {
  test('divergingRgb equals the figures module\'s PuOr colour for any value and scale', () => {
    fc.assert(fc.property(fc.double({ min: -5, max: 5, noNaN: true }), fc.double({ min: 1e-3, max: 4, noNaN: true }), (v, s) => {
      assert.deepEqual(divergingRgb(v, s, anchors), [...divergingColor(v, s)]);
    }));
    assert.deepEqual(divergingRgb(0, 1, anchors), hexToRgb('#f7f7f7'));
    assert.deepEqual(divergingRgb(-1, 1, anchors), hexToRgb('#7f3b08'));
    assert.deepEqual(divergingRgb(1, 1, anchors), hexToRgb('#2d004b'));
  });

  test('imagePixels writes opaque RGBA per value; symmetricScale is the largest |value|', () => {
    const px = imagePixels([-2, 0, 2], 2, anchors);
    assert.deepEqual(Array.from(px), [0x7f, 0x3b, 0x08, 255, 0xf7, 0xf7, 0xf7, 255, 0x2d, 0x00, 0x4b, 255]);
    assert.equal(symmetricScale([[1, -3], new Float32Array([2.5])]), 3);
    assert.equal(symmetricScale([[0, 0]]), 1);
  });
});

describe('attack projection in the page', () => {
  test('projectOut equals the analysis module\'s P_k X for the singular directions of a random β', () => {
    const rng = new Rng(3);
    const d = 30;
    const beta = new Matrix(d, 4, rng.fillNormal(new Float64Array(d * 4)));
    const dirs = singularDirections(beta).directions;
    const X = new Matrix(3, d, rng.fillNormal(new Float64Array(3 * d)));
    const flat = Float32Array.from(dirs.data);
    for (let k = 0; k <= 4; k++) {
      const want = projectOutMatrix(X, dirs, k);
      for (let r = 0; r < 3; r++) {
        const got = projectOut(X.data.subarray(r * d, (r + 1) * d), flat, d, k);
        for (let j = 0; j < d; j++) assert.ok(Math.abs(got[j]! - want.data[r * d + j]!) < 1e-5, `k=${k} row ${r} entry ${j}`);
      }
    }
    assert.equal(argmax([1, 5, 5, 2]), 1);
  });
});

describe('chart geometry', () => {
  test('niceTicks: ascending round steps inside the range', () => {
    // Ranges at least 1e-6 of their magnitude wide: tick values are rounded to 12 significant digits.
    fc.assert(fc.property(fc.double({ min: -1e4, max: 1e4, noNaN: true }), fc.double({ min: 1e-6, max: 1e4, noNaN: true }), (lo, rel) => {
      const span = rel * Math.max(1, Math.abs(lo));
      const hi = lo + span;
      const t = niceTicks(lo, hi, 5);
      const step = t[1]! - t[0]!;
      for (let i = 0; i < t.length; i++) {
        if (t[i]! < lo - 1e-9 * Math.abs(step) || t[i]! > hi + 1e-9 * Math.abs(step)) return false;
        if (i > 0 && Math.abs(t[i]! - t[i - 1]! - step) > 1e-6 * step) return false;
      }
      const mant = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
      return [1, 2, 5, 10].some((m) => Math.abs(mant - m) < 1e-6) && t.length >= 2 && t.length <= 12;
    }));
    assert.deepEqual(niceTicks(0, 1, 4), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(logTicks(1, 9370), [1, 10, 100, 1000]);
    assert.equal(formatTick(1e-4), '1e-4');
    assert.equal(formatTick(-0.5), `${MINUS}0.5`);
  });

  const base: LineChartOptions = {
    id: 't', title: 'A < B & "C"', width: 400, height: 200, xLabel: 'step', yLabel: 'acc', logX: true, logY: false, yDomain: [0, 1],
    series: [{ name: 'net', points: [[1, 0.1], [10, 0.5], [1000, 0.9]], color: '#000000', dashed: false }, { name: 'lin', points: [[1, 0.2], [1000, 0.0]], color: '#E69F00', dashed: true }],
    marker: { x: 10, label: 'step 10' },
  };

  test('lineChartSvg: log-x marker position, one dot per point, escaped text', () => {
    const svg = lineChartSvg(base);
    const { x } = lineChartScales(base);
    const left = CHART_MARGIN.left;
    const right = base.width - CHART_MARGIN.right;
    // log10(10) is a third of the way from log10(1) to log10(1000).
    assert.ok(Math.abs(x(10) - (left + (right - left) / 3)) < 1e-9);
    const m = /<line x1="([\d.]+)" x2="([\d.]+)" [^>]*class="marker" data-x="10"/.exec(svg);
    assert.ok(m, 'marker line drawn');
    assert.equal(Number(m![1]), Number(x(10).toFixed(1)));
    assert.equal((svg.match(/<circle [^>]*r="2" /g) ?? []).length, 5);
    assert.equal((svg.match(/class="marker-dot"/g) ?? []).length, 1, 'only the series with a point at the marker gets a dot');
    assert.ok(svg.includes('A &lt; B &amp; &quot;C&quot;'));
    assert.ok(!svg.includes('style='), 'no inline styles (the page CSP forbids them)');
    assert.ok(svg.includes('stroke-dasharray="5 3"'));
  });

  test('lineChartSvg on a log y axis drops non-positive values and breaks the line', () => {
    const svg = lineChartSvg({ ...base, logY: true, yDomain: undefined, series: [{ name: 'kl', points: [[1, 0.1], [10, 0], [100, 0.01], [1000, 0.02]], color: '#000', dashed: false }], marker: null });
    assert.equal((svg.match(/<circle /g) ?? []).length, 3);
    const d = /<path d="([^"]+)"/.exec(svg)![1]!;
    assert.equal((d.match(/M/g) ?? []).length, 2, 'a gap where the value is 0');
  });

  test('spectrumSvg: one stem per eigenvalue, emphasised ends', () => {
    const values = [0.5, 0.2, 0.01, -0.03, -0.4];
    const svg = spectrumSvg({ id: 's', title: 'spec', width: 300, height: 160, values, top: 1, positiveColor: '#542788', negativeColor: '#b35806' });
    assert.equal((svg.match(/<line x1="[\d.]+" x2="[\d.]+" y1="[\d.]+" y2="[\d.]+" stroke="#/g) ?? []).length, 5);
    assert.equal((svg.match(/class="top-eig"/g) ?? []).length, 2);
    assert.ok(svg.includes(`λ = ${MINUS}0.4000`));
  });

  test('groupedBarsSvg: a bar per group and category, heights proportional to |value|', () => {
    const svg = groupedBarsSvg({
      id: 'b', title: 'logits', width: 300, height: 200, categories: ['0', '1'], highlight: 1, yLabel: 'logit',
      groups: [{ name: 'a', values: [1, -2], color: '#111111' }, { name: 'b', values: [0.5, 2], color: '#222222' }],
    });
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="(#\d+)"/g)].map((m) => Number(m[2]));
    assert.equal(bars.length, 4);
    // Values 1, 0.5, −2, 2 in drawing order (category-major): heights in the same ratios.
    assert.ok(Math.abs(bars[0]! / bars[1]! - 2) < 0.02);
    assert.ok(Math.abs(bars[2]! / bars[3]! - 1) < 0.02);
    assert.ok(Math.abs(bars[3]! / bars[0]! - 2) < 0.02);
    assert.ok(svg.includes('class="highlight"'));
    assert.ok(svg.includes('class 1, a: −2'.replace('−', MINUS)));
  });

  test('escapeXml escapes the five XML specials', () => {
    assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
