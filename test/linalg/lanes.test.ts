/**
 * runInLanes (linalg/lanes.ts) and the concurrent Gram matrices built on it (quadraticBlockGrams): the tasks run
 * concurrently on a share of the BLAS threads when there are enough, in turn otherwise; the thread count is restored
 * and errors propagate only after every task has settled; the Grams equal the one-by-one ones.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { availableBackends } from '../../src/linalg/index.js';
import { runInLanes } from '../../src/linalg/lanes.js';
import type { LinAlgBackend } from '../../src/linalg/backend.js';
import { quadraticBlockGram, quadraticBlockGrams, zeroQuadraticBlock, type QuadraticBlock } from '../../src/approx/fit/quadraticBlock.js';
import { Rng } from './helpers.js';

function randomBlock(rng: Rng, count: number, d: number): QuadraticBlock {
  const x = zeroQuadraticBlock(count, d);
  for (const arr of [x.a, x.b, x.S]) for (let i = 0; i < arr.length; i++) arr[i] = rng.normal();
  return x;
}

/** Waits until the thread count is back to n (the restore may be retried on a timer). */
async function threadsBackTo(backend: LinAlgBackend, n: number): Promise<void> {
  for (let i = 0; i < 200 && backend.getThreads() !== n; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(backend.getThreads(), n);
}

describe('runInLanes', () => {
  for (const backend of availableBackends()) {
    const threads = backend.getThreads();
    test(`runs every task, each seeing its share of the threads, and restores the count (${backend.name})`, async () => {
      const seen: number[] = [];
      const order: string[] = [];
      await runInLanes(backend, [0, 1].map((l) => async () => {
        seen.push(backend.getThreads());
        order.push(`start ${l}`);
        await new Promise((r) => setTimeout(r, 20));
        order.push(`end ${l}`);
      }));
      await threadsBackTo(backend, threads);
      assert.equal(seen.length, 2);
      if (threads >= 2) {
        // Concurrent: both started before either ended, each on half the threads.
        assert.deepEqual(order.slice(0, 2).sort(), ['start 0', 'start 1']);
        assert.deepEqual(seen, [Math.floor(threads / 2), Math.floor(threads / 2)]);
      } else {
        assert.deepEqual(order, ['start 0', 'end 0', 'start 1', 'end 1']);
        assert.deepEqual(seen, [threads, threads]);
      }
    });

    test(`propagates the first error after every concurrent task has settled; in turn, stops at it (${backend.name})`, async () => {
      let finished = false;
      await assert.rejects(
        runInLanes(backend, [
          async () => {
            throw new Error('lane 0 failed');
          },
          async () => {
            await new Promise((r) => setTimeout(r, 30));
            finished = true;
          },
        ]),
        /lane 0 failed/,
      );
      // Concurrent lanes: the other one ran to its end before the error surfaced. In turn: it never started.
      assert.equal(finished, threads >= 2);
      await threadsBackTo(backend, threads);
    });
  }

  test('one task runs on all threads', async () => {
    for (const backend of availableBackends()) {
      const threads = backend.getThreads();
      let seen = -1;
      await runInLanes(backend, [async () => {
        seen = backend.getThreads();
      }]);
      assert.equal(seen, threads);
    }
  });
});

describe('quadraticBlockGrams', () => {
  for (const backend of availableBackends()) {
    test(`equal the one-by-one Gram matrices, including empty blocks (${backend.name})`, async () => {
      const rng = new Rng(5);
      // d = 40 with 3 columns: small, but each S part is a separate product of 3·1600 terms.
      const d = 40;
      const P = randomBlock(rng, 3, d);
      const Q = randomBlock(rng, 3, d);
      const R = randomBlock(rng, 2, d);
      const E = zeroQuadraticBlock(0, d);
      const pairs = [[P, Q], [P, R], [R, R], [E, P]] as const;
      const got = await quadraticBlockGrams(pairs, backend);
      assert.equal(got.length, pairs.length);
      pairs.forEach(([x, y], i) => {
        const want = quadraticBlockGram(x, y, backend);
        assert.equal(got[i]!.length, x.count * y.count);
        for (let k = 0; k < want.length; k++) {
          assert.ok(Math.abs(got[i]![k]! - want[k]!) <= 1e-12 * (1 + Math.abs(want[k]!)), `pair ${i} entry ${k}: ${got[i]![k]} vs ${want[k]}`);
        }
      });
      // An independent check of one entry: ⟨P_1, Q_2⟩ = a a' + bᵀb' + ⟨S, S'⟩_F by a plain loop.
      let dot = P.a[1]! * Q.a[2]!;
      for (let i = 0; i < d; i++) dot += P.b[d + i]! * Q.b[2 * d + i]!;
      for (let i = 0; i < d * d; i++) dot += P.S[d * d + i]! * Q.S[2 * d * d + i]!;
      assert.ok(Math.abs(got[0]![1 * 3 + 2]! - dot) <= 1e-12 * Math.abs(dot) + 1e-12);
    });
  }
});
