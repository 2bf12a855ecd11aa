/**
 * Eigen-features of a quadratic approximant (method.md §2.12, paper Fig. 1): for an output direction e (one-hot
 * for a class c, or any vector of length o) the symmetric matrix
 *
 *     Γ_e = Σ_o e_o Γ_o            (d × d; for a class, Γ_e = Γ_c)
 *
 * and its eigendecomposition Γ_e = Σ_i λ_i v_i v_iᵀ. The quadratic part of the approximant's output along e is
 * xᵀ Γ_e x = Σ_i λ_i (v_i·x)²: the top positive eigenvectors are the input patterns that raise the output most
 * (per unit norm, squared), the top negative ones the patterns that lower it most.
 *
 * **Sign convention** (the reference's `orient_eigenvectors`, `orientation = 1`): an eigenvector is only defined
 * up to sign, so every returned vector is flipped if its negative part outweighs its positive part,
 * ‖max(v, 0)‖₂ < ‖min(v, 0)‖₂ — positive mass dominates ({@link orientEigenvector}). `orientation = −1` asks for
 * the opposite (negative mass dominant). Ties are left as computed.
 *
 * **Two routes to the same eigenpairs.**
 * - `dense`: `eigh` of the d × d matrix `gammaForDirection(e)`; O(d³).
 * - `hidden`: for a factored Γ (Γ_o = Σ_t C[o,t]·½(D_a D_bᵀ + D_b D_aᵀ), D [r, d] the hidden-unit directions),
 *   Γ_e = Dᵀ M D with the symmetric r × r core M[a,b] = M[b,a] = ½ Σ_t (Σ_o e_o C[o,t]) over the terms (a, b)
 *   (a diagonal term adds its full weight to M[a,a]). With the thin SVD D = U S Vᵀ (U [r,p], V [d,p] orthonormal),
 *   Γ_e = V (S Uᵀ M U S) Vᵀ, so the nonzero eigenpairs of Γ_e are those of the small p × p matrix
 *   K = S Uᵀ M U S, eigenvectors mapped back by V. Singular values s ≤ rcond·s_max (rank deficiency, e.g. two
 *   identical hidden units) are dropped: their directions carry at most rcond of Γ_e's norm. All other eigenvalues
 *   of Γ_e are exactly 0 (its range lies in D's row space). Cost O(r²d + r³) instead of O(d³): 784-d inputs
 *   with 256 hidden units need a 256 × 256 eigenproblem. The SVD is used instead of the Gram matrix D Dᵀ because
 *   the Gram route squares D's condition number, and with it the error of the mapped-back eigenvectors.
 *   `auto` takes the hidden route whenever r < d and Γ is factored.
 *
 * Eigenvalues with |λ| ≤ zeroTol · max|λ| are treated as zero (default zeroTol = 16·d·ε, above the rounding
 * level of a backward-stable eigensolver), so both routes report the same nonzero spectrum.
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import { Matrix, assertFinite, symmetrizeInPlace } from '../linalg/matrix.js';
import { eigh, matmul, svd } from '../linalg/ops.js';
import type { FactoredGamma, PolynomialApproximant } from '../approx/result.js';

/** +1: positive mass dominant (the default); −1: negative mass dominant. */
export type Orientation = 1 | -1;

/** Which eigen-solver {@link gammaEigen} uses; `auto` prefers `hidden` when it is cheaper. */
export type EigenRoute = 'auto' | 'hidden' | 'dense';

/** What to decompose: one output (class) or a direction in output space. */
export type EigenTarget = { class: number } | { direction: ArrayLike<number> };

/** ‖max(v, 0)‖₂ and ‖min(v, 0)‖₂: how much of v's norm sits in its positive and in its negative entries. */
export function signedMass(v: ArrayLike<number>): { positive: number; negative: number } {
  let p = 0;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x > 0) p += x * x;
    else n += x * x;
  }
  return { positive: Math.sqrt(p), negative: Math.sqrt(n) };
}

