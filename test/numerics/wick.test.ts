import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isserlis, noncentralIsserlis, pairPartitions } from '../../src/numerics/wick.js';
import { gaussHermiteProbabilists } from '../../src/numerics/hermite.js';
import { Matrix } from '../../src/linalg/matrix.js';
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';
import { TestRng, choleskyLower, randomCovariance } from './rng.js';

/** Brute force: Σ over all perfect matchings of the index list of Π cov(a, b). */
function bruteHafnian(cov: Matrix, indices: number[]): number {
  let total = 0;
  for (const matching of pairPartitions(indices)) {
    let p = 1;
    for (const [a, b] of matching) p *= cov.get(a, b);
    total += p;
  }
  return indices.length % 2 === 1 ? 0 : total;
}

/** Brute force noncentral moment: Σ over subsets S of positions (Π_{t∉S} μ_t)·Haf(S). */
function bruteNoncentral(mean: Float64Array, cov: Matrix, indices: number[]): number {
  const n = indices.length;
  let total = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    const inS: number[] = [];
    let prod = 1;
    for (let t = 0; t < n; t++) {
      if ((mask >> t) & 1) inS.push(indices[t]!);
      else prod *= mean[indices[t]!]!;
    }
    if (inS.length % 2 === 0) total += prod * bruteHafnian(cov, inS);
  }
  return total;
}

function doubleFactorial(k: number): number {
  let r = 1;
  for (let j = k; j > 1; j -= 2) r *= j;
  return r;
}

const covArb = (d: number) =>
  fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((seed) => {
    const rng = new TestRng(seed);
    return new Matrix(d, d, randomCovariance(rng, d, 0.1));
  });

describe('pairPartitions', () => {
  test('(n−1)!! matchings, each covering every position once; empty → one, odd → none', () => {
    assert.deepEqual([...pairPartitions([])], [[]]);
    assert.deepEqual([...pairPartitions([1, 2, 3])], []);
    for (let n = 2; n <= 10; n += 2) {
      const elements = Array.from({ length: n }, (_, i) => 100 + i);
      const all = [...pairPartitions(elements)];
      assert.equal(all.length, doubleFactorial(n - 1));
      const seen = new Set<string>();
      for (const m of all) {
        assert.equal(m.length, n / 2);
        const flat = m.flat().sort((a, b) => a - b);
        assert.deepEqual(flat, elements);
        seen.add(JSON.stringify(m.map((p) => [...p].sort()).sort()));
      }
      assert.equal(seen.size, all.length, 'matchings are distinct');
    }
  });
});

