/**
 * Least-squares approximants under a Gaussian mixture Σ_k π_k N(μ_k, Σ_k) with arbitrary weights.
 *
 * Mixtures break the orthogonality the single-Gaussian closed forms rely on, but every moment the normal equations
 * need is still exact: per component, E_k f, E_k[∇f] and E_k[∇²f] come from the single-Gaussian machinery and
 * Stein's lemma turns them into E_k[x f] and E_k[x xᵀ f].
 * - Degree 1: the weighted law of total (cross-)covariance, β = Σ_tot⁻¹ C_tot, O(K·h·d²).
 * - Degree 2, small d: dense normal equations over the F = 1 + d + d(d+1)/2 features (see `normalEquations.ts`).
 */
import { InvalidArgumentError, NotPositiveDefiniteError, SingularMatrixError } from '../../errors.js';
import { Matrix } from '../../linalg/matrix.js';
import { matmul, pinv, solveSPD } from '../../linalg/ops.js';
import type { Gaussian, GaussianMixture } from '../inputModel.js';
import type { Network } from '../network.js';
import { outputDim } from '../network.js';
import { PolynomialApproximant, type FitInfo, type VarianceReport } from '../result.js';
import { gaussianVarianceReport, finishReport, type VarianceOptions } from '../variance.js';
import { fitLinearGaussian, fitQuadraticGaussian, outputMean } from './gaussian.js';
import {
  DEFAULT_MAX_DENSE_DIM, accumulateFeatureSecondMoments, accumulateSteinRightHandSide, featureCount,
  solveNormalEquations, unpackFeatureCoefficients,
} from './normalEquations.js';

/** Gaussian derivative moments of f under one component. */
interface ComponentMoments {
  /** E f [o] */
  Ef: Float64Array;
  /** E[∇f] [d, o] */
  grad: Matrix;
  /** E[∇²f_o] (dense, only when requested) */
  hess?: Matrix[];
}

function componentMoments(net: Network, g: Gaussian, withHessian: boolean): ComponentMoments {
  const Ef = outputMean(net, g);
  const grad = fitLinearGaussian(net, g).beta;
  if (!withHessian) return { Ef, grad };
  const quad = fitQuadraticGaussian(net, g);
  const hess: Matrix[] = [];
  for (let o = 0; o < Ef.length; o++) {
    const G = quad.gammaMatrix(o);
    for (let i = 0; i < G.data.length; i++) G.data[i]! *= 2;
    hess.push(G);
  }
  return { Ef, grad, hess };
}

function info(net: Network, mix: GaussianMixture, degree: number, method: string): FitInfo {
  return { arch: net.arch, activation: net.activation.name, degree, inputModel: mix.describe(), method };
}

function solveSymmetric(A: Matrix, B: Matrix): Matrix {
  try {
    return solveSPD(A, B);
  } catch (e) {
    if (!(e instanceof NotPositiveDefiniteError || e instanceof SingularMatrixError)) throw e;
  }
  // A singular total covariance (e.g. pixels constant in every component) leaves β undetermined along its null
  // space; the pseudo-inverse picks the minimum-norm least-squares solution.
  return matmul(pinv(A), B);
}

/**
 * The least-squares linear approximant under a mixture: β = Σ_tot⁻¹ C_tot with
 * C_tot = Σ_k π_k (Σ_k E_k[∇f] + μ_k E_k fᵀ) − μ̄ m̄ᵀ and Σ_tot the mixture covariance; α = m̄ − βᵀμ̄.
 */
