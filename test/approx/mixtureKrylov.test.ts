/**
 * The block-PCG mixture solver (src/approx/fit/mixtureKrylov.ts) against independent oracles:
 * - the dense normal equations (`fitQuadraticMixtureDense`, Isserlis feature moments) for d ≤ 12, MLP and GLU;
 * - the golden case mlp_silu_mixture at degree 2 (reference values from the project's fixtures);
 * - a one-component mixture ≡ the closed-form single-Gaussian fit, reached in one iteration;
 * - the moment operator's quadratic form ⟨θ, Aθ⟩ ≡ cᵀ E[ψψᵀ] c computed from the dense feature moments, and
 *   ⟨θ', Aθ⟩ = ⟨Aθ', θ⟩ (self-adjoint, PSD), including components with decoupled and identity covariances;
 * - the preconditioner is the exact inverse for K = 1 and symmetric positive definite otherwise;
 * - singular covariances: the automatic ridge, its value and its effect (≡ the dense fit of the ridged mixture);
 * - typed errors: ConvergenceError, NotPositiveDefiniteError, ShapeError, InvalidArgumentError.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Matrix } from '../../src/linalg/matrix.js';
import { Rng } from '../../src/numerics/random.js';
import type { Network } from '../../src/approx/network.js';
import { Gaussian, GaussianMixture } from '../../src/approx/inputModel.js';
import { fitQuadraticGaussian } from '../../src/approx/fit/gaussian.js';
import { fitQuadraticMixtureDense } from '../../src/approx/fit/mixture.js';
import { accumulateFeatureSecondMoments, featureCount, quadraticPairs } from '../../src/approx/fit/normalEquations.js';
import {
  AUTO_RIDGE_RELATIVE, fitQuadraticMixtureKrylov, mixtureMomentOperator, mixtureRidge, pooledGaussianPreconditioner, sharedCrossRowsForTests,
  quadraticBlockGram, rareCoordinates, ridgedMixture, zeroQuadraticBlock, type QuadraticBlock,
} from '../../src/approx/fit/mixtureKrylov.js';
import { rareRowCovariances } from '../../src/approx/fit/pooledPreconditioner.js';
import type { PolynomialApproximant } from '../../src/approx/result.js';
import { ConvergenceError, InvalidArgumentError, NonFiniteError, NotPositiveDefiniteError, ShapeError } from '../../src/errors.js';
import type { LinAlgBackend } from '../../src/linalg/backend.js';
import { loadGolden, relErr } from './golden.js';
import { affineDeflation, meanDirectionCoarseForTests, meanDirectionDeflation } from '../../src/approx/fit/coarseDeflation.js';
import { componentIndependentCoordinates } from '../../src/approx/fit/coordinateSplit.js';
import { availableBackends, getBackend } from '../../src/linalg/index.js';
import { randCovariance, randGlu as glu, randMlp as mlp, randVec } from '../random.js';

/**
 * N(μ, A Aᵀ/d) with A d×d; the first `isolated` coordinates get a zero covariance row/column and variance 0.3
 * (the "decoupled" structure of constant pixels), the coordinates in `zero` get variance exactly 0 (singular).
 */
function randGaussian(rng: Rng, d: number, opts: { isolated?: number; zero?: number[] } = {}): Gaussian {
  const S = randCovariance(rng, d);
  const blank = (i: number, v: number) => {
    for (let j = 0; j < d; j++) {
      S.set(i, j, 0);
      S.set(j, i, 0);
    }
    S.set(i, i, v);
  };
  for (let i = 0; i < (opts.isolated ?? 0); i++) blank(i, 0.3);
  for (const i of opts.zero ?? []) blank(i, 0);
  return new Gaussian(randVec(rng, d, 0.5), S);
}
function randWeights(rng: Rng, K: number): Float64Array {
  const w = Float64Array.from({ length: K }, () => 0.2 + rng.uniform());
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / s);
}
/** g with coordinate i decoupled: its covariance row and column zero off the diagonal, variance v. */
function withDecoupled(g: Gaussian, i: number, v: number): Gaussian {
  const d = g.dim;
  const S = g.covariance().clone();
  for (let j = 0; j < d; j++) {
    S.set(i, j, 0);
    S.set(j, i, 0);
  }
  S.set(i, i, v);
  return new Gaussian(g.mean, S);
}
/** All coefficients α, β, Γ (dense) of a fit, for one relative comparison. */
function coefficients(p: PolynomialApproximant): number[] {
  const parts = [Array.from(p.alpha), Array.from(p.beta.data)];
  for (let o = 0; o < p.outputDim; o++) parts.push(Array.from(p.gammaMatrix(o).data));
  return parts.flat();
}
function assertSameFit(a: PolynomialApproximant, b: PolynomialApproximant, tol: number, what: string): void {
  for (const [name, x, y] of [
    ['alpha', a.alpha, b.alpha], ['beta', a.beta.data, b.beta.data], ['all', coefficients(a), coefficients(b)],
  ] as const) {
    const e = relErr(x, y);
    assert.ok(e < tol, `${what}: ${name} relative difference ${e.toExponential(2)}`);
  }
  for (let o = 0; o < a.outputDim; o++) {
    const e = relErr(a.gammaMatrix(o).data, b.gammaMatrix(o).data);
    assert.ok(e < tol, `${what}: gamma[${o}] relative difference ${e.toExponential(2)}`);
  }
}
/** A block of `count` random polynomials with symmetric S. */
/** A·B for d×d row-major matrices (test oracle). */
function matmulSmall(A: Float64Array, B: Float64Array, d: number): Float64Array {
  const C = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) for (let j = 0; j < d; j++) C[i * d + j]! += A[i * d + k]! * B[k * d + j]!;
  return C;
}

/** The inverse of a small SPD matrix by Gauss–Jordan elimination (test oracle, no pivoting needed for SPD). */
function invertSmall(A: Float64Array, d: number): Float64Array {
  const M = A.slice();
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  for (let c = 0; c < d; c++) {
    const p = M[c * d + c]!;
    for (let j = 0; j < d; j++) {
      M[c * d + j]! /= p;
      inv[c * d + j]! /= p;
    }
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = M[r * d + c]!;
      for (let j = 0; j < d; j++) {
        M[r * d + j]! -= f * M[c * d + j]!;
        inv[r * d + j]! -= f * inv[c * d + j]!;
      }
    }
  }
  return inv;
}

