/**
 * The ReLU family in closed form: ReLU g(u) = max(u, 0), JumpReLU g(u) = u·1{u > θ} and leaky ReLU
 * g(u) = u for u > 0, α·u otherwise.
 *
 * ReLU and JumpReLU are both the threshold-linear function u·1{u > θ} (θ = 0 for ReLU). With
 * ℓ = (θ − m)/s and the shifted tail moments V_j(ℓ) = E[(Z − ℓ)^j; Z > ℓ] of ./gaussianTail.ts, writing
 * u = θ + s(z − ℓ) on {u > θ}:
 *
 *     E[u^k; u > θ] = Σ_j C(k, j)·θ^{k−j}·s^j·V_j(ℓ)          (= s^k V_k(ℓ) for ReLU; for θ < 0
 *                     see thresholdPowerMoments)
 *     E[g]   = θ·V_0 + s·V_1
 *     E[g′]  = V_0 + θ·φ(ℓ)/s                                    (Dirac part: jump θ of g at θ)
 *     E[g″]  = φ(ℓ)·(s + θℓ)/s²                                  (jump 1 of g′, jump θ of g)
 *     c_1    = θ·φ(ℓ) + s·V_0,
 *     c_k    = φ(ℓ)·[θ·He_{k−1}(ℓ) + s·He_{k−2}(ℓ)]/√(k!)      (k ≥ 2)
 *
 * (c_k from ∫_ℓ^∞ He_k φ = He_{k−1}(ℓ)φ(ℓ) and z·He_k = He_{k+1} + k·He_{k−1}). Because no difference of
 * large terms is formed, E[relu] and the ReLU moments keep full relative accuracy in the far tail
 * (m/s = −12, −30, …) until they underflow; the reference implementation's lower-partial-moment
 * subtraction returned negative values there.
 *
 * Pointwise conventions at the kink follow PyTorch autograd: relu′(0) = 0, a JumpReLU has g(θ) = 0
 * and g′(θ) = 0, and leaky_relu′(0) = α.
 */
import { InvalidArgumentError } from '../../errors.js';
import { binomial, normalMoments, normLogPdf, normPdf } from '../../numerics/index.js';
import { scaledNormalizedHermiteAll, shiftedTailMoments } from './gaussianTail.js';
import {
  assertGaussianParameters,
  assertOrder,
  pointMassHermite,
  pointMassMoments,
  type Activation,
} from './types.js';

/**
 * E[u^k·1{u > θ}] for k = 0..n, u ~ N(m, s²) with s > 0, accurate to a few ulps of E[|u|^k; u > θ].
 *
 * Expanding u^k = (θ + (u − θ))^k gives terms of one sign when θ ≥ 0. For θ < 0 with most of the mass
 * above θ (θ ≤ m) those terms (~|θ|^k) can dwarf the result (~s^k when |m|, s ≪ |θ|), so there the
 * complement E[u^k] − E[u^k; u ≤ θ] is used, whose lower part, reflected (u → −u, θ → −θ > 0), again
 * has terms of one sign.
 * @returns a Float64Array of length n + 1.
 */
export function thresholdPowerMoments(n: number, theta: number, m: number, s: number): Float64Array {
  if (theta < 0 && theta <= m) {
    const lower = upperPowerMoments(n, -theta, -m, s); // E[(−u)^k; −u ≥ −θ]
    const full = normalMoments(n, m, s);
    for (let k = 0; k <= n; k++) full[k] = full[k]! - (k % 2 === 0 ? lower[k]! : -lower[k]!);
    return full;
  }
  return upperPowerMoments(n, theta, m, s);
}

/** E[u^k; u > θ] = Σ_j C(k, j)·θ^{k−j}·s^j·V_j((θ − m)/s), k = 0..n. */
function upperPowerMoments(n: number, theta: number, m: number, s: number): Float64Array {
  const v = shiftedTailMoments(n, (theta - m) / s);
  let sj = 1;
  for (let j = 0; j <= n; j++) {
    v[j] = v[j]! * sj; // now E[(u − θ)^j; u > θ]
    sj *= s;
  }
  if (theta === 0) return v;
  const out = new Float64Array(n + 1);
  for (let k = 0; k <= n; k++) {
    let sum = 0;
    let thetaPower = 1;
    for (let j = k; j >= 0; j--) {
      sum += binomial(k, j) * thetaPower * v[j]!;
      thetaPower *= theta;
    }
    out[k] = sum;
  }
  return out;
}

