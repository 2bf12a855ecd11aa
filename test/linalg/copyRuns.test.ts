/**
 * Tests of the memory-bound kernels on both backends: `dcopyRuns` (linalg/copyRuns.ts) — gathers and scatters of
 * random index subsets against plain indexing, accumulation with row factors; `dsymmetrize`; `dscaleShiftRows`
 * (linalg/scaleShiftRows.ts) against a plain loop; and the argument checks (the typed errors of the TS layer; the
 * native addon's own checks are in native.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';
import { availableBackends } from '../../src/linalg/index.js';
import { blockRowOffsets, columnRunTable, copyPlan, indexRuns, runCopyPlan } from '../../src/linalg/copyRuns.js';
import { Rng } from './helpers.js';

// Both backends when the addon is built; native.test.ts checks that it is under POLYAPPROX_REQUIRE_NATIVE=1.
const backends = availableBackends();

/** A random sorted subset of 0..n−1 with about `fraction` of the indices, never empty. */
function randomSubset(n: number, fraction: number, rng: Rng): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (rng.uniform() < fraction) out.push(i);
  if (out.length === 0) out.push(Math.floor(rng.uniform() * n));
  return Int32Array.from(out);
}

function randn(n: number, rng: Rng): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

test('blockRowOffsets lists the rows of every block t-major or q-major', () => {
  const at = (t: number, q: number): [number, number] => [10 * t + q, 100 * t + q];
  assert.deepEqual([...blockRowOffsets(2, 3, 'tq', at)], [0, 0, 1, 1, 2, 2, 10, 100, 11, 101, 12, 102]);
  assert.deepEqual([...blockRowOffsets(2, 3, 'qt', at)], [0, 0, 10, 100, 1, 1, 11, 101, 2, 2, 12, 102]);
  assert.equal(blockRowOffsets(0, 3, 'tq', at).length, 0);
});

test('indexRuns splits a sorted set into maximal runs', () => {
  const runs = indexRuns([0, 1, 2, 5, 7, 8]);
  assert.deepEqual([...runs.start], [0, 5, 7]);
  assert.deepEqual([...runs.length], [3, 1, 2]);
  assert.deepEqual([...runs.offset], [0, 3, 4]);
  assert.equal(indexRuns([]).start.length, 0);
});

