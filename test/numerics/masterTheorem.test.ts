import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEGENERATE_VAR_RATIO,
  masterTheorem,
  masterTheoremExpectation,
  masterTheoremStandardized,
  type MasterTheoremParams,
} from '../../src/numerics/masterTheorem.js';
import { noncentralIsserlis, pairPartitions } from '../../src/numerics/wick.js';
import { normalMoments } from '../../src/numerics/moments.js';
import { expectNormal } from '../../src/numerics/quadrature.js';
import { Matrix } from '../../src/linalg/matrix.js';
import { InvalidArgumentError, NonFiniteError, NotPositiveDefiniteError, ShapeError } from '../../src/errors.js';
import { TestRng, choleskyLower, randomCovariance } from './rng.js';

/** Random joint Gaussian (X, Y_1..Y_n): returns the parameters and the joint mean/covariance (X first). */
function randomJoint(rng: TestRng, n: number): { p: MasterTheoremParams; mean: Float64Array; cov: Float64Array } {
  const N = n + 1;
  const cov = randomCovariance(rng, N, 0.05);
  const mean = Float64Array.from({ length: N }, () => rng.range(-1.5, 1.5));
  const covY = new Matrix(n, n);
  const covXY = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    covXY[i] = cov[i + 1]!;
    for (let j = 0; j < n; j++) covY.set(i, j, cov[(i + 1) * N + j + 1]!);
  }
  return { p: { muX: mean[0]!, varX: cov[0]!, muY: mean.slice(1), covY, covXY }, mean, cov };
}

/** method.md §2.2 verbatim: κ_m = Σ_{|S|=m} Π_S a_i Σ_{T ⊆ rest, |T| even} Π_{rest∖T} b_i Haf(R_T), brute force. */
function bruteKappa(p: MasterTheoremParams): Float64Array {
  const n = p.muY.length;
  const a = Array.from(p.covXY, (c) => c / p.varX);
  const b = a.map((ai, i) => p.muY[i]! - ai * p.muX);
  const R = (i: number, j: number): number => p.covY.get(i, j) - (p.covXY[i]! * p.covXY[j]!) / p.varX;
  const kappa = new Float64Array(n + 1);
  for (let S = 0; S < 1 << n; S++) {
    let prodA = 1;
    const rest: number[] = [];
    for (let i = 0; i < n; i++) {
      if ((S >> i) & 1) prodA *= a[i]!;
      else rest.push(i);
    }
    let inner = 0;
    for (let T = 0; T < 1 << rest.length; T++) {
      const inT: number[] = [];
      let prodB = 1;
      rest.forEach((i, k) => {
        if ((T >> k) & 1) inT.push(i);
        else prodB *= b[i]!;
      });
      if (inT.length % 2 === 1) continue;
      let haf = 0;
      for (const m of pairPartitions(inT)) haf += m.reduce((acc, [x, y]) => acc * R(x, y), 1);
      inner += prodB * haf;
    }
    kappa[rest.length === n ? 0 : n - rest.length] += prodA * inner;
  }
  return kappa;
}

const relu = (u: number): number => (u > 0 ? u : 0);
const gs: [string, (u: number) => number, number[] | undefined][] = [
  ['relu', relu, [0]],
  ['tanh', Math.tanh, undefined],
  ['square', (u) => u * u, undefined],
  ['cubic', (u) => u * u * u - 2 * u + 0.5, undefined],
];