describe('isserlis', () => {
  test('empty → 1, odd → 0, E[ε⁴] = 3σ⁴, golden value 2.18 (method.md)', () => {
    const c = Matrix.fromRows([
      [1, 0.3],
      [0.3, 2],
    ]);
    assert.equal(isserlis(c, []), 1);
    assert.equal(isserlis(c, [0]), 0);
    assert.equal(isserlis(c, [0, 1, 1]), 0);
    assert.ok(Math.abs(isserlis(c, [0, 0, 1, 1]) - 2.18) <= 1e-15);
    assert.equal(isserlis(c, [1, 1, 1, 1]), 12);
    for (let k = 1; k <= 10; k++) {
      const ref = doubleFactorial(2 * k - 1) * 2 ** k;
      assert.ok(Math.abs(isserlis(c, new Array<number>(2 * k).fill(1)) - ref) <= 1e-15 * ref);
    }
  });

  test('vs brute-force enumeration of pairings (random covariances and index multisets)', () => {
    fc.assert(
      fc.property(covArb(4), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 10 }), (cov, idx) => {
        const got = isserlis(cov, idx);
        const ref = bruteHafnian(cov, idx);
        let scale = 0;
        for (const m of pairPartitions(idx)) scale += m.reduce((p, [a, b]) => p * Math.abs(cov.get(a, b)), 1);
        assert.ok(Math.abs(got - ref) <= 1e-13 * Math.max(scale, 1e-300), `${idx}: ${got} vs ${ref}`);
      }),
      { numRuns: 150 },
    );
  });

  test('function form equals matrix form, and is called with i ≤ j', () => {
    const rng = new TestRng(7);
    const cov = new Matrix(5, 5, randomCovariance(rng, 5));
    const calls: [number, number][] = [];
    const fn = (i: number, j: number): number => {
      calls.push([i, j]);
      return cov.get(i, j);
    };
    const idx = [4, 0, 2, 2, 1, 3, 0, 4];
    assert.equal(isserlis(fn, idx), isserlis(cov, idx));
    assert.ok(calls.every(([i, j]) => i <= j));
  });

  test('rank-one covariance v vᵀ: Haf = (2k−1)!!·Π v_t, for 16 distinct indices (2 027 025 matchings)', () => {
    const rng = new TestRng(11);
    const d = 16;
    const v = Array.from({ length: d }, () => rng.range(0.5, 1.5));
    const cov = (i: number, j: number): number => v[i]! * v[j]!;
    const idx = Array.from({ length: d }, (_, i) => i);
    const ref = doubleFactorial(d - 1) * v.reduce((a, b) => a * b, 1);
    const t0 = performance.now();
    const got = isserlis(cov, idx);
    const ms = performance.now() - t0;
    assert.ok(Math.abs(got - ref) <= 1e-13 * ref, `${got} vs ${ref}`);
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  test('E[x⁴y⁶] (the reference dblquad case) vs a 2-D Gauss–Hermite product rule (exact for degree ≤ 19)', () => {
    const rng = new TestRng(3);
    const covData = randomCovariance(rng, 2, 0.2);
    const cov = new Matrix(2, 2, covData);
    const l = choleskyLower(covData, 2);
    const { nodes, weights } = gaussHermiteProbabilists(10);
    let ref = 0;
    for (let a = 0; a < 10; a++) {
      for (let b = 0; b < 10; b++) {
        const x = l[0]! * nodes[a]!;
        const y = l[2]! * nodes[a]! + l[3]! * nodes[b]!;
        ref += weights[a]! * weights[b]! * x ** 4 * y ** 6;
      }
    }
    const got = isserlis(cov, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert.ok(Math.abs(got - ref) <= 1e-12 * Math.abs(ref), `${got} vs ${ref}`);
  });

  test('vs Monte Carlo (2e5 samples, 5 standard errors)', () => {
    const rng = new TestRng(2024);
    const d = 3;
    const covData = randomCovariance(rng, d, 0.1);
    const l = choleskyLower(covData, d);
    const idx = [0, 0, 1, 2];
    const N = 200_000;
    let sum = 0;
    let sumSq = 0;
    const z = new Float64Array(d);
    const e = new Float64Array(d);
    for (let s = 0; s < N; s++) {
      for (let i = 0; i < d; i++) z[i] = rng.normal();
      for (let i = 0; i < d; i++) {
        let acc = 0;
        for (let k = 0; k <= i; k++) acc += l[i * d + k]! * z[k]!;
        e[i] = acc;
      }
      const v = idx.reduce((p, t) => p * e[t]!, 1);
      sum += v;
      sumSq += v * v;
    }
    const mean = sum / N;
    const se = Math.sqrt((sumSq / N - mean * mean) / N);
    const got = isserlis(new Matrix(d, d, covData), idx);
    assert.ok(Math.abs(got - mean) <= 5 * se, `${got} vs MC ${mean} ± ${se}`);
  });

  test('argument checks', () => {
    const c = Matrix.identity(2);
    assert.throws(() => isserlis(c, [0, 2]), ShapeError);
    assert.throws(() => isserlis(c, [0, -1]), ShapeError);
    assert.throws(() => isserlis(c, [0, 0.5]), InvalidArgumentError);
    assert.throws(() => isserlis(new Matrix(2, 3), [0, 0]), ShapeError);
    assert.throws(() => isserlis(Matrix.fromRows([[NaN, 0], [0, 1]]), [0, 0]), NonFiniteError);
    assert.equal(isserlis(Matrix.fromRows([[NaN, 0], [0, 1]]), [1, 1]), 1, 'unused entries are not read');
  });
});

describe('noncentralIsserlis', () => {
  test('vs brute-force subset enumeration', () => {
    fc.assert(
      fc.property(
        covArb(3),
        fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 0, maxLength: 8 }),
        (cov, meanArr, idx) => {
          const mean = Float64Array.from(meanArr);
          const got = noncentralIsserlis(mean, cov, idx);
          const ref = bruteNoncentral(mean, cov, idx);
          // scale: the same sum with |μ| and |cov|
          const absCov = new Matrix(3, 3, cov.data.map(Math.abs));
          const scale = bruteNoncentral(mean.map(Math.abs), absCov, idx);
          assert.ok(Math.abs(got - ref) <= 1e-13 * Math.max(scale, 1e-300), `${idx}: ${got} vs ${ref}`);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('small closed forms; zero mean reduces to isserlis', () => {
    const cov = Matrix.fromRows([
      [1, 0.3],
      [0.3, 2],
    ]);
    const mu = Float64Array.of(0.5, -1);
    assert.equal(noncentralIsserlis(mu, cov, []), 1);
    assert.equal(noncentralIsserlis(mu, cov, [0]), 0.5);
    assert.ok(Math.abs(noncentralIsserlis(mu, cov, [0, 0]) - 1.25) <= 1e-15);
    // E[Y0² Y1] = μ0²μ1 + C00 μ1 + 2 C01 μ0
    assert.ok(Math.abs(noncentralIsserlis(mu, cov, [0, 0, 1]) - (-0.25 - 1 + 0.3)) <= 1e-15);
    const idx = [0, 0, 1, 1, 1, 1];
    assert.equal(noncentralIsserlis(new Float64Array(2), cov, idx), isserlis(cov, idx));
  });

  test('shape checks', () => {
    assert.throws(() => noncentralIsserlis(new Float64Array(3), Matrix.identity(2), [0]), ShapeError);
    assert.throws(() => noncentralIsserlis(Float64Array.of(NaN, 0), Matrix.identity(2), [0]), NonFiniteError);
  });
});