function randomBlock(rng: Rng, count: number, d: number): QuadraticBlock {
  const x = zeroQuadraticBlock(count, d);
  for (let q = 0; q < count; q++) {
    x.a[q] = rng.normal();
    for (let i = 0; i < d; i++) x.b[q * d + i] = rng.normal();
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        const v = rng.normal();
        x.S[q * d * d + i * d + j] = v;
        x.S[q * d * d + j * d + i] = v;
      }
    }
  }
  return x;
}
/** E_mix[p²] from the dense Isserlis feature moments: p = a + bᵀx + Σ_{i≤j} c_ij x_i x_j with c_ii = S_ii, c_ij = 2S_ij. */
function secondMomentOracle(mix: GaussianMixture, x: QuadraticBlock, q: number): number {
  const d = mix.dim;
  const F = featureCount(d, 2);
  const G = new Matrix(F, F);
  mix.components.forEach((g, k) => accumulateFeatureSecondMoments(G, g, 2, mix.weights[k]!));
  const c = new Float64Array(F);
  c[0] = x.a[q]!;
  for (let i = 0; i < d; i++) c[1 + i] = x.b[q * d + i]!;
  const pairs = quadraticPairs(d);
  for (let p = 0; p < pairs.length / 2; p++) {
    const i = pairs[2 * p]!, j = pairs[2 * p + 1]!;
    c[1 + d + p] = (i === j ? 1 : 2) * x.S[q * d * d + i * d + j]!;
  }
  let s = 0;
  for (let i = 0; i < F; i++) for (let j = 0; j < F; j++) s += c[i]! * G.data[i * F + j]! * c[j]!;
  return s;
}
/** ⟨y, Ax⟩ = E_mix[p_x p_y] for one-polynomial blocks, by polarisation of {@link secondMomentOracle}. */
function bilinearOracle(mix: GaussianMixture, x: QuadraticBlock, y: QuadraticBlock): number {
  const sum = zeroQuadraticBlock(2, x.dim);
  for (const key of ['a', 'b', 'S'] as const) {
    const n = x[key].length;
    for (let i = 0; i < n; i++) {
      sum[key][i] = x[key][i]! + y[key][i]!;
      sum[key][n + i] = x[key][i]! - y[key][i]!;
    }
  }
  return (secondMomentOracle(mix, sum, 0) - secondMomentOracle(mix, sum, 1)) / 4;
}
/** The first polynomial of a block, as a block of one. */
function firstOf(x: QuadraticBlock): QuadraticBlock {
  const d = x.dim;
  const out = zeroQuadraticBlock(1, d);
  out.a[0] = x.a[0]!;
  out.b.set(x.b.subarray(0, d));
  out.S.set(x.S.subarray(0, d * d));
  return out;
}
/** The polynomials of a fit as a block (a, b, S = Γ). */
function asBlock(p: PolynomialApproximant): QuadraticBlock {
  const d = p.inputDim;
  const x = zeroQuadraticBlock(p.outputDim, d);
  for (let q = 0; q < p.outputDim; q++) {
    x.a[q] = p.alpha[q]!;
    for (let i = 0; i < d; i++) x.b[q * d + i] = p.beta.get(i, q);
    x.S.set(p.gammaMatrix(q).data, q * d * d);
  }
  return x;
}
/** max over outputs of (E_mix[(p − p')²] / E_mix[p'²])^½. */
async function relativeL2Distance(mix: GaussianMixture, p: PolynomialApproximant, ref: PolynomialApproximant): Promise<number> {
  const x = asBlock(p);
  const y = asBlock(ref);
  const diff = zeroQuadraticBlock(x.count, x.dim);
  for (const key of ['a', 'b', 'S'] as const) for (let i = 0; i < x[key].length; i++) diff[key][i] = x[key][i]! - y[key][i]!;
  const op = mixtureMomentOperator(mix);
  const num = diag(quadraticBlockGram(diff, await op.apply(diff)), x.count);
  const den = diag(quadraticBlockGram(y, await op.apply(y)), x.count);
  return Math.max(...num.map((v, q) => Math.sqrt(Math.max(v, 0) / den[q]!)));
}
function diag(G: Float64Array, n: number): number[] {
  return Array.from({ length: n }, (_, i) => G[i * n + i]!);
}

describe('block PCG ≡ dense normal equations (d ≤ 12, 1e-8 relative on α, β, Γ)', () => {
  const cases: { name: string; d: number; make: (rng: Rng, d: number) => Network }[] = [
    { name: 'MLP relu', d: 5, make: (r, d) => mlp(r, d, 7, 3, 'relu') },
    { name: 'MLP silu', d: 9, make: (r, d) => mlp(r, d, 6, 2, 'silu') },
    { name: 'MLP tanh', d: 12, make: (r, d) => mlp(r, d, 5, 2, 'tanh') },
    { name: 'GLU gelu', d: 6, make: (r, d) => glu(r, d, 5, 3, 'gelu') },
    { name: 'GLU sigmoid', d: 12, make: (r, d) => glu(r, d, 4, 2, 'sigmoid') },
  ];
  cases.forEach(({ name, d, make }, idx) => {
    for (const [preconditioner, deflation] of [['scaled-pooled', 'mean'], ['scaled-pooled', 'affine'], ['pooled', 'affine'], ['pooled', 'mean'], ['pooled', 'none']] as const) {
      test(`${name}, d = ${d}, 4-component weighted mixture, ${preconditioner}, deflation ${deflation}`, async () => {
        const rng = new Rng(100 + idx);
        const net = make(rng, d);
        // Components 0 and 2 have decoupled coordinates (the MNIST structure), so both operator paths are used.
        const comps = [0, 1, 2, 3].map((k) => randGaussian(rng, d, { isolated: k % 2 === 0 ? 1 + k / 2 : 0 }));
        const mix = new GaussianMixture(randWeights(rng, 4), comps);
        const res = await fitQuadraticMixtureKrylov(net, mix, { tol: 1e-13, ridge: 0, preconditioner, deflation });
        assert.equal(res.ridge, 0);
        assert.ok(Math.max(...res.residuals) <= 1e-13, `residuals ${res.residuals}`);
        assertSameFit(res.approx, fitQuadraticMixtureDense(net, mix), 1e-8, name);
      });
    }
  });

  test('the default tolerance 1e-8 is met and reported', async () => {
    const rng = new Rng(7);
    const net = mlp(rng, 6, 8, 2, 'gelu');
    const mix = new GaussianMixture(randWeights(rng, 3), [0, 1, 2].map(() => randGaussian(rng, 6)));
    const seen: number[] = [];
    const res = await fitQuadraticMixtureKrylov(net, mix, { onIteration: (it, r) => { seen.push(it); assert.ok(Number.isFinite(r)); } });
    assert.ok(Math.max(...res.residuals) <= 1e-8);
    assert.equal(res.converged, true);
    assert.deepEqual(seen, Array.from({ length: res.operatorApplications }, (_, i) => i + 1));
    for (const it of res.iterations) assert.ok(it >= 1 && it <= res.operatorApplications);
    assert.ok(res.seconds >= 0);
    assert.equal(res.approx.gamma?.kind, 'dense');
  });
});

test('a NaN from the backend stops the solve with a NonFiniteError instead of passing for convergence', async () => {
  const rng = new Rng(7);
  const net = mlp(rng, 6, 8, 2, 'gelu');
  const mix = new GaussianMixture(randWeights(rng, 3), [0, 1, 2].map(() => randGaussian(rng, 6, { isolated: 1 })));
  // A backend whose in-place row kernel (used by the operator's decoupled products and the preconditioner's
  // centring) leaves a NaN behind after its second call: NaN compares as "not above the tolerance", which once
  // let such a solve report convergence.
  const base = getBackend();
  let calls = 0;
  const poisoned: LinAlgBackend = Object.assign(Object.create(base) as LinAlgBackend, {
    dscaleShiftRows(...args: Parameters<LinAlgBackend['dscaleShiftRows']>) {
      base.dscaleShiftRows(...args);
      if (++calls === 2) args[8][0] = Number.NaN;
    },
  });
  await assert.rejects(fitQuadraticMixtureKrylov(net, mix, { backend: poisoned }), (e: unknown) => e instanceof NonFiniteError && /non-finite/.test(e.message));
  assert.ok(calls >= 2);
});

