/**
 * The "master theorem" of Belrose & Rigg (2025): for jointly Gaussian (X, Y_1, …, Y_n) and any g with finite
 * moments, E[g(X)·Π_i Y_i] is a finite combination of the univariate expectations E[X^m g(X)], m = 0..n.
 *
 * With c_i = Cov(X, Y_i), a_i = c_i/Var X, b_i = E[Y_i] − a_i·E[X], each Y_i = a_i X + b_i + ε_i where the
 * residual ε ~ N(0, R), R = Cov(Y) − c cᵀ/Var X, is independent of X. Hence
 *   E[g(X) Π Y_i] = Σ_m κ_m E[X^m g(X)],  κ(x) = Σ_m κ_m x^m = E_ε[Π_i (a_i x + b_i + ε_i)],
 * i.e. κ_m = Σ_{|S|=m} Π_{i∈S} a_i · Σ_{T ⊆ [n]∖S, |T| even} Π_{i∉S∪T} b_i · Haf(R_T) (method.md §2.2).
 * The polynomial κ(x) is computed by Gaussian integration by parts over subsets of factors,
 * E[V_i F] = (a_i x + b_i)·E[F] + Σ_j R_ij E[∂_j F], memoised on bitmasks (≤ 2^n states of n + 1 coefficients).
 */
import { InvalidArgumentError, NonFiniteError, NotPositiveDefiniteError, ShapeError } from '../errors.js';
import { Matrix, assertFinite } from '../linalg/matrix.js';

/** Joint Gaussian parameters of (X, Y_1..Y_n). */
export interface MasterTheoremParams {
  /** E[X]. */
  muX: number;
  /** Var X ≥ 0. */
  varX: number;
  /** E[Y], length n. */
  muY: Float64Array;
  /** Cov(Y), n×n symmetric. */
  covY: Matrix;
  /** Cov(X, Y_i), length n. */
  covXY: Float64Array;
}

/** Largest n accepted (work and memory grow like 2^n·n; n = 16 takes ≈ 65k states). */
export const MASTER_THEOREM_MAX_N = 16;

/**
 * X is treated as a constant when Var X ≤ DEGENERATE_VAR_RATIO·max_i Var Y_i, i.e. σ_X ≤ 1e-15·max σ_Y.
 * Ignoring the dependence of Y on such an X changes E[g(X) Π Y] by O(σ_X·|g'|·Π scale(Y)), a relative
 * 1e-15 for g varying on the scale of Y, so the switch is continuous to rounding; above it a_i = c_i/Var X
 * is bounded by σ_Y/σ_X ≤ 1e15, so the coefficients cannot overflow for n ≤ MASTER_THEOREM_MAX_N.
 */
export const DEGENERATE_VAR_RATIO = 1e-30;

/** Eigenvalues of the correlation matrix must be ≥ −PSD_TOLERANCE (scale-free: unit diagonal). */
const PSD_TOLERANCE = 1e-10;

/** Relative asymmetry |C_ij − C_ji| ≤ SYMMETRY_TOLERANCE·√(C_ii C_jj) is treated as rounding. */
const SYMMETRY_TOLERANCE = 1e-10;

/** Smallest eigenvalue of a symmetric n×n matrix (row-major copy, destroyed) by cyclic Jacobi rotations. */
function minEigenvalueSymmetric(a: Float64Array, n: number): number {
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const v = a[i * n + j]! * a[i * n + j]!;
        total += v;
        if (i !== j) off += v;
      }
    }
    if (off <= 1e-30 * total) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  let min = Infinity;
  for (let i = 0; i < n; i++) min = Math.min(min, a[i * n + i]!);
  return min;
}

/**
 * Checks that the joint covariance [[Var X, cᵀ], [c, Cov Y]] is positive semidefinite within tolerance:
 * zero-variance variables must have exactly zero covariances, and the correlation matrix of the others must
 * have no eigenvalue below −1e-10. Returns the symmetrised Cov(Y).
 */
