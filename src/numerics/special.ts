/**
 * Special functions of the standard normal distribution and a few relatives (erf family, log Γ),
 * accurate to a few ulps over the whole double range, including the far tails.
 *
 * erf, erfc, erfcx and log Γ come from the per-function `@stdlib` packages (measured ≤ 2.3e-16 relative
 * against mpmath). The normal-distribution functions are built on them here rather than taken from
 * `@stdlib/stats-base-dists-normal-*`, because those evaluate `erfc(-z/√2)` and `exp(-z²/2)` directly:
 * the rounding of `z/√2` or `z²` is amplified by the steep tail (relative error ≈ z²·ε, 1.7e-13 at
 * z = −35.5). Here `z²` is split exactly into two doubles (Dekker), which keeps the tails at ≈ 1e-15.
 *
 * Every function throws `NonFiniteError` for a NaN argument; ±Infinity returns the limit value.
 */
import erfImpl from '@stdlib/math-base-special-erf';
import erfcImpl from '@stdlib/math-base-special-erfc';
import erfcxImpl from '@stdlib/math-base-special-erfcx';
import gammalnImpl from '@stdlib/math-base-special-gammaln';
import { NonFiniteError } from '../errors.js';

/** 1/√(2π). */
export const INV_SQRT_2PI = 0.3989422804014327;
/** ½·log(2π). */
export const HALF_LOG_2PI = 0.9189385332046728;
/** √(π/2). */
const SQRT_HALF_PI = 1.2533141373155003;
/** √(2π). */
const SQRT_2PI = 2.5066282746310002;
/** Dekker's splitting constant 2^27 + 1. */
const SPLITTER = 134217729;
/** Beyond this |z|, z² overflows or exp(−z²/2) is exactly 0 anyway. */
const HUGE_Z = 1e150;

function assertNotNaN(x: number, fn: string, arg: string): void {
  if (x !== x) throw new NonFiniteError(`${fn}: argument ${arg} is NaN`);
}

/**
 * exp(−z²/2) to ≈ 1 ulp for all z. `z²` is computed as the unevaluated sum hi + lo of two doubles
 * (Dekker's exact product), so the result does not inherit the rounding error of z², which the
 * exponential would otherwise amplify by z²/2 in relative terms.
 */
function expMinusHalfSquare(z: number): number {
  const a = Math.abs(z);
  if (a > HUGE_Z) return 0;
  const hi = a * a;
  const c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  const lo = ah * ah - hi + 2 * ah * al + al * al;
  return Math.exp(-0.5 * hi) * (1 - 0.5 * lo);
}

/**
 * exp(+z²/2) with the same exact split of z² as {@link expMinusHalfSquare}; overflows to +Infinity
 * exactly when the true value does (up to rounding at the boundary).
 */
function expPlusHalfSquare(z: number): number {
  const a = Math.abs(z);
  if (a > HUGE_Z) return Infinity;
  const hi = a * a;
  const c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  const lo = ah * ah - hi + 2 * ah * al + al * al;
  return Math.exp(0.5 * hi) * (1 + 0.5 * lo);
}

/**
 * The error function erf(x) = 2/√π ∫₀ˣ e^{−t²} dt.
 * @param x any real number; erf(±∞) = ±1.
 * @returns erf(x), relative error ≲ 2e-16.
 * @throws NonFiniteError if x is NaN.
 */
export function erf(x: number): number {
  assertNotNaN(x, 'erf', 'x');
  return erfImpl(x);
}

/**
 * The complementary error function erfc(x) = 1 − erf(x), accurate in the right tail (no cancellation):
 * relative error ≲ 3e-16 for x up to 26.5, where it underflows.
 * @param x any real number; erfc(−∞) = 2, erfc(+∞) = 0.
 * @throws NonFiniteError if x is NaN.
 */
export function erfc(x: number): number {
  assertNotNaN(x, 'erfc', 'x');
  return erfcImpl(x);
}

/**
 * The scaled complementary error function erfcx(x) = exp(x²)·erfc(x). Finite and smooth for large
 * positive x (≈ 1/(x√π)); overflows to +Infinity for x ≲ −26.6. Relative error ≲ 4e-16.
 * @throws NonFiniteError if x is NaN.
 */
export function erfcx(x: number): number {
  assertNotNaN(x, 'erfcx', 'x');
  return erfcxAccurate(x);
}

