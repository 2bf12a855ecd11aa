/**
 * The SVD attack: projector identities, βᵀP_k = 0 on the removed directions, the attack loop against a direct
 * computation, figure files, and the `attack` command.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCliSync } from '../cliHarness.js';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { Matrix } from '../../src/linalg/matrix.js';
import { matmul } from '../../src/linalg/ops.js';
import { Rng } from '../../src/numerics/random.js';
import { createMLP, forward, type Network } from '../../src/approx/network.js';
import { Gaussian } from '../../src/approx/inputModel.js';
import { fitLinear, fitQuadratic } from '../../src/approx/fit/index.js';
import { writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { heatmapGridGeometry } from '../../src/figures/heatmap.js';
import { writeFigure } from '../../src/figures/render.js';
import { accuracy, argmaxRows, fvu, klDivergence } from '../../src/analysis/metrics.js';
import {
  attackAccuracyChart, attackAgreementChart, attackedImageGrid, attackedImages, projectOut, removalProjector,
  singularDirections, singularVectorGrid, svdAttack,
} from '../../src/analysis/svdAttack.js';
import { InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { parseXml } from '../figures/xml.js';
import { randMatrix } from '../random.js';

function randomMlp(d: number, h: number, o: number, seed: number): Network {
  const rng = new Rng(seed);
  return createMLP({
    W1: randMatrix(rng, h, d, 1 / Math.sqrt(d)), b1: Float64Array.from({ length: h }, () => 0.2 * rng.normal()),
    W2: randMatrix(rng, o, h), b2: Float64Array.from({ length: o }, () => rng.normal()), activation: 'relu',
  });
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function diff(a: Matrix, b: Matrix): number {
  assert.deepEqual([a.rows, a.cols], [b.rows, b.cols]);
  return maxAbs(a.data.map((x, i) => x - b.data[i]!));
}

const shapeArb = fc.record({ d: fc.integer({ min: 3, max: 14 }), o: fc.integer({ min: 1, max: 6 }), seed: fc.integer() });

describe('singular directions and removal projectors', () => {
  test('β = U S Vᵀ with orthonormal directions and descending singular values', () => {
    fc.assert(fc.property(shapeArb, ({ d, o, seed }) => {
      const beta = randMatrix(new Rng(seed), d, o);
      const s = singularDirections(beta);
      const p = Math.min(d, o);
      assert.equal(s.rank, p);
      for (let i = 1; i < p; i++) assert.ok(s.values[i]! <= s.values[i - 1]!);
      const UUt = matmul(s.directions, s.directions, { transB: true });
      assert.ok(diff(UUt, Matrix.identity(p)) <= 1e-12);
      // Σ_i s_i u_i v_iᵀ
      const scaled = s.directions.transpose();
      for (let r = 0; r < d; r++) for (let i = 0; i < p; i++) scaled.data[r * p + i]! *= s.values[i]!;
      assert.ok(diff(matmul(scaled, s.outputDirections), beta) <= 1e-12 * maxAbs(beta.data));
    }), { numRuns: 40 });
  });

  test('P_k is a symmetric idempotent projector, and projectOut(X) = X P_k', () => {
    fc.assert(fc.property(shapeArb, fc.nat(), ({ d, o, seed }, kSeed) => {
      const rng = new Rng(seed);
      const s = singularDirections(randMatrix(rng, d, o));
      const k = kSeed % (s.rank + 1);
      const P = removalProjector(s.directions, k);
      assert.ok(diff(P, P.transpose()) <= 1e-15);
      assert.ok(diff(matmul(P, P), P) <= 1e-12);
      // trace P_k = d − k (rank of a projector).
      let tr = 0;
      for (let i = 0; i < d; i++) tr += P.data[i * d + i]!;
      assert.ok(Math.abs(tr - (d - k)) <= 1e-12);
      const X = randMatrix(rng, 5, d);
      assert.ok(diff(projectOut(X, s.directions, k), matmul(X, P)) <= 1e-12);
    }), { numRuns: 40 });
  });

  test('βᵀ P_k has zero components on the removed directions and keeps the others; βᵀ P_rank = 0', () => {
    fc.assert(fc.property(shapeArb, fc.nat(), ({ d, o, seed }, kSeed) => {
      const beta = randMatrix(new Rng(seed), d, o);
      const s = singularDirections(beta);
      const k = kSeed % (s.rank + 1);
      const BtP = matmul(beta, removalProjector(s.directions, k), { transA: true });
      const tol = 1e-12 * maxAbs(beta.data);
      for (let i = 0; i < s.rank; i++) {
        const ui = new Matrix(d, 1, s.directions.row(i));
        const comp = matmul(BtP, ui);
        const original = matmul(beta, ui, { transA: true });
        // Removed: zero. Kept: unchanged (βᵀ u_i = s_i v_i).
        assert.ok(diff(comp, i < k ? new Matrix(o, 1) : original) <= tol, `direction ${i}, k = ${k}`);
      }
      if (k === s.rank) assert.ok(maxAbs(BtP.data) <= tol);
    }), { numRuns: 40 });
  });

  test('rank-deficient β: the rank counts only nonzero singular values', () => {
    const rng = new Rng(3);
    const beta = randMatrix(rng, 8, 3);
    for (let r = 0; r < 8; r++) beta.data[r * 3 + 2] = beta.data[r * 3]! - 2 * beta.data[r * 3 + 1]!;
    assert.equal(singularDirections(beta).rank, 2);
  });

  test('bad k and shapes are rejected', () => {
    const s = singularDirections(randMatrix(new Rng(1), 6, 2));
    assert.throws(() => removalProjector(s.directions, 3), InvalidArgumentError);
    assert.throws(() => removalProjector(s.directions, -1), InvalidArgumentError);
    assert.throws(() => projectOut(new Matrix(2, 5), s.directions, 1), ShapeError);
  });
});

describe('svdAttack', () => {
  const d = 20;
  const o = 4;
  const net = randomMlp(d, 10, o, 7);
  const rng = new Rng(8);
  const X = randMatrix(rng, 300, d);
  // Labels the network gets right on clean inputs, so its accuracy starts at 1.
  const labels = argmaxRows(forward(net, X));
  const linear = fitLinear(net, Gaussian.standard(d));
  const quadratic = fitQuadratic(net, Gaussian.standard(d));
  const result = svdAttack({ net, linear, quadratic, beta: linear.beta, X, labels });

  test('one step per k = 0 … rank, scores as computed directly from P_k X', () => {
    assert.equal(result.singular.rank, o);
    assert.deepEqual(result.steps.map((s) => s.k), [0, 1, 2, 3, 4]);
    assert.equal(result.steps[0]!.accuracy.network.value, 1);
    for (const step of result.steps) {
      const Xk = matmul(X, removalProjector(result.singular.directions, step.k));
      const f = forward(net, Xk);
      const fl = linear.predict(Xk);
      const fq = quadratic.predict(Xk);
      assert.equal(step.accuracy.network.value, accuracy(f, labels));
      assert.equal(step.accuracy.linear.value, accuracy(fl, labels));
      assert.equal(step.accuracy.quadratic.value, accuracy(fq, labels));
      assert.ok(Math.abs(step.kl.linear.value - klDivergence(f, fl)) <= 1e-12);
      assert.ok(Math.abs(step.fvu.quadratic.value - fvu(f, fq).value) <= 1e-12);
    }
  });

  test('after removing all directions the linear approximant outputs α for every input', () => {
    const last = result.steps[o]!;
    const alphaClass = argmaxRows(new Matrix(1, o, linear.alpha))[0]!;
    const expected = Array.from(labels).filter((y) => y === alphaClass).length / labels.length;
    assert.equal(last.accuracy.linear.value, expected);
    // FVU of a constant prediction α: Σ‖f − α‖² / Σ‖f − f̄‖², written out.
    const f = forward(net, projectOut(X, result.singular.directions, o));
    const mean = new Float64Array(o);
    for (let i = 0; i < f.rows; i++) for (let c = 0; c < o; c++) mean[c]! += f.data[i * o + c]! / f.rows;
    let num = 0;
    let den = 0;
    for (let i = 0; i < f.rows; i++) {
      for (let c = 0; c < o; c++) {
        num += (f.data[i * o + c]! - linear.alpha[c]!) ** 2;
        den += (f.data[i * o + c]! - mean[c]!) ** 2;
      }
    }
    assert.ok(Math.abs(last.fvu.linear.value - num / den) <= 1e-12 * (num / den));
  });

  test('kMax beyond the rank, mismatched labels and too few inputs are rejected', () => {
    assert.throws(() => svdAttack({ net, linear, quadratic, beta: linear.beta, X, labels, kMax: o + 1 }), /kMax/);
    assert.throws(() => svdAttack({ net, linear, quadratic, beta: linear.beta, X, labels: labels.subarray(1) }), ShapeError);
    assert.throws(() => svdAttack({ net, linear, quadratic, beta: linear.beta, X: new Matrix(1, d), labels: [0] }), InvalidArgumentError);
    assert.throws(() => svdAttack({ net, linear, quadratic, beta: new Matrix(d + 1, o), X, labels }), ShapeError);
  });

  test('figures: valid SVG, PNG of the declared size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyapprox-attack-figs-'));
    for (const [name, svg] of [
      ['acc', await attackAccuracyChart(result, o)],
      ['kl', await attackAgreementChart(result, 'kl')],
      ['fvu', await attackAgreementChart(result, 'fvu')],
    ] as const) {
      const root = parseXml(svg);
      assert.deepEqual([root.name, Number(root.attrs['width']), Number(root.attrs['height'])], ['svg', 640, 400]);
      const files = writeFigure(join(dir, name), svg);
      const png = PNG.sync.read(readFileSync(files.png));
      assert.deepEqual([png.width, png.height], [640, 400]);
    }
    // Images: 20 = 4 × 5.
    const grid = singularVectorGrid(result.singular, [4, 5]);
    const geo = heatmapGridGeometry({ title: 't', panels: Array.from({ length: o }, () => ({ title: '', values: new Float64Array(20), width: 5, height: 4 })), columns: 5 });
    const root = parseXml(grid);
    assert.deepEqual([Number(root.attrs['width']), Number(root.attrs['height'])], [geo.width, geo.height]);
    const png = PNG.sync.read(readFileSync(writeFigure(join(dir, 'sv'), grid).png));
    assert.deepEqual([png.width, png.height], [geo.width, geo.height]);
    const images = attackedImages(X.row(0), result.singular, [0, o], { net, linear, quadratic });
    assert.deepEqual(Array.from(images[0]!.values), Array.from(X.row(0)));
    assert.match(images[1]!.title, /^k=4: net \d, lin \d, quad \d$/);
    parseXml(attackedImageGrid(images, [4, 5], 'attacked'));
    assert.throws(() => singularVectorGrid(result.singular, [3, 5]), ShapeError);
  });
});

// ---------------------------------------------------------------------------------------------------
// The `attack` command, in one child process.

const runAttack = runCliSync;

/** Writes a ReLU MLP model file and a labelled data file (x uniform in [0, 1], labels cycling through the classes). */
function writeModelAndData(dir: string, d: number, h: number, o: number, n: number, seed: number): { model: string; data: string } {
  const rng = new Rng(seed);
  const t = (m: Matrix) => ({ dtype: 'F64' as const, shape: [m.rows, m.cols], data: m.data });
  const v = (x: Float64Array) => ({ dtype: 'F64' as const, shape: [x.length], data: x });
  const model = join(dir, `model${d}.safetensors`);
  writeSafetensorsFile(model, {
    W1: t(randMatrix(rng, h, d, 3 / Math.sqrt(d))), b1: v(new Float64Array(h)),
    W2: t(randMatrix(rng, o, h)), b2: v(new Float64Array(o)),
  }, { architecture: 'mlp', activation: 'relu' });
  const data = join(dir, `data${d}.safetensors`);
  const x = Float64Array.from({ length: n * d }, () => rng.uniform());
  writeSafetensorsFile(data, { x: { dtype: 'F64', shape: [n, d], data: x }, y: v(Float64Array.from({ length: n }, (_, i) => i % o)) });
  return { model, data };
}

