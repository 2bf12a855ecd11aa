/**
 * `fitQuadraticAsync` / `fitAsync` (src/approx/fit/index.ts) around the Krylov solver: which route is taken, the
 * method string and the `onSolved` diagnostics for converged and budget-limited solves, options passed through,
 * and the fit itself against independent oracles — the dense normal equations (Isserlis moments, a different
 * solver) and a Monte Carlo FVU with a tolerance from its standard error.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/numerics/random.js';
import { createMLP, forward, type Network } from '../../src/approx/network.js';
import { Gaussian, GaussianMixture } from '../../src/approx/inputModel.js';
import {
  DEFAULT_KRYLOV_TOL, fitAsync, fitQuadraticAsync, fitQuadraticMixtureDense, krylovMethodString, krylovStopReason,
  quadraticUsesKrylov, type KrylovSolveReport,
} from '../../src/approx/fit/index.js';
import type { PolynomialApproximant } from '../../src/approx/result.js';
import { ConvergenceError, InvalidArgumentError } from '../../src/errors.js';
import { fvu } from '../../src/analysis/metrics.js';
import { randGaussian as sharedRandGaussian, randMatrix } from '../random.js';

const D = 70, H = 8, O = 3;

/** N(μ, AAᵀ/d + 0.1·I): positive definite, so the automatic ridge adds nothing. */
const randGaussian = (rng: Rng, d: number): Gaussian => sharedRandGaussian(rng, d, { jitter: 0.1 });

function randNet(rng: Rng, d: number): Network {
  return createMLP({
    W1: randMatrix(rng, H, d, 1 / Math.sqrt(d)), b1: Float64Array.from({ length: H }, () => 0.3 * rng.normal()),
    W2: randMatrix(rng, O, H, 1 / Math.sqrt(H)), b2: Float64Array.from({ length: O }, () => 0.1 * rng.normal()), activation: 'relu',
  });
}

function coefficients(p: PolynomialApproximant): number[] {
  const out = [...p.alpha, ...p.beta.data];
  for (let o = 0; o < p.outputDim; o++) out.push(...p.gammaMatrix(o).data);
  return out;
}

function relDiff(a: number[], b: number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

const METHOD_CONVERGED = /^block conjugate gradients \((\d+) operator applications, relative residual (\S+) ≤ 1e-8\)$/;

let net: Network;
let mix: GaussianMixture;
let dense: PolynomialApproximant;

before(() => {
  const rng = new Rng(20250101);
  net = randNet(rng, D);
  mix = new GaussianMixture(Float64Array.from([0.2, 0.3, 0.5]), [randGaussian(rng, D), randGaussian(rng, D), randGaussian(rng, D)]);
  // The oracle: dense normal equations over all 1 + d + d(d+1)/2 features, a different solver (≈ 2 s at d = 70).
  dense = fitQuadraticMixtureDense(net, mix, { maxDim: D });
});

describe('fitQuadraticAsync on the Krylov route (mixture, d = 70 > 64)', () => {
  test('converged: the method string states the operator applications and the residual; onSolved gets the same', async () => {
    const reports: KrylovSolveReport[] = [];
    const approx = await fitQuadraticAsync(net, mix, { onSolved: (r) => reports.push(r) });
    assert.equal(reports.length, 1);
    const [r] = reports;
    assert.equal(r!.converged, true);
    assert.equal(r!.tol, DEFAULT_KRYLOV_TOL);
    assert.equal(r!.maxSeconds, null);
    assert.equal(r!.stoppedBy, null);
    assert.equal(r!.ridge, 0);
    assert.equal(r!.relativeResidual, Math.max(...r!.residuals));
    assert.ok(r!.relativeResidual <= 1e-8 && r!.relativeResidual > 0);
    assert.ok(r!.iterations.every((it) => it >= 1 && it <= r!.operatorApplications));
    const m = METHOD_CONVERGED.exec(approx.info.method);
    assert.ok(m, approx.info.method);
    assert.equal(Number(m[1]), r!.operatorApplications);
    assert.equal(m[2], r!.relativeResidual.toExponential(1));
    assert.equal(r!.method, approx.info.method);
    // The fit is the least-squares quadratic: the dense normal equations agree to the solver's tolerance.
    const err = relDiff(coefficients(approx), coefficients(dense));
    assert.ok(err < 1e-6, `relative difference to the dense solve ${err}`);
  });

  test('krylov options are passed through: a looser tol stops earlier at a residual within it', async () => {
    let tight: KrylovSolveReport | undefined;
    let loose: KrylovSolveReport | undefined;
    await fitQuadraticAsync(net, mix, { onSolved: (r) => (tight = r) });
    const approx = await fitQuadraticAsync(net, mix, { krylov: { tol: 1e-3 }, onSolved: (r) => (loose = r) });
    assert.ok(loose!.converged && loose!.relativeResidual <= 1e-3);
    assert.ok(loose!.operatorApplications < tight!.operatorApplications, `${loose!.operatorApplications} vs ${tight!.operatorApplications}`);
    assert.match(approx.info.method, /, relative residual \S+ ≤ 0\.001\)$/);
    // A residual of 1e-3 leaves the coefficients visibly off, which the dense oracle sees.
    assert.ok(relDiff(coefficients(approx), coefficients(dense)) > 1e-7);
  });

  test('budget exhausted (maxIterations: 1): no throw with throwOnNonConvergence false, NOT converged in the method', async () => {
    let r: KrylovSolveReport | undefined;
    const approx = await fitQuadraticAsync(net, mix, { krylov: { maxIterations: 1, throwOnNonConvergence: false }, onSolved: (x) => (r = x) });
    assert.equal(r!.converged, false);
    assert.ok(r!.relativeResidual > 1e-8);
    assert.deepEqual(r!.iterations, [-1, -1, -1]);
    assert.equal(r!.stoppedBy, 'maxIterations = 1');
    assert.equal(approx.info.method,
      `block conjugate gradients (${r!.operatorApplications} operator applications) NOT converged: relative residual ${r!.relativeResidual.toExponential(1)} > tol 1e-8 after maxIterations = 1`);
    // At least the one permitted iteration (the true-residual check comes on top).
    assert.ok(r!.operatorApplications >= 1);
    // The iterate is a finite polynomial, worse than the converged fit.
    assert.ok(coefficients(approx).every(Number.isFinite));
    assert.ok(relDiff(coefficients(approx), coefficients(dense)) > 1e-4);
  });

  test('budget exhausted by maxSeconds names the wall-clock budget', async () => {
    let r: KrylovSolveReport | undefined;
    const approx = await fitQuadraticAsync(net, mix, { krylov: { maxSeconds: 1e-6, throwOnNonConvergence: false }, onSolved: (x) => (r = x) });
    assert.equal(r!.converged, false);
    assert.equal(r!.maxSeconds, 1e-6);
    assert.equal(r!.stoppedBy, 'the 0.000001 s budget');
    assert.match(approx.info.method, /NOT converged: relative residual \S+ > tol 1e-8 after the 0\.000001 s budget$/);
  });

  test('throwOnNonConvergence defaults to true: a ConvergenceError, and onSolved is not called', async () => {
    let called = false;
    await assert.rejects(fitQuadraticAsync(net, mix, { krylov: { maxIterations: 1 }, onSolved: () => (called = true) }), ConvergenceError);
    assert.equal(called, false);
    await assert.rejects(fitQuadraticAsync(net, mix, { krylov: { tol: 2 } }), InvalidArgumentError);
  });

  test('variance: true attaches the exact mixture FVU, which Monte Carlo on mixture samples confirms', async () => {
    const approx = await fitQuadraticAsync(net, mix, { variance: true });
    const v = approx.info.variance!;
    assert.ok(v.fvu > 0 && v.fvu < 1, `fvu ${v.fvu}`);
    const X = mix.sample(20000, new Rng(7));
    const e = fvu(forward(net, X), approx.predict(X), 'standard');
    assert.ok(Math.abs(e.value - v.fvu) <= 4 * e.se! + 1e-3 * v.fvu, `exact ${v.fvu} vs MC ${e.value} ± ${e.se}`);
  });

  test('fitAsync routes degree 2 through it and leaves degree 1 alone', async () => {
    let solved = 0;
    const quad = await fitAsync(net, mix, 2, { krylov: { tol: 1e-4 }, onSolved: () => solved++ });
    assert.equal(solved, 1);
    assert.equal(quad.degree, 2);
    const lin = await fitAsync(net, mix, 1, { onSolved: () => solved++ });
    assert.equal(solved, 1);
    assert.equal(lin.degree, 1);
  });
});

