/**
 * Hermite expansions of a network's hidden units under a single Gaussian input model.
 *
 * Why this is the whole story for a single Gaussian: write x = μ + L z with z ~ N(0, I). A hidden unit of an
 * MLP is a ridge function g(u_j) of one preactivation u_j = m_j + s_j t_j, t_j = v_jᵀ z, |v_j| = 1, so its
 * L²-projection onto polynomials of degree ≤ K is Σ_{k≤K} c_jk ĥe_k(t_j) with ĥe_k = He_k/√k! and
 * c_jk = E[g(u_j) ĥe_k(t_j)] (multivariate Hermite polynomials are orthogonal; see method.md §2.9).
 * Polynomials of degree ≤ K in z and in x are the same space, and t_j = (u_j − m_j)/s_j is computable from x
 * directly, so neither L nor Σ⁻¹ is ever needed — which is why a singular Σ is harmless.
 *
 * A GLU unit g(y)·z depends on two preactivations. With p = (y − m_y)/s_y and the part of z independent of
 * p, ε = (z − m_z) − s_z ρ p, the unit is m_z g + s_z ρ p g + ε g. The first two are ridge functions of p;
 * ε·g is linear in a direction orthogonal to p, so its projection keeps ε times the degree ≤ K−1 part of g.
 */
import { ShapeError } from '../../errors.js';
import { Matrix } from '../../linalg/matrix.js';
import type { Gaussian } from '../inputModel.js';
import type { GLU, MLP, Network } from '../network.js';
import { inputDim } from '../network.js';

/** Per-unit preactivation statistics and normalized Hermite coefficients of an MLP's hidden units. */
export interface MlpExpansion {
  readonly arch: 'mlp';
  readonly net: MLP;
  /** Preactivation means m_j = b1_j + w_j·μ [h]. */
  readonly m: Float64Array;
  /** Preactivation standard deviations s_j = √(w_jᵀ Σ w_j) [h]. */
  readonly s: Float64Array;
  /** w_j·μ [h] (needed to convert to monomials). */
  readonly wMu: Float64Array;
  /** Normalized Hermite coefficients c_jk = E[g(u_j) ĥe_k(t_j)], [h, K+1]. */
  readonly coeffs: Matrix;
  /** Highest order available in `coeffs`. */
  readonly order: number;
}

/** Per-unit statistics and coefficients of a GLU's hidden units. */
export interface GluExpansion {
  readonly arch: 'glu';
  readonly net: GLU;
  /** Gate preactivation y: mean, standard deviation, w_gate·μ. */
  readonly my: Float64Array;
  readonly sy: Float64Array;
  readonly wgMu: Float64Array;
  /** Up preactivation z: mean, standard deviation, w_up·μ. */
  readonly mz: Float64Array;
  readonly sz: Float64Array;
  readonly wuMu: Float64Array;
  /** Cov(y_i, z_i). */
  readonly cyz: Float64Array;
  /** Normalized Hermite coefficients of the gate, â_ik = E[g(y_i) ĥe_k(p_i)], [h, order+1]. */
  readonly gateCoeffs: Matrix;
  /** Highest order available in `gateCoeffs` (the unit expansion is then exact up to degree order − 1). */
  readonly order: number;
}

export type Expansion = MlpExpansion | GluExpansion;

/** Row-wise dot products: out_j = A_j · B_j for equal-shaped A, B. */
export function rowDots(A: Matrix, B: Matrix): Float64Array {
  const { rows, cols } = A;
  const out = new Float64Array(rows);
  const a = A.data;
  const b = B.data;
  for (let i = 0; i < rows; i++) {
    let acc = 0;
    const off = i * cols;
    for (let j = 0; j < cols; j++) acc += a[off + j]! * b[off + j]!;
    out[i] = acc;
  }
  return out;
}

function matVecRows(W: Matrix, x: Float64Array): Float64Array {
  const out = new Float64Array(W.rows);
  const { cols, data } = W;
  for (let i = 0; i < W.rows; i++) {
    let acc = 0;
    for (let j = 0; j < cols; j++) acc += data[i * cols + j]! * x[j]!;
    out[i] = acc;
  }
  return out;
}

/** Standard deviations from variances, clamping the tiny negative values rounding can produce. */
function sqrtClamped(v: Float64Array): Float64Array {
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Math.sqrt(Math.max(0, v[i]!));
  return out;
}

