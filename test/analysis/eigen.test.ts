/**
 * Eigen-features of Γ: the orientation rule, the hidden-space route against the dense route (1e-10) for MLP and GLU
 * approximants and for output directions, an analytic oracle (orthonormal ReLU units), and the `eig` command.
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
import { matmul, svd } from '../../src/linalg/ops.js';
import { Rng } from '../../src/numerics/random.js';
import { createGLU, createMLP, type Network } from '../../src/approx/network.js';
import { Gaussian } from '../../src/approx/inputModel.js';
import { fitLinear, fitQuadratic } from '../../src/approx/fit/index.js';
import type { FactoredGamma, PolynomialApproximant } from '../../src/approx/result.js';
import { saveApproximant } from '../../src/formats/approximantFile.js';
import { heatmapGridGeometry } from '../../src/figures/heatmap.js';
import {
  eigenFeatures, factoredGammaCore, gammaEigen, hiddenSpaceEigen, orientEigenvector, outputDirection, signedMass,
} from '../../src/analysis/eigen.js';
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';
import { parseXml } from '../figures/xml.js';
import { randMatrix } from '../random.js';

function randomVector(n: number, rng: Rng, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

function randomMlp(d: number, h: number, o: number, seed: number, activation = 'relu'): Network {
  const rng = new Rng(seed);
  return createMLP({ W1: randMatrix(rng, h, d, 1 / Math.sqrt(d)), b1: randomVector(h, rng, 0.3), W2: randMatrix(rng, o, h), b2: randomVector(o, rng), activation });
}

function randomGlu(d: number, h: number, o: number, seed: number): Network {
  const rng = new Rng(seed);
  return createGLU({
    W_gate: randMatrix(rng, h, d, 1 / Math.sqrt(d)), b_gate: randomVector(h, rng, 0.3),
    W_up: randMatrix(rng, h, d, 1 / Math.sqrt(d)), b_up: randomVector(h, rng, 0.3),
    W_out: randMatrix(rng, o, h), activation: 'silu',
  });
}

/** A non-isotropic Gaussian N(μ, A Aᵀ/d + ½I). */
function randomGaussian(d: number, seed: number): Gaussian {
  const rng = new Rng(seed);
  const A = randMatrix(rng, d, d);
  const cov = matmul(A, A, { transB: true });
  for (let i = 0; i < d * d; i++) cov.data[i] = cov.data[i]! / d;
  for (let i = 0; i < d; i++) cov.data[i * d + i]! += 0.5;
  return new Gaussian(randomVector(d, rng, 0.5), cov);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** max |u − v| or max |u + v|, whichever is smaller: eigenvectors are equal up to sign. */
function upToSign(u: ArrayLike<number>, v: ArrayLike<number>): number {
  let plus = 0;
  let minus = 0;
  for (let i = 0; i < u.length; i++) {
    minus = Math.max(minus, Math.abs(u[i]! - v[i]!));
    plus = Math.max(plus, Math.abs(u[i]! + v[i]!));
  }
  return Math.min(plus, minus);
}

/** Σ λ_j v_j v_jᵀ from eigenpairs stored as columns. */
function reconstruct(values: Float64Array, vectors: Matrix): Matrix {
  const d = vectors.rows;
  const m = values.length;
  const scaled = vectors.clone();
  for (let i = 0; i < d; i++) for (let j = 0; j < m; j++) scaled.data[i * m + j]! *= values[j]!;
  return matmul(scaled, vectors, { transB: true });
}

function assertRoutesAgree(approx: PolynomialApproximant, target: { class: number } | { direction: Float64Array }, top = 3): void {
  const hidden = eigenFeatures(approx, target, { route: 'hidden', top });
  const dense = eigenFeatures(approx, target, { route: 'dense', top });
  assert.equal(hidden.route, 'hidden');
  assert.equal(dense.route, 'dense');
  const scale = maxAbs(dense.spectrum);
  assert.equal(hidden.spectrum.length, dense.spectrum.length, 'number of nonzero eigenvalues');
  assert.equal(hidden.zeros, dense.zeros);
  for (let i = 0; i < dense.spectrum.length; i++) {
    assert.ok(Math.abs(hidden.spectrum[i]! - dense.spectrum[i]!) <= 1e-10 * scale, `eigenvalue ${i}: ${hidden.spectrum[i]} vs ${dense.spectrum[i]}`);
  }
  for (const side of ['positive', 'negative'] as const) {
    assert.equal(hidden[side].length, dense[side].length, `${side} count`);
    hidden[side].forEach((f, i) => {
      const g = dense[side][i]!;
      assert.ok(Math.abs(f.value - g.value) <= 1e-10 * scale, `${side} ${i} eigenvalue`);
      const err = upToSign(f.vector, g.vector);
      assert.ok(err <= 1e-10, `${side} eigenvector ${i} differs by ${err}`);
      // Both routes apply the same orientation rule, so the oriented vectors agree exactly, not just up to sign.
      const { positive, negative } = signedMass(f.vector);
      if (Math.abs(positive - negative) > 1e-8) assert.ok(maxAbs(f.vector.map((x, j) => x - g.vector[j]!)) <= 1e-10);
    });
  }
}

describe('orientation rule (positive mass dominant)', () => {
  test('hand-made vectors', () => {
    assert.deepEqual(Array.from(orientEigenvector([1, -2])), [-1, 2]);
    assert.deepEqual(Array.from(orientEigenvector([3, -1, 0])), [3, -1, 0]);
    // ‖max(v,0)‖₂ = √(0.25+0.25) < ‖min(v,0)‖₂ = 0.8: the 2-norm decides, not the sum (0.5+0.5 > 0.8).
    assert.deepEqual(Array.from(orientEigenvector([0.5, 0.5, -0.8])), [-0.5, -0.5, 0.8]);
    // A tie keeps the vector as computed.
    assert.deepEqual(Array.from(orientEigenvector([1, -1])), [1, -1]);
    assert.deepEqual(Array.from(orientEigenvector([1, -2], -1)), [1, -2]);
    assert.deepEqual(Array.from(orientEigenvector([2, -1], -1)), [-2, 1]);
  });

  test('property: the result is ±v, satisfies the rule, and is a fixed point', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 30 }), fc.constantFrom(1 as const, -1 as const), (v, s) => {
      const w = orientEigenvector(v, s);
      const flipped = v.some((x, i) => x !== 0 && w[i] !== x);
      for (let i = 0; i < v.length; i++) assert.equal(w[i], flipped ? -v[i]! : v[i]!);
      const m = signedMass(w);
      assert.ok(s === 1 ? m.positive >= m.negative : m.positive <= m.negative);
      assert.deepEqual(Array.from(orientEigenvector(w, s)), Array.from(w));
    }));
  });

  test('rejects NaN and a bad orientation', () => {
    assert.throws(() => orientEigenvector([1, NaN]), NonFiniteError);
    assert.throws(() => orientEigenvector([1], 0 as unknown as 1), InvalidArgumentError);
  });

  test('every returned eigen-feature follows the rule', () => {
    const approx = fitQuadratic(randomMlp(25, 10, 4, 3), Gaussian.standard(25));
    for (const orientation of [1, -1] as const) {
      const f = eigenFeatures(approx, { class: 1 }, { top: 5, orientation });
      for (const x of [...f.positive, ...f.negative]) {
        const m = signedMass(x.vector);
        assert.ok(orientation === 1 ? m.positive >= m.negative : m.positive <= m.negative);
      }
    }
  });
});

