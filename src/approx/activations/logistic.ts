/**
 * Activations built on the logistic function σ(u) = 1/(1 + e^{−u}): sigmoid, SiLU (swish) u·σ(u) and
 * softplus log(1 + e^u), whose derivative is σ. Their Gaussian expectations have no closed form and are
 * computed by quadrature (the reference used 50-point Gauss–Hermite, which is inaccurate once s ≳ 3).
 * Everything is evaluated without overflow or cancellation for large |u|.
 */
import { QuadratureActivation } from './quadratureActivation.js';

/**
 * The logistic function σ(x) = 1/(1 + e^{−x}), evaluated so that e^{|x|} is never formed
 * (relative accuracy ≈ 1 ulp also for x ≪ 0, where σ(x) ≈ e^x).
 */
export function logistic(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** σ′(x) = σ(x)·σ(−x), without the cancellation of σ(x)(1 − σ(x)) for x ≫ 0. */
export function logisticDerivative(x: number): number {
  return logistic(x) * logistic(-x);
}

/** The logistic sigmoid g(u) = σ(u); g′ = σ(u)σ(−u), g″ = −g′·tanh(u/2) (= g′·(1 − 2σ)). */
export class SigmoidActivation extends QuadratureActivation {
  readonly name = 'sigmoid';
  override readonly transitions: readonly number[] = [0];

  value(u: number): number {
    return logistic(u);
  }

  derivative(u: number): number {
    return logisticDerivative(u);
  }

  secondDerivative(u: number): number {
    if (!Number.isFinite(u)) return u === u ? 0 : u;
    return -logisticDerivative(u) * Math.tanh(u / 2);
  }
}

/**
 * SiLU / swish g(u) = u·σ(u); g′ = σ(u)·(1 + u·σ(−u)), g″ = σ′(u)·(2 − u·tanh(u/2)).
 * Registered as `silu` with the alias `swish`.
 */
export class SiluActivation extends QuadratureActivation {
  readonly name = 'silu';
  override readonly transitions: readonly number[] = [0];

  value(u: number): number {
    if (!Number.isFinite(u)) return u > 0 ? u : u === u ? 0 : u;
    return u * logistic(u);
  }

  derivative(u: number): number {
    if (!Number.isFinite(u)) return u > 0 ? 1 : u === u ? 0 : u;
    return logistic(u) * (1 + u * logistic(-u));
  }

  secondDerivative(u: number): number {
    if (!Number.isFinite(u)) return u === u ? 0 : u;
    return logisticDerivative(u) * (2 - u * Math.tanh(u / 2));
  }
}

/** Softplus g(u) = log(1 + e^u) (computed as max(u, 0) + log1p(e^{−|u|})); g′ = σ(u), g″ = σ′(u). */
export class SoftplusActivation extends QuadratureActivation {
  readonly name = 'softplus';
  override readonly transitions: readonly number[] = [0];

  value(u: number): number {
    return u > 0 ? u + Math.log1p(Math.exp(-u)) : Math.log1p(Math.exp(u));
  }

  derivative(u: number): number {
    return logistic(u);
  }

  secondDerivative(u: number): number {
    return logisticDerivative(u);
  }
}