test('a restart after recurrence drift starts from the true residual (with the coarse image) and converges to the dense fit', async () => {
  const rng = new Rng(8);
  const d = 7;
  const net = mlp(rng, d, 6, 2, 'gelu');
  const mix = new GaussianMixture(randWeights(rng, 3), [0, 1, 2].map((k) => randGaussian(rng, d, { isolated: k === 1 ? 2 : 0 })));
  // A backend that is off by a relative 1e-7 in one product: the first update of the iterate's linear coefficients
  // (x ← x + coarse solution at the start: a block product over the two outputs with alpha = beta = 1 and n = d; not
  // the quadratic ones, where an elementwise perturbation would add an antisymmetric part that no polynomial sees).
  // The iterate then drifts from the residual the recurrence carries; CG converges on the recurrence, the check on
  // convergence finds the true residual above the tolerance, and the solve restarts from the true residual (coarse
  // correction and its closed-form image again). Skipping either step at a restart fails this test alone.
  // (A perturbed operator product or coarse image would not do: A-DEF2 needs Φᵀr = 0 at every start, and CG then
  // stalls near the perturbation's size instead of converging on the recurrence.)
  const base = getBackend();
  let noisy = 1;
  const drifting: LinAlgBackend = Object.assign(Object.create(base) as LinAlgBackend, {
    dgemm(...args: Parameters<LinAlgBackend['dgemm']>) {
      base.dgemm(...args);
      const [transA, , m, n, , alpha, , , beta, c] = args;
      if (noisy > 0 && transA && m === 2 && n === d && alpha === 1 && beta === 1) {
        noisy--;
        for (let i = 0; i < c.length; i++) c[i]! *= 1 + 1e-7 * Math.sin(7 * i);
      }
    },
  });
  for (const deflation of ['mean', 'affine'] as const) {
    noisy = 1;
    const seen: number[] = [];
    const res = await fitQuadraticMixtureKrylov(net, mix, { tol: 1e-12, ridge: 0, deflation, backend: drifting, onIteration: (_, r) => { seen.push(r); } });
    assert.equal(noisy, 0, 'the perturbed product ran');
    assert.equal(res.converged, true);
    assert.ok(Math.max(...res.residuals) <= 1e-12, `${deflation}: residuals ${res.residuals}`);
    assertSameFit(res.approx, fitQuadraticMixtureDense(net, mix), 1e-8, deflation);
    // A restart shows as a reported residual above the tolerance right after one at or below it.
    const restarted = seen.some((r, i) => i > 0 && seen[i - 1]! <= 1e-12 && r > 1e-12);
    assert.ok(restarted, `${deflation}: no restart happened (${seen.map((r) => r.toExponential(1)).join(' ')})`);
  }
});

test('residual smoothing: the same solution with and without it, and never a larger true residual after as many iterations', async () => {
  const rng = new Rng(21);
  const d = 12;
  // One output: with several, an output that converges earlier leaves the block and changes the later CG iterates.
  const net = mlp(rng, d, 6, 1, 'relu');
  const comps = [0, 1, 2].map((k) => randGaussian(rng, d, { isolated: k === 0 ? 2 : 0 }));
  const mix = new GaussianMixture(randWeights(rng, 3), comps);
  const dense = fitQuadraticMixtureDense(net, mix);
  for (const residualSmoothing of [true, false]) {
    const res = await fitQuadraticMixtureKrylov(net, mix, { tol: 1e-12, ridge: 0, residualSmoothing });
    assert.ok(Math.max(...res.residuals) <= 1e-12, `residuals ${res.residuals}`);
    assertSameFit(res.approx, dense, 1e-8, `residualSmoothing ${residualSmoothing}`);
  }
  // Smoothing only watches the CG recurrence, so both runs make the same CG iterates: iteration by iteration, the
  // largest residual reported with smoothing is at most CG's, below it once smoothing has started (within 100× of
  // tol), and the solve needs no more operator applications.
  const traces: { seen: number[]; applications: number }[] = [];
  for (const residualSmoothing of [true, false]) {
    const seen: number[] = [];
    const res = await fitQuadraticMixtureKrylov(net, mix, {
      tol: 1e-12, ridge: 0, preconditioner: 'pooled', deflation: 'none', residualSmoothing, onIteration: (_, r) => seen.push(r),
    });
    traces.push({ seen, applications: res.operatorApplications });
  }
  const [on, off] = traces as [{ seen: number[]; applications: number }, { seen: number[]; applications: number }];
  let gained = false;
  for (let i = 0; i < Math.min(on.seen.length, off.seen.length) - 1; i++) {
    assert.ok(on.seen[i]! <= off.seen[i]! * (1 + 1e-9), `iteration ${i + 1}: smoothed ${on.seen[i]} > CG ${off.seen[i]}`);
    if (on.seen[i]! < 0.9 * off.seen[i]!) gained = true;
  }
  assert.ok(gained, 'smoothing never lowered a residual');
  assert.ok(on.applications <= off.applications, `${on.applications} > ${off.applications} operator applications`);
});