describe('hidden-space route ≡ dense route (1e-10)', () => {
  test('factored core: Dᵀ M D equals gammaForDirection', () => {
    const approx = fitQuadratic(randomGlu(12, 5, 3, 1), Gaussian.standard(12));
    const g = approx.gamma as FactoredGamma;
    assert.equal(g.kind, 'factored');
    const e = Float64Array.from([0.3, -1.2, 0.7]);
    const M = factoredGammaCore(g, e);
    const G = matmul(g.directions, matmul(M, g.directions), { transA: true });
    const ref = approx.gammaForDirection(e);
    assert.ok(maxAbs(G.data.map((x, i) => x - ref.data[i]!)) <= 1e-13 * maxAbs(ref.data));
  });

  test('MLP under N(0, I): every class and a random output direction', () => {
    const approx = fitQuadratic(randomMlp(40, 12, 5, 11), Gaussian.standard(40));
    for (let c = 0; c < 5; c++) assertRoutesAgree(approx, { class: c });
    assertRoutesAgree(approx, { direction: randomVector(5, new Rng(2)) });
  });

  test('MLP under a correlated Gaussian, GELU', () => {
    const approx = fitQuadratic(randomMlp(30, 9, 4, 12, 'gelu'), randomGaussian(30, 5));
    for (let c = 0; c < 4; c++) assertRoutesAgree(approx, { class: c });
    assertRoutesAgree(approx, { direction: Float64Array.from([1, -1, 0.5, 0]) });
  });

  test('GLU (two directions per unit, cross terms)', () => {
    const approx = fitQuadratic(randomGlu(30, 6, 3, 13), Gaussian.standard(30));
    assert.equal((approx.gamma as FactoredGamma).directions.rows, 12);
    for (let c = 0; c < 3; c++) assertRoutesAgree(approx, { class: c });
    assertRoutesAgree(approx, { direction: randomVector(3, new Rng(4)) });
  });

  test('rank-deficient directions (duplicated hidden units)', () => {
    const rng = new Rng(21);
    const d = 20;
    const W1 = randMatrix(rng, 8, d, 0.3);
    for (let j = 0; j < d; j++) {
      W1.data[4 * d + j] = W1.data[0 * d + j]!;
      W1.data[5 * d + j] = 2 * W1.data[1 * d + j]!;
    }
    const approx = fitQuadratic(createMLP({ W1, W2: randMatrix(rng, 3, 8), activation: 'relu' }), Gaussian.standard(d));
    const eig = gammaEigen(approx, { class: 0 }, { route: 'hidden' });
    assert.equal(eig.values.length, 6, 'the two duplicated directions are dropped');
    for (let c = 0; c < 3; c++) assertRoutesAgree(approx, { class: c });
  });

  test('the hidden-route eigenpairs reconstruct Γ_e and satisfy Γ v = λ v', () => {
    const approx = fitQuadratic(randomMlp(35, 10, 3, 17), randomGaussian(35, 8));
    const e = Float64Array.from([0.2, 1, -0.4]);
    const eig = gammaEigen(approx, { direction: e }, { route: 'hidden' });
    const G = approx.gammaForDirection(e);
    const scale = maxAbs(G.data);
    const R = reconstruct(eig.values, eig.vectors);
    assert.ok(maxAbs(R.data.map((x, i) => x - G.data[i]!)) <= 1e-12 * scale);
    const GV = matmul(G, eig.vectors);
    const m = eig.values.length;
    for (let i = 0; i < 35; i++) for (let j = 0; j < m; j++) {
      assert.ok(Math.abs(GV.data[i * m + j]! - eig.values[j]! * eig.vectors.data[i * m + j]!) <= 1e-12 * scale);
    }
    // Orthonormal eigenvectors.
    const VtV = matmul(eig.vectors, eig.vectors, { transA: true });
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) assert.ok(Math.abs(VtV.data[a * m + b]! - (a === b ? 1 : 0)) <= 1e-12);
  });

  test('auto picks hidden for a factored Γ with r < d, dense otherwise', () => {
    assert.equal(gammaEigen(fitQuadratic(randomMlp(20, 6, 2, 1), Gaussian.standard(20)), { class: 0 }).route, 'hidden');
    assert.equal(gammaEigen(fitQuadratic(randomGlu(10, 6, 2, 1), Gaussian.standard(10)), { class: 0 }).route, 'dense');
  });
});