describe('routes without a Krylov solve', () => {
  test('quadraticUsesKrylov: mixtures above d = 64 only', () => {
    const mixOf = (d: number): GaussianMixture => GaussianMixture.uniform([Gaussian.standard(d), new Gaussian(new Float64Array(d).fill(1), null)]);
    assert.equal(quadraticUsesKrylov(mixOf(64)), false);
    assert.equal(quadraticUsesKrylov(mixOf(65)), true);
    assert.equal(quadraticUsesKrylov(Gaussian.standard(784)), false);
  });

  test('a Gaussian at d = 70 and a mixture at d = 12 never call onSolved and keep their method', async () => {
    let called = false;
    const g = await fitQuadraticAsync(net, Gaussian.standard(D), { onSolved: () => (called = true) });
    assert.doesNotMatch(g.info.method, /conjugate/);
    const rng = new Rng(3);
    const small = randNet(rng, 12);
    const smallMix = GaussianMixture.uniform([randGaussian(rng, 12), randGaussian(rng, 12)]);
    const m = await fitQuadraticAsync(small, smallMix, { onSolved: () => (called = true) });
    assert.equal(m.info.method, 'dense normal equations');
    assert.equal(called, false);
  });
});

describe('krylovMethodString', () => {
  const base = { operatorApplications: 37, relativeResidual: 8.1234e-9, tol: 1e-8, maxIterations: 500, maxSeconds: 180, seconds: 12 };
  test('converged', () => {
    assert.equal(krylovMethodString({ ...base, converged: true }), 'block conjugate gradients (37 operator applications, relative residual 8.1e-9 ≤ 1e-8)');
    assert.equal(krylovStopReason({ ...base, converged: true }), null);
  });
  test('budget exhausted: seconds used up → the wall-clock budget, else the iteration cap', () => {
    const slow = { ...base, converged: false, relativeResidual: 3.2e-5, seconds: 180.4 };
    assert.equal(krylovMethodString(slow), 'block conjugate gradients (37 operator applications) NOT converged: relative residual 3.2e-5 > tol 1e-8 after the 180 s budget');
    assert.equal(krylovStopReason({ ...slow, seconds: 50 }), 'maxIterations = 500');
    assert.equal(krylovStopReason({ ...slow, maxSeconds: null }), 'maxIterations = 500');
    assert.match(krylovMethodString({ ...slow, operatorApplications: 1 }), /\(1 operator application\)/);
  });
});
