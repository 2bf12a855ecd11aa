/**
 * The hyperbolic tangent activation, by quadrature (the reference had no tanh polynomial moments at all,
 * so its quadratic approximant refused tanh).
 */
import { QuadratureActivation } from './quadratureActivation.js';

/** g(u) = tanh(u); g′ = sech²(u), g″ = −2·tanh(u)·sech²(u) (sech² as 1/cosh², exact for large |u|). */
export class TanhActivation extends QuadratureActivation {
  readonly name = 'tanh';
  override readonly transitions: readonly number[] = [0];

  value(u: number): number {
    return Math.tanh(u);
  }

  derivative(u: number): number {
    const c = Math.cosh(u);
    return 1 / (c * c);
  }

  secondDerivative(u: number): number {
    const c = Math.cosh(u);
    return (-2 * Math.tanh(u)) / (c * c);
  }
}
