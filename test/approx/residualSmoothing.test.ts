/**
 * Minimal residual smoothing (src/approx/fit/residualSmoothing.ts) on plain conjugate gradients for a small SPD
 * system written as quadratic blocks, against independent facts:
 * - the smoothed residual the recurrence reports is the true residual b − M y of the smoothed iterate;
 * - it is never above the previous smoothed residual nor CG's residual;
 * - a column is smoothed only once started, and finish copies back only the started columns;
 * - a new residual (nearly) equal to the smoothed one still gives the exact line minimum (no cancellation);
 * - the same with the native and the JavaScript backends;
 * - for CG without a preconditioner (mutually orthogonal residuals) it is the minimal residual over the affine hull
 *   of all iterates, 1/‖s_k‖² = Σ_{i ≤ k} 1/‖r_i‖² (Weiss 1990; Zhou & Walker 1994).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/numerics/random.js';
import { ResidualSmoother } from '../../src/approx/fit/residualSmoothing.js';
import { availableBackends } from '../../src/linalg/index.js';
import { zeroQuadraticBlock, type QuadraticBlock } from '../../src/approx/fit/quadraticBlock.js';

const d = 3;
const n = 1 + d + d * d;

/** Column j of a block as one vector (a, b, S). */
function column(x: QuadraticBlock, j: number): Float64Array {
  const v = new Float64Array(n);
  v[0] = x.a[j]!;
  v.set(x.b.subarray(j * d, (j + 1) * d), 1);
  v.set(x.S.subarray(j * d * d, (j + 1) * d * d), 1 + d);
  return v;
}

function setColumn(x: QuadraticBlock, j: number, v: Float64Array): void {
  x.a[j] = v[0]!;
  x.b.set(v.subarray(1, 1 + d), j * d);
  x.S.set(v.subarray(1 + d), j * d * d);
}

const dot = (u: Float64Array, v: Float64Array): number => u.reduce((s, ui, i) => s + ui * v[i]!, 0);
const norm = (u: Float64Array): number => Math.sqrt(dot(u, u));

function matvec(M: Float64Array, v: Float64Array): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += M[i * n + k]! * v[k]!;
    return s;
  });
}

for (const backend of availableBackends()) test(`on plain CG (${backend.name}): true residual of the smoothed iterate, monotone, and the minimal-residual identity`, () => {
  const rng = new Rng(3);
  // An SPD matrix with eigenvalues spread over three decades, so that CG's residual norms are far from monotone.
  const G = Float64Array.from({ length: n * n }, () => rng.normal());
  const M = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      let s = 0;
      for (let t = 0; t < n; t++) s += G[t * n + i]! * G[t * n + k]! * 10 ** (-3 * t / (n - 1));
      M[i * n + k] = s;
    }
  }
  const b = Float64Array.from({ length: n }, () => rng.normal());
  // The solved output is column 1 of X; the residual block holds it as its only (active) column 0.
  const X = zeroQuadraticBlock(2, d);
  const R = zeroQuadraticBlock(1, d);
  setColumn(R, 0, b);
  const smoother = ResidualSmoother.of(X, backend);
  // Not started: the residual passes through and nothing is smoothed.
  assert.equal(smoother.update(1, X, R, 0, 123, false), 123);
  // Started at x_0 = 0, r_0 = b.
  assert.equal(smoother.update(1, X, R, 0, norm(b), true), norm(b));
  let x = new Float64Array(n);
  let r = b.slice();
  let p = r.slice();
  let previous = norm(b);
  let inverseSquares = 1 / dot(b, b);
  for (let k = 0; k < n - 1; k++) {
    const q = matvec(M, p);
    const alpha = dot(r, r) / dot(p, q);
    x = x.map((v, i) => v + alpha * p[i]!);
    const rNew = r.map((v, i) => v - alpha * q[i]!);
    const beta = dot(rNew, rNew) / dot(r, r);
    r = rNew;
    p = r.map((v, i) => v + beta * p[i]!);
    setColumn(X, 1, x);
    setColumn(R, 0, r);
    const smoothed = smoother.update(1, X, R, 0, norm(r), false);
    const y = column(smoother.y, 1);
    const trueResidual = norm(b.map((v, i) => v - matvec(M, y)[i]!));
    assert.ok(Math.abs(smoothed - trueResidual) <= 1e-9 * norm(b), `step ${k}: reported ${smoothed}, true ${trueResidual}`);
    assert.ok(smoothed <= Math.min(previous, norm(r)) * (1 + 1e-12), `step ${k}: ${smoothed} above ${previous} or ${norm(r)}`);
    inverseSquares += 1 / dot(r, r);
    const minimal = 1 / Math.sqrt(inverseSquares);
    assert.ok(Math.abs(smoothed - minimal) <= 1e-6 * minimal, `step ${k}: ${smoothed} vs the minimal residual ${minimal}`);
    previous = smoothed;
  }
  // finish hands back the smoothed iterate of the started column and leaves the other one as it was.
  setColumn(X, 0, b);
  const y = column(smoother.y, 1);
  smoother.finish(X);
  assert.deepEqual(Array.from(column(X, 1)), Array.from(y));
  assert.deepEqual(Array.from(column(X, 0)), Array.from(b));
});

test('a residual equal or nearly equal to the smoothed one: the exact line minimum, without cancellation', () => {
  const rng = new Rng(5);
  const s0 = Float64Array.from({ length: n }, () => rng.normal());
  const x0 = Float64Array.from({ length: n }, () => rng.normal());
  for (const gap of [0, 1e-7, 1e-3]) {
    const X = zeroQuadraticBlock(1, d);
    const R = zeroQuadraticBlock(1, d);
    setColumn(X, 0, x0);
    setColumn(R, 0, s0);
    const smoother = ResidualSmoother.of(X);
    smoother.update(0, X, R, 0, norm(s0), true);
    // The next residual differs from the smoothed one by `gap` (relative) along a random direction.
    const dir = Float64Array.from({ length: n }, () => rng.normal());
    const r = s0.map((v, i) => v + gap * norm(s0) * dir[i]! / norm(dir));
    setColumn(R, 0, r);
    const got = smoother.update(0, X, R, 0, norm(r), false);
    // The minimum over η of ‖s + η(r − s)‖, with r − s formed exactly.
    const u = r.map((v, i) => v - s0[i]!);
    const uu = dot(u, u);
    const want = uu === 0 ? norm(s0) : norm(s0.map((v, i) => v - (dot(s0, u) / uu) * u[i]!));
    assert.ok(Math.abs(got - want) <= 1e-12 * norm(s0), `gap ${gap}: ${got} vs ${want}`);
  }
});