function assertFiniteParameter(activation: string, parameter: string, value: number): void {
  if (!Number.isFinite(value)) {
    throw new InvalidArgumentError(`${activation}: the ${parameter} must be a finite number, got ${value}`);
  }
}

/**
 * The threshold-linear function g(u) = u·1{u > θ}: ReLU for θ = 0, JumpReLU otherwise. All expectations in
 * closed form (see the module comment).
 */
export class ThresholdLinearActivation implements Activation {
  readonly name: string;
  readonly threshold: number;
  readonly kinks: readonly number[];

  /**
   * @param threshold θ, finite.
   * @param name the canonical spec; defaults to `jumprelu(θ)`.
   * @throws InvalidArgumentError for a non-finite θ.
   */
  constructor(threshold: number, name?: string) {
    assertFiniteParameter('jumprelu', 'threshold θ', threshold);
    this.threshold = threshold;
    this.name = name ?? `jumprelu(${threshold})`;
    this.kinks = [threshold];
  }

  value(u: number): number {
    return u > this.threshold ? u : u === u ? 0 : u;
  }

  /**
   * True when u is a point mass for numerical purposes: s = 0, or s so small against |θ − m| that the
   * standardized threshold overflows.
   */
  private isPointMass(m: number, s: number): boolean {
    return s === 0 || !Number.isFinite((this.threshold - m) / s);
  }

  derivative(u: number): number {
    return u > this.threshold ? 1 : u === u ? 0 : u;
  }

  secondDerivative(u: number): number {
    return u === u ? 0 : u;
  }

  mean(m: number, s: number): number {
    assertGaussianParameters(`${this.name}.mean`, m, s);
    if (this.isPointMass(m, s)) return this.value(m);
    return thresholdPowerMoments(1, this.threshold, m, s)[1]!;
  }

  meanDerivative(m: number, s: number): number {
    assertGaussianParameters(`${this.name}.meanDerivative`, m, s);
    if (this.isPointMass(m, s)) return this.derivative(m);
    const l = (this.threshold - m) / s;
    const tail = shiftedTailMoments(0, l)[0]!;
    return this.threshold === 0 ? tail : tail + (this.threshold * normPdf(l)) / s;
  }

  meanSecondDerivative(m: number, s: number): number {
    assertGaussianParameters(`${this.name}.meanSecondDerivative`, m, s);
    if (this.isPointMass(m, s)) return 0;
    const l = (this.threshold - m) / s;
    return (normPdf(l) * (s + this.threshold * l)) / (s * s);
  }

  polyMoments(m: number, s: number, n: number): Float64Array {
    assertGaussianParameters(`${this.name}.polyMoments`, m, s);
    assertOrder(`${this.name}.polyMoments`, 'n', n);
    if (this.isPointMass(m, s)) return pointMassMoments(n, m, this.value(m));
    return thresholdPowerMoments(n + 1, this.threshold, m, s).slice(1);
  }

  hermiteCoefficients(m: number, s: number, K: number): Float64Array {
    assertGaussianParameters(`${this.name}.hermiteCoefficients`, m, s);
    assertOrder(`${this.name}.hermiteCoefficients`, 'K', K);
    if (this.isPointMass(m, s)) return pointMassHermite(K, this.value(m));
    const theta = this.threshold;
    const l = (theta - m) / s;
    const c = new Float64Array(K + 1);
    c[0] = thresholdPowerMoments(1, theta, m, s)[1]!;
    if (K === 0) return c;
    const density = normPdf(l);
    c[1] = theta * density + s * shiftedTailMoments(0, l)[0]!;
    if (K === 1) return c;
    // q_j = φ(ℓ)·He_j(ℓ)/√(j!)
    const q = scaledNormalizedHermiteAll(K - 1, l, 1, density, normLogPdf(l));
    for (let k = 2; k <= K; k++) {
      c[k] = (theta * q[k - 1]!) / Math.sqrt(k) + (s * q[k - 2]!) / Math.sqrt(k * (k - 1));
    }
    return c;
  }

  squarePolyMoments(m: number, s: number, n: number): Float64Array {
    assertGaussianParameters(`${this.name}.squarePolyMoments`, m, s);
    assertOrder(`${this.name}.squarePolyMoments`, 'n', n);
    if (this.isPointMass(m, s)) {
      const g = this.value(m);
      return pointMassMoments(n, m, g * g);
    }
    return thresholdPowerMoments(n + 2, this.threshold, m, s).slice(2);
  }
}

