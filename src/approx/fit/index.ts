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
import {
  DEFAULT_KRYLOV_MAX_ITERATIONS, DEFAULT_KRYLOV_TOL, fitQuadraticMixtureKrylov, type MixtureKrylovOptions, type MixtureKrylovResult,
} from './mixtureKrylov.js';
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

/**
 * What the Krylov route of {@link fitQuadraticAsync} reports about its solve: the solver's result
 * ({@link MixtureKrylovResult} without the approximant) plus the limits it ran under.
 */
export interface KrylovSolveReport {
  /** True when every output reached `tol`; false only when the budget ran out (and `throwOnNonConvergence` was false). */
  readonly converged: boolean;
  /** The largest final relative residual ‖r − Aθ‖/‖r‖ over the outputs (recomputed from the iterate). */
  readonly relativeResidual: number;
  /** Per output: the final relative residual. */
  readonly residuals: readonly number[];
  /** Per output: the operator application at which it converged (−1: did not converge). */
  readonly iterations: readonly number[];
  /** Operator applications in total, including the true-residual checks. */
  readonly operatorApplications: number;
  /** The ε added to every component covariance (Σ_k + εI). */
  readonly ridge: number;
  /** Wall-clock seconds of the whole solve (right-hand side, iteration, checks). */
  readonly seconds: number;
  /** The residual tolerance asked for. */
  readonly tol: number;
  /** The iteration cap it ran under. */
  readonly maxIterations: number;
  /** The wall-clock budget it ran under, in seconds (null: unlimited). */
  readonly maxSeconds: number | null;
  /** The method string recorded in the approximant's `info.method` ({@link krylovMethodString}). */
  readonly method: string;
  /** What stopped an unconverged solve ({@link krylovStopReason}); null when it converged. */
  readonly stoppedBy: string | null;
}

export interface AsyncFitOptions extends FitOptions {
  /** Options of the conjugate-gradient solver used for quadratic fits under mixtures with d > 64, passed through. */
  krylov?: MixtureKrylovOptions;
  /**
   * Called once when the Krylov route ran (never for the closed-form or dense routes), with its diagnostics, before
   * the optional variance report is computed. The approximant's `info.method` states the same in words.
   */
  onSolved?: (report: KrylovSolveReport) => void;
}

/**
 * Whether {@link fitQuadraticAsync} solves a degree-2 fit under `input` by conjugate gradients (a mixture with
 * d > 64) rather than in closed form or by the dense normal equations.
 */
export function quadraticUsesKrylov(input: InputModel): boolean {
  return input.kind === 'mixture' && input.dim > DEFAULT_MAX_DENSE_DIM;
}

/** The Krylov route's default residual tolerance and iteration cap, re-exported for callers that print them. */
export { DEFAULT_KRYLOV_MAX_ITERATIONS, DEFAULT_KRYLOV_TOL };

/** The outcome of a Krylov solve, as far as {@link krylovMethodString} and {@link krylovStopReason} need it. */
export type KrylovSolveOutcome = Pick<
  KrylovSolveReport, 'converged' | 'operatorApplications' | 'relativeResidual' | 'tol' | 'maxIterations' | 'maxSeconds' | 'seconds'
>;

/**
 * Which limit stopped an unconverged solve, in words: `the 180 s budget` when a wall-clock budget was set and the
 * solve used it up, else `maxIterations = 500`; null for a converged solve.
 */
export function krylovStopReason(solve: KrylovSolveOutcome): string | null {
  if (solve.converged) return null;
  return solve.maxSeconds !== null && solve.seconds >= solve.maxSeconds ? `the ${solve.maxSeconds} s budget` : `maxIterations = ${solve.maxIterations}`;
}

/**
 * The `info.method` string of a Krylov solve: either
 * `block conjugate gradients (37 operator applications, relative residual 8.1e-9 ≤ 1e-8)` or
 * `block conjugate gradients (180 operator applications) NOT converged: relative residual 3.2e-5 > tol 1e-8 after
 * the 180 s budget` (see {@link krylovStopReason}).
 */
export function krylovMethodString(solve: KrylovSolveOutcome): string {
  const res = solve.relativeResidual.toExponential(1);
  const apps = `${solve.operatorApplications} operator application${solve.operatorApplications === 1 ? '' : 's'}`;
  const stop = krylovStopReason(solve);
  if (stop === null) return `block conjugate gradients (${apps}, relative residual ${res} ≤ ${solve.tol})`;
  return `block conjugate gradients (${apps}) NOT converged: relative residual ${res} > tol ${solve.tol} after ${stop}`;
}

/**
 * {@link fitQuadratic} for every input model and size: under a mixture with d > 64 it runs the Krylov solver
 * ({@link fitQuadraticMixtureKrylov}, every `krylov` option passed through; exact to its stated residual, default
 * 1e-8; matrix products off the main thread on the native backend). The outcome is stated in `info.method` (see
 * {@link krylovMethodString}) and passed to `onSolved`. With `krylov.throwOnNonConvergence: false` an unconverged
 * solve returns its last iterate instead of throwing.
 *
 * @throws InvalidArgumentError if the network and the input model disagree on the dimension, or for bad options
 * @throws ConvergenceError if the Krylov solve runs out of budget and `throwOnNonConvergence` is not false
 */
export async function fitQuadraticAsync(net: Network, input: InputModel, opts: AsyncFitOptions = {}): Promise<PolynomialApproximant> {
  checkInput(net, input);
  if (input.kind !== 'mixture' || !quadraticUsesKrylov(input)) return fitQuadratic(net, input, opts);
  const krylov = opts.krylov ?? {};
  const result = await fitQuadraticMixtureKrylov(net, input, krylov);
  const limits = {
    tol: krylov.tol ?? DEFAULT_KRYLOV_TOL,
    maxIterations: krylov.maxIterations ?? DEFAULT_KRYLOV_MAX_ITERATIONS,
    maxSeconds: krylov.maxSeconds ?? null,
  };
  const outcome: KrylovSolveOutcome = {
    converged: result.converged, relativeResidual: Math.max(0, ...result.residuals),
    operatorApplications: result.operatorApplications, seconds: result.seconds, ...limits,
  };
  const method = krylovMethodString(outcome);
  const fitted = result.approx.withInfo({ ...result.approx.info, method });
  opts.onSolved?.({
    ...outcome, residuals: [...result.residuals], iterations: [...result.iterations], ridge: result.ridge, method,
    stoppedBy: krylovStopReason(outcome),
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

export { fitQuadraticMixtureKrylov, type MixtureKrylovOptions, type MixtureKrylovResult };

export { fitByMasterTheorem, fitHermiteGaussian, fitLinearGaussian, fitLinearMixture, fitQuadraticGaussian, fitQuadraticMixtureDense };
