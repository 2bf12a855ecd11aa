/**
 * Hermite coefficients up to K = 64, for s up to 50, against 30-digit mpmath values
 * (fixtures/activations/hermite_high_order.json from scripts/fixtures/activations_hermite.py). Required:
 * 1e-10 absolute (plus 1e-11 of the scale E|g·He_k|/√k!) for the quadrature activations, 1e-12 of the
 * scale for the closed forms. The test oracle of ./oracle.ts, used by the property tests, is checked here
 * too, so that its own accuracy at high order is known (1e-12 of the scale).
 */
import { describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { getActivation } from '../../src/approx/activations/index.js';
import { oracleExpectation, orthonormalHermite } from './oracle.js';
import { assertClose } from './propertyHelpers.js';

interface HighOrderCase {
  activation: string;
  m: number;
  s: number;
  hermite: number[];
  scale: number[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/activations/hermite_high_order.json', import.meta.url), 'utf8'),
) as { K: number; cases: HighOrderCase[] };

const CLOSED_FORM = new Set(['relu', 'jumprelu(1)', 'gelu']);

describe(`hermiteCoefficients up to K = ${fixture.K}`, () => {
  for (const c of fixture.cases) {
    test(`${c.activation} at m = ${c.m}, s = ${c.s}`, () => {
      const act = getActivation(c.activation);
      const tol = CLOSED_FORM.has(c.activation) ? { abs: 1e-300, rel: 1e-12 } : { abs: 1e-10, rel: 1e-11 };
      const got = act.hermiteCoefficients(c.m, c.s, fixture.K);
      c.hermite.forEach((want, k) => assertClose(got[k]!, want, c.scale[k]!, tol, `c_${k}`));

      const h = new Float64Array(fixture.K + 1);
      const { value: oracle } = oracleExpectation(
        (u, out) => {
          const g = act.value(u);
          orthonormalHermite(fixture.K, (u - c.m) / c.s, h);
          for (let k = 0; k <= fixture.K; k++) out[k] = g * h[k]!;
        },
        fixture.K + 1,
        c.m,
        c.s,
        [...act.kinks, 0],
      );
      c.hermite.forEach((want, k) => assertClose(oracle[k]!, want, c.scale[k]!, { abs: 1e-300, rel: 1e-12 }, `oracle c_${k}`));
    });
  }
});
