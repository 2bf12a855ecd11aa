/**
 * Raw moments of the normal distribution and the integer combinatorics they need
 * (factorials, double factorials, binomial coefficients).
 */
import { InvalidArgumentError, NonFiniteError } from '../errors.js';
import { gammaln } from './special.js';

function assertCount(k: number, fn: string, arg: string, min = 0): void {
  if (!Number.isInteger(k) || k < min) {
    throw new InvalidArgumentError(`${fn}: ${arg} must be an integer ≥ ${min}, got ${k}`);
  }
}

/** k! for k = 0..170 (171! overflows a double). Entries up to 22! are exact; the rest are correctly rounded products. */
const FACTORIALS: Float64Array = (() => {
  const t = new Float64Array(171);
  t[0] = 1;
  for (let k = 1; k <= 170; k++) t[k] = t[k - 1]! * k;
  return t;
})();

/**
 * The factorial k! = 1·2·…·k, with 0! = 1.
 * @param k an integer ≥ 0.
 * @returns k! (exact up to 22!, relative error ≲ 1e-14 up to 170!, +Infinity beyond).
 * @throws InvalidArgumentError if k is not a non-negative integer.
 */
export function factorial(k: number): number {
  assertCount(k, 'factorial', 'k');
  return k <= 170 ? FACTORIALS[k]! : Infinity;
}

/**
 * log(k!), finite for every integer k ≥ 0 (log Γ(k + 1) beyond the factorial table).
 * @throws InvalidArgumentError if k is not a non-negative integer.
 */
export function logFactorial(k: number): number {
  assertCount(k, 'logFactorial', 'k');
  return k <= 170 ? Math.log(FACTORIALS[k]!) : gammaln(k + 1);
}

/**
 * The double factorial k!! = k·(k−2)·(k−4)·…, ending at 1 or 2, with 0!! = (−1)!! = 1.
 * @param k an integer ≥ −1.
 * @returns k!! (exact while it is below 2^53, +Infinity once it overflows, i.e. k > 300).
 * @throws InvalidArgumentError if k is not an integer ≥ −1.
 */
export function doubleFactorial(k: number): number {
  assertCount(k, 'doubleFactorial', 'k', -1);
  let r = 1;
  for (let j = k; j > 1; j -= 2) r *= j;
  return r;
}

/**
 * The binomial coefficient C(n, k) = n!/(k!(n−k)!), 0 when k < 0 or k > n.
 * @param n an integer ≥ 0.
 * @param k any integer.
 * @returns C(n, k), exact whenever it is below 2^53 (otherwise relative error ≲ min(k, n−k)·1.1e-16;
 *   +Infinity on overflow).
 * @throws InvalidArgumentError if n is not a non-negative integer or k is not an integer.
 */
export function binomial(n: number, k: number): number {
  assertCount(n, 'binomial', 'n');
  if (!Number.isInteger(k)) throw new InvalidArgumentError(`binomial: k must be an integer, got ${k}`);
  if (k < 0 || k > n) return 0;
  const m = Math.min(k, n - k);
  let r = 1;
  for (let i = 1; i <= m; i++) {
    // C(n−m+i, i) = C(n−m+i−1, i−1)·(n−m+i)/i. Cancelling g = gcd(r, i) first keeps every intermediate no larger
    // than the result (i/g divides n−m+i because it is coprime to r/g), so the step is exact below 2^53.
    const g = r < 2 ** 53 ? gcd(r, i) : 1;
    r = (r / g) * ((n - m + i) / (i / g));
  }
  return r;
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/**
 * E[Z^k] for Z ~ N(0, 1): (k−1)!! for even k, 0 for odd k.
 * @throws InvalidArgumentError if k is not a non-negative integer.
 */
export function standardNormalMoment(k: number): number {
  assertCount(k, 'standardNormalMoment', 'k');
  return k % 2 === 1 ? 0 : doubleFactorial(k - 1);
}

/**
 * Raw moments E[X^k], k = 0..n, of X ~ N(mu, sigma²), by the recursion
 * E_0 = 1, E_1 = μ, E_k = μ·E_{k−1} + (k−1)·σ²·E_{k−2} (Stein's lemma applied to x^{k−1}).
 * All terms have the sign of μ^k when μ ≥ 0, so the recursion is accurate to a few ulps for μ ≥ 0;
 * for μ < 0 it is evaluated with |μ| and signs restored (E_k(−μ) = (−1)^k E_k(μ)).
 * @param n highest order, an integer ≥ 0.
 * @param mu mean, finite.
 * @param sigma standard deviation, finite and ≥ 0 (0 gives the point mass at μ).
 * @returns a Float64Array of length n + 1 with entry k = E[X^k].
 * @throws InvalidArgumentError for a bad n or a negative sigma; NonFiniteError for non-finite mu or sigma.
 */
export function normalMoments(n: number, mu: number, sigma: number): Float64Array {
  assertCount(n, 'normalMoments', 'n');
  if (!Number.isFinite(mu)) throw new NonFiniteError(`normalMoments: mu must be finite, got ${mu}`);
  if (!Number.isFinite(sigma)) throw new NonFiniteError(`normalMoments: sigma must be finite, got ${sigma}`);
  if (sigma < 0) throw new InvalidArgumentError(`normalMoments: sigma must be ≥ 0, got ${sigma}`);
  const out = new Float64Array(n + 1);
  const m = Math.abs(mu);
  const v = sigma * sigma;
  out[0] = 1;
  if (n >= 1) out[1] = m;
  for (let k = 2; k <= n; k++) out[k] = m * out[k - 1]! + (k - 1) * v * out[k - 2]!;
  if (mu < 0) for (let k = 1; k <= n; k += 2) out[k] = -out[k]!;
  return out;
}