test('two solves at once in one process give the solutions of two solves in turn', async () => {
  // (This configuration once failed with "setNumThreads: BLAS/LAPACK calls are running": the operator's lanes
  // restored the process-wide BLAS thread count while the other solve's calls were in flight.)
  const rng = new Rng(21);
  const d = 12;
  const net = mlp(rng, d, 6, 1, 'relu');
  const mix = new GaussianMixture(randWeights(rng, 3), [0, 1, 2].map((k) => randGaussian(rng, d, { isolated: k === 0 ? 2 : 0 })));
  const variants = [true, false].map((residualSmoothing) => ({ tol: 1e-12, ridge: 0, preconditioner: 'pooled', deflation: 'none', residualSmoothing } as const));
  const inTurn: Awaited<ReturnType<typeof fitQuadraticMixtureKrylov>>[] = [];
  for (const opts of variants) inTurn.push(await fitQuadraticMixtureKrylov(net, mix, opts));
  const threads = getBackend().getThreads();
  for (let round = 0; round < 5; round++) {
    const together = await Promise.all(variants.map((opts) => fitQuadraticMixtureKrylov(net, mix, opts)));
    together.forEach((res, i) => assertSameFit(res.approx, inTurn[i]!.approx, 1e-9, `round ${round}, solve ${i}`));
  }
  for (let i = 0; i < 200 && getBackend().getThreads() !== threads; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(getBackend().getThreads(), threads);
});

test('a zero-weight component changes nothing (even a singular one)', async () => {
  const rng = new Rng(15);
  const d = 5;
  const net = glu(rng, d, 4, 2, 'relu');
  const [g1, g2] = [randGaussian(rng, d), randGaussian(rng, d, { isolated: 1 })];
  const two = await fitQuadraticMixtureKrylov(net, new GaussianMixture(Float64Array.from([0.3, 0.7]), [g1, g2]), { tol: 1e-13 });
  const three = await fitQuadraticMixtureKrylov(net, new GaussianMixture(Float64Array.from([0.3, 0.7, 0]), [g1, g2, randGaussian(rng, d, { zero: [0, 2] })]), { tol: 1e-13 });
  assert.equal(three.ridge, 0);
  assertSameFit(three.approx, two.approx, 1e-10, 'zero weight');
});

test('golden mlp_silu_mixture, degree 2: α, β, Γ within 1e-8 relative', async () => {
  const c = loadGolden('mlp_silu_mixture');
  const exp = c.expected.get(2)!;
  assert.ok(c.input instanceof GaussianMixture);
  const res = await fitQuadraticMixtureKrylov(c.net, c.input, { tol: 1e-12 });
  assert.equal(res.ridge, 0);
  assert.ok(relErr(res.approx.alpha, exp.alpha) < 1e-8, `alpha ${relErr(res.approx.alpha, exp.alpha)}`);
  assert.ok(relErr(res.approx.beta.data, exp.beta.data) < 1e-8, `beta ${relErr(res.approx.beta.data, exp.beta.data)}`);
  exp.gamma.forEach((G, o) => {
    const e = relErr(res.approx.gammaMatrix(o).data, G.data);
    assert.ok(e < 1e-8, `gamma[${o}] ${e}`);
  });
});

describe('one-component mixture', () => {
  for (const [name, make] of [['MLP relu', (r: Rng) => mlp(r, 7, 6, 3, 'relu')], ['GLU silu', (r: Rng) => glu(r, 7, 5, 2, 'silu')]] as const) {
    test(`${name}: one iteration, equal to the closed-form single-Gaussian fit`, async () => {
      const rng = new Rng(name.length);
      const net = make(rng);
      const g = randGaussian(rng, 7, { isolated: 2 });
      for (const preconditioner of ['scaled-pooled', 'pooled'] as const) {
        for (const deflation of ['none', 'affine'] as const) {
          const res = await fitQuadraticMixtureKrylov(net, new GaussianMixture(Float64Array.of(1), [g]), { preconditioner, deflation });
          // The affine deflation's start (exact affine correction, its image in closed form) costs no application.
          assert.deepEqual(res.iterations, res.iterations.map(() => 1), `iterations ${res.iterations}`);
          // One block iteration plus the true-residual check.
          assert.equal(res.operatorApplications, 2);
          assertSameFit(res.approx, fitQuadraticGaussian(net, g), 1e-10, `${name} ${preconditioner} ${deflation}`);
        }
      }
    });
  }
});

describe('moment operator', () => {
  const rng = new Rng(3);
  const d = 5;
  // Generic, decoupled (2 isolated coordinates) and identity (all decoupled) covariances, unequal weights.
  const mix = new GaussianMixture(Float64Array.from([0.5, 0.3, 0.2]), [
    randGaussian(rng, d), randGaussian(rng, d, { isolated: 2 }), new Gaussian(randVec(rng, d, 0.7), null),
  ]);
  const op = mixtureMomentOperator(mix);

  test('⟨θ, Aθ⟩ equals E_mix[p²] from the dense Isserlis feature moments', async () => {
    const x = randomBlock(new Rng(4), 3, d);
    const Ax = await op.apply(x);
    const G = quadraticBlockGram(x, Ax);
    for (let q = 0; q < 3; q++) {
      const oracle = secondMomentOracle(mix, x, q);
      assert.ok(Math.abs(G[q * 3 + q]! - oracle) <= 1e-12 * Math.abs(oracle), `${G[q * 3 + q]} vs ${oracle}`);
    }
  });

  test('self-adjoint and positive semi-definite (property, random θ, θ\')', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
      const r = new Rng(seed);
      const x = randomBlock(r, 2, d);
      const y = randomBlock(r, 2, d);
      const [Ax, Ay] = [await op.apply(x), await op.apply(y)];
      const xAy = quadraticBlockGram(x, Ay);
      const Axy = quadraticBlockGram(Ax, y);
      const scale = Math.sqrt(Math.max(...diag(quadraticBlockGram(x, Ax), 2)) * Math.max(...diag(quadraticBlockGram(y, Ay), 2)));
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(xAy[i]! - Axy[i]!) <= 1e-12 * scale, `${xAy[i]} vs ${Axy[i]}`);
      for (const v of diag(quadraticBlockGram(x, Ax), 2)) assert.ok(v > 0);
    }), { numRuns: 25 });
  });

  test('applications at once (two solves in one process, or one operator from two tasks) give the results computed one after the other', async () => {
    const backend = getBackend();
    const threads = backend.getThreads();
    const x = randomBlock(new Rng(9), 3, d);
    const y = randomBlock(new Rng(10), 3, d);
    const [op1, op2] = [mixtureMomentOperator(mix, backend), mixtureMomentOperator(mix, backend)];
    const [Ax, Ay] = [await op1.apply(x), await op1.apply(y)];
    // Two operators (two solves), and one of them applied twice at once.
    const together = await Promise.all([op1.apply(x), op2.apply(y), op1.apply(x)]);
    for (const [got, want] of [[together[0]!, Ax], [together[1]!, Ay], [together[2]!, Ax]] as const) {
      for (const key of ['a', 'b', 'S'] as const) assert.ok(relErr(got[key], want[key]) < 1e-14, `${key}: ${relErr(got[key], want[key])}`);
    }
    // The thread count comes back (at once, or on the retry timer once nothing is in flight).
    for (let i = 0; i < 200 && backend.getThreads() !== threads; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(backend.getThreads(), threads);
  });

  for (const backend of availableBackends()) {
    test(`two lanes give one lane's result (${backend.name}) and leave the BLAS thread count as it was`, async () => {
      const x = randomBlock(new Rng(8), 3, d);
      const threads = backend.getThreads();
      const one = await mixtureMomentOperator(mix, backend, 1).apply(x);
      const two = await mixtureMomentOperator(mix, backend, 2).apply(x);
      assert.equal(backend.getThreads(), threads);
      for (const key of ['a', 'b', 'S'] as const) assert.ok(relErr(two[key], one[key]) < 1e-14, `${key}: ${relErr(two[key], one[key])}`);
      if (backend.name === 'native' && threads !== 1) {
        // One BLAS thread: the lanes run in turn, and the count stays 1.
        backend.setThreads(1);
        try {
          const inTurn = await mixtureMomentOperator(mix, backend, 2).apply(x);
          assert.equal(backend.getThreads(), 1);
          for (const key of ['a', 'b', 'S'] as const) assert.ok(relErr(inTurn[key], one[key]) < 1e-14, `${key}: ${relErr(inTurn[key], one[key])}`);
        } finally {
          backend.setThreads(threads);
        }
      }
      const G = quadraticBlockGram(x, two, backend);
      for (let q = 0; q < 3; q++) {
        const oracle = secondMomentOracle(mix, x, q);
        assert.ok(Math.abs(G[q * 3 + q]! - oracle) <= 1e-12 * Math.abs(oracle), `${G[q * 3 + q]} vs ${oracle}`);
      }
    });
  }

  for (const backend of availableBackends()) {
    test(`coordinates decoupled in every component with one variance (one shared product) and with different ones (${backend.name})`, async () => {
      // Coordinates 0 and 1 are decoupled with variance 0.3 in every component: their cross products go through the
      // shared product. Coordinate 2 is decoupled everywhere but with unequal variances, coordinate 3 in one
      // component only: both stay with their components. The means differ, which the shared product allows.
      const r = new Rng(14);
      const dd = 6;
      const comps = [0.2, 0.4, 0.4].map((v, k) => {
        const g = withDecoupled(randGaussian(r, dd, { isolated: 2 }), 2, v);
        return k === 1 ? withDecoupled(g, 3, 0.5) : g;
      });
      const shared = new GaussianMixture(Float64Array.from([0.3, 0.5, 0.2]), comps);
      const x = randomBlock(new Rng(15), 3, dd);
      for (const lanes of [1, 2] as const) {
        const Ax = await mixtureMomentOperator(shared, backend, lanes).apply(x);
        const G = quadraticBlockGram(x, Ax, backend);
        for (let q = 0; q < 3; q++) {
          const oracle = secondMomentOracle(shared, x, q);
          assert.ok(Math.abs(G[q * 3 + q]! - oracle) <= 1e-12 * Math.abs(oracle), `lanes ${lanes}: ${G[q * 3 + q]} vs ${oracle}`);
        }
        // ⟨y, Ax⟩ for a y that lives on the shared rows only (S[t, ·] for t = 0, 1).
        const y = zeroQuadraticBlock(1, dd);
        for (const t of [0, 1]) for (let j = 0; j < dd; j++) y.S[t * dd + j] = y.S[j * dd + t] = 0.3 + 0.1 * j - 0.2 * t;
        const xq = firstOf(x);
        const want = bilinearOracle(shared, xq, y);
        const yAx = quadraticBlockGram(y, await mixtureMomentOperator(shared, backend, lanes).apply(xq), backend)[0]!;
        assert.ok(Math.abs(yAx - want) <= 1e-12 * secondMomentOracle(shared, xq, 0), `lanes ${lanes}: ⟨y, Ax⟩ ${yAx} vs ${want}`);
      }
    });
  }

  for (const backend of availableBackends()) {
    test(`a coordinate decoupled in most components and coupled in one: shared product minus the coupled one (${backend.name})`, async () => {
      // d = 8, five components. Coordinate 7 is decoupled with variance 0.25 in components 0–3 and coupled in 4:
      // sharing costs u² + a_4² = 64 + 64 against 4·7² = 196 multiply-adds per row, so the operator shares it and
      // takes component 4's part back out. Coordinate 6 is decoupled in all five (different means, one variance).
      const r = new Rng(16);
      const dd = 8;
      const comps = [0, 1, 2, 3, 4].map((k) => {
        const g = withDecoupled(randGaussian(r, dd), 6, 0.3);
        return k < 4 ? withDecoupled(g, 7, 0.25) : g;
      });
      const mix = new GaussianMixture(randWeights(r, 5), comps);
      assert.deepEqual(sharedCrossRowsForTests(mix), [6, 7]);
      const x = randomBlock(new Rng(17), 2, dd);
      for (const lanes of [1, 2] as const) {
        const op = mixtureMomentOperator(mix, backend, lanes);
        const Ax = await op.apply(x);
        const G = quadraticBlockGram(x, Ax, backend);
        for (let q = 0; q < 2; q++) {
          const oracle = secondMomentOracle(mix, x, q);
          assert.ok(Math.abs(G[q * 2 + q]! - oracle) <= 1e-12 * Math.abs(oracle), `lanes ${lanes}: ${G[q * 2 + q]} vs ${oracle}`);
        }
        // Every entry of row 7, against the oracle with the unit quadratics e_7e_jᵀ + e_je_7ᵀ.
        const xq = firstOf(x);
        const Axq = await op.apply(xq);
        for (let j = 0; j < dd; j++) {
          const y = zeroQuadraticBlock(1, dd);
          y.S[7 * dd + j] = y.S[j * dd + 7] = 1;
          const want = bilinearOracle(mix, xq, y);
          const got = quadraticBlockGram(y, Axq, backend)[0]!;
          assert.ok(Math.abs(got - want) <= 1e-12 * secondMomentOracle(mix, xq, 0), `lanes ${lanes}, (7, ${j}): ${got} vs ${want}`);
        }
      }
    });
  }

  test('lanes other than 1, 2 or auto are refused', () => {
    for (const bad of [0, 3, 1.5, 'two']) {
      assert.throws(() => mixtureMomentOperator(mix, getBackend(), bad as never), (e: unknown) => e instanceof InvalidArgumentError && /lanes must be 1, 2 or 'auto'/.test((e as Error).message));
    }
  });

  test('the output S blocks are symmetric', async () => {
    const Ax = await op.apply(randomBlock(new Rng(5), 2, d));
    for (let q = 0; q < 2; q++) {
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) assert.equal(Ax.S[q * d * d + i * d + j], Ax.S[q * d * d + j * d + i]);
    }
  });
});