describe('polyapprox attack', () => {
  test('784-d model: JSON, attack.json and images; d = 6: numbers only; usage errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyapprox-attack-'));
    const big = writeModelAndData(dir, 784, 12, 10, 40, 1);
    const small = writeModelAndData(dir, 6, 5, 3, 30, 2);
    const out784 = join(dir, 'out784');
    const out6 = join(dir, 'out6');
    const [r784, r6, bad] = runAttack([
      ['attack', '--model', big.model, '--data', big.data, '--k-max', '3', '--out', out784, '--json'],
      ['attack', '--model', small.model, '--data', small.data, '--linear', 'truncated', '--out', out6],
      ['attack', '--model', small.model, '--data', small.data, '--linear', 'sideways', '--out', out6],
    ]);
    assert.equal(r784!.code, 0, r784!.stderr);
    const json = JSON.parse(r784!.stdout) as { rank: number; steps: { k: number }[]; files: string[]; samples: number };
    assert.equal(json.rank, 10);
    assert.equal(json.samples, 40);
    assert.deepEqual(json.steps.map((s) => s.k), [0, 1, 2, 3]);
    for (const name of ['singular_vectors', 'attacked_example', 'attacked_digits', 'attack_accuracy']) {
      const png = join(out784, 'figures', `${name}.png`);
      assert.ok(json.files.includes(png), name);
      const img = PNG.sync.read(readFileSync(png));
      const root = parseXml(readFileSync(join(out784, 'figures', `${name}.svg`), 'utf8'));
      assert.deepEqual([img.width, img.height], [Number(root.attrs['width']), Number(root.attrs['height'])], name);
    }
    assert.deepEqual(JSON.parse(readFileSync(join(out784, 'attack.json'), 'utf8')).steps, json.steps);

    assert.equal(r6!.code, 0, r6!.stderr);
    assert.match(r6!.stdout, /acc net/);
    assert.equal(r6!.stdout.trim().split('\n').filter((l) => /^\s+\d+\s/.test(l)).length, 4, 'k = 0 … 3');
    assert.ok(existsSync(join(out6, 'figures', 'attack_accuracy.png')));
    assert.ok(!existsSync(join(out6, 'figures', 'singular_vectors.png')), 'no images for d = 6');

    assert.equal(bad!.code, 2);
    assert.match(bad!.stderr, /--linear/);
  });
});