describe('analytic oracle: orthonormal ReLU units without biases under N(0, I)', () => {
  test('Γ_c = W1ᵀ diag(W2[c,:]) W1 / (2√(2π)): eigenvalues W2[c,j]/(2√(2π)), eigenvectors ±w_j', () => {
    const rng = new Rng(5);
    const d = 16;
    const h = 6;
    // Orthonormal rows from the SVD of a random matrix.
    const W1 = svd(randMatrix(rng, h, d)).Vt;
    const W2 = Matrix.fromRows([[3, -2, 1.5, -0.5, 0.8, -1.1], [0.2, 0.4, -0.6, 0.9, -1.3, 2.2]]);
    const approx = fitQuadratic(createMLP({ W1, W2, activation: 'relu' }), Gaussian.standard(d));
    const c = 0;
    const f = eigenFeatures(approx, { class: c }, { top: h });
    const expected = Array.from(W2.row(c), (w) => w / (2 * Math.sqrt(2 * Math.PI)));
    const pos = expected.filter((x) => x > 0).sort((a, b) => b - a);
    const neg = expected.filter((x) => x < 0).sort((a, b) => a - b);
    assert.deepEqual(f.positive.map((x) => Number(x.value.toPrecision(12))), pos.map((x) => Number(x.toPrecision(12))));
    assert.deepEqual(f.negative.map((x) => Number(x.value.toPrecision(12))), neg.map((x) => Number(x.toPrecision(12))));
    assert.equal(f.zeros, d - h);
    for (const x of [...f.positive, ...f.negative]) {
      const j = expected.findIndex((v) => Math.abs(v - x.value) < 1e-12);
      assert.ok(upToSign(x.vector, W1.row(j)) < 1e-12, `eigenvector of λ = ${x.value} is ±w_${j}`);
    }
  });
});