/**
 * v or −v, whichever follows the sign convention: with `orientation = 1` positive mass dominates
 * (v is flipped iff ‖max(v,0)‖₂ < ‖min(v,0)‖₂), with `orientation = −1` negative mass dominates
 * (flipped iff ‖max(v,0)‖₂ > ‖min(v,0)‖₂). Ties keep v. Returns a new array.
 *
 * @throws NonFiniteError for NaN/infinite entries; InvalidArgumentError for another orientation
 */
export function orientEigenvector(v: ArrayLike<number>, orientation: Orientation = 1): Float64Array {
  checkOrientation(orientation);
  assertFinite(v, 'v');
  const { positive, negative } = signedMass(v);
  const flip = orientation === 1 ? positive < negative : positive > negative;
  const out = Float64Array.from(v);
  if (flip) for (let i = 0; i < out.length; i++) out[i] = -out[i]!;
  return out;
}

function checkOrientation(orientation: number): void {
  if (orientation !== 1 && orientation !== -1) throw new InvalidArgumentError(`orientation must be 1 or -1, got ${orientation}`);
}

/**
 * The output direction e of a target: one-hot for `{ class: c }`, a copy of the given vector otherwise.
 *
 * @param outputDim o
 * @throws InvalidArgumentError for a class outside [0, o) or an all-zero direction; ShapeError for a direction of
 *   another length; NonFiniteError for NaN/infinite entries
 */
export function outputDirection(outputDim: number, target: EigenTarget): Float64Array {
  if ('class' in target) {
    const c = target.class;
    if (!Number.isInteger(c) || c < 0 || c >= outputDim) throw new InvalidArgumentError(`class ${c} is out of range [0, ${outputDim})`);
    const e = new Float64Array(outputDim);
    e[c] = 1;
    return e;
  }
  const e = Float64Array.from(target.direction);
  if (e.length !== outputDim) throw new ShapeError(`direction has ${e.length} components but the approximant has ${outputDim} outputs`);
  assertFinite(e, 'direction');
  if (e.every((x) => x === 0)) throw new InvalidArgumentError('direction must not be all zeros');
  return e;
}

/**
 * The symmetric r × r core M with Γ_e = Dᵀ M D for a factored Γ (see the module documentation).
 *
 * @param gamma the factored Γ (directions D [r, d], terms, coefficients C [o, T])
 * @param e output direction [o]
 */
export function factoredGammaCore(gamma: FactoredGamma, e: Float64Array): Matrix {
  const { directions: D, termA, termB, coef } = gamma;
  const o = coef.rows;
  const T = termA.length;
  if (e.length !== o) throw new ShapeError(`direction has ${e.length} components but gamma has ${o} outputs`);
  const r = D.rows;
  const M = new Matrix(r, r);
  for (let t = 0; t < T; t++) {
    let w = 0;
    for (let c = 0; c < o; c++) w += e[c]! * coef.data[c * T + t]!;
    const a = termA[t]!;
    const b = termB[t]!;
    if (a < 0 || a >= r || b < 0 || b >= r) throw new ShapeError(`gamma term ${t} refers to direction (${a}, ${b}) outside [0, ${r})`);
    if (a === b) M.data[a * r + a]! += w;
    else {
      M.data[a * r + b]! += 0.5 * w;
      M.data[b * r + a]! += 0.5 * w;
    }
  }
  return M;
}

/** Eigenpairs of a symmetric matrix given in some representation. */
export interface SymmetricEigen {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** dim × values.length; column j is the unit eigenvector of values[j]. */
  vectors: Matrix;
}

/**
 * The eigenpairs of Dᵀ M D (d × d) on the row space of D, computed in r-dimensional space: with the thin SVD
 * D = U S Vᵀ, the eigenpairs (μ, z) of K = S Uᵀ M U S give the eigenpairs (μ, V z) of Dᵀ M D. Singular values
 * s ≤ rcond · s_max are dropped. Every eigenvalue of Dᵀ M D not returned is 0.
 *
 * @param D [r, d]
 * @param M [r, r], symmetric
 * @param opts.rcond relative cutoff for D's singular values; default max(r, d)·ε (numpy's matrix_rank default)
 * @returns eigenvalues ascending and the d × p eigenvectors (p = numerical rank of D)
 * @throws ShapeError if M is not r × r; InvalidArgumentError if M is not symmetric or rcond is bad;
 *   NonFiniteError for NaN/infinite entries
 */