describe('pooled-Gaussian preconditioner', () => {
  test('exact inverse of the operator for one component (both variants)', async () => {
    const rng = new Rng(6);
    const d = 6;
    const mix = new GaussianMixture(Float64Array.of(1), [randGaussian(rng, d, { isolated: 1 })]);
    const x = randomBlock(rng, 3, d);
    const Ax = await mixtureMomentOperator(mix).apply(x);
    for (const kind of ['scaled-pooled', 'pooled'] as const) {
      const back = await pooledGaussianPreconditioner(mix, { kind }).apply(Ax);
      for (const key of ['a', 'b', 'S'] as const) {
        assert.ok(relErr(back[key], x[key]) < 1e-10, `${kind} ${key}: ${relErr(back[key], x[key])}`);
      }
    }
  });

  test(`quadratic block equals ½ D∘(Σ̄⁻¹(D∘R)Σ̄⁻¹) from its definition, with coordinates isolated in every component (both backends)`, async () => {
    // Plain-loop oracle of the module documentation (rareComponents 0: every coordinate is common). Coordinates 0
    // and 3 are isolated in all components (never-lit pixels: P is diagonal there) and coordinate 1 in one only.
    const rng = new Rng(31);
    const d = 6;
    const iso = (g: Gaussian, idx: number[]): Gaussian => {
      const S = g.covariance().clone();
      for (const i of idx) for (let j = 0; j < d; j++) if (j !== i) { S.set(i, j, 0); S.set(j, i, 0); }
      const m = g.mean.slice();
      for (const i of idx) m[i] = 0; // as for never-lit pixels: equal means (exactly), so Σ̄ keeps them isolated
      return new Gaussian(m, S);
    };
    const mix = new GaussianMixture(randWeights(rng, 3), [iso(randGaussian(rng, d), [0, 3]), iso(randGaussian(rng, d), [0, 1, 3]), iso(randGaussian(rng, d), [0, 3])]);
    const x = randomBlock(rng, 2, d);
    const mu = mix.mean();
    const cov = mix.covariance().data;
    const P = invertSmall(cov, d);
    // D_ij = (E_0[y_i²y_j²] / E_mix[y_i²y_j²])^½ (Isserlis), y = x − μ̄.
    const D = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let emix = 0;
        mix.components.forEach((g, k) => {
          const S = g.covariance().data;
          const mi = g.mean[i]! - mu[i]!;
          const mj = g.mean[j]! - mu[j]!;
          emix += mix.weights[k]! * ((S[i * d + i]! + mi * mi) * (S[j * d + j]! + mj * mj) + 2 * S[i * d + j]! ** 2 + 4 * mi * mj * S[i * d + j]!);
        });
        D[i * d + j] = Math.sqrt((cov[i * d + i]! * cov[j * d + j]! + 2 * cov[i * d + j]! ** 2) / emix);
      }
    }
    for (const backend of availableBackends()) {
      const got = await pooledGaussianPreconditioner(mix, { rareComponents: 0 }, backend).apply(x);
      for (let q = 0; q < 2; q++) {
        const o = q * d * d;
        const w = Float64Array.from({ length: d }, (_, i) => x.b[q * d + i]! - 0.5 * x.a[q]! * mu[i]!);
        const DR = new Float64Array(d * d);
        for (let i = 0; i < d; i++) {
          for (let j = 0; j < d; j++) {
            DR[i * d + j] = D[i * d + j]! * (x.S[o + i * d + j]! - x.a[q]! * cov[i * d + j]! - mu[i]! * w[j]! - w[i]! * mu[j]!);
          }
        }
        const want = matmulSmall(matmulSmall(P, DR, d), P, d).map((v, k) => 0.5 * D[k]! * v);
        assert.ok(relErr(got.S.subarray(o, o + d * d), want) < 1e-12, `${backend.name} output ${q}: ${relErr(got.S.subarray(o, o + d * d), want)}`);
      }
    }
  });

  test('applications at once (one preconditioner from two tasks) give the results computed one after the other', async () => {
    const rng = new Rng(12);
    const d = 7;
    const mix = new GaussianMixture(randWeights(rng, 3), [0, 1, 2].map((k) => randGaussian(rng, d, { isolated: k })));
    const prec = pooledGaussianPreconditioner(mix, { rareComponents: 0 });
    const [x, y] = [randomBlock(rng, 3, d), randomBlock(rng, 3, d)];
    const [Mx, My] = [await prec.apply(x), await prec.apply(y)];
    const together = await Promise.all([prec.apply(x), prec.apply(y)]);
    for (const [got, want] of [[together[0]!, Mx], [together[1]!, My]] as const) {
      for (const key of ['a', 'b', 'S'] as const) assert.ok(relErr(got[key], want[key]) < 1e-14, `${key}: ${relErr(got[key], want[key])}`);
    }
  });

  test('symmetric and positive definite for a mixture (property)', async () => {
    const rng = new Rng(8);
    const d = 5;
    const mix = new GaussianMixture(randWeights(rng, 3), [randGaussian(rng, d), randGaussian(rng, d, { isolated: 1 }), randGaussian(rng, d)]);
    const M = pooledGaussianPreconditioner(mix);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
      const r = new Rng(seed);
      const x = randomBlock(r, 1, d);
      const y = randomBlock(r, 1, d);
      const [Mx, My] = [await M.apply(x), await M.apply(y)];
      const a = quadraticBlockGram(x, My)[0]!;
      const b = quadraticBlockGram(Mx, y)[0]!;
      const scale = Math.sqrt(quadraticBlockGram(x, Mx)[0]! * quadraticBlockGram(y, My)[0]!);
      assert.ok(Math.abs(a - b) <= 1e-11 * scale, `${a} vs ${b}`);
      assert.ok(quadraticBlockGram(x, Mx)[0]! > 0);
    }), { numRuns: 25 });
  });
});

