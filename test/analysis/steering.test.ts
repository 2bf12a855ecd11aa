/**
 * Eigenvector steering: the stacked eigenvectors, E·v = scaled unit vector, the experiment against an analytic
 * linear model, the noise control, the chart, and the `steer` command.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCliSync } from '../cliHarness.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { Matrix } from '../../src/linalg/matrix.js';
import { matmul } from '../../src/linalg/ops.js';
import { Rng } from '../../src/numerics/random.js';
import { createMLP, type Network } from '../../src/approx/network.js';
import { Gaussian } from '../../src/approx/inputModel.js';
import { fitQuadratic } from '../../src/approx/fit/index.js';
import { writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { writeFigure } from '../../src/figures/render.js';
import { eigenFeatures, signedMass } from '../../src/analysis/eigen.js';
import {
  randomUnitRows, stackTopEigenvectors, steeringChart, steeringDirection, steeringExperiment,
} from '../../src/analysis/steering.js';
import { InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { parseXml } from '../figures/xml.js';
import { randMatrix } from '../random.js';

function randomMlp(d: number, h: number, o: number, seed: number): Network {
  const rng = new Rng(seed);
  return createMLP({ W1: randMatrix(rng, h, d, 1 / Math.sqrt(d)), W2: randMatrix(rng, o, h), activation: 'relu' });
}

const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));

describe('stacked eigenvectors and the steering direction', () => {
  const d = 40;
  const o = 3;
  const k = 2;
  const approx = fitQuadratic(randomMlp(d, 16, o, 5), Gaussian.standard(d));
  const stacked = stackTopEigenvectors(approx, k);

  test('row c·k + j is the (j+1)-th top positive, oriented eigenvector of Γ_c', () => {
    assert.deepEqual([stacked.E.rows, stacked.E.cols], [o * k, d]);
    for (let c = 0; c < o; c++) {
      const f = eigenFeatures(approx, { class: c }, { top: k });
      for (let j = 0; j < k; j++) {
        assert.deepEqual(Array.from(stacked.E.row(c * k + j)), Array.from(f.positive[j]!.vector));
        assert.equal(stacked.values[c * k + j], f.positive[j]!.value);
        const m = signedMass(stacked.E.row(c * k + j));
        assert.ok(m.positive >= m.negative);
      }
    }
  });

  test('E·(m·u) = m·gain·e_row: unit projection on the target eigenvector, none on the others', () => {
    for (const row of [0, k, 2 * k + 1]) {
      const dir = steeringDirection(stacked.E, row);
      assert.ok(Math.abs(norm(dir.unit) - 1) <= 1e-14);
      for (const m of [0.5, 3]) {
        const v = new Matrix(d, 1, dir.unit.map((x) => m * x));
        const Ev = matmul(stacked.E, v).data;
        for (let i = 0; i < o * k; i++) {
          const expected = i === row ? m * dir.gain : 0;
          assert.ok(Math.abs(Ev[i]! - expected) <= 1e-10 * m, `row ${i}: ${Ev[i]} vs ${expected}`);
        }
      }
      // The gain is at most 1 (u is a unit vector and the rows of E are unit vectors); 1 only if u is that row.
      assert.ok(dir.gain > 0 && dir.gain <= 1 + 1e-12);
    }
  });

  test('classes with too few positive eigenvalues, bad k and rows are rejected', () => {
    // ReLU: E g''(u) > 0, so a class whose output weights are all negative has a negative semidefinite Γ_c.
    const rng = new Rng(2);
    const W2 = randMatrix(rng, 2, 6);
    for (let j = 0; j < 6; j++) W2.data[6 + j] = -Math.abs(W2.data[6 + j]!);
    const neg = fitQuadratic(createMLP({ W1: randMatrix(rng, 6, 10), W2, activation: 'relu' }), Gaussian.standard(10));
    assert.throws(() => stackTopEigenvectors(neg, 1), /class 1 has only 0 positive eigenvalues/);
    assert.equal(stackTopEigenvectors(neg, 1, { classes: [0] }).E.rows, 1);
    assert.throws(() => stackTopEigenvectors(approx, 0), InvalidArgumentError);
    assert.throws(() => stackTopEigenvectors(approx, 1, { classes: [0, 0] }), InvalidArgumentError);
    assert.throws(() => steeringDirection(stacked.E, o * k), InvalidArgumentError);
  });
});

describe('steeringExperiment', () => {
  // A linear "model" L(x) = x B: the mean target logit under steering is exact, m·(u·B[:, t]) above the clean one.
  const d = 12;
  const o = 4;
  const rng = new Rng(9);
  const B = randMatrix(rng, d, o);
  const X = randMatrix(rng, 50, d);
  const labels = Int32Array.from({ length: 50 }, (_, i) => i % o);
  const u = randomUnitRows(1, d, 3).row(0);
  const target = 2;
  const logits = (A: Matrix): Matrix => matmul(A, B);
  const magnitudes = [0, 0.5, 2, 8];
  const steps = steeringExperiment({ logits, X, labels, direction: u, targetClass: target, magnitudes, seed: 4 });

  test('the shift of the mean target logit is m·(u·B[:, t]) for steering; magnitude 0 changes nothing', () => {
    let uB = 0;
    for (let j = 0; j < d; j++) uB += u[j]! * B.data[j * o + target]!;
    for (const s of steps) {
      assert.ok(Math.abs(s.steering.meanTargetLogit - (s.none.meanTargetLogit + s.magnitude * uB)) <= 1e-12 * (1 + s.magnitude));
      if (s.magnitude === 0) {
        assert.deepEqual(s.steering, s.none);
        assert.deepEqual(s.noise, s.none);
      }
      for (const c of [s.none, s.steering, s.noise]) {
        assert.ok(c.accuracy >= 0 && c.accuracy <= 1 && c.targetRate >= 0 && c.targetRate <= 1);
      }
    }
  });

  test('noise rows are unit vectors; the noise shift of the target logit is m · mean(N B[:, t])', () => {
    const N = randomUnitRows(50, d, 4);
    for (let i = 0; i < 50; i++) assert.ok(Math.abs(norm(N.row(i)) - 1) <= 1e-14);
    const NB = matmul(N, B);
    let mean = 0;
    for (let i = 0; i < 50; i++) mean += NB.data[i * o + target]! / 50;
    for (const s of steps) assert.ok(Math.abs(s.noise.meanTargetLogit - (s.none.meanTargetLogit + s.magnitude * mean)) <= 1e-12 * (1 + s.magnitude));
  });

  test('a large step along a direction that raises only the target class makes everything the target', () => {
    // Steer along B's target column made orthogonal to the other columns, so only the target logit grows.
    const others = new Matrix(d, o - 1);
    for (let j = 0; j < d; j++) for (let c = 0, q = 0; c < o; c++) if (c !== target) others.data[j * (o - 1) + q++] = B.data[j * o + c]!;
    const G = matmul(others, others, { transA: true });
    const w = new Float64Array(d);
    // w = B_t − others · (othersᵀothers)⁻¹ othersᵀ B_t
    const bt = new Matrix(d, 1, Float64Array.from({ length: d }, (_, j) => B.data[j * o + target]!));
    const coef = matmul(invert(G), matmul(others, bt, { transA: true }));
    const proj = matmul(others, coef);
    for (let j = 0; j < d; j++) w[j] = bt.data[j]! - proj.data[j]!;
    const unit = w.map((x) => x / norm(w));
    const [s] = steeringExperiment({ logits, X, labels, direction: unit, targetClass: target, magnitudes: [1e3] });
    assert.equal(s!.steering.targetRate, 1);
    assert.equal(s!.steering.accuracy, labels.filter((y) => y === target).length / labels.length);
  });

  test('bad inputs are rejected', () => {
    assert.throws(() => steeringExperiment({ logits, X, labels, direction: u.map((x) => 2 * x), targetClass: 0, magnitudes: [1] }), /unit vector/);
    assert.throws(() => steeringExperiment({ logits, X, labels, direction: u, targetClass: 0, magnitudes: [-1] }), /magnitudes\[0\]/);
    assert.throws(() => steeringExperiment({ logits, X, labels, direction: u, targetClass: 0, magnitudes: [] }), InvalidArgumentError);
    assert.throws(() => steeringExperiment({ logits, X, labels: labels.subarray(1), direction: u, targetClass: 0, magnitudes: [1] }), ShapeError);
    assert.throws(() => steeringExperiment({ logits, X, labels, direction: u, targetClass: o, magnitudes: [1] }), /target class/);
  });

  test('charts are valid SVG and render to 640×400 PNG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyapprox-steer-figs-'));
    for (const metric of ['accuracy', 'meanTargetLogit', 'targetRate'] as const) {
      const svg = await steeringChart(steps, metric, target);
      const root = parseXml(svg);
      assert.deepEqual([root.name, Number(root.attrs['width']), Number(root.attrs['height'])], ['svg', 640, 400]);
      const png = PNG.sync.read(readFileSync(writeFigure(join(dir, metric), svg).png));
      assert.deepEqual([png.width, png.height], [640, 400]);
    }
  });
});

/** The inverse of a small symmetric positive definite matrix by Gauss–Jordan elimination (SPD: no pivoting needed). */
function invert(A: Matrix): Matrix {
  const n = A.rows;
  const M = A.clone();
  const I = Matrix.identity(n);
  for (let p = 0; p < n; p++) {
    const piv = M.data[p * n + p]!;
    for (let j = 0; j < n; j++) {
      M.data[p * n + j]! /= piv;
      I.data[p * n + j]! /= piv;
    }
    for (let r = 0; r < n; r++) {
      if (r === p) continue;
      const f = M.data[r * n + p]!;
      for (let j = 0; j < n; j++) {
        M.data[r * n + j]! -= f * M.data[p * n + j]!;
        I.data[r * n + j]! -= f * I.data[p * n + j]!;
      }
    }
  }
  return I;
}

