/**
 * Tests of the triangular product `dtrmm` on both backends against a plain-loop oracle on the dense triangle:
 * every side/triangle/transpose combination, leading dimensions larger than the rows (blocks of an interleaved
 * matrix, as the mixture operator uses them), the other triangle never read, and the argument checks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';
import { availableBackends } from '../../src/linalg/index.js';
import { gamma, Rng, U64 } from './helpers.js';

// Both backends when the addon is built; native.test.ts checks that it is under POLYAPPROX_REQUIRE_NATIVE=1.
const backends = availableBackends();

/**
 * alpha·op(T)·B or alpha·B·op(T) with T the chosen triangle of A (k×k, leading dimension lda), B compact m×n; and
 * |alpha|·|op(T)|·|B| (or |B|·|op(T)|), the scale of the componentwise rounding bound.
 */
function oracle(
  left: boolean, upper: boolean, transA: boolean, m: number, n: number, alpha: number, A: Float64Array, lda: number, B: Float64Array,
): { value: Float64Array; magnitude: Float64Array } {
  const k = left ? m : n;
  const T = (i: number, j: number): number => {
    const [r, c] = transA ? [j, i] : [i, j];
    return (upper ? c >= r : c <= r) ? A[r * lda + c]! : 0;
  };
  const value = new Float64Array(m * n);
  const magnitude = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let v = 0;
      let g = 0;
      for (let p = 0; p < k; p++) {
        const t = left ? T(i, p) * B[p * n + j]! : B[i * n + p]! * T(p, j);
        v += t;
        g += Math.abs(t);
      }
      value[i * n + j] = alpha * v;
      magnitude[i * n + j] = Math.abs(alpha) * g;
    }
  }
  return { value, magnitude };
}

for (const backend of backends) {
  describe(`dtrmm (${backend.name})`, () => {
    test('all sides, triangles and transposes, with padded leading dimensions, within the rounding bound', async () => {
      const rng = new Rng(11);
      for (const left of [true, false]) {
        for (const upper of [true, false]) {
          for (const transA of [true, false]) {
            for (const [m, n] of [[5, 3], [1, 7], [17, 9], [0, 4]] as const) {
              const k = left ? m : n;
              const lda = k + 3;
              const ldb = n + 2;
              // The unused triangle and the padding hold NaN: reading them would poison the result.
              const A = Float64Array.from({ length: Math.max(0, (k - 1) * lda + k) }, () => NaN);
              for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (upper ? j >= i : j <= i) A[i * lda + j] = rng.normal();
              const Bc = Float64Array.from({ length: m * n }, () => rng.normal());
              const b = Float64Array.from({ length: Math.max(0, (m - 1) * ldb + n) }, () => NaN);
              for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) b[i * ldb + j] = Bc[i * n + j]!;
              const { value: want, magnitude } = oracle(left, upper, transA, m, n, -1.5, A, lda, Bc);
              if (backend.name === 'native') await backend.dtrmmAsync(left, upper, transA, m, n, -1.5, A, lda, b, ldb);
              else backend.dtrmm(left, upper, transA, m, n, -1.5, A, lda, b, ldb);
              for (let i = 0; i < m; i++) {
                for (let j = 0; j < n; j++) {
                  // Componentwise bound |error| ≤ γ_k·|alpha|·(|op(T)||B|)_ij (Higham), with 2× slack.
                  const got = b[i * ldb + j]!;
                  const tol = 2 * gamma(k + 1, U64) * magnitude[i * n + j]!;
                  assert.ok(Math.abs(got - want[i * n + j]!) <= tol, `${backend.name} left ${left} upper ${upper} trans ${transA} ${m}×${n} (${i}, ${j}): ${got} vs ${want[i * n + j]}`);
                }
                // The padding of b is not written.
                for (let j = n; i < m - 1 && j < ldb; j++) assert.ok(Number.isNaN(b[i * ldb + j]!));
              }
            }
          }
        }
      }
    });

    test('bad arguments are typed errors', () => {
      const a = new Float64Array(9);
      const b = new Float64Array(9);
      assert.throws(() => backend.dtrmm(true, true, false, 3, 3, 1, a, 2, b, 3), ShapeError); // lda < k
      assert.throws(() => backend.dtrmm(true, true, false, 3, 3, 1, a, 3, b, 2), ShapeError); // ldb < n
      assert.throws(() => backend.dtrmm(true, true, false, 3, 3, 1, a, 4, b, 3), ShapeError); // a too short for lda
      assert.throws(() => backend.dtrmm(true, true, false, 3, 3, 1, a, 3, b, 4), ShapeError); // b too short for ldb
      assert.throws(() => backend.dtrmm(true, true, false, -1, 3, 1, a, 3, b, 3), ShapeError);
      assert.throws(() => backend.dtrmm(true, true, false, 3, 3, NaN, a, 3, b, 3), NonFiniteError);
      assert.throws(() => backend.dtrmm(true, true, false, 3, 3, 1, a, 3, a.subarray(0), 3), InvalidArgumentError);
      assert.throws(() => backend.dtrmm(1 as unknown as boolean, true, false, 3, 3, 1, a, 3, b, 3), InvalidArgumentError);
    });
  });
}
