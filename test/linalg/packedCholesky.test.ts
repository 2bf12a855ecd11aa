/**
 * PackedCholesky: blocked triangular solves with a dpotrf factor, across several row panels (n > SOLVE_BLOCK) and
 * with ragged last panels, checked by the residual ‖A X − B‖ against a rounding bound and against naive
 * substitution.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { createJsBackend } from '../../src/linalg/js.js';
import { getBackend } from '../../src/linalg/index.js';
import { PackedCholesky, SOLVE_BLOCK } from '../../src/linalg/packedCholesky.js';
import type { LinAlgBackend } from '../../src/linalg/backend.js';
import { EPS, Rng, randomSpd } from './helpers.js';

/** x with L Lᵀ x = b by plain forward and back substitution (one right-hand side). */
function naiveSolve(L: Float64Array, n: number, b: Float64Array): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = b[i]!;
    for (let k = 0; k < i; k++) v -= L[i * n + k]! * y[k]!;
    y[i] = v / L[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let v = y[i]!;
    for (let k = i + 1; k < n; k++) v -= L[k * n + i]! * x[k]!;
    x[i] = v / L[i * n + i]!;
  }
  return x;
}

function check(backend: LinAlgBackend, n: number, s: number, seed: number): void {
  const rng = new Rng(seed);
  const A = randomSpd(rng, n, 1);
  const L = A.data.slice();
  backend.dpotrf(n, L);
  const B = Float64Array.from({ length: n * s }, () => rng.normal());
  const X = new PackedCholesky(L, n).solve(B, s, backend);
  let anorm = 0;
  for (let i = 0; i < n; i++) {
    let row = 0;
    for (let j = 0; j < n; j++) row += Math.abs(A.data[i * n + j]!);
    anorm = Math.max(anorm, row);
  }
  for (let q = 0; q < s; q++) {
    const x = Float64Array.from({ length: n }, (_, i) => X[i * s + q]!);
    const b = Float64Array.from({ length: n }, (_, i) => B[i * s + q]!);
    let res = 0;
    let xnorm = 0;
    for (let i = 0; i < n; i++) {
      let v = -b[i]!;
      for (let j = 0; j < n; j++) v += A.data[i * n + j]! * x[j]!;
      res = Math.max(res, Math.abs(v));
      xnorm = Math.max(xnorm, Math.abs(x[i]!));
    }
    // Backward stable Cholesky solve: ‖Ax − b‖∞ ≲ c·n·u·‖A‖∞‖x‖∞.
    assert.ok(res <= 4 * n * EPS * anorm * xnorm, `n ${n} column ${q}: residual ${res}, bound ${4 * n * EPS * anorm * xnorm}`);
    const ref = naiveSolve(L, n, b);
    let diff = 0;
    for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(ref[i]! - x[i]!));
    assert.ok(diff <= 1e-10 * xnorm, `n ${n} column ${q}: differs from naive substitution by ${diff}`);
  }
}

describe('PackedCholesky', () => {
  for (const [name, backend] of [['default', getBackend()], ['js', createJsBackend()]] as const) {
    test(`${name} backend: one panel, several panels and a ragged last panel`, () => {
      check(backend, 7, 3, 1);
      check(backend, SOLVE_BLOCK, 2, 2);
      check(backend, 2 * SOLVE_BLOCK + 37, 4, 3);
    });
  }
  test('a single right-hand side and n = 1', () => {
    check(getBackend(), SOLVE_BLOCK + 1, 1, 4);
    check(getBackend(), 1, 2, 5);
  });
});