function validate(p: MasterTheoremParams): Float64Array {
  const { muX, varX, muY, covY, covXY } = p;
  const n = muY.length;
  if (covY.rows !== n || covY.cols !== n) {
    throw new ShapeError(`masterTheorem: covY is ${covY.rows}×${covY.cols} but muY has length ${n}`);
  }
  if (covXY.length !== n) throw new ShapeError(`masterTheorem: covXY has length ${covXY.length} but muY has length ${n}`);
  if (n > MASTER_THEOREM_MAX_N) {
    throw new InvalidArgumentError(`masterTheorem: n = ${n} factors exceeds the supported maximum ${MASTER_THEOREM_MAX_N}`);
  }
  if (!Number.isFinite(muX)) throw new NonFiniteError(`masterTheorem: muX is ${muX}`);
  if (!Number.isFinite(varX)) throw new NonFiniteError(`masterTheorem: varX is ${varX}`);
  assertFinite(muY, 'masterTheorem: muY');
  assertFinite(covY.data, 'masterTheorem: covY');
  assertFinite(covXY, 'masterTheorem: covXY');

  const sym = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const cij = covY.get(i, j);
      const cji = covY.get(j, i);
      const scale = Math.sqrt(Math.abs(covY.get(i, i) * covY.get(j, j)));
      if (Math.abs(cij - cji) > SYMMETRY_TOLERANCE * scale) {
        throw new InvalidArgumentError(`masterTheorem: covY is not symmetric: covY[${i}][${j}] = ${cij} but covY[${j}][${i}] = ${cji}`);
      }
      sym[i * n + j] = 0.5 * (cij + cji);
    }
  }

  // Joint covariance, variable 0 = X.
  const N = n + 1;
  const joint = new Float64Array(N * N);
  joint[0] = varX;
  for (let i = 0; i < n; i++) {
    joint[i + 1] = covXY[i]!;
    joint[(i + 1) * N] = covXY[i]!;
    for (let j = 0; j < n; j++) joint[(i + 1) * N + j + 1] = sym[i * n + j]!;
  }
  const name = (v: number): string => (v === 0 ? 'X' : `Y_${v - 1}`);
  const positive: number[] = [];
  for (let v = 0; v < N; v++) {
    const d = joint[v * N + v]!;
    if (d < 0) {
      throw new NotPositiveDefiniteError(`masterTheorem: the joint covariance of (X, Y) is not positive semidefinite: Var ${name(v)} = ${d} < 0`);
    }
    if (d > 0) positive.push(v);
    else {
      for (let w = 0; w < N; w++) {
        if (w !== v && joint[v * N + w] !== 0) {
          throw new NotPositiveDefiniteError(
            `masterTheorem: the joint covariance of (X, Y) is not positive semidefinite: Var ${name(v)} = 0 but ` +
              `Cov(${name(v)}, ${name(w)}) = ${joint[v * N + w]}`,
          );
        }
      }
    }
  }
  const k = positive.length;
  if (k > 0) {
    const corr = new Float64Array(k * k);
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        const va = positive[a]!;
        const vb = positive[b]!;
        corr[a * k + b] = joint[va * N + vb]! / Math.sqrt(joint[va * N + va]! * joint[vb * N + vb]!);
      }
    }
    const lambdaMin = minEigenvalueSymmetric(corr, k);
    if (lambdaMin < -PSD_TOLERANCE) {
      throw new NotPositiveDefiniteError(
        `masterTheorem: the joint covariance of (X, Y) is not positive semidefinite: its correlation matrix has ` +
          `eigenvalue ${lambdaMin.toExponential(3)} < −${PSD_TOLERANCE}`,
      );
    }
  }
  return sym;
}

/**
 * Coefficients (ascending) of the polynomial x ↦ E_ε[Π_i (α_i x + β_i + ε_i)], ε ~ N(0, R), by integration by parts
 * over subsets of the factors, pivoting on the lowest remaining factor.
 */
function productMomentPolynomial(alpha: Float64Array, beta: Float64Array, r: Float64Array): Float64Array {
  const n = alpha.length;
  const memo = new Map<number, Float64Array>();
  const poly = (mask: number): Float64Array => {
    if (mask === 0) return Float64Array.of(1);
    const hit = memo.get(mask);
    if (hit !== undefined) return hit;
    let i = 0;
    while (((mask >>> i) & 1) === 0) i++;
    const rest = mask & ~(1 << i);
    const deg = popcount(mask);
    const out = new Float64Array(deg + 1);
    const q = poly(rest);
    for (let m = 0; m < q.length; m++) {
      out[m] = out[m]! + beta[i]! * q[m]!;
      out[m + 1] = out[m + 1]! + alpha[i]! * q[m]!;
    }
    for (let j = i + 1; j < n; j++) {
      if (((rest >>> j) & 1) === 0) continue;
      const rij = r[i * n + j]!;
      if (rij === 0) continue;
      const s = poly(rest & ~(1 << j));
      for (let m = 0; m < s.length; m++) out[m] = out[m]! + rij * s[m]!;
    }
    memo.set(mask, out);
    return out;
  };
  const full = (1 << n) - 1;
  const res = new Float64Array(n + 1);
  res.set(poly(full));
  return res;
}

function popcount(x: number): number {
  let c = 0;
  for (let v = x; v !== 0; v &= v - 1) c++;
  return c;
}

function isDegenerate(varX: number, covY: Float64Array, n: number): boolean {
  if (varX === 0) return true;
  let maxVarY = 0;
  for (let i = 0; i < n; i++) maxVarY = Math.max(maxVarY, covY[i * n + i]!);
  return varX <= DEGENERATE_VAR_RATIO * maxVarY;
}