/** ReLU, g(u) = max(u, 0), with relu′(0) = 0. */
export class ReluActivation extends ThresholdLinearActivation {
  constructor() {
    super(0, 'relu');
  }
}

/**
 * JumpReLU, g(u) = u·1{u > θ} (as in JumpReLU sparse autoencoders), with g(θ) = g′(θ) = 0.
 * Its distributional derivative has the Dirac part θ·δ(u − θ), so E[g′] = Φ((m − θ)/s) + θ·φ(ℓ)/s
 * (the `jump-relu-added` fork of the reference omitted the 1/s).
 */
export class JumpReluActivation extends ThresholdLinearActivation {
  /** @param threshold θ (default 1), finite. */
  constructor(threshold = 1) {
    super(threshold);
  }
}

/**
 * Leaky ReLU g(u) = u for u > 0, α·u for u ≤ 0 (any finite slope α, default 0.01), with g′(0) = α.
 * Computed as α·u + (1 − α)·relu(u), and g² = α²u² + (1 − α²)·relu(u)².
 */
export class LeakyReluActivation implements Activation {
  readonly name: string;
  readonly slope: number;
  readonly kinks: readonly number[] = [0];
  private readonly relu = new ReluActivation();

  /**
   * @param slope α, finite (default 0.01).
   * @throws InvalidArgumentError for a non-finite slope.
   */
  constructor(slope = 0.01) {
    assertFiniteParameter('leaky_relu', 'slope', slope);
    this.slope = slope;
    this.name = `leaky_relu(${slope})`;
  }

  value(u: number): number {
    return u > 0 ? u : this.slope * u;
  }

  derivative(u: number): number {
    return u > 0 ? 1 : u === u ? this.slope : u;
  }

  secondDerivative(u: number): number {
    return u === u ? 0 : u;
  }

  mean(m: number, s: number): number {
    assertGaussianParameters(`${this.name}.mean`, m, s);
    if (s === 0) return this.value(m);
    return this.slope * m + (1 - this.slope) * this.relu.mean(m, s);
  }

  meanDerivative(m: number, s: number): number {
    assertGaussianParameters(`${this.name}.meanDerivative`, m, s);
    if (s === 0) return this.derivative(m);
    return this.slope + (1 - this.slope) * this.relu.meanDerivative(m, s);
  }

  meanSecondDerivative(m: number, s: number): number {
    assertGaussianParameters(`${this.name}.meanSecondDerivative`, m, s);
    if (s === 0) return 0;
    return (1 - this.slope) * this.relu.meanSecondDerivative(m, s);
  }

  polyMoments(m: number, s: number, n: number): Float64Array {
    assertGaussianParameters(`${this.name}.polyMoments`, m, s);
    assertOrder(`${this.name}.polyMoments`, 'n', n);
    if (s === 0) return pointMassMoments(n, m, this.value(m));
    const linear = normalMoments(n + 1, m, s);
    const rectified = this.relu.polyMoments(m, s, n);
    const out = new Float64Array(n + 1);
    for (let k = 0; k <= n; k++) out[k] = this.slope * linear[k + 1]! + (1 - this.slope) * rectified[k]!;
    return out;
  }

  hermiteCoefficients(m: number, s: number, K: number): Float64Array {
    assertGaussianParameters(`${this.name}.hermiteCoefficients`, m, s);
    assertOrder(`${this.name}.hermiteCoefficients`, 'K', K);
    if (s === 0) return pointMassHermite(K, this.value(m));
    const c = this.relu.hermiteCoefficients(m, s, K);
    for (let k = 0; k <= K; k++) c[k] = (1 - this.slope) * c[k]!;
    c[0] = c[0]! + this.slope * m;
    if (K >= 1) c[1] = c[1]! + this.slope * s;
    return c;
  }

  squarePolyMoments(m: number, s: number, n: number): Float64Array {
    assertGaussianParameters(`${this.name}.squarePolyMoments`, m, s);
    assertOrder(`${this.name}.squarePolyMoments`, 'n', n);
    if (s === 0) {
      const g = this.value(m);
      return pointMassMoments(n, m, g * g);
    }
    const slope2 = this.slope * this.slope;
    const linear = normalMoments(n + 2, m, s);
    const rectified = this.relu.squarePolyMoments(m, s, n);
    const out = new Float64Array(n + 1);
    for (let k = 0; k <= n; k++) out[k] = slope2 * linear[k + 2]! + (1 - slope2) * rectified[k]!;
    return out;
  }
}