export function hiddenSpaceEigen(D: Matrix, M: Matrix, opts: { rcond?: number } = {}): SymmetricEigen {
  const r = D.rows;
  const d = D.cols;
  if (M.rows !== r || M.cols !== r) throw new ShapeError(`M is ${M.rows}×${M.cols} but D has ${r} rows; M must be ${r}×${r}`);
  assertFinite(D.data, 'D');
  assertFinite(M.data, 'M');
  const rcond = opts.rcond ?? Math.max(r, d) * Number.EPSILON;
  if (!Number.isFinite(rcond) || rcond < 0) throw new InvalidArgumentError(`rcond must be a non-negative finite number, got ${rcond}`);
  const { U, S, Vt } = svd(D);
  const pFull = S.length;
  let p = 0;
  const cutoff = rcond * (pFull > 0 ? S[0]! : 0);
  while (p < pFull && S[p]! > cutoff) p++;
  if (p === 0) return { values: new Float64Array(0), vectors: new Matrix(d, 0) };
  // US = U[:, :p] · diag(S[:p]) (r × p); K = (US)ᵀ M (US).
  const US = new Matrix(r, p);
  for (let i = 0; i < r; i++) for (let j = 0; j < p; j++) US.data[i * p + j] = U.data[i * pFull + j]! * S[j]!;
  const K = matmul(US, matmul(M, US), { transA: true });
  symmetrizeInPlace(K.data, K.rows);
  const { values, vectors: Z } = eigh(K);
  // Eigenvectors of Γ: V[:, :p] · Z = (Vt[:p, :])ᵀ Z.
  const Vp = new Matrix(p, d, Vt.data.slice(0, p * d));
  const vectors = matmul(Vp, Z, { transA: true });
  return { values, vectors };
}

/** Result of {@link gammaEigen}. */
export interface GammaEigen extends SymmetricEigen {
  /** Input dimension d. */
  dim: number;
  /** The route actually taken. */
  route: 'hidden' | 'dense';
  /** The output direction e. */
  direction: Float64Array;
}

function checkQuadratic(approx: PolynomialApproximant): void {
  if (approx.gamma === null) {
    throw new InvalidArgumentError('the approximant has degree 1 (no gamma): eigen-features need a quadratic approximant');
  }
}

/**
 * The eigendecomposition of Γ_e = Σ_o e_o Γ_o. On the `dense` route all d eigenpairs; on the `hidden` route the
 * eigenpairs on the row space of the factored directions (every other eigenvalue is exactly 0).
 *
 * @param approx a degree-2 approximant
 * @param target a class or an output direction
 * @param opts.route default `auto` (hidden when Γ is factored with fewer directions than inputs)
 * @param opts.rcond cutoff of {@link hiddenSpaceEigen}
 * @throws InvalidArgumentError for a degree-1 approximant, a bad target, or `hidden` on a dense Γ
 */
export function gammaEigen(
  approx: PolynomialApproximant, target: EigenTarget, opts: { route?: EigenRoute; rcond?: number } = {},
): GammaEigen {
  checkQuadratic(approx);
  const e = outputDirection(approx.outputDim, target);
  const route = opts.route ?? 'auto';
  if (route !== 'auto' && route !== 'hidden' && route !== 'dense') {
    throw new InvalidArgumentError(`route must be auto, hidden or dense, got "${String(route)}"`);
  }
  const g = approx.gamma!;
  const d = approx.inputDim;
  const hiddenPossible = g.kind === 'factored';
  if (route === 'hidden' && !hiddenPossible) throw new InvalidArgumentError('the hidden-space route needs a factored gamma, but this approximant stores gamma densely');
  const useHidden = route === 'hidden' || (route === 'auto' && g.kind === 'factored' && g.directions.rows < d);
  if (useHidden && g.kind === 'factored') {
    const { values, vectors } = hiddenSpaceEigen(g.directions, factoredGammaCore(g, e), { rcond: opts.rcond });
    return { values, vectors, dim: d, route: 'hidden', direction: e };
  }
  const { values, vectors } = eigh(approx.gammaForDirection(e));
  return { values, vectors, dim: d, route: 'dense', direction: e };
}