describe('masterTheorem', () => {
  test('golden triple of method.md §2.2 (reference order is descending)', () => {
    const kappa = masterTheorem({
      muX: 0.2,
      varX: 1.5,
      muY: Float64Array.of(0.1, -0.3),
      covY: Matrix.fromRows([
        [1, 0.25],
        [0.25, 0.8],
      ]),
      covXY: Float64Array.of(0.4, -0.2),
    });
    const descending = [-0.0355555555556, -0.0791111111111, 0.290577777778];
    assert.equal(kappa.length, 3);
    for (let m = 0; m < 3; m++) assert.ok(Math.abs(kappa[m]! - descending[2 - m]!) <= 5e-13, `κ_${m} = ${kappa[m]}`);
  });

  test('equals the brute-force formula of method.md (n ≤ 5)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 5 }), (seed, n) => {
        const { p } = randomJoint(new TestRng(seed), n);
        const got = masterTheorem(p);
        const ref = bruteKappa(p);
        const scale = Math.max(...Array.from(ref, Math.abs), 1);
        for (let m = 0; m <= n; m++) assert.ok(Math.abs(got[m]! - ref[m]!) <= 1e-12 * scale, `n=${n}, κ_${m}: ${got[m]} vs ${ref[m]}`);
      }),
      { numRuns: 60 },
    );
  });

  test('exact for g(x) = x^p: Σ κ_m E[X^{m+p}] = noncentral Isserlis moment of the joint vector', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 3 }),
        (seed, n, pw) => {
          const { p, mean, cov } = randomJoint(new TestRng(seed), n);
          const kappa = masterTheorem(p);
          const moments = normalMoments(n + pw, p.muX, Math.sqrt(p.varX)).slice(pw);
          const got = masterTheoremExpectation(kappa, moments);
          const idx = [...new Array<number>(pw).fill(0), ...Array.from({ length: n }, (_, i) => i + 1)];
          const N = n + 1;
          const ref = noncentralIsserlis(mean, new Matrix(N, N, cov), idx);
          let scale = Math.abs(ref);
          for (let m = 0; m <= n; m++) scale += Math.abs(kappa[m]! * moments[m]!);
          assert.ok(Math.abs(got - ref) <= 1e-13 * scale, `n=${n} p=${pw}: ${got} vs ${ref}`);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('Monte Carlo, n = 1..4, g ∈ {relu, tanh, x², cubic} (2e5 samples, 5 standard errors)', () => {
    const rng = new TestRng(20251126);
    const N = 200_000;
    for (let n = 1; n <= 4; n++) {
      const { p, mean, cov } = randomJoint(rng, n);
      const dim = n + 1;
      const l = choleskyLower(cov, dim);
      const kappa = masterTheorem(p);
      const sdX = Math.sqrt(p.varX);
      const sums = new Float64Array(gs.length);
      const sumSq = new Float64Array(gs.length);
      const z = new Float64Array(dim);
      const v = new Float64Array(dim);
      for (let s = 0; s < N; s++) {
        for (let i = 0; i < dim; i++) z[i] = rng.normal();
        for (let i = 0; i < dim; i++) {
          let acc = mean[i]!;
          for (let k = 0; k <= i; k++) acc += l[i * dim + k]! * z[k]!;
          v[i] = acc;
        }
        let prodY = 1;
        for (let i = 1; i < dim; i++) prodY *= v[i]!;
        for (let gi = 0; gi < gs.length; gi++) {
          const val = gs[gi]![1](v[0]!) * prodY;
          sums[gi] += val;
          sumSq[gi] += val * val;
        }
      }
      gs.forEach(([name, g, bp], gi) => {
        const polyMoments = Float64Array.from({ length: n + 1 }, (_, m) =>
          expectNormal((u) => u ** m * g(u), p.muX, sdX, bp ? { breakpoints: bp } : undefined),
        );
        const analytic = masterTheoremExpectation(kappa, polyMoments);
        const mc = sums[gi]! / N;
        const se = Math.sqrt((sumSq[gi]! / N - mc * mc) / N);
        assert.ok(Math.abs(analytic - mc) <= 5 * se, `n=${n}, g=${name}: analytic ${analytic}, MC ${mc} ± ${se}`);
      });
    }
  });

  test('standardized coefficients give the same expectation as the raw ones', () => {
    const rng = new TestRng(99);
    for (let n = 0; n <= 4; n++) {
      const { p } = randomJoint(rng, n);
      const sdX = Math.sqrt(p.varX);
      const raw = masterTheorem(p);
      const std = masterTheoremStandardized(p);
      for (const [, g, bp] of gs) {
        const opts = bp ? { breakpoints: bp } : undefined;
        const rawMoments = Float64Array.from({ length: n + 1 }, (_, m) => expectNormal((u) => u ** m * g(u), p.muX, sdX, opts));
        const zKink = bp ? { breakpoints: bp.map((b) => (b - p.muX) / sdX) } : undefined;
        const stdMoments = Float64Array.from({ length: n + 1 }, (_, m) =>
          expectNormal((z) => z ** m * g(p.muX + sdX * z), 0, 1, zKink),
        );
        const a = masterTheoremExpectation(raw, rawMoments);
        const b = masterTheoremExpectation(std, stdMoments);
        let scale = 0;
        for (let m = 0; m <= n; m++) scale += Math.abs(raw[m]! * rawMoments[m]!);
        assert.ok(Math.abs(a - b) <= 1e-10 * scale, `n=${n}: ${a} vs ${b}`);
      }
    }
  });

  test('Var X = 0: κ = (E[Π Y], 0, …, 0), exact since E[X^m g(X)] = μ_X^m g(μ_X)', () => {
    const rng = new TestRng(5);
    const { p } = randomJoint(rng, 3);
    const degenerate = { ...p, varX: 0, covXY: new Float64Array(3) };
    const kappa = masterTheorem(degenerate);
    const eProd = noncentralIsserlis(p.muY, p.covY, [0, 1, 2]);
    assert.ok(Math.abs(kappa[0]! - eProd) <= 1e-15 * Math.max(1, Math.abs(eProd)));
    assert.deepEqual(Array.from(kappa.slice(1)), [0, 0, 0]);
    const lambda = masterTheoremStandardized(degenerate);
    assert.ok(Math.abs(lambda[0]! - eProd) <= 1e-15 * Math.max(1, Math.abs(eProd)));
    // nonzero covariance with a constant X is not a covariance
    assert.throws(() => masterTheorem({ ...degenerate, covXY: Float64Array.of(0, 1e-300, 0) }), NotPositiveDefiniteError);
  });

  test('tiny Var X: finite coefficients, continuous towards the constant case', () => {
    const rng = new TestRng(6);
    const { p } = randomJoint(rng, 2);
    const eProd = noncentralIsserlis(p.muY, p.covY, [0, 1]);
    const g = Math.tanh;
    const gMu = g(p.muX);
    const sdY = Math.sqrt(Math.max(p.covY.get(0, 0), p.covY.get(1, 1)));
    for (const sdX of [1e-3, 1e-6, 1e-12, 1e-16, 1e-100]) {
      // keep the correlations of the random draw
      const scale = sdX / Math.sqrt(p.varX);
      const q = { ...p, varX: sdX * sdX, covXY: p.covXY.map((c) => c * scale) };
      const lambda = masterTheoremStandardized(q);
      assert.ok(lambda.every(Number.isFinite));
      // integrate in z: forming (u − μ)/σ from u = μ + σz would lose all digits for tiny σ
      const stdMoments = Float64Array.from({ length: 3 }, (_, m) => expectNormal((z) => z ** m * g(q.muX + sdX * z), 0, 1));
      const value = masterTheoremExpectation(lambda, stdMoments);
      // |E[g(X)ΠY] − g(μ)E[ΠY]| = O(σ_X·|g'|·σ_Y·scale(Y)): allow 10·σ_X·σ_Y·(1 + Σ|μ_Y| + σ_Y)
      const bound = 10 * sdX * sdY * (1 + Math.abs(p.muY[0]!) + Math.abs(p.muY[1]!) + sdY) + 1e-14;
      assert.ok(Math.abs(value - gMu * eProd) <= bound, `σ_X=${sdX}: ${value} vs ${gMu * eProd}`);
      const kappa = masterTheorem(q);
      assert.ok(kappa.every(Number.isFinite));
      if (sdX * sdX <= DEGENERATE_VAR_RATIO * sdY * sdY) {
        assert.deepEqual(Array.from(kappa.slice(1)), [0, 0]);
      }
    }
  });

  test('n = 0: κ = [1]; n = 12 runs quickly', () => {
    const k0 = masterTheorem({ muX: 1, varX: 2, muY: new Float64Array(0), covY: new Matrix(0, 0), covXY: new Float64Array(0) });
    assert.deepEqual(Array.from(k0), [1]);
    const { p } = randomJoint(new TestRng(12), 12);
    const t0 = performance.now();
    const k = masterTheorem(p);
    assert.ok(performance.now() - t0 < 2000);
    assert.equal(k.length, 13);
    // κ(x) at x = μ_X... the polynomial's leading coefficient is Π a_i
    const leading = Array.from(p.covXY).reduce((acc, c) => acc * (c / p.varX), 1);
    assert.ok(Math.abs(k[12]! - leading) <= 1e-12 * Math.abs(leading));
  });

  test('invalid inputs throw typed errors naming the problem', () => {
    const base: MasterTheoremParams = {
      muX: 0,
      varX: 1,
      muY: Float64Array.of(0, 0),
      covY: Matrix.identity(2),
      covXY: Float64Array.of(0.1, 0.2),
    };
    assert.throws(() => masterTheorem({ ...base, muY: Float64Array.of(0) }), ShapeError);
    assert.throws(() => masterTheorem({ ...base, covXY: Float64Array.of(0) }), ShapeError);
    assert.throws(() => masterTheorem({ ...base, covY: Matrix.identity(3) }), ShapeError);
    assert.throws(() => masterTheorem({ ...base, muX: NaN }), NonFiniteError);
    assert.throws(() => masterTheorem({ ...base, covXY: Float64Array.of(Infinity, 0) }), NonFiniteError);
    assert.throws(() => masterTheorem({ ...base, varX: -1 }), (e: unknown) => e instanceof NotPositiveDefiniteError && /Var X/.test(e.message));
    assert.throws(
      () => masterTheorem({ ...base, covXY: Float64Array.of(0.9, 0.9) }),
      (e: unknown) => e instanceof NotPositiveDefiniteError && /eigenvalue/.test(e.message),
    );
    assert.throws(
      () => masterTheorem({ ...base, covY: Matrix.fromRows([[1, 0.5], [0.2, 1]]) }),
      (e: unknown) => e instanceof InvalidArgumentError && /symmetric/.test(e.message),
    );
    assert.throws(
      () => masterTheorem({ ...base, covY: Matrix.fromRows([[1, 0], [0, -1]]) }),
      (e: unknown) => e instanceof NotPositiveDefiniteError && /Y_1/.test(e.message),
    );
    assert.throws(() => masterTheoremStandardized({ ...base, varX: -1 }), NotPositiveDefiniteError);
    assert.throws(() => masterTheoremExpectation(Float64Array.of(1, 2), Float64Array.of(1)), ShapeError);
    assert.throws(() => masterTheoremExpectation(Float64Array.of(1), Float64Array.of(NaN)), NonFiniteError);
    // PSD within tolerance: a correlation of 1 + 1e-13 (rounding) is accepted
    const edge = { ...base, covY: Matrix.fromRows([[1, 1 + 1e-13], [1 + 1e-13, 1]]), covXY: Float64Array.of(0, 0) };
    assert.doesNotThrow(() => masterTheorem(edge));
  });
});
