/**
 * The identity activation g(u) = u (registered also as `linear`): every expectation is a normal moment.
 */
import { normalMoments } from '../../numerics/index.js';
import { assertGaussianParameters, assertOrder, type Activation } from './types.js';

/** g(u) = u. E[u^k g] = E[u^{k+1}], c_0 = m, c_1 = s, c_k = 0 for k ≥ 2. */
export class IdentityActivation implements Activation {
  readonly name = 'identity';
  readonly kinks: readonly number[] = [];

  value(u: number): number {
    return u;
  }

  derivative(_u: number): number {
    return 1;
  }

  secondDerivative(_u: number): number {
    return 0;
  }

  mean(m: number, s: number): number {
    assertGaussianParameters('identity.mean', m, s);
    return m;
  }

  meanDerivative(m: number, s: number): number {
    assertGaussianParameters('identity.meanDerivative', m, s);
    return 1;
  }

  meanSecondDerivative(m: number, s: number): number {
    assertGaussianParameters('identity.meanSecondDerivative', m, s);
    return 0;
  }

  polyMoments(m: number, s: number, n: number): Float64Array {
    assertGaussianParameters('identity.polyMoments', m, s);
    assertOrder('identity.polyMoments', 'n', n);
    return normalMoments(n + 1, m, s).slice(1);
  }

  hermiteCoefficients(m: number, s: number, K: number): Float64Array {
    assertGaussianParameters('identity.hermiteCoefficients', m, s);
    assertOrder('identity.hermiteCoefficients', 'K', K);
    const c = new Float64Array(K + 1);
    c[0] = m;
    if (K >= 1) c[1] = s;
    return c;
  }

  squarePolyMoments(m: number, s: number, n: number): Float64Array {
    assertGaussianParameters('identity.squarePolyMoments', m, s);
    assertOrder('identity.squarePolyMoments', 'n', n);
    return normalMoments(n + 2, m, s).slice(2);
  }
}