for (const backend of backends) {
  describe(`dcopyRuns (${backend.name})`, () => {
    test('gathers S[rows, cols] of stacked d×d blocks and scatters it back, against plain indexing', () => {
      const rng = new Rng(7);
      for (const [d, s, fraction] of [[13, 3, 0.5], [40, 2, 0.8], [9, 1, 0.1], [30, 4, 1]] as const) {
        const rows = randomSubset(d, fraction, rng);
        const cols = randomSubset(d, fraction, rng);
        const S = randn(s * d * d, rng);
        const nr = rows.length;
        const nc = cols.length;
        const runs = indexRuns(cols);
        // Interleaved rows (i, q), as the mixture operator lays them out.
        const gatherRows = new Int32Array(2 * nr * s);
        const scatterRows = new Int32Array(2 * nr * s);
        for (let i = 0; i < nr; i++) {
          for (let q = 0; q < s; q++) {
            const t = i * s + q;
            gatherRows.set([q * d * d + rows[i]! * d, t * nc], 2 * t);
            scatterRows.set([t * nc, q * d * d + rows[i]! * d], 2 * t);
          }
        }
        const G = new Float64Array(nr * s * nc).fill(NaN);
        runCopyPlan(backend, copyPlan(gatherRows, columnRunTable(runs, true), false), S, G);
        for (let i = 0; i < nr; i++) {
          for (let q = 0; q < s; q++) {
            for (let j = 0; j < nc; j++) assert.equal(G[(i * s + q) * nc + j], S[q * d * d + rows[i]! * d + cols[j]!]);
          }
        }
        // Scatter 2.5·G back, accumulating: S[rows, cols] grows by 2.5 times itself, the rest is untouched.
        const out = S.slice();
        const scale = new Float64Array(nr * s).fill(2.5);
        runCopyPlan(backend, copyPlan(scatterRows, columnRunTable(runs, false), true, scale), G, out);
        const inSet = (i: number, j: number): boolean => rows.includes(i) && cols.includes(j);
        for (let q = 0; q < s; q++) {
          for (let i = 0; i < d; i++) {
            for (let j = 0; j < d; j++) {
              const v = S[q * d * d + i * d + j]!;
              const want = inSet(i, j) ? v + 2.5 * v : v;
              assert.ok(Math.abs(out[q * d * d + i * d + j]! - want) <= 1e-15 * Math.abs(want), `q ${q} (${i}, ${j})`);
            }
          }
        }
      }
    });

    test('overwrite with row factors leaves the rest of dst alone; empty plans do nothing', () => {
      const src = Float64Array.from({ length: 12 }, (_, i) => i + 1);
      const dst = new Float64Array(10).fill(-1);
      // Two rows (src 0 → dst 0 with factor 2, src 6 → dst 5 with factor −1), runs (1 → 0, len 2) and (4 → 3, len 1).
      backend.dcopyRuns(2, 2, false, Int32Array.from([0, 0, 6, 5]), Int32Array.from([1, 0, 2, 4, 3, 1]), Float64Array.from([2, -1]), src, dst);
      assert.deepEqual([...dst], [4, 6, -1, 10, -1, -8, -9, -1, -11, -1]);
      const before = dst.slice();
      backend.dcopyRuns(0, 2, true, new Int32Array(0), Int32Array.from([1, 0, 2, 4, 3, 1]), new Float64Array(0), src, dst);
      backend.dcopyRuns(2, 0, true, Int32Array.from([0, 0, 6, 5]), new Int32Array(0), Float64Array.from([2, -1]), src, dst);
      assert.deepEqual(dst, before);
    });

    test('bad plans are typed errors and leave dst untouched', () => {
      const src = new Float64Array(10).fill(1);
      const dst = new Float64Array(10);
      const one = Float64Array.from([1]);
      const call = (rowOffsets: number[], runTable: number[], scale = one, s = src, d = dst): void =>
        backend.dcopyRuns(rowOffsets.length / 2, runTable.length / 3, true, Int32Array.from(rowOffsets), Int32Array.from(runTable), scale, s, d);
      assert.throws(() => call([0, 0], [8, 0, 3]), ShapeError); // reads src[10]
      assert.throws(() => call([0, 8], [0, 0, 3]), ShapeError); // writes dst[10]
      assert.throws(() => call([-1, 0], [0, 0, 1]), InvalidArgumentError);
      assert.throws(() => call([0, 0], [0, 0, -2]), InvalidArgumentError);
      assert.throws(() => call([0, 0], [0, 0, 1], Float64Array.from([NaN])), NonFiniteError);
      assert.throws(() => call([0, 0], [0, 0, 1], new Float64Array(0)), ShapeError);
      assert.throws(() => call([0, 2], [0, 0, 3], one, src, src.subarray(0)), InvalidArgumentError); // overlap
      assert.throws(() => backend.dcopyRuns(1, 1, true, [0, 0] as unknown as Int32Array, Int32Array.from([0, 0, 1]), one, src, dst), InvalidArgumentError);
      assert.throws(() => backend.dcopyRuns(2, 1, true, Int32Array.from([0, 0]), Int32Array.from([0, 0, 1]), one, src, dst), ShapeError);
      assert.deepEqual([...dst], new Array(10).fill(0));
      // Disjoint views of one buffer are fine.
      const buf = new Float64Array(20).fill(3);
      call([0, 0], [0, 0, 5], one, buf.subarray(0, 10), buf.subarray(10));
      assert.deepEqual([...buf.subarray(10, 16)], [6, 6, 6, 6, 6, 3]);
    });
  });
}