export function fitLinearMixture(net: Network, mix: GaussianMixture): PolynomialApproximant {
  const d = mix.dim;
  const o = outputDim(net);
  const C = new Matrix(d, o);
  const mbar = new Float64Array(o);
  mix.components.forEach((g, k) => {
    const w = mix.weights[k]!;
    if (w === 0) return;
    const { Ef, grad } = componentMoments(net, g, false);
    const SG = g.cov === null ? grad : matmul(g.cov, grad);
    for (let a = 0; a < d; a++) {
      for (let c = 0; c < o; c++) C.data[a * o + c]! += w * (SG.data[a * o + c]! + g.mean[a]! * Ef[c]!);
    }
    for (let c = 0; c < o; c++) mbar[c]! += w * Ef[c]!;
  });
  const mu = mix.mean();
  for (let a = 0; a < d; a++) for (let c = 0; c < o; c++) C.data[a * o + c]! -= mu[a]! * mbar[c]!;
  const beta = solveSymmetric(mix.covariance(), C);
  const alpha = Float64Array.from(mbar);
  for (let c = 0; c < o; c++) {
    let acc = 0;
    for (let a = 0; a < d; a++) acc += beta.data[a * o + c]! * mu[a]!;
    alpha[c]! -= acc;
  }
  return new PolynomialApproximant(alpha, beta, null, info(net, mix, 1, 'closed form (law of total covariance)'));
}

/**
 * The least-squares quadratic approximant under a mixture by dense normal equations (exact Gaussian moments up
 * to order 4, right-hand sides from Stein's lemma per component). Memory O((d²/2)²): refused above `maxDim`.
 */
export function fitQuadraticMixtureDense(
  net: Network, mix: GaussianMixture, opts: { maxDim?: number } = {},
): PolynomialApproximant {
  const d = mix.dim;
  const maxDim = opts.maxDim ?? DEFAULT_MAX_DENSE_DIM;
  if (d > maxDim) {
    throw new InvalidArgumentError(
      `the dense quadratic mixture fit needs (1 + d + d(d+1)/2)² doubles; d = ${d} exceeds the limit ${maxDim} (raise maxDim, or use fitQuadraticAsync, which solves large d by conjugate gradients)`,
    );
  }
  const o = outputDim(net);
  const F = featureCount(d, 2);
  const G = new Matrix(F, F);
  const R = new Matrix(F, o);
  mix.components.forEach((g, k) => {
    const w = mix.weights[k]!;
    if (w === 0) return;
    accumulateFeatureSecondMoments(G, g, 2, w);
    const { Ef, grad, hess } = componentMoments(net, g, true);
    accumulateSteinRightHandSide(R, g, 2, w, Ef, grad, hess);
  });
  const { alpha, beta, gamma } = unpackFeatureCoefficients(solveNormalEquations(G, R), d, 2);
  return new PolynomialApproximant(alpha, beta, { kind: 'dense', matrices: gamma! }, info(net, mix, 2, 'dense normal equations'));
}

/**
 * E‖f − f̂‖² and Σ_o Var f_o under a mixture for polynomial approximants of degree ≤ 2, exactly:
 * E_k‖f‖² = Σ_o Var_k f_o + ‖E_k f‖² (single-Gaussian variance accounting), E_k[fᵀf̂] from Stein moments, and
 * E_k‖f̂‖² from Gaussian moments of quadratic forms. Dense d×d work per output and component.
 */
export function mixtureSquaredError(
  net: Network, mix: GaussianMixture, fits: readonly PolynomialApproximant[], opts: VarianceOptions = {},
): { total: number; errors: number[] } {
  const o = outputDim(net);
  const needHessian = fits.some((f) => f.degree === 2);
  let second = 0;
  const mbar = new Float64Array(o);
  const errors = fits.map(() => 0);
  mix.components.forEach((g, k) => {
    const w = mix.weights[k]!;
    if (w === 0) return;
    const mom = componentMoments(net, g, needHessian);
    const Vk = gaussianVarianceReport(net, g, 1, opts).total;
    let efSq = 0;
    for (let c = 0; c < o; c++) efSq += mom.Ef[c]! ** 2;
    second += w * (Vk + efSq);
    for (let c = 0; c < o; c++) mbar[c]! += w * mom.Ef[c]!;
    fits.forEach((fit, idx) => {
      errors[idx]! += w * (Vk + efSq - 2 * crossMoment(g, fit, mom) + approximantSecondMoment(g, fit));
    });
  });
  let mbarSq = 0;
  for (let c = 0; c < o; c++) mbarSq += mbar[c]! ** 2;
  return { total: second - mbarSq, errors: errors.map((e) => Math.max(0, e)) };
}