/** One eigen-feature: an eigenvalue and its oriented unit eigenvector. */
export interface EigenFeature {
  value: number;
  vector: Float64Array;
}

/** Result of {@link eigenFeatures}. */
export interface EigenFeatures {
  /** Output direction e. */
  direction: Float64Array;
  /** Up to `top` features with λ > 0, largest λ first. */
  positive: EigenFeature[];
  /** Up to `top` features with λ < 0, most negative λ first. */
  negative: EigenFeature[];
  /** The nonzero eigenvalues (|λ| > zeroTol·max|λ|) in descending order. */
  spectrum: Float64Array;
  /** How many of the d eigenvalues are zero (d − spectrum.length). */
  zeros: number;
  route: 'hidden' | 'dense';
  orientation: Orientation;
}

/** Options of {@link eigenFeatures}. */
export interface EigenFeatureOptions {
  /** How many positive and how many negative features (default 3). */
  top?: number;
  /** Sign convention (default 1: positive mass dominant). */
  orientation?: Orientation;
  route?: EigenRoute;
  rcond?: number;
  /** Relative threshold below which eigenvalues count as 0; default 16·d·ε. */
  zeroTol?: number;
}

/**
 * Top-k positive and negative eigenvectors of Γ_e (oriented by the sign convention of the module documentation)
 * and the nonzero eigenvalue spectrum.
 *
 * @throws InvalidArgumentError for a degree-1 approximant, a bad target, `top` < 1 or a bad zeroTol
 */
export function eigenFeatures(approx: PolynomialApproximant, target: EigenTarget, opts: EigenFeatureOptions = {}): EigenFeatures {
  const top = opts.top ?? 3;
  if (!Number.isInteger(top) || top < 1) throw new InvalidArgumentError(`top must be a positive integer, got ${top}`);
  const orientation = opts.orientation ?? 1;
  checkOrientation(orientation);
  const d = approx.inputDim;
  const zeroTol = opts.zeroTol ?? 16 * Math.max(d, 1) * Number.EPSILON;
  if (!Number.isFinite(zeroTol) || zeroTol < 0) throw new InvalidArgumentError(`zeroTol must be a non-negative finite number, got ${zeroTol}`);
  const eig = gammaEigen(approx, target, { route: opts.route, rcond: opts.rcond });
  const { values, vectors } = eig;
  const m = values.length;
  let scale = 0;
  for (let j = 0; j < m; j++) scale = Math.max(scale, Math.abs(values[j]!));
  const cutoff = zeroTol * scale;
  const column = (j: number): Float64Array => {
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = vectors.data[i * m + j]!;
    return orientEigenvector(v, orientation);
  };
  const positive: EigenFeature[] = [];
  for (let j = m - 1; j >= 0 && positive.length < top && values[j]! > cutoff; j--) positive.push({ value: values[j]!, vector: column(j) });
  const negative: EigenFeature[] = [];
  for (let j = 0; j < m && negative.length < top && values[j]! < -cutoff; j++) negative.push({ value: values[j]!, vector: column(j) });
  const nonzero: number[] = [];
  for (let j = m - 1; j >= 0; j--) if (Math.abs(values[j]!) > cutoff) nonzero.push(values[j]!);
  return {
    direction: eig.direction,
    positive,
    negative,
    spectrum: Float64Array.from(nonzero),
    zeros: d - nonzero.length,
    route: eig.route,
    orientation,
  };
}