for (const backend of backends) {
  test(`dsymmetrize (${backend.name}): every block becomes (A + Aᵀ)/2, across tiles and threads; short arrays are ShapeErrors`, () => {
    const rng = new Rng(3);
    for (const [n, count] of [[1, 1], [33, 3], [100, 30], [7, 0]] as const) {
      const a = randn(n * n * count + 2, rng);
      const before = a.slice();
      backend.dsymmetrize(n, count, a);
      for (let b = 0; b < count; b++) {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const o = b * n * n;
            assert.equal(a[o + i * n + j], 0.5 * (before[o + i * n + j]! + before[o + j * n + i]!), `n ${n} block ${b} (${i}, ${j})`);
          }
        }
      }
      assert.equal(a[n * n * count], before[n * n * count], 'past the blocks untouched');
    }
    assert.throws(() => backend.dsymmetrize(3, 2, new Float64Array(17)), ShapeError);
  });
}

for (const backend of backends) {
  test(`dscaleShiftRows (${backend.name}): x[r] ← (x[r] + alpha[r mod p]·b[⌊r/p⌋])∘scale[⌊r/p⌋] for every flag pair, across threads; bad arguments are typed errors`, () => {
    const rng = new Rng(4);
    // The last shape has rows·n ≥ 2^18 (the native kernel splits it between two threads), and rows not a multiple of p.
    for (const [rows, n, period] of [[1, 1, 1], [7, 5, 3], [10, 13, 1], [1203, 300, 10]] as const) {
      const blocks = Math.ceil(rows / period);
      for (const [shift, scaled] of [[true, true], [true, false], [false, true], [false, false]] as const) {
        const alpha = shift ? randn(period, rng) : new Float64Array(0);
        const b = shift ? randn(blocks * n, rng) : new Float64Array(0);
        const scale = scaled ? randn(blocks * n, rng) : new Float64Array(0);
        const x = randn(rows * n + 1, rng);
        const before = x.slice();
        backend.dscaleShiftRows(rows, n, period, shift, scaled, alpha, b, scale, x);
        for (let r = 0; r < rows; r++) {
          const i = Math.floor(r / period);
          for (let j = 0; j < n; j++) {
            let want = before[r * n + j]!;
            if (shift) want += alpha[r % period]! * b[i * n + j]!;
            if (scaled) want *= scale[i * n + j]!;
            assert.ok(Math.abs(x[r * n + j]! - want) <= 1e-15 * (1 + Math.abs(want)), `${rows}×${n}/${period} ${shift} ${scaled} (${r}, ${j}): ${x[r * n + j]} vs ${want}`);
          }
        }
        assert.equal(x[rows * n], before[rows * n], 'past the rows untouched');
      }
    }
    const f = (k: number): Float64Array => new Float64Array(k);
    assert.throws(() => backend.dscaleShiftRows(4, 2, 0, false, true, f(0), f(0), f(8), f(8)), ShapeError, 'period 0');
    assert.throws(() => backend.dscaleShiftRows(4, 2, 2, true, false, f(1), f(4), f(0), f(8)), ShapeError, 'alpha short');
    assert.throws(() => backend.dscaleShiftRows(4, 2, 2, false, true, f(0), f(0), f(3), f(8)), ShapeError, 'scale short');
    assert.throws(() => backend.dscaleShiftRows(4, 2, 2, false, false, f(0), f(0), f(0), f(7)), ShapeError, 'x short');
    const shared = f(16);
    assert.throws(() => backend.dscaleShiftRows(4, 2, 2, false, true, f(0), f(0), shared.subarray(4, 8), shared.subarray(0, 8)), InvalidArgumentError, 'overlap');
    assert.throws(() => backend.dscaleShiftRows(4, 2, 2, false, true, f(0), f(0), new Float32Array(4) as never, f(8)), InvalidArgumentError, 'type');
  });
}
