/**
 * The activation-function interface: a scalar nonlinearity g together with the univariate Gaussian
 * expectations the polynomial approximants are built from.
 *
 * Notation used throughout `src/approx/activations`: the preactivation is u ~ N(m, s²), z = (u − m)/s
 * is its standardization, He_k are the probabilists' Hermite polynomials (He_0 = 1, He_1 = z,
 * He_{k+1} = z·He_k − k·He_{k−1}) and φ, Φ the standard normal density and distribution function.
 *
 * Degenerate Gaussians (s = 0, which a singular input covariance produces) are allowed: every
 * expectation is then evaluated at the point u = m, i.e. E[g] = g(m), E[g′] = g′(m), E[g″] = g″(m)
 * with the pointwise derivatives of the activation (including its documented convention at kinks),
 * E[u^k g] = m^k g(m), c_0 = g(m) and c_k = 0 for k ≥ 1. The Dirac masses of a jump (of g in E[g′],
 * of g or g′ in E[g″]) are dropped at s = 0. This is the s → 0⁺ limit everywhere except exactly at a
 * kink, where that limit is infinite; a finite value is chosen there because an s = 0 unit is constant
 * over the input distribution and its derivative expectations only ever multiply zero-variance
 * directions.
 */
import { InvalidArgumentError } from '../../errors.js';

/**
 * A scalar activation g with the Gaussian expectations needed by the approximation engine.
 * All expectation methods take u ~ N(m, s²) with m finite and s finite and ≥ 0, and throw
 * InvalidArgumentError otherwise. Pointwise methods follow IEEE semantics (NaN propagates, ±∞
 * gives the limit) so that they can be called in tight loops.
 */
export interface Activation {
  /** Canonical spec, e.g. `'relu'`, `'leaky_relu(0.01)'`, `'jumprelu(1)'`; `getActivation(name)` recreates it. */
  readonly name: string;
  /** The points u where g or g′ is not smooth (used as quadrature breakpoints). Empty for smooth g. */
  readonly kinks: readonly number[];
  /** g(u). */
  value(u: number): number;
  /** g′(u) where it exists; at a kink the activation documents its convention. No Dirac parts. */
  derivative(u: number): number;
  /** g″(u) pointwise, no Dirac parts. */
  secondDerivative(u: number): number;
  /** E[g(u)], u ~ N(m, s²). */
  mean(m: number, s: number): number;
  /** E[g′(u)] in the distributional sense: a jump of g at a adds (jump)·p(a), p the density of u. */
  meanDerivative(m: number, s: number): number;
  /**
   * E[g″(u)] in the distributional sense: a jump of g′ at a adds (jump of g′)·p(a), a jump of g at a
   * adds −(jump of g)·p′(a).
   */
  meanSecondDerivative(m: number, s: number): number;
  /** E[u^k g(u)] for k = 0..n (length n + 1). */
  polyMoments(m: number, s: number, n: number): Float64Array;
  /**
   * Normalized Hermite coefficients c_k = E[g(u) He_k(z)]/√(k!) for k = 0..K (length K + 1), so that
   * g(m + s z) = Σ_k c_k He_k(z)/√(k!) in L²(N(0, 1)). By Stein's lemma c_k = s^k E[g^{(k)}(u)]/√(k!),
   * in particular c_0 = E[g], c_1 = s·E[g′], c_2 = s²·E[g″]/√2.
   */
  hermiteCoefficients(m: number, s: number, K: number): Float64Array;
  /** E[u^k g(u)²] for k = 0..n (length n + 1). */
  squarePolyMoments(m: number, s: number, n: number): Float64Array;
}

/**
 * A discontinuity of an activation at u = at: `valueJump` = g(at⁺) − g(at⁻) and `slopeJump` =
 * g′(at⁺) − g′(at⁻). These produce the Dirac parts of the distributional E[g′] and E[g″].
 */
export interface ActivationJump {
  readonly at: number;
  readonly valueJump: number;
  readonly slopeJump: number;
}

/**
 * Checks the Gaussian parameters of an expectation method.
 * @param where `'<activation>.<method>'`, for the error message.
 * @throws InvalidArgumentError if m is not finite, or s is not finite or is negative.
 */
export function assertGaussianParameters(where: string, m: number, s: number): void {
  if (!Number.isFinite(m)) throw new InvalidArgumentError(`${where}: the mean m must be a finite number, got ${m}`);
  if (!Number.isFinite(s) || s < 0) {
    throw new InvalidArgumentError(`${where}: the standard deviation s must be a finite number ≥ 0, got ${s}`);
  }
}

/**
 * Checks a highest order (n of polyMoments, K of hermiteCoefficients).
 * @throws InvalidArgumentError unless `order` is an integer ≥ 0.
 */
export function assertOrder(where: string, argument: string, order: number): void {
  if (!Number.isInteger(order) || order < 0) {
    throw new InvalidArgumentError(`${where}: ${argument} must be an integer ≥ 0, got ${order}`);
  }
}

/**
 * [m^k·v for k = 0..n]: E[u^k f(u)] for the point mass at u = m with v = f(m) (the s = 0 case;
 * v = g(m) for polyMoments, g(m)² for squarePolyMoments).
 */
export function pointMassMoments(n: number, m: number, v: number): Float64Array {
  const out = new Float64Array(n + 1);
  let mk = 1;
  for (let k = 0; k <= n; k++) {
    out[k] = mk * v;
    mk *= m;
  }
  return out;
}

/** [g(m), 0, …, 0] of length K + 1: the Hermite coefficients of the point mass at m (the s = 0 case). */
export function pointMassHermite(K: number, gm: number): Float64Array {
  const out = new Float64Array(K + 1);
  out[0] = gm;
  return out;
}
