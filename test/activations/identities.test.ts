/**
 * Identities every activation must satisfy, each relating two methods computed by different routes:
 *   - Stein: c_0 = E[g], c_1 = s·E[g′], c_2 = s²·E[g″]/√2 (hermiteCoefficients integrates g·He_k, the
 *     derivative methods integrate g′, g″ and add the Dirac parts of jumps);
 *   - polyMoments from hermiteCoefficients: u^k = (m + s z)^k expanded in Hermite polynomials;
 *   - Parseval Σ_{k≥1} c_k² = Var g = E[g²] − E[g]² (squarePolyMoments vs hermiteCoefficients), to 1e-12
 *     at K = 64 for smooth g and small s; for ReLU-type g the truncation gap must decay like K^{−3/2}
 *     (g′ jumps: c_k ~ k^{−5/4}), for JumpReLU like K^{−1/2} (g jumps: c_k ~ k^{−3/4}), which checks the
 *     closed-form coefficients up to order 4800.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getActivation } from '../../src/approx/activations/index.js';
import { assertClose, type Tolerance } from './propertyHelpers.js';

const CLOSED_FORM = ['identity', 'relu', 'leaky_relu(0.2)', 'jumprelu(1)', 'jumprelu(-0.5)', 'gelu'];
const QUADRATURE = ['sigmoid', 'silu', 'tanh', 'softplus', 'gelu_tanh'];
const ALL = [...CLOSED_FORM, ...QUADRATURE];
const tolerance = (spec: string): Tolerance =>
  CLOSED_FORM.includes(spec) ? { abs: 1e-300, rel: 1e-12 } : { abs: 1e-10, rel: 1e-11 };

const caseArb = fc.record({
  m: fc.double({ min: -12, max: 12, noNaN: true }),
  s: fc.double({ min: Math.log(0.05), max: Math.log(50), noNaN: true }).map(Math.exp),
});

function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}

function binomial(n: number, k: number): number {
  return factorial(n) / (factorial(k) * factorial(n - k));
}

describe('Stein identities c_0 = E[g], c_1 = s·E[g′], c_2 = s²·E[g″]/√2', () => {
  for (const spec of ALL) {
    test(spec, () => {
      const act = getActivation(spec);
      const tol = tolerance(spec);
      fc.assert(
        fc.property(caseArb, ({ m, s }) => {
          const c = act.hermiteCoefficients(m, s, 2);
          const mean = act.mean(m, s);
          const d1 = act.meanDerivative(m, s);
          const d2 = act.meanSecondDerivative(m, s);
          const at = `${spec} at m = ${m}, s = ${s}`;
          assertClose(c[0]!, mean, Math.abs(mean), tol, `${at}: c_0 vs E[g]`);
          assertClose(c[1]!, s * d1, Math.abs(s * d1) + Math.abs(c[1]!), tol, `${at}: c_1 vs s·E[g′]`);
          const stein2 = (s * s * d2) / Math.SQRT2;
          assertClose(c[2]!, stein2, Math.abs(stein2) + Math.abs(c[2]!), tol, `${at}: c_2 vs s²E[g″]/√2`);
        }),
        { numRuns: 30, seed: 7 },
      );
    });
  }
});

describe('polyMoments equal the Hermite expansion of (m + s z)^k', () => {
  for (const spec of ALL) {
    test(spec, () => {
      const act = getActivation(spec);
      const tol = tolerance(spec);
      const n = 5;
      fc.assert(
        fc.property(caseArb, ({ m, s }) => {
          const c = act.hermiteCoefficients(m, s, n);
          const poly = act.polyMoments(m, s, n);
          for (let k = 0; k <= n; k++) {
            // E[u^k g] = Σ_i C(k,i) m^{k−i} s^i E[z^i g],  z^i = Σ_p i!/(p!(i−2p)!2^p)·He_{i−2p}(z),
            // E[g He_j] = √(j!)·c_j.
            let sum = 0;
            let magnitude = 0;
            for (let i = 0; i <= k; i++) {
              for (let p = 0; 2 * p <= i; p++) {
                const j = i - 2 * p;
                const term =
                  binomial(k, i) *
                  m ** (k - i) *
                  s ** i *
                  (factorial(i) / (factorial(p) * factorial(j) * 2 ** p)) *
                  Math.sqrt(factorial(j)) *
                  c[j]!;
                sum += term;
                magnitude += Math.abs(term);
              }
            }
            assertClose(poly[k]!, sum, magnitude, tol, `${spec} at m = ${m}, s = ${s}: polyMoments[${k}]`);
          }
        }),
        { numRuns: 20, seed: 11 },
      );
    });
  }
});

describe('Parseval: Σ_{k≥1} c_k² = Var g', () => {
  const smoothCases: [number, number][] = [
    [0, 0.25],
    [0.5, 0.5],
    [-1, 0.5],
    [2, 0.25],
  ];
  for (const spec of ['identity', 'gelu', ...QUADRATURE]) {
    test(`${spec}, K = 64`, () => {
      const act = getActivation(spec);
      for (const [m, s] of smoothCases) {
        const variance = act.squarePolyMoments(m, s, 0)[0]! - act.mean(m, s) ** 2;
        const c = act.hermiteCoefficients(m, s, 64);
        let sum = 0;
        for (let k = 1; k <= 64; k++) sum += c[k]! * c[k]!;
        assertClose(sum, variance, variance, { abs: 1e-12, rel: 1e-11 }, `${spec} at m = ${m}, s = ${s}`);
      }
    });
  }

  test('gelu closed form, K = 400 (c_k ~ (s/√(1+s²))^k: converged for s ≤ 3)', () => {
    const gelu = getActivation('gelu');
    for (const [m, s] of [
      [0.5, 1],
      [-2, 2],
      [3, 3],
      [-10, 2.5],
    ] as const) {
      const variance = gelu.squarePolyMoments(m, s, 0)[0]! - gelu.mean(m, s) ** 2;
      const c = gelu.hermiteCoefficients(m, s, 400);
      let sum = 0;
      for (let k = 1; k <= 400; k++) sum += c[k]! * c[k]!;
      assertClose(sum, variance, variance, { abs: 1e-13, rel: 1e-11 }, `gelu at m = ${m}, s = ${s}`);
    }
  });

  const kinkCases: [number, number][] = [
    [0, 1],
    [0.5, 2],
    [-1, 0.5],
    [3, 1],
  ];
  for (const [spec, rate] of [
    ['relu', 1.5],
    ['leaky_relu(0.2)', 1.5],
    ['jumprelu(1)', 0.5],
  ] as const) {
    test(`${spec}: Bessel inequality holds and the gap decays like K^−${rate}`, () => {
      const act = getActivation(spec);
      for (const [m, s] of kinkCases) {
        const variance = act.squarePolyMoments(m, s, 0)[0]! - act.mean(m, s) ** 2;
        const c = act.hermiteCoefficients(m, s, 4800);
        const gap = (K: number): number => {
          let sum = 0;
          for (let k = 1; k <= K; k++) sum += c[k]! * c[k]!;
          return variance - sum;
        };
        const gaps = [300, 1200, 4800].map(gap);
        assert.ok(gaps.every((g) => g > 0), `${spec} at m = ${m}, s = ${s}: Σc_k² exceeds Var g: ${gaps}`);
        // Quadrupling K divides the gap by 4^rate (8 resp. 2); allow ±10% for the oscillation of He_k(ℓ)².
        for (let i = 0; i + 1 < gaps.length; i++) {
          const ratio = gaps[i]! / gaps[i + 1]!;
          const expected = 4 ** rate;
          assert.ok(
            Math.abs(ratio / expected - 1) < 0.1,
            `${spec} at m = ${m}, s = ${s}: gap ratio ${ratio}, expected ≈ ${expected}`,
          );
        }
      }
    });
  }
});
