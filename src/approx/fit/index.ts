/**
 * The fitting API: least-squares polynomial approximants of a network under an input model.
 *
 * | input model      | degree 1                  | degree 2                         | degree K ≥ 3          |
 * |------------------|---------------------------|----------------------------------|-----------------------|
 * | Gaussian N(μ, Σ) | closed form (Stein)       | closed form, Γ factored, O(h·d²) | Hermite (ridge) form  |
 * | mixture          | law of total covariance   | dense normal equations (d ≤ 64), | —                     |
 * |                  |                           | preconditioned CG above (async)  |                       |
 */
import { InvalidArgumentError } from '../../errors.js';
import type { InputModel } from '../inputModel.js';
import type { Network } from '../network.js';
import { inputDim } from '../network.js';
import { HermiteApproximant, PolynomialApproximant, type Approximant, type VarianceReport } from '../result.js';
import { gaussianVarianceReport, type VarianceOptions } from '../variance.js';
import { fitHermiteGaussian, fitLinearGaussian, fitQuadraticGaussian } from './gaussian.js';
import { fitByMasterTheorem } from './masterTheoremRoute.js';
import { fitLinearMixture, fitQuadraticMixtureDense, mixtureVarianceReport } from './mixture.js';
import { fitQuadraticMixtureKrylov, type MixtureKrylovOptions } from './mixtureKrylov.js';
import { DEFAULT_MAX_DENSE_DIM } from './normalEquations.js';

export interface FitOptions {
  /** Compute the exact variance report (total variance, explained per degree, FVU) and attach it. Default false. */
  variance?: boolean;
  varianceOptions?: VarianceOptions;
  /**
   * Solver for degree ≤ 2 under a single Gaussian: 'closed-form' (default) or 'master-theorem' (the independent,
   * slow small-d route kept as an oracle).
   */
  method?: 'closed-form' | 'master-theorem';
}

function checkInput(net: Network, input: InputModel): void {
  if (inputDim(net) !== input.dim) {
    throw new InvalidArgumentError(`the network takes ${inputDim(net)} inputs but the input model has dimension ${input.dim}`);
  }
}

/** Variance report of a single-Gaussian or mixture fit of degree ≤ 2 (recomputing the lower-degree fit if needed). */
function attachVariance(
  net: Network, input: InputModel, fitted: PolynomialApproximant, opts: VarianceOptions | undefined,
): PolynomialApproximant {
  let report: VarianceReport;
  if (input.kind === 'gaussian') {
    report = gaussianVarianceReport(net, input, fitted.degree, opts);
  } else {
    const fits = fitted.degree === 1 ? [fitted] : [fitLinearMixture(net, input), fitted];
    report = mixtureVarianceReport(net, input, fits, opts);
  }
  return fitted.withInfo({ ...fitted.info, variance: report });
}

/** The least-squares linear approximant under `input`. */
export function fitLinear(net: Network, input: InputModel, opts: FitOptions = {}): PolynomialApproximant {
  checkInput(net, input);
  let fitted: PolynomialApproximant;
  if (input.kind === 'gaussian') {
    fitted = opts.method === 'master-theorem' ? fitByMasterTheorem(net, input, 1) : fitLinearGaussian(net, input);
  } else {
    fitted = fitLinearMixture(net, input);
  }
  return opts.variance ? attachVariance(net, input, fitted, opts.varianceOptions) : fitted;
}

/**
 * The least-squares quadratic approximant under `input`. Under a mixture with d > 64 the dense normal equations are
 * too large; use {@link fitQuadraticAsync}, which solves them by preconditioned conjugate gradients.
 */
export function fitQuadratic(net: Network, input: InputModel, opts: FitOptions = {}): PolynomialApproximant {
  checkInput(net, input);
  let fitted: PolynomialApproximant;
  if (input.kind === 'gaussian') {
    fitted = opts.method === 'master-theorem' ? fitByMasterTheorem(net, input, 2) : fitQuadraticGaussian(net, input);
  } else {
    fitted = fitQuadraticMixtureDense(net, input);
  }
  return opts.variance ? attachVariance(net, input, fitted, opts.varianceOptions) : fitted;
}

