/**
 * Tests of the block pool in approx/fit/quadraticBlock.ts: a released S array comes back zeroed from
 * zeroQuadraticBlock and as an exact copy from copyBlock, small or foreign arrays are never pooled, and a block is
 * handed out at most once; uninitialisedQuadraticBlock hands it out as it was, and selectColumns (which uses it)
 * still copies its columns exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { copyBlock, releaseBlock, selectColumns, uninitialisedQuadraticBlock, zeroQuadraticBlock } from '../../src/approx/fit/quadraticBlock.js';

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
