/**
 * Logit decomposition: the parts sum to predict(), each part against its definition written out densely, the bar
 * chart, and the `logits` command.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCliSync } from '../cliHarness.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { Matrix } from '../../src/linalg/matrix.js';
import { Rng } from '../../src/numerics/random.js';
import { createGLU, createMLP, forward, type Network } from '../../src/approx/network.js';
import { Gaussian } from '../../src/approx/inputModel.js';
import { fitLinear, fitQuadratic } from '../../src/approx/fit/index.js';
import type { PolynomialApproximant } from '../../src/approx/result.js';
import { saveApproximant } from '../../src/formats/approximantFile.js';
import { writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { writeFigure } from '../../src/figures/render.js';
import { decomposeLogits, logitDecompositionChart, logitDecompositionToJson } from '../../src/analysis/logits.js';
import { NonFiniteError, ShapeError } from '../../src/errors.js';
import { parseXml } from '../figures/xml.js';
import { randMatrix } from '../random.js';

const rng = new Rng(12);
const d = 9;
const mlp: Network = createMLP({ W1: randMatrix(rng, 7, d, 0.4), b1: Float64Array.from({ length: 7 }, () => rng.normal()), W2: randMatrix(rng, 4, 7), b2: Float64Array.from([1, -1, 0.5, 2]), activation: 'gelu' });
const glu: Network = createGLU({ W_gate: randMatrix(rng, 5, d, 0.4), W_up: randMatrix(rng, 5, d, 0.4), W_out: randMatrix(rng, 4, 5), activation: 'sigmoid' });
const input = new Gaussian(Float64Array.from({ length: d }, () => 0.3 * rng.normal()), null);
const approximants: [string, PolynomialApproximant][] = [
  ['MLP, factored Γ', fitQuadratic(mlp, input)],
  ['GLU, factored Γ', fitQuadratic(glu, Gaussian.standard(d))],
];

describe('decomposeLogits', () => {
  for (const [name, approx] of approximants) {
    test(`${name}: constant + linear + quadratic = predict(x); each part by its definition`, () => {
      const G = Array.from({ length: 4 }, (_, c) => approx.gammaMatrix(c));
      fc.assert(fc.property(fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: d, maxLength: d }), (xs) => {
        const x = Float64Array.from(xs);
        const dec = decomposeLogits(approx, x);
        const y = approx.predict(new Matrix(1, d, x)).data;
        for (let c = 0; c < 4; c++) {
          let lin = 0;
          let quad = 0;
          for (let i = 0; i < d; i++) {
            lin += x[i]! * approx.beta.data[i * 4 + c]!;
            for (let j = 0; j < d; j++) quad += x[i]! * G[c]!.data[i * d + j]! * x[j]!;
          }
          const scale = 1 + Math.abs(y[c]!) + Math.abs(lin) + Math.abs(quad);
          assert.equal(dec.constant[c], approx.alpha[c]);
          assert.ok(Math.abs(dec.linear[c]! - lin) <= 1e-12 * scale);
          assert.ok(Math.abs(dec.quadratic[c]! - quad) <= 1e-12 * scale);
          assert.ok(Math.abs(dec.approximant[c]! - y[c]!) <= 1e-12 * scale);
          assert.ok(Math.abs(dec.constant[c]! + dec.linear[c]! + dec.quadratic[c]! - dec.approximant[c]!) <= 1e-14 * scale);
        }
        assert.equal(dec.network, null);
      }), { numRuns: 50 });
    });
  }

  test('a linear approximant has a zero quadratic part; the network logits are carried along', () => {
    const lin = fitLinear(mlp, input);
    const x = Float64Array.from({ length: d }, (_, i) => i / d);
    const net = forward(mlp, new Matrix(1, d, x)).data;
    const dec = decomposeLogits(lin, x, net);
    assert.deepEqual(Array.from(dec.quadratic), [0, 0, 0, 0]);
    assert.deepEqual(Array.from(dec.network!), Array.from(net));
    const json = logitDecompositionToJson(dec);
    assert.deepEqual(json['network'], Array.from(net));
  });

  test('errors name the argument', () => {
    const approx = approximants[0]![1];
    assert.throws(() => decomposeLogits(approx, new Float64Array(d + 1)), /x has 10 entries/);
    assert.throws(() => decomposeLogits(approx, new Float64Array(d), [1, 2]), /networkLogits/);
    assert.throws(() => decomposeLogits(approx, new Float64Array(d).fill(NaN)), NonFiniteError);
    assert.throws(() => decomposeLogits(approx, new Float64Array(d), [1, 2, NaN, 0]), NonFiniteError);
    assert.throws(() => decomposeLogits(approx, new Float64Array(3)), ShapeError);
  });

  test('the bar chart is valid SVG of 640×400 and renders to a PNG of that size', async () => {
    const approx = approximants[0]![1];
    const x = Float64Array.from({ length: d }, (_, i) => Math.sin(i));
    const svg = await logitDecompositionChart(decomposeLogits(approx, x, forward(mlp, new Matrix(1, d, x)).data));
    const root = parseXml(svg);
    assert.deepEqual([root.name, Number(root.attrs['width']), Number(root.attrs['height'])], ['svg', 640, 400]);
    assert.match(svg, /network/);
    const png = PNG.sync.read(readFileSync(writeFigure(join(mkdtempSync(join(tmpdir(), 'polyapprox-logits-fig-')), 'bars'), svg).png));
    assert.deepEqual([png.width, png.height], [640, 400]);
  });
});

// ---------------------------------------------------------------------------------------------------
// The `logits` command, in one child process.

const runLogits = runCliSync;

describe('polyapprox logits', () => {
  test('784-d model: JSON equal to the in-process decomposition, chart and input image; d = 9 in plain numbers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyapprox-logits-'));
    const r = new Rng(3);
    const W1 = randMatrix(r, 6, 784, 0.1);
    const W2 = randMatrix(r, 10, 6);
    const net = createMLP({ W1, W2, activation: 'relu' });
    const t = (m: Matrix) => ({ dtype: 'F64' as const, shape: [m.rows, m.cols], data: m.data });
    const model = join(dir, 'model.safetensors');
    writeSafetensorsFile(model, { W1: t(W1), W2: t(W2) }, { architecture: 'mlp', activation: 'relu' });
    const n = 5;
    const x = Float64Array.from({ length: n * 784 }, () => r.uniform());
    const data = join(dir, 'data.safetensors');
    writeSafetensorsFile(data, { x: { dtype: 'F64', shape: [n, 784], data: x }, y: { dtype: 'F64', shape: [n], data: Float64Array.from([3, 1, 4, 1, 5]) } });
    const approx = fitQuadratic(net, Gaussian.standard(784));
    const approxFile = join(dir, 'quad.safetensors');
    saveApproximant(approxFile, approx, { gamma: 'factored' });
    // The d = 9 GELU MLP of this file, its quadratic approximant, and data.
    const smallModel = join(dir, 'small.safetensors');
    writeSafetensorsFile(smallModel, {
      W1: t(mlp.W1), b1: { dtype: 'F64', shape: [7], data: mlp.b1 }, W2: t(mlp.W2), b2: { dtype: 'F64', shape: [4], data: mlp.b2 },
    }, { architecture: 'mlp', activation: 'gelu' });
    const smallData = join(dir, 'small_data.safetensors');
    writeSafetensorsFile(smallData, { x: { dtype: 'F64', shape: [2, d], data: Float64Array.from({ length: 2 * d }, (_, i) => i / 10) }, y: { dtype: 'F64', shape: [2], data: Float64Array.from([0, 3]) } });
    const out = join(dir, 'out');
    const [big, small, bad] = runLogits([
      ['logits', '--model', model, '--approx', approxFile, '--data', data, '--index', '2', '--out', out, '--json'],
      ['logits', '--model', smallModel, '--data', smallData, '--index', '1'],
      ['logits', '--model', model, '--approx', approxFile, '--data', data, '--index', '5'],
    ]);
    assert.equal(big!.code, 0, big!.stderr);
    const json = JSON.parse(big!.stdout) as { label: number; constant: number[]; linear: number[]; quadratic: number[]; network: number[]; files: string[] };
    assert.equal(json.label, 4);
    // Datasets hold samples in float32 (Dataset.x is a Matrix32).
    const x2 = x.slice(2 * 784, 3 * 784).map(Math.fround);
    const ref = decomposeLogits(approx, x2, forward(net, new Matrix(1, 784, x2)).data);
    for (const part of ['constant', 'linear', 'quadratic', 'network'] as const) {
      json[part].forEach((v, c) => assert.ok(Math.abs(v - ref[part]![c]!) <= 1e-12 * (1 + Math.abs(v)), `${part}[${c}]`));
    }
    for (const name of ['logits', 'input']) {
      const png = PNG.sync.read(readFileSync(join(out, `${name}.png`)));
      const root = parseXml(readFileSync(join(out, `${name}.svg`), 'utf8'));
      assert.deepEqual([png.width, png.height], [Number(root.attrs['width']), Number(root.attrs['height'])]);
    }
    assert.equal(small!.code, 0, small!.stderr);
    assert.match(small!.stdout, /label 3/);
    assert.equal(small!.stdout.split('\n').filter((l) => /^\s+\d\s+-?\d/.test(l)).length, 4, 'one row per class');
    assert.equal(bad!.code, 2);
    assert.match(bad!.stderr, /--index/);
  });
});
