/**
 * Exact variance accounting under a single Gaussian, without sampling.
 *
 * Every hidden unit has a Hermite expansion in its own (whitened) directions (`fit/expansion.ts`). Multivariate
 * Hermite polynomials of different degrees are orthogonal, so for outputs f = W·units + b
 *
 *   Σ_o Var f_o = Σ_{n≥1} Σ_{ij} M_ij ⟨P_n unit_i, P_n unit_j⟩,   M = Wᵀ W,
 *
 * where P_n is the projection onto degree-n chaos. The degree-n term for n ≤ K is exactly the variance the
 * degree-K approximant explains at that degree, so FVU_K = 1 − Σ_{n≤K} EV_n / Σ_o Var f_o.
 *
 * - MLP units are ridge functions: ⟨P_n g_i, P_n g_j⟩ = c_in c_jn ρ_ij^n (Mehler), ρ the preactivation correlation.
 * - GLU units live in a 2-D subspace (gate direction p and the part ε of the up projection independent of p):
 *   P_n unit_i = u_in ĥe_n(p_i) + v_in e_i ĥe_{n−1}(p_i) with e_i = ε_i/σ_i, and the inner products follow from the
 *   tensor form of Hermite polynomials (A = E[p_i p_j], B = E[p_i e_j], C = E[e_i p_j], D = E[e_i e_j]):
 *   u u' Aⁿ + √n (u v' B + v u' C) Aⁿ⁻¹ + v v' (D Aⁿ⁻¹ + (n−1) B C Aⁿ⁻²).
 *
 * The total needs all orders: the series is summed until a rigorous tail bound (Cauchy–Schwarz with the exactly
 * known per-unit variances, times κⁿ where κ ≤ 1 is the largest canonical correlation between the two units'
 * subspaces) is below tolerance; pairs where it would converge too slowly (|ρ| near 1) are integrated exactly with
 * one-dimensional adaptive quadrature of a closed-form conditional expectation.
 */
import { InvalidArgumentError } from '../errors.js';
import { Matrix } from '../linalg/matrix.js';
import { matmul } from '../linalg/ops.js';
import { expectNormal } from '../numerics/quadrature.js';
import type { Activation } from './activations/types.js';
import { expandGLU, expandMLP, type GluExpansion, type MlpExpansion } from './fit/expansion.js';
import type { Gaussian } from './inputModel.js';
import type { Network } from './network.js';
import type { VarianceReport } from './result.js';

export interface VarianceOptions {
  /** Highest Hermite order used by the pairwise series before falling back to quadrature. Default 64. */
  maxOrder?: number;
  /** Relative accuracy per pair (tail bound relative to √(Var_i Var_j)). Default 1e-12. */
  tol?: number;
}

/** Statistics of a variance computation, for benchmarks and diagnostics. */
export interface VarianceDiagnostics {
  pairs: number;
  seriesTerms: number;
  quadraturePairs: number;
}

/**
 * Total output variance and the variance explained by each Hermite degree 1..K under N(μ, Σ).
 * @param degree K, the degree of the approximant being assessed
 */
export function gaussianVarianceReport(
  net: Network, g: Gaussian, degree: number, opts: VarianceOptions = {}, diag?: VarianceDiagnostics,
): VarianceReport {
  if (!Number.isInteger(degree) || degree < 1) throw new InvalidArgumentError(`degree must be a positive integer, got ${degree}`);
  const maxOrder = Math.max(opts.maxOrder ?? 64, degree + 1);
  const tol = opts.tol ?? 1e-12;
  const d = diag ?? { pairs: 0, seriesTerms: 0, quadraturePairs: 0 };
  const { total, byDegree } = net.arch === 'mlp'
    ? mlpVariance(expandMLP(net, g, maxOrder), g, degree, tol, d)
    : gluVariance(expandGLU(net, g, maxOrder + 1), g, degree, maxOrder, tol, d);
  return finishReport(total, byDegree);
}

