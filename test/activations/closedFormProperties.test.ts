/**
 * Property tests of the closed-form activations (identity, relu, leaky_relu, jumprelu, gelu) against the
 * independent tanh-sinh oracle of ./oracle.ts, for m ∈ [−12, 12], s ∈ [0.05, 50] (log-uniform), n ≤ 5,
 * Hermite orders ≤ 8. Tolerance: 1e-12 of the scale E|integrand| of each quantity, tighter than the
 * 1e-10 absolute required of the quadrature activations (for the nonnegative ReLU moments this is a
 * relative tolerance, so it covers the far tail too). gelu's E[u^k g²] is itself computed by quadrature
 * and gets the quadrature tolerance.
 */
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { getActivation } from '../../src/approx/activations/index.js';
import { checkAgainstOracle, gaussianCase } from './propertyHelpers.js';

const CLOSED_FORM_TOLERANCE = { abs: 0, rel: 1e-12 };
const QUADRATURE_TOLERANCE = { abs: 1e-10, rel: 1e-11 };
const SPECS = ['identity', 'relu', 'leaky_relu(0.2)', 'jumprelu(1)', 'jumprelu(-0.5)', 'gelu'];

describe('closed-form activations agree with an independent quadrature', () => {
  for (const spec of SPECS) {
    test(spec, () => {
      const act = getActivation(spec);
      const perMethod = spec === 'gelu' ? { squarePolyMoments: QUADRATURE_TOLERANCE } : {};
      fc.assert(
        fc.property(gaussianCase, ({ m, s, n }) => {
          checkAgainstOracle(act, m, s, n, CLOSED_FORM_TOLERANCE, perMethod);
        }),
        {
          numRuns: 50,
          seed: 20261126,
          examples: [[{ m: -0.6, s: 0.05, n: 5 }], [{ m: 12, s: 50, n: 5 }], [{ m: -12, s: 1, n: 5 }], [{ m: 1, s: 1, n: 3 }]],
        },
      );
    });
  }
});
