/**
 * The activation-function library: every activation g with the univariate Gaussian expectations the
 * polynomial approximants need (E[g], E[g′], E[g″], E[u^k g], E[u^k g²] and the Hermite coefficients of
 * g(m + s z)), for u ~ N(m, s²) including the degenerate s = 0 (see ./types.ts for the conventions).
 *
 * Closed forms: identity, relu, leaky_relu(α), jumprelu(θ), gelu (exact erf GELU; E[u^k g²] by quadrature).
 * Quadrature (adaptive Gauss–Kronrod split at kinks and transitions): gelu_tanh, sigmoid, silu/swish, tanh,
 * softplus.
 *
 * Adding an activation: subclass {@link QuadratureActivation} with the pointwise value and first two
 * derivatives (no Dirac parts), declare its kinks, jumps and fast transitions, and register a factory.
 * Every expectation then works by quadrature; override any of them with a closed form where one exists.
 *
 * @example
 * ```ts
 * import { QuadratureActivation, registerActivation, getActivation } from './approx/activations/index.js';
 *
 * // Hard tanh: clamp(u, −1, 1); g′ jumps by −1 at 1 and by +1 at −1, g is continuous.
 * class HardTanhActivation extends QuadratureActivation {
 *   readonly name = 'hardtanh';
 *   override readonly kinks = [-1, 1];
 *   override readonly jumps = [
 *     { at: -1, valueJump: 0, slopeJump: 1 },
 *     { at: 1, valueJump: 0, slopeJump: -1 },
 *   ];
 *   value(u: number) { return Math.min(1, Math.max(-1, u)); }
 *   derivative(u: number) { return u > -1 && u < 1 ? 1 : 0; }
 *   secondDerivative(_u: number) { return 0; }
 * }
 * registerActivation('hardtanh', () => new HardTanhActivation());
 * getActivation('HardTanh').meanSecondDerivative(0.3, 2); // (φ((−1 − 0.3)/2) − φ((1 − 0.3)/2))/2
 * ```
 */
export type { Activation, ActivationJump } from './types.js';
export { assertGaussianParameters, assertOrder } from './types.js';
export { QuadratureActivation, DEFAULT_QUADRATURE_OPTIONS } from './quadratureActivation.js';
export { IdentityActivation } from './identity.js';
export {
  ReluActivation,
  JumpReluActivation,
  LeakyReluActivation,
  ThresholdLinearActivation,
  thresholdPowerMoments,
} from './relu.js';
export { GeluActivation, GeluTanhActivation, normalCdfPowerMoments } from './gelu.js';
export { SigmoidActivation, SiluActivation, SoftplusActivation, logistic, logisticDerivative } from './logistic.js';
export { TanhActivation } from './tanh.js';
export { shiftedTailMoments, scaledNormalizedHermiteAll } from './gaussianTail.js';
export {
  getActivation,
  registerActivation,
  activationNames,
  activationAliases,
  type ActivationFactory,
  type RegisterActivationOptions,
} from './registry.js';