describe('eigenFeatures', () => {
  const approx = fitQuadratic(randomMlp(30, 10, 4, 31), Gaussian.standard(30));

  test('ordering, counts and spectrum', () => {
    const f = eigenFeatures(approx, { class: 2 }, { top: 4 });
    assert.ok(f.positive.length <= 4 && f.negative.length <= 4);
    f.positive.forEach((x, i) => {
      assert.ok(x.value > 0);
      if (i > 0) assert.ok(x.value <= f.positive[i - 1]!.value);
    });
    f.negative.forEach((x, i) => {
      assert.ok(x.value < 0);
      if (i > 0) assert.ok(x.value >= f.negative[i - 1]!.value);
    });
    assert.equal(f.spectrum.length + f.zeros, 30);
    assert.equal(f.spectrum[0], f.positive[0]?.value ?? f.spectrum[0]);
    for (let i = 1; i < f.spectrum.length; i++) assert.ok(f.spectrum[i]! <= f.spectrum[i - 1]!);
  });

  test('Γ is linear in the output direction: features of 2e equal those of e with doubled eigenvalues', () => {
    const e = Float64Array.from([0.5, -0.3, 0.1, 0.9]);
    const f1 = eigenFeatures(approx, { direction: e });
    const f2 = eigenFeatures(approx, { direction: e.map((x) => 2 * x) });
    f1.positive.forEach((x, i) => {
      assert.ok(Math.abs(2 * x.value - f2.positive[i]!.value) <= 1e-12 * Math.abs(x.value));
      assert.ok(upToSign(x.vector, f2.positive[i]!.vector) <= 1e-10);
    });
  });

  test('errors name the argument', () => {
    assert.throws(() => eigenFeatures(fitLinear(randomMlp(5, 3, 2, 1), Gaussian.standard(5)), { class: 0 }), /degree 1/);
    assert.throws(() => eigenFeatures(approx, { class: 4 }), InvalidArgumentError);
    assert.throws(() => eigenFeatures(approx, { class: 1.5 }), InvalidArgumentError);
    assert.throws(() => eigenFeatures(approx, { direction: [1, 2] }), ShapeError);
    assert.throws(() => eigenFeatures(approx, { direction: [0, 0, 0, 0] }), /all zeros/);
    assert.throws(() => eigenFeatures(approx, { direction: [0, NaN, 0, 1] }), NonFiniteError);
    assert.throws(() => eigenFeatures(approx, { class: 0 }, { top: 0 }), /top/);
    assert.throws(() => hiddenSpaceEigen(new Matrix(3, 5), new Matrix(2, 2)), ShapeError);
    assert.deepEqual(Array.from(outputDirection(3, { class: 1 })), [0, 1, 0]);
  });
});

