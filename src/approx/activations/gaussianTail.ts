/**
 * Building blocks of the closed-form activations: shifted partial moments of the standard normal
 * tail and scaled Hermite sequences, both computed without cancellation or overflow far in the tails.
 */
import { ConvergenceError } from '../../errors.js';
import { normPdf, normSf } from '../../numerics/index.js';

/**
 * Up to this ℓ the forward recurrence for the shifted tail moments loses ≲ 1e-15 relative up to order 40
 * (measured against mpmath; at ℓ = 0.5 it already loses 5e-14 at order 40 and 5e-15 at ℓ = 1, order 5).
 * Above, the recurrence is run backwards (Miller), where it is stable; its start index grows like 1/ℓ²
 * (≈ 4000 at ℓ = 0.25), so the forward range keeps small ℓ cheap.
 */
const FORWARD_MAX_L = 0.25;
const MAX_BACKWARD_START = 1 << 20;

/**
 * The shifted upper partial moments of the standard normal,
 *
 *     V_j(ℓ) = ∫_ℓ^∞ (z − ℓ)^j φ(z) dz = E[(Z − ℓ)^j; Z > ℓ],   j = 0..J,
 *
 * so that for u ~ N(m, s²) and a threshold θ, E[(u − θ)^j; u > θ] = s^j·V_j((θ − m)/s). All V_j are
 * positive and are returned with relative error ≲ 2e-15 (orders ≤ 40) for every ℓ until they underflow
 * (ℓ ≳ 37.5), in particular far in the upper tail where V_j ≈ j!·φ(ℓ)/ℓ^{j+1}.
 *
 * Integration by parts (φ′ = −zφ) gives V_0 = Φ(−ℓ), V_1 = φ(ℓ) − ℓ·V_0 and
 * V_{j+1} = j·V_{j−1} − ℓ·V_j. For ℓ ≤ 0 every term is positive and the recurrence is run forwards.
 * For ℓ > 0 the forward recurrence cancels catastrophically (V_1 = φ(ℓ) − ℓΦ(−ℓ) is ≈ φ(ℓ)/ℓ², while
 * both terms are ≈ φ(ℓ)), because V_j is the recessive solution; there the ratios
 * r_j = V_j/V_{j−1} = j/(ℓ + r_{j+1}) (a continued fraction) are evaluated backwards from a start
 * index that is doubled until r_1..r_J no longer change, and V_j = Φ(−ℓ)·r_1·…·r_j.
 *
 * @param J highest order, an integer ≥ 0 (not checked: internal).
 * @param l the lower limit ℓ, finite.
 * @param out optional destination of length ≥ J + 1.
 * @returns `out` (or a new array) with entry j = V_j(ℓ).
 * @throws ConvergenceError if the backward recurrence does not settle (start index beyond 2^20; needs
 *   ℓ ≲ 0.02, which only the forward range reaches).
 */
export function shiftedTailMoments(J: number, l: number, out?: Float64Array): Float64Array {
  const v = out ?? new Float64Array(J + 1);
  v[0] = normSf(l);
  if (J === 0) return v;
  if (l <= FORWARD_MAX_L) {
    v[1] = normPdf(l) - l * v[0]!;
    for (let j = 1; j < J; j++) v[j + 1] = j * v[j - 1]! - l * v[j]!;
    return v;
  }
  const ratios = tailMomentRatios(J, l);
  for (let j = 1; j <= J; j++) v[j] = v[j - 1]! * ratios[j]!;
  return v;
}