/** Builds the report from the total and the per-degree explained variances. */
export function finishReport(total: number, byDegree: Float64Array): VarianceReport {
  let explained = 0;
  for (let k = 1; k < byDegree.length; k++) explained += byDegree[k]!;
  // A network whose outputs do not vary has an undefined FVU; report NaN rather than invent a value.
  const fvu = total > 0 ? Math.max(0, 1 - explained / total) : Number.NaN;
  return { total, byDegree, explained, fvu, r2: 1 - fvu };
}

/** M = Wᵀ W for the output layer W [o, h]. */
function outputGram(W: Matrix): Matrix {
  return matmul(W, W, { transA: true });
}

function mlpVariance(e: MlpExpansion, g: Gaussian, K: number, tol: number, diag: VarianceDiagnostics) {
  const { net, m, s, coeffs, order } = e;
  const act = net.activation;
  const h = net.W1.rows;
  const stride = order + 1;
  const c = coeffs.data;
  const variance = new Float64Array(h);
  // tails[i*stride + k] = Var_i − Σ_{1≤l≤k} c_il², the variance beyond order k.
  const tails = new Float64Array(h * stride);
  for (let i = 0; i < h; i++) {
    if (s[i]! === 0) continue;
    const c0 = c[i * stride]!;
    const v = Math.max(0, act.squarePolyMoments(m[i]!, s[i]!, 0)[0]! - c0 * c0);
    variance[i] = v;
    let t = v;
    tails[i * stride] = t;
    for (let k = 1; k < stride; k++) {
      t -= c[i * stride + k]! ** 2;
      tails[i * stride + k] = Math.max(0, t);
    }
  }
  const WS = g.rightMultiplyCov(net.W1);
  const C = matmul(WS, net.W1, { transB: true });
  const M = outputGram(net.W2);
  const byDegree = new Float64Array(K + 1);
  let total = 0;
  for (let i = 0; i < h; i++) {
    if (s[i]! === 0) continue;
    const mii = M.data[i * h + i]!;
    total += mii * variance[i]!;
    for (let k = 1; k <= K; k++) byDegree[k]! += mii * c[i * stride + k]! ** 2;
  }
  for (let i = 0; i < h; i++) {
    const si = s[i]!;
    if (si === 0) continue;
    const io = i * stride;
    for (let j = i + 1; j < h; j++) {
      const sj = s[j]!;
      const mij = M.data[i * h + j]!;
      if (sj === 0 || mij === 0) continue;
      diag.pairs++;
      let rho = C.data[i * h + j]! / (si * sj);
      rho = Math.max(-1, Math.min(1, rho));
      const jo = j * stride;
      const tolAbs2 = (tol * tol) * variance[i]! * variance[j]!;
      let pw = 1;
      let cov = 0;
      let converged = false;
      for (let k = 1; k <= order; k++) {
        pw *= rho;
        const term = c[io + k]! * c[jo + k]! * pw;
        cov += term;
        if (k <= K) byDegree[k]! += 2 * mij * term;
        const next = pw * rho;
        if (next * next * tails[io + k]! * tails[jo + k]! <= tolAbs2) {
          converged = true;
          diag.seriesTerms += k;
          break;
        }
      }
      if (!converged) {
        diag.quadraturePairs++;
        cov = ridgePairCovariance(act, m[i]!, si, m[j]!, sj, rho, c[io]!, c[jo]!);
      }
      total += 2 * mij * cov;
    }
  }
  return { total, byDegree };
}

/**
 * Cov(g(u_i), g(u_j)) for jointly Gaussian preactivations with correlation ρ, by one-dimensional adaptive
 * quadrature over u_i of g(u_i)·E[g(u_j) | u_i] (the conditional is again Gaussian, and E[g] of a Gaussian is the
 * activation's own closed form or quadrature). Breakpoints: the kinks of g in u_i, and the u_i at which the
 * conditional mean crosses a kink when the conditional variance vanishes (|ρ| → 1).
 */
