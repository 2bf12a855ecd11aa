/**
 * Tests of `dpotri` (the inverse of an SPD matrix from its Cholesky factor) on both backends: the residual A·X − I
 * against a bound scaled by the condition number, exact symmetry of the result, agreement with dpotrs on the
 * identity, and the errors (a zero on the factor's diagonal, short arrays).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ShapeError, SingularMatrixError } from '../../src/errors.js';
import { availableBackends } from '../../src/linalg/index.js';
import { Rng, U64 } from './helpers.js';

// Both backends when the addon is built; native.test.ts checks that it is under POLYAPPROX_REQUIRE_NATIVE=1.
const backends = availableBackends();

/** A random SPD n×n matrix B Bᵀ + n·I (condition number O(1)–O(10)). */
function spd(n: number, rng: Rng): Float64Array {
  const B = Float64Array.from({ length: n * n }, () => rng.normal());
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += B[i * n + k]! * B[j * n + k]!;
      A[i * n + j] = v + (i === j ? n : 0);
    }
  }
  return A;
}

for (const backend of backends) {
  describe(`dpotri (${backend.name})`, () => {
    test('A·X = I to rounding, X exactly symmetric, equal to dpotrs on the identity', () => {
      const rng = new Rng(5);
      for (const n of [1, 2, 7, 40]) {
        const A = spd(n, rng);
        const X = A.slice();
        backend.dpotrf(n, X);
        const L = X.slice();
        backend.dpotri(n, X);
        let worst = 0;
        let normA = 0;
        let normX = 0;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            assert.equal(X[i * n + j], X[j * n + i], `symmetry (${i}, ${j})`);
            let v = 0;
            for (let k = 0; k < n; k++) v += A[i * n + k]! * X[k * n + j]!;
            worst = Math.max(worst, Math.abs(v - (i === j ? 1 : 0)));
            normA = Math.max(normA, Math.abs(A[i * n + j]!));
            normX = Math.max(normX, Math.abs(X[i * n + j]!));
          }
        }
        assert.ok(worst <= 50 * n * n * U64 * normA * normX, `n ${n}: residual ${worst}`);
        const I = new Float64Array(n * n);
        for (let i = 0; i < n; i++) I[i * n + i] = 1;
        backend.dpotrs(n, n, L, I);
        for (let i = 0; i < n * n; i++) assert.ok(Math.abs(I[i]! - X[i]!) <= 1e-12 * normX, `n ${n}: dpotrs vs dpotri at ${i}`);
      }
    });

    test('a zero on the diagonal of the factor is a SingularMatrixError; a short array a ShapeError', () => {
      const L = Float64Array.from([1, 0, 0.5, 0]);
      assert.throws(() => backend.dpotri(2, L), SingularMatrixError);
      assert.throws(() => backend.dpotri(3, new Float64Array(8)), ShapeError);
      backend.dpotri(0, new Float64Array(0));
    });
  });
}
