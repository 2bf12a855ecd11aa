/**
 * Dense normal equations for polynomial least squares of degree ≤ 2 under Gaussians and Gaussian mixtures.
 *
 * Features ψ(x) = [1, x_1..x_d, x_a x_b (a ≤ b, row-major upper triangle)], F = 1 + d + d(d+1)/2 of them.
 * The exact second-moment matrix E[ψψᵀ] needs Gaussian moments up to order 4 (Isserlis), and E[ψ f] comes from a
 * `RightHandSide` provider (Stein's lemma or the master theorem). This is O(F²) memory, so it is only for small d:
 * the engine's oracle for the closed forms and the small-d route for quadratic fits under mixtures.
 */
import { InvalidArgumentError, SingularMatrixError, NotPositiveDefiniteError } from '../../errors.js';
import { Matrix } from '../../linalg/matrix.js';
import { pinv, matmul, solveSPD } from '../../linalg/ops.js';
import type { Gaussian } from '../inputModel.js';

/** Largest input dimension the dense route accepts by default (F = 2145 features at d = 64). */
export const DEFAULT_MAX_DENSE_DIM = 64;

/** Index pairs (a, b), a ≤ b, of the quadratic features in order. */
export function quadraticPairs(d: number): Int32Array {
  const out = new Int32Array(d * (d + 1));
  let p = 0;
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      out[p++] = a;
      out[p++] = b;
    }
  }
  return out;
}

export function featureCount(d: number, degree: 1 | 2): number {
  return 1 + d + (degree === 2 ? (d * (d + 1)) / 2 : 0);
}

/**
 * E[ψψᵀ] under N(μ, Σ), accumulated with weight w into `G` (F×F).
 * Moments: E x_a = μ_a; E x_a x_b = Σ_ab + μ_aμ_b; third and fourth from Isserlis' theorem with means.
 */
export function accumulateFeatureSecondMoments(G: Matrix, g: Gaussian, degree: 1 | 2, w: number): void {
  const d = g.dim;
  const F = featureCount(d, degree);
  if (G.rows !== F || G.cols !== F) throw new InvalidArgumentError('feature moment matrix has the wrong size');
  const mu = g.mean;
  const S = g.covariance().data;
  const s = (a: number, b: number) => S[a * d + b]!;
  const m2 = (a: number, b: number) => s(a, b) + mu[a]! * mu[b]!;
  const m3 = (a: number, b: number, c: number) =>
    mu[a]! * mu[b]! * mu[c]! + mu[a]! * s(b, c) + mu[b]! * s(a, c) + mu[c]! * s(a, b);
  const m4 = (a: number, b: number, c: number, e: number) =>
    mu[a]! * mu[b]! * mu[c]! * mu[e]!
    + mu[a]! * mu[b]! * s(c, e) + mu[a]! * mu[c]! * s(b, e) + mu[a]! * mu[e]! * s(b, c)
    + mu[b]! * mu[c]! * s(a, e) + mu[b]! * mu[e]! * s(a, c) + mu[c]! * mu[e]! * s(a, b)
    + s(a, b) * s(c, e) + s(a, c) * s(b, e) + s(a, e) * s(b, c);
  const pairs = degree === 2 ? quadraticPairs(d) : new Int32Array(0);
  const P = pairs.length / 2;
  const add = (i: number, j: number, v: number) => {
    G.data[i * F + j]! += w * v;
    if (i !== j) G.data[j * F + i]! += w * v;
  };
  add(0, 0, 1);
  for (let a = 0; a < d; a++) {
    add(0, 1 + a, mu[a]!);
    for (let b = a; b < d; b++) add(1 + a, 1 + b, m2(a, b));
  }
  for (let p = 0; p < P; p++) {
    const a = pairs[2 * p]!, b = pairs[2 * p + 1]!;
    const ip = 1 + d + p;
    add(0, ip, m2(a, b));
    for (let c = 0; c < d; c++) add(1 + c, ip, m3(c, a, b));
    for (let q = p; q < P; q++) {
      const c = pairs[2 * q]!, e = pairs[2 * q + 1]!;
      add(ip, 1 + d + q, m4(a, b, c, e));
    }
  }
}

