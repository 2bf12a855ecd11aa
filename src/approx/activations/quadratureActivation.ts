/**
 * The generic activation base: a subclass supplies the pointwise g, g′, g″ (and its kinks and jumps), and
 * every Gaussian expectation is computed by adaptive Gauss–Kronrod quadrature over the real line
 * (numerics/quadrature), split at the kinks, the jumps and any declared fast transitions.
 */
import {
  expectNormal,
  expectNormalVec,
  normalizedHermiteAll,
  normPdf,
  type QuadratureOptions,
} from '../../numerics/index.js';
import {
  assertGaussianParameters,
  assertOrder,
  pointMassHermite,
  pointMassMoments,
  type Activation,
  type ActivationJump,
} from './types.js';

/**
 * Default quadrature accuracy. The result is accepted once the error estimate is below
 * max(absTol, relTol·|result|) (componentwise for vector integrands), which keeps O(1) expectations
 * well inside the 1e-10 absolute accuracy the approximants need and large moments (E[u^5 g] with
 * s = 50 is ~1e10) to ~1e-12 relative.
 */
export const DEFAULT_QUADRATURE_OPTIONS: Readonly<QuadratureOptions> = Object.freeze({
  absTol: 1e-13,
  relTol: 1e-12,
  maxSubdivisions: 2000,
});

/**
 * Base class for activations whose expectations are computed numerically. Implement `name`, `value`,
 * `derivative` and `secondDerivative` (pointwise, no Dirac parts); declare `kinks` (points where g or g′
 * is not smooth), `jumps` (discontinuities of g or g′, which add the Dirac parts of E[g′] and E[g″]) and
 * `transitions` (points near which g changes quickly, e.g. 0 for sigmoid — extra quadrature breakpoints).
 * Subclasses may override any expectation with a closed form.
 *
 * Accuracy: ≤ 1e-10 absolute (≤ ~1e-12 relative for large values) for |m| ≲ 600, s ≤ 50 and Hermite
 * orders up to K = 64, for activations that are smooth between their declared breakpoints and grow at
 * most polynomially.
 */
export abstract class QuadratureActivation implements Activation {
  abstract readonly name: string;
  /** Points where g or g′ is not smooth. Default: none. */
  readonly kinks: readonly number[] = [];
  /** Discontinuities of g or g′ and their sizes. Default: none. Their locations must also be in `kinks`. */
  readonly jumps: readonly ActivationJump[] = [];
  /** Points near which g varies quickly although smoothly: quadrature breakpoints only. Default: none. */
  readonly transitions: readonly number[] = [];

  abstract value(u: number): number;
  abstract derivative(u: number): number;
  abstract secondDerivative(u: number): number;

  /** The quadrature options used by every expectation; override to trade accuracy for speed. */
  protected quadratureOptions(): QuadratureOptions {
    return { ...DEFAULT_QUADRATURE_OPTIONS, breakpoints: this.breakpoints() };
  }

  /** Sorted, de-duplicated union of kinks, jump locations and transitions (u units). */
  protected breakpoints(): number[] {
    const points = new Set<number>([...this.kinks, ...this.jumps.map((j) => j.at), ...this.transitions]);
    return [...points].sort((a, b) => a - b);
  }

  mean(m: number, s: number): number {
    assertGaussianParameters(`${this.name}.mean`, m, s);
    if (s === 0) return this.value(m);
    return expectNormal((u) => this.value(u), m, s, this.quadratureOptions());
  }

  meanDerivative(m: number, s: number): number {
    assertGaussianParameters(`${this.name}.meanDerivative`, m, s);
    if (s === 0) return this.derivative(m);
    let result = expectNormal((u) => this.derivative(u), m, s, this.quadratureOptions());
    for (const jump of this.jumps) {
      if (jump.valueJump !== 0) result += jump.valueJump * (normPdf((jump.at - m) / s) / s);
    }
    return result;
  }

  meanSecondDerivative(m: number, s: number): number {
    assertGaussianParameters(`${this.name}.meanSecondDerivative`, m, s);
    if (s === 0) return this.secondDerivative(m);
    let result = expectNormal((u) => this.secondDerivative(u), m, s, this.quadratureOptions());
    for (const jump of this.jumps) {
      const z = (jump.at - m) / s;
      const density = normPdf(z) / s;
      // E[δ′(u − a)] = −p′(a) = (a − m)/s²·p(a) for the normal density p.
      result += jump.slopeJump * density + jump.valueJump * (z / s) * density;
    }
    return result;
  }

  polyMoments(m: number, s: number, n: number): Float64Array {
    assertGaussianParameters(`${this.name}.polyMoments`, m, s);
    assertOrder(`${this.name}.polyMoments`, 'n', n);
    if (s === 0) return pointMassMoments(n, m, this.value(m));
    return expectNormalVec(
      (u, out) => {
        let term = this.value(u);
        for (let k = 0; k <= n; k++) {
          out[k] = term;
          term *= u;
        }
      },
      n + 1,
      m,
      s,
      this.quadratureOptions(),
    );
  }

  hermiteCoefficients(m: number, s: number, K: number): Float64Array {
    assertGaussianParameters(`${this.name}.hermiteCoefficients`, m, s);
    assertOrder(`${this.name}.hermiteCoefficients`, 'K', K);
    if (s === 0) return pointMassHermite(K, this.value(m));
    return expectNormalVec(
      (u, out) => {
        const g = this.value(u);
        normalizedHermiteAll(K, (u - m) / s, out);
        for (let k = 0; k <= K; k++) out[k] = out[k]! * g;
      },
      K + 1,
      m,
      s,
      this.quadratureOptions(),
    );
  }

  squarePolyMoments(m: number, s: number, n: number): Float64Array {
    assertGaussianParameters(`${this.name}.squarePolyMoments`, m, s);
    assertOrder(`${this.name}.squarePolyMoments`, 'n', n);
    if (s === 0) {
      const g = this.value(m);
      return pointMassMoments(n, m, g * g);
    }
    return expectNormalVec(
      (u, out) => {
        const g = this.value(u);
        let term = g * g;
        for (let k = 0; k <= n; k++) {
          out[k] = term;
          term *= u;
        }
      },
      n + 1,
      m,
      s,
      this.quadratureOptions(),
    );
  }
}
