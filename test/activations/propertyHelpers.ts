/**
 * Shared pieces of the property tests: the oracle values of every Activation method for one (m, s), and
 * a comparison with a tolerance of absolute + relative-to-scale form.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Activation } from '../../src/approx/activations/index.js';
import { oracleExpectation, orthonormalHermite } from './oracle.js';

export const N_MAX = 5;
export const K_MAX = 8;

export interface OracleValues {
  mean: number;
  meanDerivative: number;
  meanSecondDerivative: number;
  polyMoments: Float64Array;
  hermite: Float64Array;
  squarePolyMoments: Float64Array;
  scale: {
    mean: number;
    meanDerivative: number;
    meanSecondDerivative: number;
    polyMoments: Float64Array;
    hermite: Float64Array;
    squarePolyMoments: Float64Array;
  };
}

/**
 * Oracle values for u ~ N(m, s²), s > 0. E[g′] and E[g″] come from Stein's identities
 * E[g′] = E[g·z]/s and E[g″] = E[g·(z² − 1)]/s², which use only g itself: they check the distributional
 * derivatives (Dirac parts of jumps included) without the activation's derivative or jump bookkeeping.
 */
export function oracleValues(act: Activation, m: number, s: number, n = N_MAX, K = K_MAX): OracleValues {
  const iPoly = 3;
  const iHerm = iPoly + n + 1;
  const iSq = iHerm + K + 1;
  const dim = iSq + n + 1;
  const herm = new Float64Array(K + 1);
  const { value, scale } = oracleExpectation(
    (u, out) => {
      const g = act.value(u);
      const z = (u - m) / s;
      out[0] = g;
      out[1] = (g * z) / s;
      out[2] = (g * (z * z - 1)) / (s * s);
      let term = g;
      let square = g * g;
      for (let k = 0; k <= n; k++) {
        out[iPoly + k] = term;
        out[iSq + k] = square;
        term *= u;
        square *= u;
      }
      orthonormalHermite(K, z, herm);
      for (let k = 0; k <= K; k++) out[iHerm + k] = g * herm[k]!;
    },
    dim,
    m,
    s,
    [...act.kinks, 0],
  );
  return {
    mean: value[0]!,
    meanDerivative: value[1]!,
    meanSecondDerivative: value[2]!,
    polyMoments: value.slice(iPoly, iPoly + n + 1),
    hermite: value.slice(iHerm, iHerm + K + 1),
    squarePolyMoments: value.slice(iSq, iSq + n + 1),
    scale: {
      mean: scale[0]!,
      meanDerivative: scale[1]!,
      meanSecondDerivative: scale[2]!,
      polyMoments: scale.slice(iPoly, iPoly + n + 1),
      hermite: scale.slice(iHerm, iHerm + K + 1),
      squarePolyMoments: scale.slice(iSq, iSq + n + 1),
    },
  };
}

/** Absolute tolerance plus a tolerance relative to the scale E|integrand| of the quantity. */
export interface Tolerance {
  abs: number;
  rel: number;
}

/** Asserts |got − want| ≤ tol.abs + tol.rel·scale. */
export function assertClose(got: number, want: number, scale: number, tol: Tolerance, label: string): void {
  const err = Math.abs(got - want);
  const bound = tol.abs + tol.rel * scale;
  assert.ok(
    err <= bound,
    `${label}: got ${got}, want ${want}, |error| ${err.toExponential(3)} > ${bound.toExponential(3)} (scale ${scale.toExponential(3)})`,
  );
}

export type ActivationMethod =
  | 'mean'
  | 'meanDerivative'
  | 'meanSecondDerivative'
  | 'polyMoments'
  | 'hermiteCoefficients'
  | 'squarePolyMoments';

/**
 * Compares every method of `act` at (m, s) with the oracle; n bounds polyMoments/squarePolyMoments.
 * @param tolerance one tolerance for all methods, or a per-method override map on top of `tolerance.abs/rel`.
 */
export function checkAgainstOracle(
  act: Activation,
  m: number,
  s: number,
  n: number,
  tolerance: Tolerance,
  perMethod: Partial<Record<ActivationMethod, Tolerance>> = {},
): void {
  const want = oracleValues(act, m, s, n, K_MAX);
  const at = `${act.name} at m = ${m}, s = ${s}`;
  const tol = tolerance;
  assertClose(act.mean(m, s), want.mean, want.scale.mean, perMethod.mean ?? tol, `${at}: mean`);
  assertClose(act.meanDerivative(m, s), want.meanDerivative, want.scale.meanDerivative, perMethod.meanDerivative ?? tol, `${at}: meanDerivative`);
  assertClose(
    act.meanSecondDerivative(m, s),
    want.meanSecondDerivative,
    want.scale.meanSecondDerivative,
    perMethod.meanSecondDerivative ?? tol,
    `${at}: meanSecondDerivative`,
  );
  const poly = act.polyMoments(m, s, n);
  assert.equal(poly.length, n + 1);
  for (let k = 0; k <= n; k++) {
    assertClose(poly[k]!, want.polyMoments[k]!, want.scale.polyMoments[k]!, perMethod.polyMoments ?? tol, `${at}: polyMoments[${k}]`);
  }
  const herm = act.hermiteCoefficients(m, s, K_MAX);
  assert.equal(herm.length, K_MAX + 1);
  for (let k = 0; k <= K_MAX; k++) {
    assertClose(herm[k]!, want.hermite[k]!, want.scale.hermite[k]!, perMethod.hermiteCoefficients ?? tol, `${at}: hermiteCoefficients[${k}]`);
  }
  const sq = act.squarePolyMoments(m, s, n);
  assert.equal(sq.length, n + 1);
  for (let k = 0; k <= n; k++) {
    assertClose(
      sq[k]!,
      want.squarePolyMoments[k]!,
      want.scale.squarePolyMoments[k]!,
      perMethod.squarePolyMoments ?? tol,
      `${at}: squarePolyMoments[${k}]`,
    );
  }
}

/** m ∈ [−12, 12], s log-uniform in [0.05, 50], n ∈ 0..5. */
export const gaussianCase = fc.record({
  m: fc.double({ min: -12, max: 12, noNaN: true }),
  s: fc.double({ min: Math.log(0.05), max: Math.log(50), noNaN: true }).map(Math.exp),
  n: fc.integer({ min: 0, max: N_MAX }),
});
