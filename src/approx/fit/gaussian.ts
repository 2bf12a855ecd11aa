/**
 * Closed-form least-squares approximants under a single Gaussian N(μ, Σ).
 *
 * Degree ≤ 2 uses the Gaussian (Stein) form of the degree-2 Hermite projection,
 *   f̂(x) = E f + E[∇f]ᵀ(x − μ) + ½⟨E[∇²f], (x − μ)(x − μ)ᵀ − Σ⟩,
 * so Γ = ½E[∇²f], β = E[∇f] − E[∇²f]μ and α = E f − E[∇f]ᵀμ + ½μᵀE[∇²f]μ − ½tr(E[∇²f]Σ). For an MLP,
 * E[∇²f_o] = W1ᵀ diag(W2[o,:] ⊙ E g″(u)) W1, so everything costs O(h·d²) at most (one W1·Σ product) and Γ stays
 * factored. Degree K ≥ 3 keeps the per-unit Hermite (ridge) form of `expansion.ts`.
 */
import { InvalidArgumentError } from '../../errors.js';
import { Matrix } from '../../linalg/matrix.js';
import { matmul } from '../../linalg/ops.js';
import type { Gaussian } from '../inputModel.js';
import type { Network } from '../network.js';
import { FitInfo, HermiteApproximant, PolynomialApproximant, type FactoredGamma } from '../result.js';
import { expandGLU, expandMLP, gluUnitCoefficients, type GluExpansion, type MlpExpansion } from './expansion.js';

function checkDegree(degree: number, max = Infinity): void {
  if (!Number.isInteger(degree) || degree < 1 || degree > max) {
    throw new InvalidArgumentError(`degree must be an integer in [1, ${max}], got ${degree}`);
  }
}

function baseInfo(net: Network, g: Gaussian, degree: number, method: string): FitInfo {
  return { arch: net.arch, activation: net.activation.name, degree, inputModel: g.describe(), method };
}

/**
 * Per-unit Gaussian derivative statistics in "preactivation coordinates": for each hidden unit the unit's
 * mean, the gradient coefficients along its directions, and ½ the Hessian coefficients on its direction pairs.
 * Everything needed for degree ≤ 2, without dividing by small standard deviations.
 */
interface UnitMoments {
  /** Directions D [r, d] the unit gradients/Hessians live on. */
  directions: Matrix;
  /** D·μ [r]. */
  dirMean: Float64Array;
  /** E[unit] per hidden unit [h]. */
  mean: Float64Array;
  /** grad[t] = E[∂f_unit/∂(D_t·x)] per direction, [r] (unit i owns the directions listed in ownerOf). */
  grad: Float64Array;
  /** Hessian terms: (a, b) direction pairs with ½E[∂²] coefficient for the unit `unitOf`. */
  termA: Int32Array;
  termB: Int32Array;
  termHalfHessian: Float64Array;
  /** Which hidden unit a direction / a term belongs to. */
  dirUnit: Int32Array;
  termUnit: Int32Array;
  /** Σ-weighted inner products D_a Σ D_bᵀ for each term (for ½tr(E∇²f Σ)). */
  termCov: Float64Array;
}

function mlpUnitMoments(e: MlpExpansion, withHessian: boolean): UnitMoments {
  const { net, m, s } = e;
  const h = net.W1.rows;
  const g = net.activation;
  const mean = new Float64Array(h);
  const grad = new Float64Array(h);
  const half = new Float64Array(h);
  const termCov = new Float64Array(h);
  for (let j = 0; j < h; j++) {
    mean[j] = e.coeffs.data[j * (e.order + 1)]!;
    grad[j] = g.meanDerivative(m[j]!, s[j]!);
    if (withHessian) half[j] = 0.5 * g.meanSecondDerivative(m[j]!, s[j]!);
    termCov[j] = s[j]! * s[j]!;
  }
  const idx = Int32Array.from({ length: h }, (_, j) => j);
  return {
    directions: net.W1, dirMean: e.wMu, mean, grad,
    termA: idx, termB: idx, termHalfHessian: half, dirUnit: idx, termUnit: idx, termCov,
  };
}

