/**
 * The closed-form building blocks against 50-digit mpmath values (fixtures/activations/tail.json from
 * scripts/fixtures/activations_tail.py):
 *   - shifted tail moments V_j(ℓ), j ≤ 40, for ℓ from −30 to 37 (both recurrence directions and the
 *     switch between them): full relative accuracy, since every V_j is positive;
 *   - scaled orthonormal Hermite sequences A·ρ^k·He_k(x)/√k!, k ≤ 300, including arguments where the
 *     prefactor A = φ(y) underflows or He_k(x) overflows in double precision. The sequence oscillates,
 *     so the error is measured against its local amplitude √(T_k² + T_{k−1}²) (consecutive terms of a
 *     three-term recurrence cannot both be small).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { normLogPdf, normPdf } from '../../src/numerics/index.js';
import { scaledNormalizedHermiteAll, shiftedTailMoments } from '../../src/approx/activations/index.js';

interface TailFixture {
  tailMoments: { l: number; V: number[] }[];
  scaledHermite: { x: number; rho: number; y: number; T: number[] }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/activations/tail.json', import.meta.url), 'utf8'),
) as TailFixture;

describe('shiftedTailMoments', () => {
  for (const { l, V } of fixture.tailMoments) {
    test(`ℓ = ${l}`, () => {
      for (const J of [0, 1, 5, 6, 12, 40]) {
        const got = shiftedTailMoments(J, l);
        assert.equal(got.length, J + 1);
        for (let j = 0; j <= J; j++) {
          const want = V[j]!;
          assert.ok(got[j]! > 0 || want === 0, `V_${j}(${l}) must be positive, got ${got[j]}`);
          // V_j(37) ~ 1e-300 is close to the subnormal range, where relative accuracy ends.
          const tol = want > 1e-290 ? 4e-15 * want : 1e-300;
          assert.ok(Math.abs(got[j]! - want) <= tol, `V_${j}(${l}) with J = ${J}: got ${got[j]}, want ${want}`);
        }
      }
    });
  }
});

describe('scaledNormalizedHermiteAll', () => {
  for (const { x, rho, y, T } of fixture.scaledHermite) {
    test(`x = ${x}, ρ = ${rho}, A = φ(${y})`, () => {
      const K = T.length - 1;
      const got = scaledNormalizedHermiteAll(K, x, rho, normPdf(y), normLogPdf(y));
      for (let k = 0; k <= K; k++) {
        const amplitude = Math.hypot(T[k]!, k > 0 ? T[k - 1]! : 0);
        // Forward recurrence: error grows ~k·ε of the amplitude; the log path adds |log A|·ε.
        // Below 1e-300 (subnormal range) relative accuracy ends.
        const tol = 1e-13 * (1 + k / 10) * (1 + Math.abs(normLogPdf(y)) / 100) * amplitude + 1e-300;
        assert.ok(Math.abs(got[k]! - T[k]!) <= tol, `T_${k}: got ${got[k]}, want ${T[k]} (amplitude ${amplitude})`);
      }
    });
  }
});
