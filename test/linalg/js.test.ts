/**
 * Properties specific to the portable JS backend (src/linalg/js.ts); the behaviour shared with the native
 * backend is tested on both in ops.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EigenvalueDecomposition, Matrix as MlMatrix } from 'ml-matrix';

import { InvalidArgumentError, NotPositiveDefiniteError, ShapeError, SingularMatrixError } from '../../src/errors.js';
import { createJsBackend } from '../../src/linalg/js.js';
import { Rng, U32, U64, absMatrix, accurateMatmul, gamma, naiveMatmul, randomMatrix32, randomSymmetric } from './helpers.js';

const js = createJsBackend();

describe('JS backend', () => {
  test('js.ts and what it imports from src have no node: (or other Node builtin) imports, so it runs in a browser', () => {
    for (const file of ['../../src/linalg/js.ts', '../../src/errors.ts', '../../src/linalg/backend.ts']) {
      const source = readFileSync(new URL(file, import.meta.url), 'utf8');
      const specifiers = [...source.matchAll(/(?:import|export)[^'"]*from\s+'([^']+)'/g)].map((m) => m[1]!);
      for (const s of specifiers) {
        assert.ok(s.startsWith('.') || s === 'ml-matrix', `${file} imports ${s}`);
      }
    }
  });

  test('dsyevd reproduces ml-matrix EigenvalueDecomposition (same EISPACK algorithm) on random matrices', () => {
    const rng = new Rng(21);
    for (const n of [1, 2, 9, 40]) {
      const a = randomSymmetric(rng, n);
      const work = a.data.slice();
      const w = new Float64Array(n);
      js.dsyevd(n, work, w);
      const reference = new EigenvalueDecomposition(MlMatrix.from1DArray(n, n, a.data), { assumeSymmetric: true });
      // Identical operation sequence, so identical eigenvalues; vectors differ only by the final normalisation.
      assert.deepEqual(Array.from(w), reference.realEigenvalues, `n=${n}`);
      const v = reference.eigenvectorMatrix;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) assert.ok(Math.abs(work[i * n + j]! - v.get(i, j)) <= 1e-14, `n=${n} V(${i}, ${j})`);
      }
    }
  });

  test('sgemm accumulates in float64: error ≤ u32·|C| + γ_k(u64)·|A||B| (one final rounding), far below float32 summation', () => {
    const rng = new Rng(22);
    const [m, k, n] = [7, 3000, 5];
    const a = randomMatrix32(rng, m, k), b = randomMatrix32(rng, k, n);
    const c = new Float32Array(m * n);
    js.sgemm(false, false, m, n, k, 1, a.data, b.data, 0, c);
    const exact = accurateMatmul(a, b);
    const magnitude = naiveMatmul(absMatrix(a), absMatrix(b));
    for (let i = 0; i < c.length; i++) {
      const bound = U32 * Math.abs(exact.data[i]!) + (gamma(k, U64) + 2 * U64) * magnitude.data[i]!;
      assert.ok(Math.abs(c[i]! - exact.data[i]!) <= bound, `entry ${i}`);
    }
    // The blanket float32 bound would be γ_k(u32)·|A||B|, thousands of times looser.
    assert.ok(gamma(k, U32) > 1000 * U32);
  });

  test('dgemm/sgemm with alpha = 0 only scale C; sizes with m, n, k = 0 are no-ops', () => {
    const c = new Float64Array([1, 2, 3, 4]);
    js.dgemm(false, false, 2, 2, 3, 0, new Float64Array(6).fill(NaN), new Float64Array(6).fill(NaN), 3, c);
    assert.deepEqual(Array.from(c), [3, 6, 9, 12]);
    const c0 = new Float64Array([NaN, NaN]);
    js.dgemm(false, false, 1, 2, 0, 1, new Float64Array(0), new Float64Array(0), 0, c0);
    assert.deepEqual(Array.from(c0), [0, 0]);
    js.dsyevd(0, new Float64Array(0), new Float64Array(0));
    js.dgesdd(0, 5, new Float64Array(0), new Float64Array(0), new Float64Array(0), new Float64Array(0));
  });

  test('direct calls validate dimensions and array lengths (ShapeError)', () => {
    assert.throws(() => js.dgemm(false, false, 2, 2, 2, 1, new Float64Array(3), new Float64Array(4), 0, new Float64Array(4)), ShapeError);
    assert.throws(() => js.dgemm(false, false, -1, 2, 2, 1, new Float64Array(4), new Float64Array(4), 0, new Float64Array(4)), ShapeError);
    assert.throws(() => js.dsyevd(3, new Float64Array(8), new Float64Array(3)), ShapeError);
    assert.throws(() => js.dgesdd(2, 3, new Float64Array(6), new Float64Array(2), new Float64Array(3), new Float64Array(6)), ShapeError);
    assert.throws(() => js.dpotrf(1.5, new Float64Array(4)), ShapeError);
    assert.throws(() => js.dgesv(2, 1, new Float64Array(4), new Float64Array(1)), ShapeError);
  });

  test('async variants settle as rejections, never throw synchronously', async () => {
    let promise: Promise<void> | undefined;
    assert.doesNotThrow(() => {
      promise = js.dpotrfAsync(2, new Float64Array([1, 2, 2, 1]));
    });
    await assert.rejects(promise!, (e: unknown) => e instanceof NotPositiveDefiniteError && /order 2/.test(e.message));
    await assert.rejects(js.dgesvAsync(2, 1, new Float64Array(4), new Float64Array(2)), SingularMatrixError);
    await assert.rejects(js.dsyevdAsync(2, new Float64Array(1), new Float64Array(2)), ShapeError);
  });

  test('reports one thread and validates setThreads', () => {
    assert.equal(js.name, 'js');
    assert.equal(js.getThreads(), 1);
    js.setThreads(4);
    assert.equal(js.getThreads(), 1);
    assert.throws(() => js.setThreads(0), InvalidArgumentError);
  });
});
