/**
 * GELU activations: the exact g(u) = u·Φ(u) (closed forms) and the tanh approximation used by GPT-2
 * (`gelu_tanh`, also `gelu_new` / `gelu_pytorch_tanh`; by quadrature).
 *
 * Exact GELU. With w ~ N(0, 1) independent of u, Φ(u) = P(w < u), so E[u^k Φ(u)] = E[u^k; d > 0] with
 * d = u − w ~ N(m, t²), t = √(1 + s²). Given d, u = (s²/t²)·d + m/t² + e with e ~ N(0, s²/t²) independent
 * of d; writing d = t(ζ − ℓ_d) on {d > 0} with ℓ_d = −m/t,
 *
 *     E[u^k Φ(u)] = Σ_i C(k, i)·(s²/t)^i·V_i(ℓ_d)·E[(m/t² + e)^{k−i}],
 *
 * with V_i the shifted tail moments of ./gaussianTail.ts (no noncentral-t CDF needed; this is the
 * conditional form of the elementary recursion in the spec). Hence E[g] = (s²/t)·V_1 + (m/t²)·V_0, and
 * with y = m/t, ρ = s/t,
 *
 *     E[g′]  = Φ(y) + y·φ(y)/t²
 *     E[g″]  = (φ(y)/t)·(1 + (1 − y²)/t²)
 *     c_k    = (1/t)·[−q_k + s²·q_{k−2}/√(k(k−1))],   q_j = φ(y)·ρ^j·He_j(−y)/√(j!)   (k ≥ 2)
 *
 * (Stein: c_k = s^k E[g^{(k)}]/√(k!), g^{(k)} = (−1)^k φ(u)(He_{k−2}(u) − He_k(u)), and
 * E[φ(u) He_j(u)] = (φ(y)/t)·t^{−j}·He_j(y)). Since ρ < 1 the q_j decay geometrically, so the
 * coefficients are accurate for any K. E[u^k g²] has no elementary form and uses quadrature.
 */
import { binomial, normalMoments, normCdf, normLogPdf, normPdf } from '../../numerics/index.js';
import { scaledNormalizedHermiteAll, shiftedTailMoments } from './gaussianTail.js';
import { logistic } from './logistic.js';
import { QuadratureActivation } from './quadratureActivation.js';
import { assertGaussianParameters, assertOrder, pointMassHermite, pointMassMoments } from './types.js';

/**
 * E[u^j Φ(u)] for j = 0..N, u ~ N(m, s²) (any s ≥ 0).
 * @returns a Float64Array of length N + 1.
 */
export function normalCdfPowerMoments(N: number, m: number, s: number): Float64Array {
  const t = Math.hypot(1, s);
  const v = shiftedTailMoments(N, -m / t);
  const a = s * (s / t); // s²/t without overflowing s²
  let ai = 1;
  for (let i = 0; i <= N; i++) {
    v[i] = v[i]! * ai; // now a^i·V_i
    ai *= a;
  }
  const mu = normalMoments(N, m / t / t, s / t);
  const out = new Float64Array(N + 1);
  for (let j = 0; j <= N; j++) {
    let sum = 0;
    for (let i = 0; i <= j; i++) sum += binomial(j, i) * v[i]! * mu[j - i]!;
    out[j] = sum;
  }
  return out;
}

/** The exact (erf) GELU g(u) = u·Φ(u), with closed-form expectations (quadrature only for E[u^k g²]). */
export class GeluActivation extends QuadratureActivation {
  readonly name = 'gelu';
  override readonly transitions: readonly number[] = [0];

  value(u: number): number {
    if (u !== u) return u;
    return u === -Infinity ? 0 : u * normCdf(u);
  }

  derivative(u: number): number {
    if (!Number.isFinite(u)) return u > 0 ? 1 : u === u ? 0 : u;
    return normCdf(u) + u * normPdf(u);
  }

  secondDerivative(u: number): number {
    if (u !== u) return u;
    const density = normPdf(u);
    // Where φ underflows (|u| > 38.6) the product is 0, also when u² overflows.
    return density === 0 ? 0 : (2 - u * u) * density;
  }

