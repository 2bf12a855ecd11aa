/**
 * Tests of `dgemmStrided` (products on blocks of larger arrays, in place) on both backends against a plain-loop
 * oracle: every transpose combination, leading dimensions larger than the rows, views with offsets, beta = 0 not
 * reading C (NaN there does not propagate), beta ≠ 0 accumulating, padding never read nor written, k = 0, and the
 * argument checks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';
import { availableBackends } from '../../src/linalg/index.js';
import { gamma, Rng, U64 } from './helpers.js';

const backends = availableBackends();

/** A rows×cols block with leading dimension ld inside an array that starts `offset` elements earlier; NaN padding. */
function padded(rng: Rng, rows: number, cols: number, ld: number, offset: number): { view: Float64Array; dense: Float64Array } {
  const buffer = Float64Array.from({ length: offset + Math.max(0, (rows - 1) * ld + cols) + 3 }, () => NaN);
  const view = buffer.subarray(offset);
  const dense = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = rng.normal();
      view[i * ld + j] = v;
      dense[i * cols + j] = v;
    }
  }
  return { view, dense };
}

for (const backend of backends) {
  describe(`dgemmStrided (${backend.name})`, () => {
    test('all transposes, padded leading dimensions and offset views, within the rounding bound', async () => {
      const rng = new Rng(5);
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [m, n, k] of [[4, 3, 5], [1, 6, 2], [13, 9, 11], [3, 4, 0], [0, 3, 2]] as const) {
            for (const beta of [0, 0.5]) {
              const [ar, ac] = transA ? [k, m] : [m, k];
              const [br, bc] = transB ? [n, k] : [k, n];
              const lda = ac + 2;
              const ldb = bc + 1;
              const ldc = n + 3;
              const A = padded(rng, ar, ac, lda, 4);
              const B = padded(rng, br, bc, ldb, 1);
              const C = padded(rng, m, n, ldc, 2);
              if (beta === 0) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) C.view[i * ldc + j] = NaN;
              const alpha = -1.25;
              const opA = (i: number, p: number): number => (transA ? A.dense[p * ac + i]! : A.dense[i * ac + p]!);
              const opB = (p: number, j: number): number => (transB ? B.dense[j * bc + p]! : B.dense[p * bc + j]!);
              const before = Float64Array.from(C.view);
              if (backend.name === 'native') {
                await backend.dgemmStridedAsync(transA, transB, m, n, k, alpha, A.view, lda, B.view, ldb, beta, C.view, ldc);
              } else {
                backend.dgemmStrided(transA, transB, m, n, k, alpha, A.view, lda, B.view, ldb, beta, C.view, ldc);
              }
              for (let i = 0; i < m; i++) {
                for (let j = 0; j < n; j++) {
                  let v = 0;
                  let g = 0;
                  for (let p = 0; p < k; p++) {
                    v += opA(i, p) * opB(p, j);
                    g += Math.abs(opA(i, p) * opB(p, j));
                  }
                  const c0 = beta === 0 ? 0 : C.dense[i * n + j]!;
                  const want = alpha * v + beta * c0;
                  const got = C.view[i * ldc + j]!;
                  // Componentwise bound γ_{k+2}(|alpha|·(|op(A)||op(B)|) + |beta·c|), with 2× slack.
                  const tol = 2 * gamma(k + 2, U64) * (Math.abs(alpha) * g + Math.abs(beta * c0));
                  assert.ok(Math.abs(got - want) <= tol, `${transA}/${transB} ${m}×${n}×${k} beta ${beta} (${i}, ${j}): ${got} vs ${want}`);
                }
                // The padding between rows of C is neither read into the result nor written.
                for (let j = n; i < m - 1 && j < ldc; j++) assert.ok(Object.is(C.view[i * ldc + j], before[i * ldc + j]));
              }
              assert.ok(Number.isNaN(C.view[C.view.length - 1]!), 'past the block is untouched');
            }
          }
        }
      }
    });

    test('bad arguments are typed errors', () => {
      const a = new Float64Array(12);
      const b = new Float64Array(12);
      const c = new Float64Array(12);
      const call = (m: number, n: number, k: number, lda: number, ldb: number, ldc: number, alpha = 1, cc = c, aa = a): void =>
        backend.dgemmStrided(false, false, m, n, k, alpha, aa, lda, b, ldb, 0, cc, ldc);
      assert.throws(() => call(3, 3, 3, 2, 3, 3), ShapeError); // lda < k
      assert.throws(() => call(3, 3, 3, 3, 2, 3), ShapeError); // ldb < n
      assert.throws(() => call(3, 3, 3, 3, 3, 2), ShapeError); // ldc < n
      assert.throws(() => call(3, 3, 3, 5, 3, 3), ShapeError); // a too short for lda
      assert.throws(() => call(3, 3, 3, 3, 3, 5), ShapeError); // c too short for ldc
      assert.throws(() => call(-1, 3, 3, 3, 3, 3), ShapeError);
      assert.throws(() => call(3, 3, 3, 3, 3, 3, NaN), NonFiniteError);
      assert.throws(() => call(3, 3, 3, 3, 3, 3, 1, a.subarray(2), a), InvalidArgumentError); // c overlaps a
      assert.throws(() => backend.dgemmStrided(false, 1 as unknown as boolean, 3, 3, 3, 1, a, 3, b, 3, 0, c, 3), InvalidArgumentError);
      // A transposed A is k×m: lda must cover m.
      assert.throws(() => backend.dgemmStrided(true, false, 4, 2, 2, 1, a, 3, b, 2, 0, c, 2), ShapeError);
    });
  });
}
