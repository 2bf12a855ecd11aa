/**
 * Property tests of the logistic-family quadrature activations (sigmoid, silu, softplus) against the
 * independent tanh-sinh oracle of ./oracle.ts: m ∈ [−12, 12], s ∈ [0.05, 50] (log-uniform), n ≤ 5,
 * Hermite orders ≤ 8. Required accuracy: 1e-10 absolute, plus 1e-11 of the scale E|integrand| for the
 * large moments (E[u^5 g] reaches ~1e10 at s = 50).
 */
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { getActivation } from '../../src/approx/activations/index.js';
import { checkAgainstOracle, gaussianCase } from './propertyHelpers.js';

const QUADRATURE_TOLERANCE = { abs: 1e-10, rel: 1e-11 };

describe('logistic-family activations agree with an independent quadrature', () => {
  for (const spec of ['sigmoid', 'silu', 'softplus']) {
    test(spec, () => {
      const act = getActivation(spec);
      fc.assert(
        fc.property(gaussianCase, ({ m, s, n }) => checkAgainstOracle(act, m, s, n, QUADRATURE_TOLERANCE)),
        { numRuns: 50, seed: 20261126, examples: [[{ m: 0.5, s: 50, n: 5 }], [{ m: -12, s: 0.05, n: 5 }]] },
      );
    });
  }
});