/**
 * Master-theorem coefficients κ_0..κ_n (ASCENDING; the Python reference returns them descending) such that for
 * jointly Gaussian (X, Y_1..Y_n) and any g with finite moments
 *   E[g(X)·Π_i Y_i] = Σ_m κ_m·E[X^m g(X)].
 *
 * Degenerate X: when Var X = 0 (X ≡ μ_X; then Cov(X, Y) must be 0) — or Var X ≤ 1e-30·max Var Y_i, see
 * {@link DEGENERATE_VAR_RATIO} — the result is κ_0 = E[Π Y_i] (noncentral Isserlis) and κ_m = 0 for m ≥ 1. This is
 * exact for a constant X, because then E[g(X) Π Y] = g(μ_X)·E[Π Y] and E[X^0 g(X)] = g(μ_X) (the other terms
 * E[X^m g(X)] = μ_X^m g(μ_X) need no coefficient).
 *
 * Conditioning: the κ_m are computed accurately, but when σ_X ≪ |μ_X| the sum Σ κ_m E[X^m g(X)] cancels (its terms
 * are ≈ (|μ_X|/σ_X)^n times the result), so errors in the supplied E[X^m g(X)] are amplified by that factor.
 * {@link masterTheoremStandardized} has no such amplification.
 *
 * @throws ShapeError for mismatched lengths; NonFiniteError for non-finite inputs; InvalidArgumentError for an
 *   asymmetric covY or n > MASTER_THEOREM_MAX_N (16); NotPositiveDefiniteError (naming the variable or the eigenvalue) when the joint
 *   covariance of (X, Y) is not positive semidefinite within tolerance (eigenvalue of the correlation matrix
 *   < −1e-10, negative variance, or nonzero covariance with a zero-variance variable).
 */
export function masterTheorem(p: MasterTheoremParams): Float64Array {
  const covY = validate(p);
  const n = p.muY.length;
  const alpha = new Float64Array(n);
  const beta = new Float64Array(n);
  const r = new Float64Array(n * n);
  if (isDegenerate(p.varX, covY, n)) {
    beta.set(p.muY);
    r.set(covY);
    const kappa = new Float64Array(n + 1);
    kappa[0] = productMomentPolynomial(alpha, beta, r)[0]!;
    return kappa;
  }
  const sdX = Math.sqrt(p.varX);
  const rho = new Float64Array(n); // c_i/σ_X, bounded by σ_{Y_i}: the residual covariance is formed from it
  for (let i = 0; i < n; i++) {
    rho[i] = p.covXY[i]! / sdX;
    alpha[i] = p.covXY[i]! / p.varX;
    beta[i] = p.muY[i]! - alpha[i]! * p.muX;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[i * n + j] = covY[i * n + j]! - rho[i]! * rho[j]!;
  return productMomentPolynomial(alpha, beta, r);
}

/**
 * Standardized master-theorem coefficients λ_0..λ_n (ascending) such that, with X = μ_X + σ_X·Z, Z ~ N(0, 1),
 *   E[g(X)·Π_i Y_i] = Σ_m λ_m·E[Z^m g(μ_X + σ_X Z)].
 * Here Y_i = ρ_i Z + μ_{Y_i} + ε_i with ρ_i = Cov(X, Y_i)/σ_X (|ρ_i| ≤ σ_{Y_i}), so λ(z) = E_ε[Π (ρ_i z + μ_{Y_i} + ε_i)].
 * Well conditioned for every σ_X ≥ 0 and continuous as σ_X → 0 (at σ_X = 0, ρ = 0 and λ_0 = E[Π Y]): no division
 * by Var X and no cancellation against μ_X. Same validation and errors as {@link masterTheorem}.
 */
export function masterTheoremStandardized(p: MasterTheoremParams): Float64Array {
  const covY = validate(p);
  const n = p.muY.length;
  const alpha = new Float64Array(n);
  const beta = Float64Array.from(p.muY);
  const r = covY.slice();
  if (p.varX > 0) {
    const sdX = Math.sqrt(p.varX);
    for (let i = 0; i < n; i++) alpha[i] = p.covXY[i]! / sdX;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[i * n + j] = covY[i * n + j]! - alpha[i]! * alpha[j]!;
  }
  return productMomentPolynomial(alpha, beta, r);
}

/**
 * Σ_m κ_m·polyMoments[m] (compensated summation), i.e. E[g(X) Π Y] from the master-theorem coefficients and the
 * univariate moments polyMoments[m] = E[X^m g(X)] (or E[Z^m g(X)] for standardized coefficients).
 * @param kappa coefficients, ascending.
 * @param polyMoments at least kappa.length moments (extra entries are ignored, so one moment table can serve
 *   several n).
 * @throws ShapeError if polyMoments is shorter than kappa; NonFiniteError for non-finite entries that are used.
 */
export function masterTheoremExpectation(kappa: Float64Array, polyMoments: Float64Array): number {
  if (polyMoments.length < kappa.length) {
    throw new ShapeError(`masterTheoremExpectation: polyMoments has length ${polyMoments.length}, needs at least ${kappa.length}`);
  }
  let sum = 0;
  let comp = 0;
  for (let m = 0; m < kappa.length; m++) {
    const k = kappa[m]!;
    const e = polyMoments[m]!;
    if (!Number.isFinite(k)) throw new NonFiniteError(`masterTheoremExpectation: kappa[${m}] is ${k}`);
    if (!Number.isFinite(e)) throw new NonFiniteError(`masterTheoremExpectation: polyMoments[${m}] is ${e}`);
    const term = k * e;
    const s = sum + term;
    comp += Math.abs(sum) >= Math.abs(term) ? sum - s + term : term - s + sum;
    sum = s;
  }
  return sum + comp;
}