export function ridgePairCovariance(
  act: Activation, mi: number, si: number, mj: number, sj: number, rho: number, meanI: number, meanJ: number,
): number {
  const slope = (rho * sj) / si;
  const condSd = sj * Math.sqrt(Math.max(0, 1 - rho * rho));
  const breakpoints = [...act.kinks];
  if (slope !== 0) for (const k of act.kinks) breakpoints.push(mi + (k - mj) / slope);
  const scale = Math.max(Math.abs(meanI * meanJ), si * sj, 1e-300);
  const e = expectNormal(
    (u) => act.value(u) * act.mean(mj + slope * (u - mi), condSd),
    mi, si, { breakpoints, absTol: 1e-14 * scale, relTol: 1e-12 },
  );
  return e - meanI * meanJ;
}

function gluVariance(e: GluExpansion, g: Gaussian, K: number, order: number, tol: number, diag: VarianceDiagnostics) {
  const { net, my, sy, mz, sz, cyz } = e;
  const act = net.activation;
  const h = net.W_gate.rows;
  const aStride = e.order + 1;
  const a = e.gateCoeffs.data;
  // Per unit: κ = Cov(y,z)/s_y², σ = sd of ε = z − κ y, and degree-n coefficients u_n, v_n (n = 0..order).
  const kappa = new Float64Array(h);
  const sigma = new Float64Array(h);
  const stride = order + 1;
  const U = new Float64Array(h * stride);
  const V = new Float64Array(h * stride);
  const variance = new Float64Array(h);
  const tails = new Float64Array(h * stride);
  const active = new Uint8Array(h);
  for (let i = 0; i < h; i++) {
    const syi = sy[i]!;
    kappa[i] = syi > 0 ? cyz[i]! / (syi * syi) : 0;
    sigma[i] = Math.sqrt(Math.max(0, sz[i]! * sz[i]! - kappa[i]! * cyz[i]!));
    const szRho = kappa[i]! * syi;
    for (let n = 0; n <= order; n++) {
      const an = a[i * aStride + n]!;
      const b = Math.sqrt(n + 1) * a[i * aStride + n + 1]! + (n > 0 ? Math.sqrt(n) * a[i * aStride + n - 1]! : 0);
      U[i * stride + n] = mz[i]! * an + szRho * b;
      V[i * stride + n] = n > 0 ? sigma[i]! * a[i * aStride + n - 1]! : 0;
    }
    // E[unit²] = E[g(y)² ((m_z − κ m_y) + κ y)²] + σ² E[g(y)²].
    const S = act.squarePolyMoments(my[i]!, syi, 2);
    const off = mz[i]! - kappa[i]! * my[i]!;
    const k = kappa[i]!;
    const second = off * off * S[0]! + 2 * off * k * S[1]! + k * k * S[2]! + sigma[i]! ** 2 * S[0]!;
    const mean = U[i * stride]!;
    const v = Math.max(0, second - mean * mean);
    variance[i] = v;
    active[i] = v > 0 ? 1 : 0;
    let t = v;
    tails[i * stride] = t;
    for (let n = 1; n <= order; n++) {
      t -= U[i * stride + n]! ** 2 + V[i * stride + n]! ** 2;
      tails[i * stride + n] = Math.max(0, t);
    }
  }
  // Covariances of all preactivations: Cyy = W_g Σ W_gᵀ, Cyz = W_g Σ W_uᵀ, Czz = W_u Σ W_uᵀ.
  const GS = g.rightMultiplyCov(net.W_gate);
  const US = g.rightMultiplyCov(net.W_up);
  const Cyy = matmul(GS, net.W_gate, { transB: true }).data;
  const Cyz = matmul(GS, net.W_up, { transB: true }).data;
  const Czz = matmul(US, net.W_up, { transB: true }).data;
  const M = outputGram(net.W_out).data;
  const byDegree = new Float64Array(K + 1);
  let total = 0;
  for (let i = 0; i < h; i++) {
    if (!active[i]) continue;
    const mii = M[i * h + i]!;
    total += mii * variance[i]!;
    for (let n = 1; n <= K; n++) byDegree[n]! += mii * (U[i * stride + n]! ** 2 + V[i * stride + n]! ** 2);
  }
  for (let i = 0; i < h; i++) {
    if (!active[i]) continue;
    for (let j = i + 1; j < h; j++) {
      const mij = M[i * h + j]!;
      if (!active[j] || mij === 0) continue;
      diag.pairs++;
      const syi = sy[i]!, syj = sy[j]!, si = sigma[i]!, sj = sigma[j]!;
      const ki = kappa[i]!, kj = kappa[j]!;
      // Cross-moments of the unit-variance coordinates (p, e) of units i and j.
      const cyy = Cyy[i * h + j]!;
      const cyiZj = Cyz[i * h + j]!;
      const czIyj = Cyz[j * h + i]!;
      const A = syi > 0 && syj > 0 ? cyy / (syi * syj) : 0;
      const B = syi > 0 && sj > 0 ? (cyiZj - kj * cyy) / (syi * sj) : 0;
      const Cc = si > 0 && syj > 0 ? (czIyj - ki * cyy) / (si * syj) : 0;
      const D = si > 0 && sj > 0 ? (Czz[i * h + j]! - kj * czIyj - ki * cyiZj + ki * kj * cyy) / (si * sj) : 0;
      const kap = Math.min(1, largestSingularValue2x2(A, B, Cc, D));
      const io = i * stride;
      const jo = j * stride;
      const tolAbs2 = tol * tol * variance[i]! * variance[j]!;
      let cov = 0;
      let converged = false;
      let An1 = 1; // A^{n−1}
      let An2 = 0; // A^{n−2} (A^{−1} never used: its coefficient (n−1) is 0 at n = 1)
      let kapN = 1;
      for (let n = 1; n <= order; n++) {
        const An = An1 * A;
        const ui = U[io + n]!, uj = U[jo + n]!, vi = V[io + n]!, vj = V[jo + n]!;
        const sq = Math.sqrt(n);
        const term = ui * uj * An + sq * (ui * vj * B + vi * uj * Cc) * An1 + vi * vj * (D * An1 + (n - 1) * B * Cc * An2);
        cov += term;
        if (n <= K) byDegree[n]! += 2 * mij * term;
        kapN *= kap;
        const nextBound = kapN * kap;
        if (nextBound * nextBound * tails[io + n]! * tails[jo + n]! <= tolAbs2) {
          converged = true;
          diag.seriesTerms += n;
          break;
        }
        An2 = An1;
        An1 = An;
      }
      if (!converged) {
        diag.quadraturePairs++;
        cov = gluPairCovariance(act, {
          myi: my[i]!, myj: my[j]!, syi, syj, cyy,
          mzi: mz[i]!, mzj: mz[j]!, cyizi: cyz[i]!, cyjzj: cyz[j]!, cyizj: cyiZj, czIyj, czz: Czz[i * h + j]!,
          szi: sz[i]!, szj: sz[j]!,
        }) - U[io]! * U[jo]!;
      }
      total += 2 * mij * cov;
    }
  }
  return { total, byDegree };
}

