/**
 * Tests of the block pool in approx/fit/quadraticBlock.ts: a released S array comes back zeroed from
 * zeroQuadraticBlock and as an exact copy from copyBlock, small or foreign arrays are never pooled, and a block is
 * handed out at most once; uninitialisedQuadraticBlock hands it out as it was, and selectColumns (which uses it)
 * still copies its columns exactly. upperTriangleProducts (the operator's and the preconditioner's C S C step) against
 * its definition, on both backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  copyBlock, releaseBlock, replicatePlan, selectColumns, uninitialisedQuadraticBlock, upperTriangleProducts, zeroQuadraticBlock,
} from '../../src/approx/fit/quadraticBlock.js';
import { availableBackends } from '../../src/linalg/index.js';
import { Rng } from '../../src/numerics/random.js';

test('a released block is reused zeroed, once; copies are exact; small and sub-array blocks are not pooled', () => {
  const dim = 512; // 4·512² = 2^20 doubles: large enough to be pooled
  const x = zeroQuadraticBlock(4, dim);
  x.S.fill(3);
  releaseBlock(x);
  releaseBlock(x); // a second release of the same array is ignored
  const y = zeroQuadraticBlock(4, dim);
  assert.equal(y.S, x.S, 'the released array is reused');
  assert.ok(y.S.every((v) => v === 0), 'and zeroed');
  const z = zeroQuadraticBlock(4, dim);
  assert.notEqual(z.S, y.S, 'never handed out twice');
  y.S.fill(2);
  y.S[7] = -1;
  releaseBlock(z);
  const c = copyBlock(y);
  assert.equal(c.S, z.S, 'copies reuse pooled arrays too');
  assert.deepEqual(c.S, y.S);
  const small = zeroQuadraticBlock(1, 8);
  releaseBlock(small);
  assert.notEqual(zeroQuadraticBlock(1, 8).S, small.S);
  const big = new Float64Array(2 * 4 * dim * dim);
  releaseBlock({ count: 4, dim, a: new Float64Array(4), b: new Float64Array(4 * dim), S: big.subarray(0, 4 * dim * dim) });
  assert.notEqual(zeroQuadraticBlock(4, dim).S.buffer, big.buffer, 'views into larger buffers are not pooled');
});

test('uninitialisedQuadraticBlock reuses a released array as it is; selectColumns overwrites all of it', () => {
  const dim = 512;
  const x = zeroQuadraticBlock(4, dim);
  x.S.fill(Number.NaN);
  releaseBlock(x);
  const y = uninitialisedQuadraticBlock(4, dim);
  assert.equal(y.S, x.S);
  assert.ok(Number.isNaN(y.S[5]!), 'not zeroed');
  assert.ok(y.a.every((v) => v === 0) && y.b.every((v) => v === 0));
  const src = zeroQuadraticBlock(6, dim);
  src.S.forEach((_, i) => { src.S[i] = i % 1000; });
  src.a.set([1, 2, 3, 4, 5, 6]);
  releaseBlock(y);
  const picked = selectColumns(src, [5, 0, 2, 3]);
  assert.equal(picked.S, x.S, 'the NaN-filled array came back');
  [5, 0, 2, 3].forEach((c, j) => {
    assert.equal(picked.a[j], src.a[c]);
    assert.deepEqual(picked.S.subarray(j * dim * dim, (j + 1) * dim * dim), src.S.subarray(c * dim * dim, (c + 1) * dim * dim));
  });
});

for (const backend of availableBackends()) {
  test(`upperTriangleProducts (${backend.name}): C S_q C = M_q + M_qᵀ with M_q = C·W_q and tr(S_qC) = 2 tr(W_q)`, async () => {
    const rng = new Rng(3);
    const a = 7;
    const s = 3;
    const extra = 2; // rows after the first a·s (the operator's Ā rows) must stay as they are
    const sym = (): Float64Array => {
      const m = new Float64Array(a * a);
      for (let i = 0; i < a; i++) for (let j = 0; j <= i; j++) m[i * a + j] = m[j * a + i] = rng.normal();
      return m;
    };
    const S = Array.from({ length: s }, sym);
    const C = sym();
    const mul = (x: Float64Array, y: Float64Array): Float64Array => {
      const z = new Float64Array(a * a);
      for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) for (let p = 0; p < a; p++) z[i * a + j]! += x[i * a + p]! * y[p * a + j]!;
      return z;
    };
    const G = new Float64Array((a + extra) * s * a).fill(9);
    for (let i = 0; i < a; i++) for (let q = 0; q < s; q++) for (let j = 0; j < a; j++) G[(i * s + q) * a + j] = S[q]![i * a + j]!;
    const W = new Float64Array(a * s * a).fill(NaN);
    await upperTriangleProducts(G, C, W, a, s, replicatePlan(a, s), backend);
    assert.ok(G.subarray(a * s * a).every((v) => v === 9), 'rows past a·s untouched');
    for (let q = 0; q < s; q++) {
      const Wq = new Float64Array(a * a);
      for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) Wq[i * a + j] = W[i * s * a + q * a + j]!;
      const M = mul(C, Wq);
      const want = mul(mul(C, S[q]!), C);
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < a; j++) {
          const got = M[i * a + j]! + M[j * a + i]!;
          assert.ok(Math.abs(got - want[i * a + j]!) <= 1e-12 * (1 + Math.abs(want[i * a + j]!)), `q ${q} (${i}, ${j}): ${got} vs ${want[i * a + j]}`);
        }
      }
      let trSC = 0;
      let trW = 0;
      for (let i = 0; i < a; i++) {
        trW += Wq[i * a + i]!;
        for (let p = 0; p < a; p++) trSC += S[q]![i * a + p]! * C[p * a + i]!;
      }
      assert.ok(Math.abs(2 * trW - trSC) <= 1e-12 * (1 + Math.abs(trSC)), `q ${q}: tr ${2 * trW} vs ${trSC}`);
    }
  });
}