/**
 * erfcx via @stdlib, except on |x| < 0.5 where that implementation loses a few ulps (it returns exactly 1 for
 * x = 4.4e-16, true value 1 − 5.0e-16); there exp(x²)·erfc(x) is accurate because x² < 0.25 (no amplification).
 */
function erfcxAccurate(x: number): number {
  if (Math.abs(x) < 0.5) return Math.exp(x * x) * erfcImpl(x);
  return erfcxImpl(x);
}

/**
 * The standard normal density φ(z) = exp(−z²/2)/√(2π).
 * @returns φ(z), relative error ≈ 1e-16 for every z where φ(z) is a normal (not subnormal) double.
 * @throws NonFiniteError if z is NaN.
 */
export function normPdf(z: number): number {
  assertNotNaN(z, 'normPdf', 'z');
  return INV_SQRT_2PI * expMinusHalfSquare(z);
}

/**
 * The log of the standard normal density, log φ(z) = −z²/2 − ½·log(2π). Finite for every finite z.
 * @throws NonFiniteError if z is NaN.
 */
export function normLogPdf(z: number): number {
  assertNotNaN(z, 'normLogPdf', 'z');
  return -0.5 * z * z - HALF_LOG_2PI;
}

/**
 * The standard normal distribution function Φ(z) = P(Z ≤ z) = ½·erfc(−z/√2), with full relative accuracy
 * in the left tail: for z < −1 it is evaluated as ½·erfcx(−z/√2)·exp(−z²/2) with z² split exactly, so
 * the relative error stays ≈ 1e-15 down to z ≈ −37.5 (Φ(−37) ≈ 5.7e-300), below which the result is
 * subnormal and then 0.
 * @throws NonFiniteError if z is NaN.
 */
export function normCdf(z: number): number {
  assertNotNaN(z, 'normCdf', 'z');
  if (z >= -1) return 0.5 * erfcImpl(-z * Math.SQRT1_2);
  return 0.5 * erfcxAccurate(-z * Math.SQRT1_2) * expMinusHalfSquare(z);
}

/**
 * The standard normal survival function 1 − Φ(z) = Φ(−z), accurate in the right tail.
 * @throws NonFiniteError if z is NaN.
 */
export function normSf(z: number): number {
  assertNotNaN(z, 'normSf', 'z');
  return normCdf(-z);
}

/**
 * log Φ(z), accurate over the whole real line: for z < −1 it is log(½·erfcx(−z/√2)) − z²/2 (no underflow;
 * relative error ≈ 1e-16 down to z = −1e5 and beyond), for z ≥ −1 it is log1p(−Φ(−z)) (so log Φ(8) ≈
 * −6.2e-16 keeps full relative accuracy). Returns 0 once Φ(−z) underflows (z ≳ 38.5), −∞ at −∞.
 * @throws NonFiniteError if z is NaN.
 */
export function normLogCdf(z: number): number {
  assertNotNaN(z, 'normLogCdf', 'z');
  if (z < -1) {
    if (z === -Infinity) return -Infinity;
    return Math.log(0.5 * erfcxAccurate(-z * Math.SQRT1_2)) - 0.5 * z * z;
  }
  const r = Math.log1p(-normCdf(-z));
  return r === 0 ? 0 : r; // never −0
}

/**
 * Mills' ratio R(z) = (1 − Φ(z))/φ(z), stable for large z (R(z) ≈ 1/z) through
 * R(z) = √(π/2)·erfcx(z/√2). For z < −1 it is evaluated as Φ(−z)·√(2π)·exp(z²/2) with z² split exactly
 * (relative error ≈ 1e-15); it overflows to +Infinity below z ≈ −37.7, where the true value does.
 * @throws NonFiniteError if z is NaN.
 */
export function millsRatio(z: number): number {
  assertNotNaN(z, 'millsRatio', 'z');
  if (z >= -1) return SQRT_HALF_PI * erfcxAccurate(z * Math.SQRT1_2);
  return normCdf(-z) * SQRT_2PI * expPlusHalfSquare(z);
}

/**
 * log |Γ(x)|. +Infinity at the poles x = 0, −1, −2, … and at ±Infinity.
 * @returns relative error ≲ 1e-15 (away from the zeros of log Γ at x = 1 and 2, where the absolute error is ≲ 1e-16).
 * @throws NonFiniteError if x is NaN.
 */
export function gammaln(x: number): number {
  assertNotNaN(x, 'gammaln', 'x');
  if (x === -Infinity) return Infinity;
  return gammalnImpl(x);
}