/** Σ_o E[f_o f̂_o] under one Gaussian component. */
function crossMoment(g: Gaussian, fit: PolynomialApproximant, mom: ComponentMoments): number {
  const d = g.dim;
  const o = fit.outputDim;
  const mu = g.mean;
  const Sigma = g.covariance();
  const SG = matmul(Sigma, mom.grad);
  let acc = 0;
  for (let c = 0; c < o; c++) {
    acc += fit.alpha[c]! * mom.Ef[c]!;
    for (let a = 0; a < d; a++) acc += fit.beta.data[a * o + c]! * (SG.data[a * o + c]! + mu[a]! * mom.Ef[c]!);
    if (fit.degree === 2) {
      const Gm = fit.gammaMatrix(c).data;
      const SHS = matmul(matmul(Sigma, mom.hess![c]!), Sigma).data;
      const S = Sigma.data;
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) {
          const exx = SHS[a * d + b]! + mom.Ef[c]! * (S[a * d + b]! + mu[a]! * mu[b]!)
            + mu[a]! * SG.data[b * o + c]! + SG.data[a * o + c]! * mu[b]!;
          acc += Gm[a * d + b]! * exx;
        }
      }
    }
  }
  return acc;
}

/** Σ_o E[f̂_o²] under N(μ, Σ): Var(βᵀx + xᵀΓx) + (E f̂)² with the Gaussian quadratic-form identities. */
function approximantSecondMoment(g: Gaussian, fit: PolynomialApproximant): number {
  const d = g.dim;
  const o = fit.outputDim;
  const mu = g.mean;
  const Sigma = g.covariance();
  let acc = 0;
  for (let c = 0; c < o; c++) {
    const beta = fit.beta.col(c);
    const Sb = matVec(Sigma, beta);
    let mean = fit.alpha[c]! + dot(beta, mu);
    let variance = dot(beta, Sb);
    if (fit.degree === 2) {
      const Gm = fit.gammaMatrix(c);
      const GS = matmul(Gm, Sigma);
      const Gmu = matVec(Gm, mu);
      let trGS = 0;
      for (let i = 0; i < d; i++) trGS += GS.data[i * d + i]!;
      // tr(ΓΣΓΣ) = ⟨ΓΣ, (ΓΣ)ᵀ⟩.
      let trGSGS = 0;
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) trGSGS += GS.data[i * d + j]! * GS.data[j * d + i]!;
      const SGmu = matVec(Sigma, Gmu);
      mean += trGS + dot(mu, Gmu);
      variance += 2 * trGSGS + 4 * dot(Gmu, SGmu) + 4 * dot(beta, SGmu);
    }
    acc += variance + mean * mean;
  }
  return acc;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function matVec(A: Matrix, x: Float64Array): Float64Array {
  const out = new Float64Array(A.rows);
  for (let i = 0; i < A.rows; i++) {
    let s = 0;
    for (let j = 0; j < A.cols; j++) s += A.data[i * A.cols + j]! * x[j]!;
    out[i] = s;
  }
  return out;
}

/**
 * Exact variance report of mixture fits. `fits` are the approximants of increasing degree (e.g. [linear,
 * quadratic]); byDegree[k] is the variance explained by the degree-k fit beyond the degree-(k−1) fit (under a
 * mixture the degrees are not orthogonal, so this is the incremental gain), and fvu/r2 describe the last fit.
 */
export function mixtureVarianceReport(
  net: Network, mix: GaussianMixture, fits: readonly PolynomialApproximant[], opts: VarianceOptions = {},
): VarianceReport {
  const { total, errors } = mixtureSquaredError(net, mix, fits, opts);
  const byDegree = new Float64Array(fits.length + 1);
  let prevExplained = 0;
  fits.forEach((_, i) => {
    const explained = total - errors[i]!;
    byDegree[i + 1] = explained - prevExplained;
    prevExplained = explained;
  });
  return finishReport(total, byDegree);
}