describe('rare-coordinate row blocks', () => {
  const rng = new Rng(12);
  const d = 6;
  // Coordinate 0 varies only in component 1, coordinate 1 in components 1 and 2, coordinate 2 in none, the rest in all.
  const comps = [
    randGaussian(rng, d, { isolated: 3 }),
    randGaussian(rng, d, { zero: [2] }),
    (() => {
      const g = randGaussian(rng, d, { zero: [2] });
      const S = g.covariance().clone();
      for (let j = 0; j < d; j++) if (j !== 0) { S.set(0, j, 0); S.set(j, 0, 0); }
      return new Gaussian(g.mean, S);
    })(),
    randGaussian(rng, d, { isolated: 3 }),
  ];
  const mix = ridgedMixture(new GaussianMixture(randWeights(rng, 4), comps), 1e-3);

  test('rare coordinates: varying in 1..limit components and not in all', () => {
    assert.deepEqual(rareCoordinates(mix, 3), [0, 1]);
    assert.deepEqual(rareCoordinates(mix, 1), [0]);
    assert.deepEqual(rareCoordinates(mix, 0), []);
    // A memory budget of one row block keeps the coordinate varying in the fewest components.
    assert.deepEqual(rareCoordinates(mix, 3, 8 * d * d), [0]);
    assert.deepEqual(rareCoordinates(mix, 3, 8 * d * d - 1), []);
    assert.deepEqual(rareCoordinates(new GaussianMixture(Float64Array.of(1), [comps[1]!]), 3), []);
    assert.equal(pooledGaussianPreconditioner(mix).rareCoordinates, 2);
    assert.equal(pooledGaussianPreconditioner(mix, { rareComponents: 0 }).rareCoordinates, 0);
  });

  test('the row model M_r is the mixture Gram of the centred features y_r·y_j − Σ̄_rj (through the full operator)', async () => {
    const op = mixtureMomentOperator(mix);
    const mu = mix.mean();
    const cov = mix.covariance().data;
    const M = rareRowCovariances(mix, mu, cov, [0, 1], getBackend());
    for (const [t, r] of [0, 1].entries()) {
      // p_j = (x_r − μ̄_r)(x_j − μ̄_j) − Σ̄_rj for every j, as one block.
      const p = zeroQuadraticBlock(d, d);
      for (let j = 0; j < d; j++) {
        p.a[j] = mu[r]! * mu[j]! - cov[r * d + j]!;
        p.b[j * d + r]! -= mu[j]!;
        p.b[j * d + j]! -= mu[r]!;
        p.S[j * d * d + r * d + j]! += 0.5;
        p.S[j * d * d + j * d + r]! += 0.5;
      }
      const G = quadraticBlockGram(p, await op.apply(p));
      const Mr = M.subarray(t * d * d, (t + 1) * d * d);
      assert.ok(relErr(Mr, G) < 1e-12, `r = ${r}: ${relErr(Mr, G)}`);
    }
  });

  test('with and without row blocks the solve reaches the dense solution', async () => {
    const net = mlp(rng, d, 5, 2, 'relu');
    const dense = fitQuadraticMixtureDense(net, mix);
    for (const rareComponents of [0, 3]) {
      const res = await fitQuadraticMixtureKrylov(net, mix, { tol: 1e-12, rareComponents });
      assertSameFit(res.approx, dense, 1e-8, `rareComponents ${rareComponents}`);
    }
  });
});

describe('affine deflation', () => {
  const rng = new Rng(31);
  const d = 6;
  const mix = new GaussianMixture(randWeights(rng, 3), [randGaussian(rng, d), randGaussian(rng, d, { isolated: 2 }), randGaussian(rng, d)]);
  const op = mixtureMomentOperator(mix);
  /** max over outputs of |Φᵀ(r − Aθ)| relative to |Φᵀr|: the affine part of the residual left by θ. */
  async function affineResidual(r: QuadraticBlock, theta: QuadraticBlock): Promise<number> {
    const At = await op.apply(theta);
    let worst = 0;
    for (let q = 0; q < r.count; q++) {
      let num = (r.a[q]! - At.a[q]!) ** 2;
      let den = r.a[q]! ** 2;
      for (let i = 0; i < d; i++) {
        num += (r.b[q * d + i]! - At.b[q * d + i]!) ** 2;
        den += r.b[q * d + i]! ** 2;
      }
      worst = Math.max(worst, Math.sqrt(num / den));
    }
    return worst;
  }

  test('the coarse solve removes the affine part of a residual exactly (Φᵀ(r − AQr) = 0)', async () => {
    const defl = await affineDeflation(mix, pooledGaussianPreconditioner(mix), getBackend());
    assert.equal(defl.coarseDim, d + 1);
    const r = randomBlock(rng, 3, d);
    const { solution: c, image } = await defl.coarseSolve(r);
    assert.ok(c.S.every((v) => v === 0), 'the coarse solution is affine');
    const left = await affineResidual(r, c);
    assert.ok(left < 1e-12, `affine residual ${left}`);
    const full = await op.apply(c);
    for (const key of ['a', 'b', 'S'] as const) assert.ok(relErr(image[key], full[key]) < 1e-12, `image ${key}: ${relErr(image[key], full[key])}`);
  });

  test('the deflated preconditioner satisfies ΦᵀA M⁻¹r = Φᵀr, unlike the pooled inverse alone', async () => {
    const pooled = pooledGaussianPreconditioner(mix);
    const defl = await affineDeflation(mix, pooled, getBackend());
    const r = randomBlock(rng, 3, d);
    const deflated = await affineResidual(r, await defl.apply(r));
    const plain = await affineResidual(r, await pooled.apply(r));
    assert.ok(deflated < 1e-12, `deflated: ${deflated}`);
    assert.ok(plain > 1e-3, `the pooled inverse alone leaves an affine residual (${plain}), so the check above can fail`);
  });
});