// ---------------------------------------------------------------------------------------------------
// The `eig` command, in a child process (commander writes to the process's stdout).

const runEig = runCliSync;

describe('polyapprox eig', () => {
  test('784-d approximant with images; small d with plain numbers; usage errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyapprox-eig-'));
    const big = fitQuadratic(randomMlp(784, 8, 3, 41), Gaussian.standard(784));
    const bigFile = join(dir, 'q784.safetensors');
    saveApproximant(bigFile, big, { gamma: 'factored' });
    const small = fitQuadratic(randomMlp(6, 4, 3, 42), Gaussian.standard(6));
    const smallFile = join(dir, 'q6.safetensors');
    saveApproximant(smallFile, small);
    const out784 = join(dir, 'out784');
    const out6 = join(dir, 'out6');
    const [r784, r6, both, badClass] = runEig([
      ['eig', '--approx', bigFile, '--class', '1', '--top', '2', '--out', out784, '--json'],
      ['eig', '--approx', smallFile, '--direction', '1,0,-1', '--out', out6],
      ['eig', '--approx', smallFile, '--class', '0', '--direction', '1,0,0'],
      ['eig', '--approx', smallFile, '--class', '3'],
    ]);

    assert.equal(r784!.code, 0, r784!.stderr);
    const json = JSON.parse(r784!.stdout) as { route: string; positive: { value: number; vector: number[] }[]; files: string[] };
    assert.equal(json.route, 'hidden');
    const ref = eigenFeatures(big, { class: 1 }, { top: 2 });
    assert.equal(json.positive.length, ref.positive.length);
    json.positive.forEach((p, i) => assert.ok(Math.abs(p.value - ref.positive[i]!.value) <= 1e-12 * Math.abs(p.value)));
    assert.ok(json.files.includes(join(out784, 'eigenvectors.png')));
    // The eigenvector figure: valid SVG whose size is the heatmap geometry, and a PNG of the same size.
    const root = parseXml(readFileSync(join(out784, 'eigenvectors.svg'), 'utf8'));
    assert.equal(root.name, 'svg');
    const panels = [...ref.positive, ...ref.negative].map((x) => ({ title: '', values: x.vector, width: 28, height: 28 }));
    const geo = heatmapGridGeometry({ title: 't', panels, columns: Math.max(ref.positive.length, ref.negative.length) });
    assert.deepEqual([Number(root.attrs['width']), Number(root.attrs['height'])], [geo.width, geo.height]);
    const png = PNG.sync.read(readFileSync(join(out784, 'eigenvectors.png')));
    assert.deepEqual([png.width, png.height], [geo.width, geo.height]);
    const spectrum = PNG.sync.read(readFileSync(join(out784, 'spectrum.png')));
    assert.deepEqual([spectrum.width, spectrum.height], [640, 400]);
    assert.equal(parseXml(readFileSync(join(out784, 'spectrum.svg'), 'utf8')).name, 'svg');

    assert.equal(r6!.code, 0, r6!.stderr);
    assert.match(r6!.stdout, /λ = /);
    assert.match(r6!.stdout, /v = \[/);
    assert.equal((JSON.parse(readFileSync(join(out6, 'eig.json'), 'utf8')) as { route: string }).route, 'dense');
    assert.throws(() => readFileSync(join(out6, 'eigenvectors.svg')), /ENOENT/);

    assert.equal(both!.code, 2);
    assert.match(both!.stderr, /either --class or --direction/);
    assert.equal(badClass!.code, 2);
    assert.match(badClass!.stderr, /--class/);
  });
});