  override mean(m: number, s: number): number {
    assertGaussianParameters('gelu.mean', m, s);
    return normalCdfPowerMoments(1, m, s)[1]!;
  }

  override meanDerivative(m: number, s: number): number {
    assertGaussianParameters('gelu.meanDerivative', m, s);
    const t = Math.hypot(1, s);
    const y = m / t;
    return normCdf(y) + (y * normPdf(y)) / t / t;
  }

  override meanSecondDerivative(m: number, s: number): number {
    assertGaussianParameters('gelu.meanSecondDerivative', m, s);
    const t = Math.hypot(1, s);
    const y = m / t;
    return (normPdf(y) / t) * (1 + (1 - y * y) / t / t);
  }

  override polyMoments(m: number, s: number, n: number): Float64Array {
    assertGaussianParameters('gelu.polyMoments', m, s);
    assertOrder('gelu.polyMoments', 'n', n);
    if (s === 0) return pointMassMoments(n, m, this.value(m));
    return normalCdfPowerMoments(n + 1, m, s).slice(1);
  }

  override hermiteCoefficients(m: number, s: number, K: number): Float64Array {
    assertGaussianParameters('gelu.hermiteCoefficients', m, s);
    assertOrder('gelu.hermiteCoefficients', 'K', K);
    if (s === 0) return pointMassHermite(K, this.value(m));
    const c = new Float64Array(K + 1);
    c[0] = this.mean(m, s);
    if (K === 0) return c;
    c[1] = s * this.meanDerivative(m, s);
    if (K === 1) return c;
    const t = Math.hypot(1, s);
    const y = m / t;
    const q = scaledNormalizedHermiteAll(K, -y, s / t, normPdf(y), normLogPdf(y));
    const a = s * (s / t); // s²/t without overflowing s²
    for (let k = 2; k <= K; k++) c[k] = -q[k]! / t + (a * q[k - 2]!) / Math.sqrt(k * (k - 1));
    return c;
  }
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_CUBIC = 0.044715;

/**
 * The tanh approximation of GELU, g(u) = ½u(1 + tanh(√(2/π)(u + 0.044715u³))) (GPT-2's `gelu_new`,
 * PyTorch's `gelu(approximate='tanh')`), evaluated as u·σ(w(u)) with w = 2√(2/π)(u + 0.044715u³) and
 * σ the logistic function, which is the same function without the cancellation of 1 + tanh for u ≪ 0.
 */
export class GeluTanhActivation extends QuadratureActivation {
  readonly name = 'gelu_tanh';
  override readonly transitions: readonly number[] = [0];

  value(u: number): number {
    if (!Number.isFinite(u)) return u > 0 ? u : u === u ? 0 : u;
    return u * logistic(2 * SQRT_2_OVER_PI * (u + GELU_TANH_CUBIC * u * u * u));
  }

  derivative(u: number): number {
    if (!Number.isFinite(u)) return u > 0 ? 1 : u === u ? 0 : u;
    const w = 2 * SQRT_2_OVER_PI * (u + GELU_TANH_CUBIC * u * u * u);
    const dw = 2 * SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_CUBIC * u * u);
    const sig = logistic(w);
    const sigPrime = sig * logistic(-w);
    // sigPrime underflows to 0 for |u| ≳ 15, where u·dw may overflow: the product is 0 there.
    return sigPrime === 0 ? sig : sig + u * sigPrime * dw;
  }

  secondDerivative(u: number): number {
    if (!Number.isFinite(u)) return u === u ? 0 : u;
    const w = 2 * SQRT_2_OVER_PI * (u + GELU_TANH_CUBIC * u * u * u);
    const dw = 2 * SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_CUBIC * u * u);
    const d2w = 12 * SQRT_2_OVER_PI * GELU_TANH_CUBIC * u;
    const sigPrime = logistic(w) * logistic(-w);
    if (sigPrime === 0) return 0;
    // σ″(w) = σ′(w)·(1 − 2σ(w)) = −σ′(w)·tanh(w/2)
    return 2 * sigPrime * dw + u * (-sigPrime * Math.tanh(w / 2) * dw * dw + sigPrime * d2w);
  }
}