describe('mean-direction deflation', () => {
  const rng = new Rng(41);
  const d = 7;
  const mix = new GaussianMixture(randWeights(rng, 4), [0, 1, 2, 3].map((k) => randGaussian(rng, d, { isolated: k === 1 ? 2 : 0 })));
  const op = mixtureMomentOperator(mix);
  const coarse = meanDirectionCoarseForTests(mix, getBackend());
  const J = 3;

  test('coarse dimension 1 + d + d·J with J = K − 1 mean directions; Φ and Φᵀ are adjoint', () => {
    assert.equal(coarse.n, 1 + d + d * J);
    const c = Float64Array.from({ length: 2 * coarse.n }, () => rng.normal());
    const x = randomBlock(rng, 2, d);
    const lifted = coarse.lift(c, 2);
    const G = quadraticBlockGram(lifted, x);
    const r = coarse.restrict(x);
    for (let q = 0; q < 2; q++) {
      let cr = 0;
      for (let i = 0; i < coarse.n; i++) cr += c[q * coarse.n + i]! * r[q * coarse.n + i]!;
      assert.ok(Math.abs(G[q * 2 + q]! - cr) <= 1e-12 * Math.abs(cr), `${G[q * 2 + q]} vs ${cr}`);
    }
  });

  test('the restricted operator equals Φᵀ applied to the full operator', async () => {
    const x = randomBlock(rng, 3, d);
    const rel = relErr(await coarse.restrictedOperator(x), coarse.restrict(await op.apply(x)));
    assert.ok(rel < 1e-12, `relative difference ${rel}`);
  });

  test('the closed-form coarse matrix equals ΦᵀAΦ from the full operator', async () => {
    const n = coarse.n;
    const E = coarse.coarseMatrix();
    // Every column: Φᵀ A Φ e_v through the full operator.
    const unit = new Float64Array(n * n);
    for (let v = 0; v < n; v++) unit[v * n + v] = 1;
    const columns = coarse.restrict(await op.apply(coarse.lift(unit, n)));
    const rel = relErr(E, columns);
    assert.ok(rel < 1e-12, `relative difference ${rel}`);
  });

  test("deflation 'auto' picks the mean-direction space at small d and reports it", async () => {
    const net = mlp(rng, d, 5, 2, 'relu');
    const res = await fitQuadraticMixtureKrylov(net, mix, { tol: 1e-12 });
    assert.equal(res.deflation, 'mean');
    assert.ok(res.approx.info.method.includes('mean-direction deflation'), res.approx.info.method);
    assertSameFit(res.approx, fitQuadraticMixtureDense(net, mix), 1e-8, 'auto');
    // Equal means: no mean directions (J = 0), the space is the affine one.
    const centred = new GaussianMixture(mix.weights, mix.components.map((g) => new Gaussian(new Float64Array(d), g.covariance())));
    assert.equal(meanDirectionCoarseForTests(centred, getBackend()).n, 1 + d);
    const flat = await fitQuadraticMixtureKrylov(net, centred, { tol: 1e-12, deflation: 'mean' });
    assertSameFit(flat.approx, fitQuadraticMixtureDense(net, centred), 1e-8, 'J = 0');
  });

  test('the coarse solve returns the image AΦE⁻¹Φᵀr of its solution, equal to the full operator on it', async () => {
    const defl = await meanDirectionDeflation(mix, pooledGaussianPreconditioner(mix), getBackend());
    const r = randomBlock(rng, 3, d);
    const { solution, image } = await defl.coarseSolve(r);
    assert.ok(solution.S.some((v) => v !== 0), 'the solution has a quadratic part, so the direction terms are tested');
    const full = await op.apply(solution);
    for (const key of ['a', 'b', 'S'] as const) {
      const rel = relErr(image[key], full[key]);
      assert.ok(rel < 1e-12, `${key}: relative difference ${rel}`);
    }
  });

  test('the deflated preconditioner satisfies ΦᵀA M⁻¹r = Φᵀr', async () => {
    const defl = await meanDirectionDeflation(mix, pooledGaussianPreconditioner(mix), getBackend());
    const r = randomBlock(rng, 2, d);
    const z = await defl.apply(r);
    const rel = relErr(coarse.restrict(await op.apply(z)), coarse.restrict(r));
    assert.ok(rel < 1e-9, `relative difference ${rel}`);
  });
});

describe('coordinates independent of the component (never-lit pixels)', () => {
  // Coordinate 0 is decoupled in every component with one mean and one variance: it leaves the coarse space.
  // Coordinate 1 is decoupled everywhere with one variance but different means (it stays), and component 1 has two
  // coordinates of its own decoupled, which makes them rare coordinates of the preconditioner (row blocks).
  const rng = new Rng(43);
  const d = 7;
  const independent = (g: Gaussian, k: number): Gaussian => {
    const m = g.mean.slice();
    m[0] = 0.1;
    m[1] = 0.2 * k;
    return new Gaussian(m, withDecoupled(withDecoupled(g, 0, 0.3), 1, 0.2).covariance());
  };
  const comps = [0, 1, 2, 3].map((k) => independent(randGaussian(rng, d, { isolated: k === 1 ? 4 : 0 }), k));
  const mix = new GaussianMixture(randWeights(rng, 4), comps);
  const op = mixtureMomentOperator(mix);
  const coarse = meanDirectionCoarseForTests(mix, getBackend());
  const J = 3;

  for (const kind of ['scaled-pooled', 'pooled'] as const) {
    test(`without row blocks, the deflation without them is the same preconditioner (${kind} base)`, async () => {
      // The pooled inverse is exact on the functions (x_0 − m_0)·g(x) (keptCoarseIndices), so their coarse part has
      // nothing to correct. (The rare-coordinate row blocks are an additive Schwarz split that is not exact there:
      // with them the two deflations differ, as two valid preconditioners; at MNIST size both took 90 applications.)
      const base = pooledGaussianPreconditioner(mix, { kind, rareComponents: 0 });
      const [pruned, full] = [await coarse.deflation(base, true), await coarse.deflation(base, false)];
      assert.equal(full.coarseDim, 1 + d + d * J);
      assert.equal(pruned.coarseDim, 1 + d + d * J - (1 + J));
      const r = randomBlock(rng, 3, d);
      const [zp, zf] = [await pruned.apply(r), await full.apply(r)];
      for (const key of ['a', 'b', 'S'] as const) assert.ok(relErr(zp[key], zf[key]) < 1e-10, `${key}: ${relErr(zp[key], zf[key])}`);
      // The base alone is not that exact elsewhere, so the comparison above can fail.
      const plain = await base.apply(r);
      assert.ok(relErr(plain.S, zp.S) > 1e-3, `the deflation changes the base (${relErr(plain.S, zp.S)})`);
    });
  }

  test('the coarse solve leaves b_0 and S[0, ·] alone and is exact on the kept space (default base, with row blocks)', async () => {
    const base = pooledGaussianPreconditioner(mix);
    assert.ok(base.rareCoordinates > 0, 'the row blocks take part');
    const pruned = await coarse.deflation(base, true);
    assert.equal(pruned.coarseDim, 1 + d + d * J - (1 + J));
    const r = randomBlock(rng, 3, d);
    const { solution, image } = await pruned.coarseSolve(r);
    const full2 = await op.apply(solution);
    for (const key of ['a', 'b', 'S'] as const) assert.ok(relErr(image[key], full2[key]) < 1e-12, `image ${key}: ${relErr(image[key], full2[key])}`);
    const Rres = coarse.restrict(r);
    const Ares = coarse.restrict(full2);
    const n = coarse.n;
    for (let q = 0; q < 3; q++) {
      assert.equal(solution.b[q * d]!, 0);
      for (let j = 0; j < d; j++) assert.equal(solution.S[q * d * d + j]!, 0);
      let num = 0;
      let den = 0;
      for (let i = 0; i < n; i++) {
        if (i === 1 || (i >= 1 + d && i < 1 + d + J)) continue; // b_0 and C[0, ·]
        num += (Rres[q * n + i]! - Ares[q * n + i]!) ** 2;
        den += Rres[q * n + i]! ** 2;
      }
      assert.ok(Math.sqrt(num / den) < 1e-12, `Φᵀ(r − AΦc) on the kept space, output ${q}: ${Math.sqrt(num / den)}`);
    }
  });

  test('the criterion: decoupled in every component, one mean and one variance, compared exactly', () => {
    const of = (m: GaussianMixture) => Array.from(componentIndependentCoordinates(m.components.map((g) => ({ mean: g.mean, cov: g.covariance().data })), d));
    assert.deepEqual(of(mix), [0]);
    const shifted = (g: Gaussian, i: number, by: number): Gaussian => {
      const m = g.mean.slice();
      m[i]! += by;
      return new Gaussian(m, g.covariance());
    };
    assert.deepEqual(of(new GaussianMixture(mix.weights, [shifted(comps[0]!, 0, 1e-12), ...comps.slice(1)])), []);
    assert.deepEqual(of(ridgedMixture(new GaussianMixture(mix.weights, [ridgedMixture(new GaussianMixture(Float64Array.of(1), [comps[0]!]), 1e-9).components[0]!, ...comps.slice(1)]), 0)), []);
    assert.deepEqual(of(new GaussianMixture(Float64Array.of(1), [comps[1]!])), [0, 1, 2, 3]);
  });

  test('the solve with them left out equals the dense fit', async () => {
    const net = mlp(rng, d, 6, 2, 'silu');
    const res = await fitQuadraticMixtureKrylov(net, mix, { tol: 1e-12 });
    assert.equal(res.deflation, 'mean');
    assertSameFit(res.approx, fitQuadraticMixtureDense(net, mix), 1e-8, 'pruned coarse space');
  });
});

