import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  binomial,
  doubleFactorial,
  factorial,
  logFactorial,
  normalMoments,
  standardNormalMoment,
} from '../../src/numerics/moments.js';
import { InvalidArgumentError, NonFiniteError } from '../../src/errors.js';

function bigFactorial(k: number): bigint {
  let r = 1n;
  for (let j = 2n; j <= BigInt(k); j++) r *= j;
  return r;
}

function bigBinomial(n: number, k: number): bigint {
  return bigFactorial(n) / (bigFactorial(k) * bigFactorial(n - k));
}

describe('integer combinatorics', () => {
  test('factorial: exact to 22!, correctly sized to 170!, Infinity beyond', () => {
    for (let k = 0; k <= 22; k++) assert.equal(factorial(k), Number(bigFactorial(k)));
    for (const k of [50, 100, 170]) {
      const ref = Number(bigFactorial(k)); // BigInt → Number rounds correctly
      assert.ok(Math.abs(factorial(k) - ref) <= 1e-14 * ref, `k = ${k}`);
    }
    assert.equal(factorial(171), Infinity);
  });

  test('logFactorial: log k! from exact values and a log-sum beyond the double range', () => {
    for (const k of [0, 1, 2, 10, 50, 170]) {
      const ref = Math.log(Number(bigFactorial(k)));
      assert.ok(Math.abs(logFactorial(k) - ref) <= 1e-15 * Math.max(1, ref), `k = ${k}`);
    }
    for (const k of [171, 1000, 12345]) {
      let ref = 0;
      let comp = 0;
      for (let j = 2; j <= k; j++) {
        // Kahan summation of log j
        const y = Math.log(j) - comp;
        const t = ref + y;
        comp = t - ref - y;
        ref = t;
      }
      assert.ok(Math.abs(logFactorial(k) - ref) <= 1e-14 * ref, `k = ${k}: ${logFactorial(k)} vs ${ref}`);
    }
  });

  test('doubleFactorial: (−1)!! = 0!! = 1 and products of every other integer', () => {
    assert.equal(doubleFactorial(-1), 1);
    assert.equal(doubleFactorial(0), 1);
    const table = [1, 1, 2, 3, 8, 15, 48, 105, 384, 945, 3840];
    table.forEach((v, k) => assert.equal(doubleFactorial(k), v));
    // (2k)!! = 2^k k!,  (2k−1)!! = (2k)!/(2^k k!)
    for (let k = 0; k <= 12; k++) {
      assert.equal(doubleFactorial(2 * k), 2 ** k * factorial(k));
      assert.equal(doubleFactorial(2 * k - 1), factorial(2 * k) / (2 ** k * factorial(k)));
    }
  });

  test('binomial: exact vs BigInt, Pascal rule, zero outside 0..n', () => {
    for (let n = 0; n <= 60; n++) {
      for (let k = 0; k <= n; k++) {
        const ref = bigBinomial(n, k);
        if (ref < 2n ** 53n) assert.equal(binomial(n, k), Number(ref), `C(${n}, ${k})`);
        else assert.ok(Math.abs(binomial(n, k) / Number(ref) - 1) <= 1e-14);
      }
      assert.equal(binomial(n, -1), 0);
      assert.equal(binomial(n, n + 1), 0);
    }
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }), (n, k) => {
        if (k > n) return;
        assert.equal(binomial(n, k), binomial(n - 1, k - 1) + binomial(n - 1, k));
      }),
    );
  });

  test('invalid arguments throw InvalidArgumentError', () => {
    assert.throws(() => factorial(-1), InvalidArgumentError);
    assert.throws(() => factorial(2.5), InvalidArgumentError);
    assert.throws(() => logFactorial(NaN), InvalidArgumentError);
    assert.throws(() => doubleFactorial(-2), InvalidArgumentError);
    assert.throws(() => binomial(-1, 0), InvalidArgumentError);
    assert.throws(() => binomial(5, 1.5), InvalidArgumentError);
    assert.throws(() => standardNormalMoment(-1), InvalidArgumentError);
  });
});

describe('normal moments', () => {
  test('standard normal moments: 1, 0, 1, 0, 3, 0, 15, 0, 105, …', () => {
    assert.deepEqual(
      Array.from({ length: 11 }, (_, k) => standardNormalMoment(k)),
      [1, 0, 1, 0, 3, 0, 15, 0, 105, 0, 945],
    );
  });

  test('normalMoments = binomial expansion Σ C(k, 2j) μ^{k−2j} σ^{2j} (2j−1)!!', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 14 }),
        // |μ|, σ ≥ 1e-20 (or 0) so that no power up to the 14th underflows into the subnormal range
        fc.double({ min: -12, max: 12, noNaN: true }).filter((x) => x === 0 || Math.abs(x) >= 1e-20),
        fc.double({ min: 0, max: 50, noNaN: true }).filter((x) => x === 0 || x >= 1e-20),
        (n, mu, sigma) => {
          const got = normalMoments(n, mu, sigma);
          assert.equal(got.length, n + 1);
          for (let k = 0; k <= n; k++) {
            let ref = 0;
            let magnitude = 0;
            for (let j = 0; 2 * j <= k; j++) {
              const term = binomial(k, 2 * j) * mu ** (k - 2 * j) * sigma ** (2 * j) * doubleFactorial(2 * j - 1);
              ref += term;
              magnitude += Math.abs(term);
            }
            // both sides round each of ≤ k terms: error ≲ k·ε·Σ|terms|
            assert.ok(Math.abs(got[k]! - ref) <= (k + 1) * 4e-16 * magnitude, `k=${k} μ=${mu} σ=${sigma}: ${got[k]} vs ${ref}`);
          }
        },
      ),
    );
  });

  test('σ = 0 is the point mass, odd moments flip with μ', () => {
    assert.deepEqual(Array.from(normalMoments(4, 2, 0)), [1, 2, 4, 8, 16]);
    const a = normalMoments(7, 1.3, 0.7);
    const b = normalMoments(7, -1.3, 0.7);
    for (let k = 0; k <= 7; k++) assert.equal(b[k], (-1) ** k * a[k]!);
    assert.deepEqual(Array.from(normalMoments(0, 5, 5)), [1]);
  });

  test('invalid arguments', () => {
    assert.throws(() => normalMoments(-1, 0, 1), InvalidArgumentError);
    assert.throws(() => normalMoments(3, 0, -1), InvalidArgumentError);
    assert.throws(() => normalMoments(3, NaN, 1), NonFiniteError);
    assert.throws(() => normalMoments(3, 0, Infinity), NonFiniteError);
  });
});