function gluUnitMoments(e: GluExpansion, withHessian: boolean): UnitMoments {
  const { net } = e;
  const h = net.W_gate.rows;
  const g = net.activation;
  const d = net.W_gate.cols;
  const D = new Matrix(2 * h, d);
  D.data.set(net.W_gate.data, 0);
  D.data.set(net.W_up.data, h * d);
  const dirMean = new Float64Array(2 * h);
  dirMean.set(e.wgMu, 0);
  dirMean.set(e.wuMu, h);
  const mean = new Float64Array(h);
  const grad = new Float64Array(2 * h);
  const termA = new Int32Array(2 * h);
  const termB = new Int32Array(2 * h);
  const half = new Float64Array(2 * h);
  const termUnit = new Int32Array(2 * h);
  const termCov = new Float64Array(2 * h);
  const dirUnit = new Int32Array(2 * h);
  const stride = e.order + 1;
  for (let i = 0; i < h; i++) {
    const my = e.my[i]!;
    const sy = e.sy[i]!;
    const mz = e.mz[i]!;
    const c = e.cyz[i]!;
    const Eg = g.mean(my, sy);
    const Eg1 = g.meanDerivative(my, sy);
    const Eg2 = g.meanSecondDerivative(my, sy);
    // Stein: E[g(y) z] = m_z E g + Cov(y, z) E g'.
    mean[i] = mz * Eg + c * Eg1;
    // E[∂/∂y] = E[g'(y) z] = m_z E g' + c E g'';  E[∂/∂z] = E g.
    grad[i] = mz * Eg1 + c * Eg2;
    grad[h + i] = Eg;
    dirUnit[i] = i;
    dirUnit[h + i] = i;
    termA[i] = i;
    termB[i] = i;
    termA[h + i] = i;
    termB[h + i] = h + i;
    termUnit[i] = i;
    termUnit[h + i] = i;
    termCov[i] = sy * sy;
    termCov[h + i] = c;
    if (withHessian) {
      // ½E[∂²/∂y²] = ½E[g''(y) z] = ½(m_z E g'' + c E g'''), with c·E g''' = (s_z ρ)·√6·â_3/s_y² (Stein, from
      // the Hermite coefficient so that no separate third-derivative table is needed).
      const a3 = e.gateCoeffs.data[i * stride + 3]!;
      const cEg3 = sy > 0 ? ((c / sy) * Math.sqrt(6) * a3) / (sy * sy) : 0;
      half[i] = 0.5 * (mz * Eg2 + cEg3);
      // The mixed term: ½E[∂²/∂y∂z]·2 (both orderings) is the coefficient of (w_g·x)(w_u·x), i.e. E g'.
      half[h + i] = Eg1;
    }
  }
  return { directions: D, dirMean, mean, grad, termA, termB, termHalfHessian: half, dirUnit, termUnit, termCov };
}

/**
 * Assembles α, β and (for degree 2) the factored Γ from unit moments and the output layer W [o, h], b [o].
 */
function assemble(
  um: UnitMoments, W: Matrix, b: Float64Array, degree: 1 | 2, info: FitInfo,
): PolynomialApproximant {
  const o = W.rows;
  const h = W.cols;
  const r = um.directions.rows;
  const T = um.termA.length;
  const alpha = Float64Array.from(b);
  // E f and the gradient part of the intercept: α_o += Σ_units W[o,i](E unit_i − Σ_dir grad·(D·μ)).
  const unitConst = Float64Array.from(um.mean);
  for (let t = 0; t < r; t++) unitConst[um.dirUnit[t]!]! -= um.grad[t]! * um.dirMean[t]!;
  // Per-direction linear coefficient λ_t (β = Dᵀ · (λ ⊙ W[:, unit(t)])ᵀ).
  const lambda = Float64Array.from(um.grad);
  if (degree === 2) {
    for (let t = 0; t < T; t++) {
      const a = um.termA[t]!;
      const bb = um.termB[t]!;
      const hh = um.termHalfHessian[t]!;
      const u = um.termUnit[t]!;
      // (D_a·x − D_a·μ)(D_b·x − D_b·μ) expands into the linear and constant corrections below.
      lambda[a]! -= hh * um.dirMean[bb]!;
      lambda[bb]! -= hh * um.dirMean[a]!;
      unitConst[u]! += hh * (um.dirMean[a]! * um.dirMean[bb]! - um.termCov[t]!);
    }
  }
  for (let c = 0; c < o; c++) {
    let acc = 0;
    for (let i = 0; i < h; i++) acc += W.data[c * h + i]! * unitConst[i]!;
    alpha[c]! += acc;
  }
  // β [d, o] = Dᵀ [r, d]ᵀ · Λ [r, o] with Λ[t, c] = λ_t W[c, unit(t)].
  const Lam = new Matrix(r, o);
  for (let t = 0; t < r; t++) {
    const u = um.dirUnit[t]!;
    for (let c = 0; c < o; c++) Lam.data[t * o + c] = lambda[t]! * W.data[c * h + u]!;
  }
  const beta = matmul(um.directions, Lam, { transA: true });
  let gamma: FactoredGamma | null = null;
  if (degree === 2) {
    const coef = new Matrix(o, T);
    for (let c = 0; c < o; c++) {
      for (let t = 0; t < T; t++) coef.data[c * T + t] = W.data[c * h + um.termUnit[t]!]! * um.termHalfHessian[t]!;
    }
    gamma = { kind: 'factored', directions: um.directions, termA: um.termA, termB: um.termB, coef };
  }
  return new PolynomialApproximant(alpha, beta, gamma, info);
}