function checkDims(net: Network, g: Gaussian): void {
  if (inputDim(net) !== g.dim) {
    throw new ShapeError(`the network takes ${inputDim(net)} inputs but the input model has dimension ${g.dim}`);
  }
}

/**
 * Hermite expansion of every hidden unit of an MLP up to `order`.
 * Cost: one h×d×d product with Σ (skipped for Σ = I) plus h univariate expectations.
 */
export function expandMLP(net: MLP, g: Gaussian, order: number): MlpExpansion {
  checkDims(net, g);
  const h = net.W1.rows;
  const WS = g.rightMultiplyCov(net.W1);
  const s = sqrtClamped(rowDots(WS, net.W1));
  const wMu = matVecRows(net.W1, g.mean);
  const m = new Float64Array(h);
  for (let j = 0; j < h; j++) m[j] = net.b1[j]! + wMu[j]!;
  const coeffs = new Matrix(h, order + 1);
  for (let j = 0; j < h; j++) {
    coeffs.data.set(net.activation.hermiteCoefficients(m[j]!, s[j]!, order), j * (order + 1));
  }
  return { arch: 'mlp', net, m, s, wMu, coeffs, order };
}

/**
 * Hermite expansion of every hidden unit of a GLU: gate coefficients up to `order`, so that unit
 * projections are available up to degree `order − 1`.
 */
export function expandGLU(net: GLU, g: Gaussian, order: number): GluExpansion {
  checkDims(net, g);
  const h = net.W_gate.rows;
  const GS = g.rightMultiplyCov(net.W_gate);
  const US = g.rightMultiplyCov(net.W_up);
  const sy = sqrtClamped(rowDots(GS, net.W_gate));
  const sz = sqrtClamped(rowDots(US, net.W_up));
  const cyz = rowDots(GS, net.W_up);
  const wgMu = matVecRows(net.W_gate, g.mean);
  const wuMu = matVecRows(net.W_up, g.mean);
  const my = new Float64Array(h);
  const mz = new Float64Array(h);
  for (let i = 0; i < h; i++) {
    my[i] = net.b_gate[i]! + wgMu[i]!;
    mz[i] = net.b_up[i]! + wuMu[i]!;
  }
  const gateCoeffs = new Matrix(h, order + 1);
  for (let i = 0; i < h; i++) {
    gateCoeffs.data.set(net.activation.hermiteCoefficients(my[i]!, sy[i]!, order), i * (order + 1));
  }
  return { arch: 'glu', net, my, sy, wgMu, mz, sz, wuMu, cyz, gateCoeffs, order };
}

/**
 * The Hermite coefficients of one GLU unit's projection, in the basis {ĥe_k(p)} ∪ {ε·ĥe_k(p)}:
 * unit ≈ Σ_{k≤K} r_k ĥe_k(p) + ε Σ_{k≤K−1} q_k ĥe_k(p), with
 * r_k = m_z â_k + s_z ρ (√(k+1) â_{k+1} + √k â_{k−1}) (from p·ĥe_k = √(k+1) ĥe_{k+1} + √k ĥe_{k−1}) and q_k = â_k.
 * Here s_z ρ = Cov(y, z)/s_y (0 when the gate is constant). Needs `order ≥ K + 1`.
 */
export function gluUnitCoefficients(e: GluExpansion, i: number, K: number): { r: Float64Array; q: Float64Array; szRho: number } {
  if (e.order < K + 1) throw new ShapeError(`GLU expansion has order ${e.order}, degree ${K} needs ${K + 1}`);
  const stride = e.order + 1;
  const a = e.gateCoeffs.data.subarray(i * stride, (i + 1) * stride);
  const szRho = e.sy[i]! > 0 ? e.cyz[i]! / e.sy[i]! : 0;
  const mz = e.mz[i]!;
  const r = new Float64Array(K + 1);
  const q = new Float64Array(K);
  for (let k = 0; k <= K; k++) {
    const b = Math.sqrt(k + 1) * a[k + 1]! + (k > 0 ? Math.sqrt(k) * a[k - 1]! : 0);
    r[k] = mz * a[k]! + szRho * b;
    if (k < K) q[k] = a[k]!;
  }
  return { r, q, szRho };
}