/**
 * E[ψ f_oᵀ] under N(μ, Σ) from the Gaussian derivative moments of f (Stein's lemma to second order):
 * E[f (x − μ)] = Σ E[∇f],  E[f (x − μ)(x − μ)ᵀ] = Σ E[∇²f] Σ + E[f] Σ.
 * @param Ef E f [o]
 * @param grad E[∇f] as [d, o]
 * @param hess E[∇²f_o] as one d×d matrix per output (omit for degree 1)
 */
export function accumulateSteinRightHandSide(
  R: Matrix, g: Gaussian, degree: 1 | 2, w: number, Ef: Float64Array, grad: Matrix, hess?: readonly Matrix[],
): void {
  const d = g.dim;
  const o = Ef.length;
  const mu = g.mean;
  const Sigma = g.covariance();
  const SG = matmul(Sigma, grad); // Cov(x, f) [d, o]
  for (let c = 0; c < o; c++) R.data[c]! += w * Ef[c]!;
  for (let a = 0; a < d; a++) {
    for (let c = 0; c < o; c++) R.data[(1 + a) * o + c]! += w * (SG.data[a * o + c]! + mu[a]! * Ef[c]!);
  }
  if (degree === 1) return;
  if (!hess || hess.length !== o) throw new InvalidArgumentError('a degree-2 right-hand side needs one Hessian per output');
  const pairs = quadraticPairs(d);
  const P = pairs.length / 2;
  const S = Sigma.data;
  for (let c = 0; c < o; c++) {
    const SHS = matmul(matmul(Sigma, hess[c]!), Sigma).data;
    for (let p = 0; p < P; p++) {
      const a = pairs[2 * p]!, b = pairs[2 * p + 1]!;
      const v = SHS[a * d + b]! + Ef[c]! * (S[a * d + b]! + mu[a]! * mu[b]!)
        + mu[a]! * SG.data[b * o + c]! + SG.data[a * o + c]! * mu[b]!;
      R.data[(1 + d + p) * o + c]! += w * v;
    }
  }
}

/**
 * Solves G X = R for the feature coefficients. G is PSD; when it is singular (a singular Σ makes some features
 * affinely dependent) the minimum-norm least-squares solution is returned, one of the equally good minimisers.
 */
export function solveNormalEquations(G: Matrix, R: Matrix): Matrix {
  try {
    return solveSPD(G, R);
  } catch (e) {
    if (!(e instanceof NotPositiveDefiniteError || e instanceof SingularMatrixError)) throw e;
  }
  return matmul(pinv(G), R);
}

/** Splits feature coefficients [F, o] into α [o], β [d, o] and dense symmetric Γ_o (monomial x_a x_b → Γ_ab = Γ_ba = γ/2). */
export function unpackFeatureCoefficients(X: Matrix, d: number, degree: 1 | 2): { alpha: Float64Array; beta: Matrix; gamma: Matrix[] | null } {
  const o = X.cols;
  const alpha = X.data.slice(0, o);
  const beta = new Matrix(d, o, X.data.slice(o, (1 + d) * o));
  if (degree === 1) return { alpha, beta, gamma: null };
  const pairs = quadraticPairs(d);
  const P = pairs.length / 2;
  const gamma: Matrix[] = [];
  for (let c = 0; c < o; c++) {
    const G = new Matrix(d, d);
    for (let p = 0; p < P; p++) {
      const a = pairs[2 * p]!, b = pairs[2 * p + 1]!;
      const v = X.data[(1 + d + p) * o + c]!;
      if (a === b) G.data[a * d + a] = v;
      else {
        G.data[a * d + b] = v / 2;
        G.data[b * d + a] = v / 2;
      }
    }
    gamma.push(G);
  }
  return { alpha, beta, gamma };
}