/** The hidden-unit expansion a polynomial fit of `degree` needs. */
function expansionFor(net: Network, g: Gaussian, degree: number): MlpExpansion | GluExpansion {
  return net.arch === 'mlp' ? expandMLP(net, g, degree) : expandGLU(net, g, degree + 1);
}

/**
 * The least-squares linear approximant under N(μ, Σ): β = E[∇f] (Stein's lemma; for an MLP
 * β = W1ᵀ diag(E g′(u)) W2ᵀ), α = E f − βᵀμ. Valid for singular Σ (then one of the minimisers).
 */
export function fitLinearGaussian(net: Network, g: Gaussian): PolynomialApproximant {
  return fitDegreeAtMost2(net, g, 1);
}

/**
 * The least-squares quadratic approximant under N(μ, Σ) in O(h·d²) time without materialising anything of size
 * h·d²: Γ_o = ½E[∇²f_o] kept factored (for an MLP Γ_o = W1ᵀ diag(½ W2[o,:] ⊙ E g″(u)) W1).
 */
export function fitQuadraticGaussian(net: Network, g: Gaussian): PolynomialApproximant {
  return fitDegreeAtMost2(net, g, 2);
}

function fitDegreeAtMost2(net: Network, g: Gaussian, degree: 1 | 2): PolynomialApproximant {
  const e = expansionFor(net, g, degree);
  const um = e.arch === 'mlp' ? mlpUnitMoments(e, degree === 2) : gluUnitMoments(e, degree === 2);
  const W = net.arch === 'mlp' ? net.W2 : net.W_out;
  const b = net.arch === 'mlp' ? net.b2 : net.b_out;
  return assemble(um, W, b, degree, baseInfo(net, g, degree, 'closed form (Stein/Hermite)'));
}

/**
 * The least-squares polynomial approximant of any degree K ≥ 1 under N(μ, Σ), in ridge/Hermite form:
 * each hidden unit is replaced by its degree-K Hermite projection (method.md §2.9; GLU units in `expansion.ts`).
 */
export function fitHermiteGaussian(net: Network, g: Gaussian, degree: number): HermiteApproximant {
  checkDegree(degree);
  const info = baseInfo(net, g, degree, 'closed form (Hermite)');
  if (net.arch === 'mlp') return new HermiteApproximant(mlpHermiteParams(expandMLP(net, g, degree)), info);
  return new HermiteApproximant(gluHermiteParams(expandGLU(net, g, degree + 1), degree), info);
}

function mlpHermiteParams(e: MlpExpansion) {
  const { net } = e;
  return { arch: 'mlp' as const, W1: net.W1, b1: net.b1, m: e.m, s: e.s, coeffs: e.coeffs, W2: net.W2, b2: net.b2 };
}

function gluHermiteParams(e: GluExpansion, K: number) {
  const { net } = e;
  const h = net.W_gate.rows;
  const r = new Matrix(h, K + 1);
  const q = new Matrix(h, K);
  const szRho = new Float64Array(h);
  for (let i = 0; i < h; i++) {
    const u = gluUnitCoefficients(e, i, K);
    r.data.set(u.r, i * (K + 1));
    q.data.set(u.q, i * K);
    szRho[i] = u.szRho;
  }
  return {
    arch: 'glu' as const, W_gate: net.W_gate, b_gate: net.b_gate, W_up: net.W_up, b_up: net.b_up,
    my: e.my, sy: e.sy, mz: e.mz, szRho, r, q, W_out: net.W_out, b_out: net.b_out,
  };
}

/** Output mean E f [o] under N(μ, Σ). */
export function outputMean(net: Network, g: Gaussian): Float64Array {
  const e = expansionFor(net, g, 1);
  const um = e.arch === 'mlp' ? mlpUnitMoments(e, false) : gluUnitMoments(e, false);
  const W = net.arch === 'mlp' ? net.W2 : net.W_out;
  const b = net.arch === 'mlp' ? net.b2 : net.b_out;
  const out = Float64Array.from(b);
  for (let c = 0; c < W.rows; c++) for (let i = 0; i < W.cols; i++) out[c]! += W.data[c * W.cols + i]! * um.mean[i]!;
  return out;
}