export interface AsyncFitOptions extends FitOptions {
  /** Options of the conjugate-gradient solver used for quadratic fits under mixtures with d > 64. */
  krylov?: MixtureKrylovOptions;
}

/**
 * {@link fitQuadratic} for every input model and size: under a mixture with d > 64 it runs the Krylov solver
 * (exact to its stated residual, default 1e-8; matrix products off the main thread on the native backend).
 */
export async function fitQuadraticAsync(net: Network, input: InputModel, opts: AsyncFitOptions = {}): Promise<PolynomialApproximant> {
  checkInput(net, input);
  if (input.kind !== 'mixture' || input.dim <= DEFAULT_MAX_DENSE_DIM) return fitQuadratic(net, input, opts);
  const { approx, iterations, residuals } = await fitQuadraticMixtureKrylov(net, input, opts.krylov);
  const worst = Math.max(...residuals);
  const fitted = approx.withInfo({
    ...approx.info,
    method: `conjugate gradients (${Math.max(...iterations)} iterations, relative residual ${worst.toExponential(1)})`,
  });
  return opts.variance ? attachVariance(net, input, fitted, opts.varianceOptions) : fitted;
}

/** {@link fit} for every input model and size (see {@link fitQuadraticAsync}). */
export async function fitAsync(net: Network, input: InputModel, degree: number, opts: AsyncFitOptions = {}): Promise<Approximant> {
  if (degree === 2) return fitQuadraticAsync(net, input, opts);
  return fit(net, input, degree, opts);
}

/** The least-squares polynomial approximant of any degree K under a single Gaussian, in Hermite (ridge) form. */
export function fitPolynomial(net: Network, input: InputModel, degree: number, opts: FitOptions = {}): HermiteApproximant {
  checkInput(net, input);
  if (input.kind !== 'gaussian') {
    throw new InvalidArgumentError('degree ≥ 3 approximants are available under a single Gaussian only, not under a mixture');
  }
  const fitted = fitHermiteGaussian(net, input, degree);
  if (!opts.variance) return fitted;
  return fitted.withInfo({ ...fitted.info, variance: gaussianVarianceReport(net, input, degree, opts.varianceOptions) });
}

/** Any degree: monomial form (α, β, Γ) for degree ≤ 2, Hermite form above. */
export function fit(net: Network, input: InputModel, degree: number, opts: FitOptions = {}): Approximant {
  if (!Number.isInteger(degree) || degree < 1) throw new InvalidArgumentError(`degree must be a positive integer, got ${degree}`);
  if (degree === 1) return fitLinear(net, input, opts);
  if (degree === 2) return fitQuadratic(net, input, opts);
  return fitPolynomial(net, input, degree, opts);
}

/**
 * Exact variance accounting for a network under an input model: total output variance, variance explained by each
 * degree up to `degree`, and the FVU of the degree-`degree` least-squares approximant.
 */
export function explainedVariance(net: Network, input: InputModel, degree: number, opts?: VarianceOptions): VarianceReport {
  checkInput(net, input);
  if (input.kind === 'gaussian') return gaussianVarianceReport(net, input, degree, opts);
  if (degree > 2) throw new InvalidArgumentError('under a mixture the variance report covers degrees 1 and 2');
  const fits = [fitLinearMixture(net, input)];
  if (degree === 2) fits.push(fitQuadraticMixtureDense(net, input));
  return mixtureVarianceReport(net, input, fits, opts);
}

export { fitQuadraticMixtureKrylov, type MixtureKrylovOptions };

export { fitByMasterTheorem, fitHermiteGaussian, fitLinearGaussian, fitLinearMixture, fitQuadraticGaussian, fitQuadraticMixtureDense };