/** r_j = V_j(ℓ)/V_{j−1}(ℓ) for j = 1..J (entry 0 unused), ℓ > 0, by Miller's backward recurrence. */
function tailMomentRatios(J: number, l: number): Float64Array {
  // Measured: from this start the ratios are already within ~1e-15 for 0.25 < ℓ and J ≤ 40; one doubling confirms.
  const firstStart = J + 64 + Math.ceil((20 / l) ** 2);
  let previous = backwardRatios(J, l, firstStart);
  for (let start = 2 * firstStart; start <= MAX_BACKWARD_START; start *= 2) {
    const current = backwardRatios(J, l, start);
    let change = 0;
    for (let j = 1; j <= J; j++) change = Math.max(change, Math.abs(current[j]! - previous[j]!) / current[j]!);
    if (change <= 4e-16) return current;
    previous = current;
  }
  throw new ConvergenceError(`shiftedTailMoments: backward recurrence did not converge at ℓ = ${l}, J = ${J}`);
}

function backwardRatios(J: number, l: number, start: number): Float64Array {
  const ratios = new Float64Array(J + 1);
  // For large j the ratio V_j/V_{j−1} grows like √j; starting there rather than at 0 only speeds convergence.
  let r = Math.sqrt(start + 1);
  for (let j = start; j >= 1; j--) {
    r = j / (l + r);
    if (j <= J) ratios[j] = r;
  }
  return ratios;
}

const RESCALE_EXPONENT = 600;
const RESCALE_LIMIT = 2 ** RESCALE_EXPONENT;
const RESCALE_FACTOR = 2 ** -RESCALE_EXPONENT;
/** Below this, a prefactor passed as a double has lost relative precision (or underflowed). */
const MIN_ACCURATE_SCALE = 1e-290;

/**
 * The scaled orthonormal Hermite sequence
 *
 *     T_k = A·ρ^k·He_k(x)/√(k!),   k = 0..K,
 *
 * by the normalized recurrence T_{k+1} = (ρx·T_k − ρ²√k·T_{k−1})/√(k+1). The prefactor A (typically a
 * Gaussian density φ(ℓ), tiny exactly when He_k(ℓ)/√k! is huge) is applied through a separately tracked
 * power-of-two exponent, so the products stay accurate where A underflows or the unscaled sequence would
 * overflow (|x| ≳ 38 with K in the hundreds).
 *
 * @param K highest order (integer ≥ 0, not checked: internal).
 * @param x the Hermite argument.
 * @param rho the geometric factor ρ ≥ 0.
 * @param scale A as a double; used directly when it is ≥ 1e-290.
 * @param logScale log A, used instead of `scale` when A is tinier than that: each term is then formed as
 *   exp(log|y_k| + log A + …), with relative error ≈ |log A|·ε (≈ 1e-13 at A = φ(40)).
 * @param out optional destination of length ≥ K + 1.
 */
export function scaledNormalizedHermiteAll(
  K: number,
  x: number,
  rho: number,
  scale: number,
  logScale: number,
  out?: Float64Array,
): Float64Array {
  const t = out ?? new Float64Array(K + 1);
  const useLog = !(Math.abs(scale) >= MIN_ACCURATE_SCALE);
  // True value = y_k · A · 2^(RESCALE_EXPONENT·rescalings).
  let rescalings = 0;
  let multiplier = scale;
  let logMultiplier = logScale;
  const emit = (k: number, y: number): void => {
    if (!useLog) t[k] = y * multiplier;
    else t[k] = y === 0 ? 0 : Math.sign(y) * Math.exp(Math.log(Math.abs(y)) + logMultiplier);
  };
  let previous = 1;
  emit(0, 1);
  if (K === 0) return t;
  let current = rho * x;
  emit(1, current);
  const rhoX = rho * x;
  const rho2 = rho * rho;
  for (let k = 1; k < K; k++) {
    let next = (rhoX * current - rho2 * Math.sqrt(k) * previous) / Math.sqrt(k + 1);
    if (Math.abs(next) > RESCALE_LIMIT) {
      next *= RESCALE_FACTOR;
      current *= RESCALE_FACTOR;
      rescalings++;
      multiplier = scale * 2 ** (rescalings * RESCALE_EXPONENT);
      logMultiplier = logScale + rescalings * RESCALE_EXPONENT * Math.LN2;
    }
    previous = current;
    current = next;
    emit(k + 1, current);
  }
  return t;
}