describe('singular covariances and the ridge', () => {
  const rng = new Rng(12);
  const d = 5;
  const net = mlp(rng, d, 6, 2, 'gelu');
  // Coordinate 0 has zero variance in every component (a constant pixel), coordinate 1 in one component.
  const mean0 = (g: Gaussian) => {
    const m = g.mean.slice();
    m[0] = 0.25;
    return new Gaussian(m, g.cov);
  };
  const singular = new GaussianMixture(Float64Array.from([0.5, 0.5]), [
    mean0(randGaussian(rng, d, { zero: [0, 1] })), mean0(randGaussian(rng, d, { zero: [0] })),
  ]);

  test("'auto' adds ε = 1e-6·tr(Σ̄)/d and gives the dense fit of the regularised mixture", async () => {
    const pooled = singular.covariance();
    let trace = 0;
    for (let i = 0; i < d; i++) trace += pooled.get(i, i);
    const eps = AUTO_RIDGE_RELATIVE * (trace / d);
    assert.equal(mixtureRidge(singular), eps);
    const res = await fitQuadraticMixtureKrylov(net, singular, { tol: 1e-12 });
    assert.equal(res.ridge, eps);
    for (const v of coefficients(res.approx)) assert.ok(Number.isFinite(v));
    assert.match(res.approx.info.inputModel, /covariances \+ /);
    // The regularised problem has variances ~1e-7 next to O(1) ones (κ(A) ~ 1e13), so individual coefficients of
    // two solvers agree only to ~κ·2⁻⁵²; the fitted polynomials agree in L2 under the mixture, which is what a
    // least-squares minimiser determines: E[(p − p_dense)²] / E[p²] is compared.
    const dense = fitQuadraticMixtureDense(net, ridgedMixture(singular, eps));
    const gap = await relativeL2Distance(ridgedMixture(singular, eps), res.approx, dense);
    assert.ok(gap < 1e-8, `relative L2 distance ${gap}`);
  });

  test("'auto' adds nothing when every component is definite well above ε", () => {
    const r = new Rng(13);
    const mix = new GaussianMixture(Float64Array.from([0.4, 0.6]), [randGaussian(r, d, { isolated: 1 }), randGaussian(r, d)]);
    assert.equal(mixtureRidge(mix), 0);
    assert.equal(ridgedMixture(mix, 0), mix);
  });

  test('an explicit ridge is used as given', async () => {
    const res = await fitQuadraticMixtureKrylov(net, singular, { ridge: 1e-3, tol: 1e-10 });
    assert.equal(res.ridge, 1e-3);
    assertSameFit(res.approx, fitQuadraticMixtureDense(net, ridgedMixture(singular, 1e-3)), 1e-8, 'ridge 1e-3');
  });

  test('ridge 0 with a singular pooled covariance is a NotPositiveDefiniteError naming the ridge', async () => {
    await assert.rejects(fitQuadraticMixtureKrylov(net, singular, { ridge: 0 }), (e: unknown) => e instanceof NotPositiveDefiniteError && /ridge/.test((e as Error).message));
  });
});

describe('errors', () => {
  const rng = new Rng(14);
  const d = 6;
  const net = mlp(rng, d, 5, 2, 'relu');
  const mix = new GaussianMixture(randWeights(rng, 3), [0, 1, 2].map(() => randGaussian(rng, d)));

  test('ConvergenceError when maxIterations is too small, with the residuals reached', async () => {
    await assert.rejects(fitQuadraticMixtureKrylov(net, mix, { maxIterations: 1 }), (e: unknown) => e instanceof ConvergenceError && /maxIterations = 1/.test((e as Error).message));
  });

  test('with throwOnNonConvergence false the current iterate comes back with its true residuals', async () => {
    for (const deflation of ['none', 'affine'] as const) {
      // Two block iterations and the true-residual check (the affine start's image is in closed form).
      const res = await fitQuadraticMixtureKrylov(net, mix, { maxIterations: 2, throwOnNonConvergence: false, preconditioner: 'pooled', deflation });
      assert.equal(res.converged, false);
      assert.equal(res.operatorApplications, 3);
      for (const r of res.residuals) assert.ok(r > 1e-8 && r < 1 && Number.isFinite(r), `residual ${r}`);
      assert.deepEqual(res.iterations, res.iterations.map(() => -1));
      // A time budget that is already spent stops before the first iteration (after the affine start, if any).
      const none = await fitQuadraticMixtureKrylov(net, mix, { maxSeconds: 1e-9, throwOnNonConvergence: false, preconditioner: 'pooled', deflation });
      assert.equal(none.converged, false);
      assert.equal(none.operatorApplications, 1);
      if (deflation === 'none') assert.deepEqual(none.residuals, none.residuals.map(() => 1));
      else for (const r of none.residuals) assert.ok(r > 1e-8 && r < 1, `residual after the affine start ${r}`);
    }
    await assert.rejects(fitQuadraticMixtureKrylov(net, mix, { maxSeconds: 1e-9 }), (e: unknown) => e instanceof ConvergenceError && /maxSeconds/.test((e as Error).message));
  });

  test('a network of another input dimension is a ShapeError', async () => {
    await assert.rejects(fitQuadraticMixtureKrylov(mlp(rng, d + 1, 3, 1, 'relu'), mix), ShapeError);
  });

  test('bad options are InvalidArgumentErrors naming the option', async () => {
    for (const [opts, name] of [
      [{ tol: 0 }, 'tol'], [{ tol: Number.NaN }, 'tol'], [{ maxIterations: 0 }, 'maxIterations'], [{ maxIterations: 2.5 }, 'maxIterations'],
      [{ maxSeconds: 0 }, 'maxSeconds'], [{ ridge: -1 }, 'ridge'], [{ ridge: Number.POSITIVE_INFINITY }, 'ridge'], [{ preconditioner: 'jacobi' }, 'preconditioner'],
      [{ deflation: 'quadratic' }, 'deflation'], [{ rareComponents: -1 }, 'rareComponents'], [{ rareComponents: 1.5 }, 'rareComponents'], [{ residualSmoothing: 'yes' }, 'residualSmoothing'],
    ] as const) {
      await assert.rejects(fitQuadraticMixtureKrylov(net, mix, opts as never), (e: unknown) => e instanceof InvalidArgumentError && (e as Error).message.includes(name));
    }
  });
});