/** The largest singular value of [[a, b], [c, d]]. */
function largestSingularValue2x2(a: number, b: number, c: number, d: number): number {
  const s1 = a * a + b * b + c * c + d * d;
  const det = a * d - b * c;
  const disc = Math.sqrt(Math.max(0, s1 * s1 - 4 * det * det));
  return Math.sqrt(Math.max(0, (s1 + disc) / 2));
}

interface GluPair {
  myi: number; myj: number; syi: number; syj: number; cyy: number;
  mzi: number; mzj: number; szi: number; szj: number;
  /** Cov(y_i, z_i), Cov(y_j, z_j), Cov(y_i, z_j), Cov(z_i, y_j), Cov(z_i, z_j). */
  cyizi: number; cyjzj: number; cyizj: number; czIyj: number; czz: number;
}

/**
 * E[g(y_i) z_i g(y_j) z_j] for jointly Gaussian (y_i, y_j, z_i, z_j), by conditioning: given (y_i, y_j) the
 * product z_i z_j has mean Cov(z_i, z_j | y) + E[z_i | y] E[z_j | y], a quadratic polynomial in (y_i, y_j); the
 * inner expectation over y_j | y_i uses the activation's polynomial moments, the outer is adaptive quadrature.
 */
export function gluPairCovariance(act: Activation, p: GluPair): number {
  // Conditional regression of (z_i, z_j) on (y_i, y_j) through a 2×2 (pseudo-)inverse, which also covers
  // perfectly correlated gates.
  const s11 = p.syi * p.syi, s22 = p.syj * p.syj, s12 = p.cyy;
  const det = s11 * s22 - s12 * s12;
  const scale = Math.max(s11 * s22, 1e-300);
  // Cross-covariances of z_i and z_j with (y_i, y_j).
  const zi = [p.cyizi, p.czIyj];
  const zj = [p.cyizj, p.cyjzj];
  let bi: number[], bj: number[];
  if (det > 1e-12 * scale) {
    const inv = [s22 / det, -s12 / det, -s12 / det, s11 / det];
    bi = [inv[0]! * zi[0]! + inv[1]! * zi[1]!, inv[2]! * zi[0]! + inv[3]! * zi[1]!];
    bj = [inv[0]! * zj[0]! + inv[1]! * zj[1]!, inv[2]! * zj[0]! + inv[3]! * zj[1]!];
  } else {
    // Rank ≤ 1: regress on y_i alone (or on nothing if both gates are constant).
    const v = s11 > 0 ? s11 : s22;
    const useI = s11 > 0;
    bi = v > 0 ? (useI ? [zi[0]! / v, 0] : [0, zi[1]! / v]) : [0, 0];
    bj = v > 0 ? (useI ? [zj[0]! / v, 0] : [0, zj[1]! / v]) : [0, 0];
  }
  // Residual covariance Cov(z_i, z_j | y) = czz − bᵢᵀ Cov(y, z_j).
  const condCov = p.czz - (bi[0]! * zj[0]! + bi[1]! * zj[1]!);
  // E[z_i | y] = ai0 + bi·y with ai0 = m_zi − bi·m_y; likewise for j.
  const ai0 = p.mzi - bi[0]! * p.myi - bi[1]! * p.myj;
  const aj0 = p.mzj - bj[0]! * p.myi - bj[1]! * p.myj;
  // y_j | y_i ~ N(m_j + λ (y_i − m_i), τ²).
  const lam = s11 > 0 ? s12 / s11 : 0;
  const tau = Math.sqrt(Math.max(0, s22 - lam * s12));
  const breakpoints = [...act.kinks];
  if (lam !== 0) for (const k of act.kinks) breakpoints.push(p.myi + (k - p.myj) / lam);
  const integrand = (yi: number): number => {
    const gi = act.value(yi);
    if (gi === 0) return 0;
    // E[z_i|y] = (ai0 + bi0 y_i) + bi1 y_j; same for j. Product mean + condCov as a polynomial in y_j.
    const pi0 = ai0 + bi[0]! * yi, pi1 = bi[1]!;
    const pj0 = aj0 + bj[0]! * yi, pj1 = bj[1]!;
    const c0 = condCov + pi0 * pj0, c1 = pi0 * pj1 + pi1 * pj0, c2 = pi1 * pj1;
    const mom = act.polyMoments(p.myj + lam * (yi - p.myi), tau, 2);
    return gi * (c0 * mom[0]! + c1 * mom[1]! + c2 * mom[2]!);
  };
  const mag = Math.max(Math.abs(p.mzi * p.mzj), p.szi * p.szj, 1e-300) * Math.max(1, s11, s22);
  return expectNormal(integrand, p.myi, p.syi, { breakpoints, absTol: 1e-14 * mag, relTol: 1e-12 });
}