// ---------------------------------------------------------------------------------------------------
// The `steer` command, in one child process.

const runSteer = runCliSync;

describe('polyapprox steer', () => {
  test('784-d model with images and JSON; d = 6 in plain numbers; usage errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyapprox-steer-'));
    const files: Record<number, { model: string; data: string }> = {};
    for (const [d, h, o, n] of [[784, 12, 4, 30], [6, 8, 3, 20]] as const) {
      const rng = new Rng(d);
      const t = (m: Matrix) => ({ dtype: 'F64' as const, shape: [m.rows, m.cols], data: m.data });
      const model = join(dir, `model${d}.safetensors`);
      writeSafetensorsFile(model, { W1: t(randMatrix(rng, h, d, 3 / Math.sqrt(d))), W2: t(randMatrix(rng, o, h)) }, { architecture: 'mlp', activation: 'relu' });
      const data = join(dir, `data${d}.safetensors`);
      writeSafetensorsFile(data, {
        x: { dtype: 'F64', shape: [n, d], data: Float64Array.from({ length: n * d }, () => rng.uniform()) },
        y: { dtype: 'F64', shape: [n], data: Float64Array.from({ length: n }, (_, i) => i % o) },
      });
      files[d] = { model, data };
    }
    const out = join(dir, 'out');
    const [big, small, bad] = runSteer([
      ['steer', '--model', files[784]!.model, '--data', files[784]!.data, '--class', '1', '--top', '1', '--magnitudes', '0,1,4', '--out', out, '--json'],
      ['steer', '--model', files[6]!.model, '--data', files[6]!.data, '--class', '0', '--top', '1', '--max-magnitude', '2', '--steps', '3'],
      ['steer', '--model', files[6]!.model, '--data', files[6]!.data, '--class', '7'],
    ]);
    assert.equal(big!.code, 0, big!.stderr);
    const json = JSON.parse(big!.stdout) as { steps: { magnitude: number }[]; gain: number; files: string[] };
    assert.deepEqual(json.steps.map((s) => s.magnitude), [0, 1, 4]);
    assert.ok(json.gain > 0 && json.gain <= 1 + 1e-12);
    for (const name of ['steer_accuracy', 'steer_target_logit', 'steer_target_rate', 'steering_direction']) {
      const png = join(out, 'figures', `${name}.png`);
      assert.ok(json.files.includes(png), name);
      const img = PNG.sync.read(readFileSync(png));
      const root = parseXml(readFileSync(join(out, 'figures', `${name}.svg`), 'utf8'));
      assert.deepEqual([img.width, img.height], [Number(root.attrs['width']), Number(root.attrs['height'])]);
    }
    assert.equal(small!.code, 0, small!.stderr);
    assert.match(small!.stdout, /no intervention: accuracy/);
    assert.equal(small!.stdout.split('\n').filter((l) => /^\s+[\d.]+\s+[\d.]+/.test(l)).length, 3);
    assert.equal(bad!.code, 2);
    assert.match(bad!.stderr, /--class/);
  });
});
