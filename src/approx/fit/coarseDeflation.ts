/**
 * Coarse-space deflation of the mixture solver's preconditioner: an exact solve on a small space of polynomials,
 * combined with the base (pooled) inverse as the "adapted deflation" A-DEF2 of Tang, Nabben, Vuik & Erlangga
 * (J. Sci. Comput. 39, 2009):
 *
 *     M⁻¹_def r = y + Φ E⁻¹ Φᵀ(r − A y),   y = M⁻¹ r,   E = ΦᵀAΦ.
 *
 * It needs only ΦᵀA y, the moments of y projected on the coarse space (no d×d×d products), and is symmetric positive
 * definite for CG when every (re)start x satisfies Φᵀ(b − A x) = 0, which {@link DeflatedPreconditioner.coarseSolve}
 * provides (x ← x + Φ E⁻¹ Φᵀ r).
 *
 * The coarse spaces are the affine functions plus the quadratics that have one factor along a class-mean direction,
 *
 *     Φ = { a + bᵀx + xᵀ sym(D Cᵀ) x :  a ∈ ℝ, b ∈ ℝ^d, C ∈ ℝ^{d×J} },   sym(M) = (M + Mᵀ)/2,
 *
 * with D [d, J] an orthonormal basis of the class-mean differences μ_k − μ̄ (J ≤ K − 1) for
 * {@link meanDirectionDeflation}, and J = 0 (the affine functions alone) for {@link affineDeflation}. Why: the pooled
 * Gaussian gets the mixture's moments wrong mostly through the spread of the class means — it makes affine and
 * centred quadratic parts orthogonal, which the mean spread couples, and it underweights the quadratics x_i·(δᵀx)
 * that the mean shifts δ make heavy. Dimension n = 1 + d + d·J (MNIST: 7841, or 785 for the affine space), less the
 * coordinates of the pixels that are independent of the component ({@link keptCoarseIndices}; MNIST: 7171). In the
 * coordinates (a, b, C) the adjoint is Φᵀ(a, b, S) = (a, b, S D) (⟨S, sym(D Cᵀ)⟩_F = ⟨S D, C⟩_F), and Φ has the
 * kernel {C = D A : A antisymmetric}, which the coarse matrix E = ΦᵀAΦ gets a multiple of the identity on (it never
 * touches Φ E⁻¹ Φᵀ, since Φᵀ's range is orthogonal to it).
 *
 * Per component N(μ, Σ) with Y = ΣD, Z = DᵀΣD, ν = Dᵀμ, the moments of p = a + bᵀx + xᵀSx projected on Φ are
 * (Stein): E p = a + bᵀμ + tr(SΣ) + μᵀSμ, E[x p] = μ E p + g with g = Σ u, u = b + 2Sμ, and
 *
 *     E[x xᵀ p] D = 2ΣSY + E p·(Y + μνᵀ) + μ (Yᵀu)ᵀ + g νᵀ,
 *
 * the restricted operator ΦᵀA of the deflated preconditioner, without d×d×d products. The coarse matrix E = ΦᵀAΦ
 * itself is the Gaussian Gram matrix of the coarse functions, in closed form ({@link assembleCoarseMatrix}), factored
 * once and kept as row panels for the blocked triangular solves (linalg/packedCholesky.ts). The (re)start needs the
 * full image AΦc of its coarse solution; the coarse polynomials' S = sym(D Cᵀ) has rank ≤ 2J, so that is in closed
 * form as well ({@link coarseImage}), ≈ 0.2 s at MNIST size against ≈ 1.3–2 s for the operator on the lifted Φc.
 *
 * Measured (bench/mixture.ts, native, 2 cores): MNIST 14×14 (d = 196, scaled-pooled base) reaches 1e-8 in 66
 * operator applications with the mean-direction space, 97 with the affine one and 150 with none; at d = 784
 * (scaled-pooled base) the mean-direction space takes ≈ 7 s of setup, mostly the Cholesky factor of E at n = 7841
 * (it took 40 s when E was assembled by applying the coarse operator to the n unit vectors) and ≈ 0.2 s per
 * iteration (reading the factor once per solve is memory-bound), and the solve reaches 1e-8 after 103–110 operator
 * applications (144 with only the 5 leading mean directions; 168 without the preconditioner's rare-coordinate row
 * blocks); with the affine space alone the residual is 3.8e-6 after 60 applications. With the pooled base the
 * residual at 180 s was 1.6e-6 with this space, 1.6e-5 with the affine one and 1.2e-4 with none.
 */
import { NotPositiveDefiniteError } from '../../errors.js';
import type { LinAlgBackend } from '../../linalg/backend.js';
import { Matrix, principalSubmatricesInPlace } from '../../linalg/matrix.js';
import { eigh } from '../../linalg/ops.js';
import { PackedCholesky } from '../../linalg/packedCholesky.js';
import { blockRowOffsets, copyPlan, runCopyPlan, type CopyPlan } from '../../linalg/copyRuns.js';
import type { GaussianMixture } from '../inputModel.js';
import { componentIndependentCoordinates } from './coordinateSplit.js';
import { addAffineMoments, meanTerms, symmetrizeBlock, zeroQuadraticBlock, type MomentPreconditioner, type QuadraticBlock } from './quadraticBlock.js';

/** A preconditioner with an exact solve on a coarse space, to be applied at every (re)start of the iteration. */
export interface DeflatedPreconditioner extends MomentPreconditioner {
  /** Dimension of the coarse space. */
  readonly coarseDim: number;
  /**
   * Φ E⁻¹ Φᵀ r, the exact solution of A θ = r on the coarse space, and its image A Φ E⁻¹ Φᵀ r in closed form (so that
   * a (re)start gets its residual without an application of the full operator).
   */
  coarseSolve(r: QuadraticBlock): Promise<{ solution: QuadraticBlock; image: QuadraticBlock }>;
}

interface MeanComponent {
  w: number;
  mu: Float64Array;
  cov: Float64Array;
  /** ΣD [d, J]. */
  Y: Float64Array;
  /** DᵀΣD [J, J]. */
  Z: Float64Array;
  /** Dᵀμ [J]. */
  nu: Float64Array;
}

interface MeanSpace {
  d: number;
  J: number;
  n: number;
  /** [d, J], orthonormal columns. */
  D: Float64Array;
  comps: MeanComponent[];
  /** [K, d²]: the component covariances, one per row (read transposed, [d, K·d], they are Σ_k side by side). */
  covs: Float64Array;
  /**
   * [d, K + K·J]: the component means as columns, then the blocks π_kY_k = π_kΣ_kD side by side (weighted, so that
   * the regrouping of S_qπ_kY_k for the sandwich product is a plain copy).
   */
  meansY: Float64Array;
  /** [d, K]: the component means as columns. */
  means: Float64Array;
  /** [K, d·J]: F_k = Y_k + μ_kν_kᵀ, one per row (the part of E_k[x xᵀ p]D proportional to E_k p). */
  F: Float64Array;
  /** [K, J]: π_kν_k, one per row. */
  weightedNu: Float64Array;
  /** Copy plans per block size s: SMY [(q, i), K + (k, j)] → SYt [(k, i), (q, j)] (see restrictedOperator). */
  regroupPlans: Map<number, CopyPlan>;
}

/**
 * Largest coarse dimension 1 + d + d·J for which the solver's default deflation ('auto') uses this space: its dense
 * coarse matrix and its factor take 2·8·n² bytes at the peak of the setup (≈ 1 GB at n = 8192), the factor alone
 * 8·n² bytes afterwards.
 */
export const MEAN_DEFLATION_MAX_DIM = 8192;

/** The coarse dimension 1 + d + d·J of {@link meanDirectionDeflation} for a mixture (J = rank of the mean spread). */
export function meanDirectionCoarseDim(mix: GaussianMixture): number {
  return 1 + mix.dim * (1 + spreadRank(eigh(meanDifferences(mix).G).values));
}

/** M [d, K]: the differences μ_k − μ̄ of the components with positive weight as columns, and G = MᵀM. */
function meanDifferences(mix: GaussianMixture): { M: Float64Array; K: number; G: Matrix } {
  const d = mix.dim;
  const mbar = mix.mean();
  const keep = mix.components.filter((_, k) => mix.weights[k]! > 0);
  const K = keep.length;
  const M = new Float64Array(d * K);
  keep.forEach((g, c) => {
    for (let i = 0; i < d; i++) M[i * K + c] = g.mean[i]! - mbar[i]!;
  });
  const G = new Matrix(K, K);
  for (let a = 0; a < K; a++) {
    for (let b = 0; b < K; b++) {
      let t = 0;
      for (let i = 0; i < d; i++) t += M[i * K + a]! * M[i * K + b]!;
      G.data[a * K + b] = t;
    }
  }
  return { M, K, G };
}

/** Number of eigenvalues of the mean-difference Gram matrix above 1e-10 of the largest. */
function spreadRank(values: Float64Array): number {
  const top = values[values.length - 1] ?? 0;
  return top > 0 ? values.filter((v) => v > 1e-10 * top).length : 0;
}

/**
 * The A-DEF2 deflation of `base` over the affine functions plus the mean-direction quadratics (see the module
 * documentation), for the mixture `mix` as the operator sees it (already ridged).
 *
 * @throws NotPositiveDefiniteError if the coarse matrix cannot be factored (a singular mixture)
 */
export function meanDirectionDeflation(
  mix: GaussianMixture, base: MomentPreconditioner, backend: LinAlgBackend,
): Promise<DeflatedPreconditioner> {
  return deflation(meanSpace(mix, backend, true), base, backend);
}

/**
 * The A-DEF2 deflation of `base` over the affine functions alone (J = 0; coarse dimension d + 1, nearly free), for
 * the mixture `mix` as the operator sees it (already ridged).
 *
 * @throws NotPositiveDefiniteError if the mixture's second-moment matrix of (1, x) is singular
 */
export function affineDeflation(
  mix: GaussianMixture, base: MomentPreconditioner, backend: LinAlgBackend,
): Promise<DeflatedPreconditioner> {
  return deflation(meanSpace(mix, backend, false), base, backend);
}

async function deflation(
  space: MeanSpace, base: MomentPreconditioner, backend: LinAlgBackend, prune = true,
): Promise<DeflatedPreconditioner> {
  const { n } = space;
  const E = assembleCoarseMatrix(space, backend);
  backend.dsymmetrize(n, 1, E);
  addKernelShift(space, E, backend);
  const keep = prune ? keptCoarseIndices(space) : Int32Array.from({ length: n }, (_, i) => i);
  const m = keep.length;
  const kept = m < n ? principalSubmatricesInPlace(E, 1, n, keep) : E;
  try {
    await backend.dpotrfAsync(m, kept);
  } catch (e) {
    if (e instanceof NotPositiveDefiniteError) {
      throw new NotPositiveDefiniteError(`the coarse matrix of the deflation (dimension ${m}) is not positive definite${space.J > 0 ? "; use deflation 'affine'" : ''}`);
    }
    throw e;
  }
  const factor = new PackedCholesky(kept, m);
  // Coefficients [s, n] in, the kept ones as columns [m, s] to the factor, and back with zeros on the others.
  const solve = (t: Float64Array, s: number): Float64Array => {
    const cols = new Float64Array(m * s);
    for (let q = 0; q < s; q++) for (let i = 0; i < m; i++) cols[i * s + q] = t[q * n + keep[i]!]!;
    const x = factor.solve(cols, s, backend);
    const out = new Float64Array(s * n);
    for (let q = 0; q < s; q++) for (let i = 0; i < m; i++) out[q * n + keep[i]!] = x[i * s + q]!;
    return out;
  };
  return {
    coarseDim: m,
    async coarseSolve(r) {
      const c = solve(restrict(space, r, backend), r.count);
      const solution = zeroQuadraticBlock(r.count, space.d);
      lift(space, c, r.count, solution, backend);
      return { solution, image: await coarseImage(space, c, r.count, backend) };
    },
    async apply(r) {
      const y = await base.apply(r);
      const t = restrict(space, r, backend);
      subtractInPlace(t, await restrictedOperator(space, y, backend));
      lift(space, solve(t, r.count), r.count, y, backend);
      return y;
    },
  };
}

/**
 * The coarse coordinates kept: all but b_t and the row C[t, ·] of every coordinate t that is independent of the
 * component and of the other coordinates (decoupled in every component, with one mean and one variance throughout;
 * MNIST: the 67 pixels dark in every training image, 670 of the 7841 coarse coordinates). Such a t splits the
 * quadratics into the functions (x_t − m_t)·g(x), g affine and free of x_t, and the rest: the mixture's moments and
 * the pooled Gaussian's agree on the first kind (v_t times the second moments of g, which pooling keeps), and
 * neither couples them to the rest. With the pooled inverse as the base (rescaled or not) the preconditioned operator
 * is the identity there, and deflating them changes nothing but the cost: the coarse solve reads a factor of
 * (n − |T|(J + 1))² entries per iteration instead of n². Their mean-direction quadratics x_t·(δᵀx) have δ_t = 0 and
 * lie in that class too. The rare-coordinate row blocks of the default base are an additive split that is not exact
 * on these functions; with them the two deflations are different valid preconditioners (MNIST: 90 operator
 * applications either way).
 */
function keptCoarseIndices(space: MeanSpace): Int32Array {
  const { d, J, comps } = space;
  const independent = new Uint8Array(d);
  for (const t of componentIndependentCoordinates(comps.map((c) => ({ mean: c.mu, cov: c.cov })), d)) independent[t] = 1;
  const keep: number[] = [0];
  for (let t = 0; t < d; t++) if (independent[t] === 0) keep.push(1 + t);
  for (let t = 0; t < d; t++) if (independent[t] === 0) for (let j = 0; j < J; j++) keep.push(1 + d + t * J + j);
  return Int32Array.from(keep);
}

/** t ← t − u (a synchronous helper, like the other element loops; see restrictedOperator). */
function subtractInPlace(t: Float64Array, u: Float64Array): void {
  for (let i = 0; i < t.length; i++) t[i]! -= u[i]!;
}

/** The coarse space: with `meanDirections` false, J = 0 (the affine functions only). */
function meanSpace(mix: GaussianMixture, backend: LinAlgBackend, meanDirections: boolean): MeanSpace {
  const d = mix.dim;
  const keep = mix.components.map((_, k) => k).filter((k) => mix.weights[k]! > 0);
  // D from the eigenvectors of the K×K Gram matrix of the mean differences.
  const { M, K, G } = meanDifferences(mix);
  const { values, vectors } = eigh(G);
  // Eigenvalues ascend: the J = spreadRank(values) largest span the mean differences.
  const J = meanDirections ? spreadRank(values) : 0;
  const cols = Array.from({ length: J }, (_, j) => K - J + j);
  const D = new Float64Array(d * J);
  cols.forEach((c, j) => {
    const f = 1 / Math.sqrt(values[c]!);
    for (let i = 0; i < d; i++) {
      let v = 0;
      for (let k = 0; k < K; k++) v += M[i * K + k]! * vectors.data[k * K + c]!;
      D[i * J + j] = v * f;
    }
  });
  const comps = keep.map((k) => {
    const g = mix.components[k]!;
    const cov = g.covariance().data;
    const Y = new Float64Array(d * J);
    backend.dgemm(false, false, d, J, d, 1, cov, D, 0, Y);
    const Z = new Float64Array(J * J);
    backend.dgemm(true, false, J, J, d, 1, D, Y, 0, Z);
    const nu = new Float64Array(J);
    backend.dgemm(true, false, J, 1, d, 1, D, g.mean, 0, nu);
    return { w: mix.weights[k]!, mu: g.mean, cov, Y, Z, nu };
  });
  const Kc = comps.length;
  const covs = new Float64Array(Kc * d * d);
  const width = Kc + Kc * J;
  const meansY = new Float64Array(d * width);
  const means = new Float64Array(d * Kc);
  const F = new Float64Array(Kc * d * J);
  const weightedNu = new Float64Array(Kc * J);
  comps.forEach((c, k) => {
    covs.set(c.cov, k * d * d);
    for (let j = 0; j < J; j++) weightedNu[k * J + j] = c.w * c.nu[j]!;
    for (let i = 0; i < d; i++) {
      meansY[i * width + k] = c.mu[i]!;
      means[i * Kc + k] = c.mu[i]!;
      for (let j = 0; j < J; j++) {
        meansY[i * width + Kc + k * J + j] = c.w * c.Y[i * J + j]!;
        F[k * d * J + i * J + j] = c.Y[i * J + j]! + c.mu[i]! * c.nu[j]!;
      }
    }
  });
  return { d, J, n: 1 + d + d * J, D, comps, covs, meansY, means, F, weightedNu, regroupPlans: new Map() };
}

/** E += τ·Σ κκᵀ over an orthonormal basis κ of ker Φ (C = D A, A antisymmetric), τ the mean diagonal of E. */
function addKernelShift(space: MeanSpace, E: Float64Array, backend: LinAlgBackend): void {
  const { d, J, n, D } = space;
  const P = (J * (J - 1)) / 2;
  if (P === 0) return;
  let tau = 0;
  for (let i = 0; i < n; i++) tau += E[i * n + i]!;
  tau /= n;
  const off = 1 + d;
  // The basis as the columns of κ [n, P] (each non-zero only in the columns a and b of C: 2d entries), then one
  // product E += τ κκᵀ.
  const kappa = new Float64Array(n * P);
  let p = 0;
  for (let a = 0; a < J; a++) {
    for (let b = a + 1; b < J; b++, p++) {
      // A = e_a e_bᵀ − e_b e_aᵀ: column b of C = D A is D_a, column a is −D_b; norm √2.
      for (let i = 0; i < d; i++) {
        kappa[(off + i * J + b) * P + p] = D[i * J + a]! / Math.SQRT2;
        kappa[(off + i * J + a) * P + p] = -D[i * J + b]! / Math.SQRT2;
      }
    }
  }
  backend.dgemm(false, true, n, n, P, tau, kappa, kappa, 1, E);
}

/** Φᵀθ = (a, b, S D) per output [count, n]. */
function restrict(space: MeanSpace, x: QuadraticBlock, backend: LinAlgBackend): Float64Array {
  const { d, J, n, D } = space;
  const s = x.count;
  const SD = new Float64Array(s * d * J);
  backend.dgemm(false, false, s * d, J, d, 1, x.S, D, 0, SD);
  const out = new Float64Array(s * n);
  for (let q = 0; q < s; q++) {
    out[q * n] = x.a[q]!;
    out.set(x.b.subarray(q * d, (q + 1) * d), q * n + 1);
    out.set(SD.subarray(q * d * J, (q + 1) * d * J), q * n + 1 + d);
  }
  return out;
}

/** into += Φc for coefficient rows c [count, n]: a += c_a, b += c_b, S += sym(D Cᵀ) = ½[D, C][C, D]ᵀ. */
function lift(space: MeanSpace, c: Float64Array, s: number, into: QuadraticBlock, backend: LinAlgBackend): void {
  const { d, J, n, D } = space;
  const d2 = d * d;
  const left = new Float64Array(d * 2 * J);
  const right = new Float64Array(d * 2 * J);
  for (let q = 0; q < s; q++) {
    into.a[q]! += c[q * n]!;
    for (let i = 0; i < d; i++) into.b[q * d + i]! += c[q * n + 1 + i]!;
    if (J === 0) continue;
    const C = c.subarray(q * n + 1 + d, (q + 1) * n);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < J; j++) {
        left[i * 2 * J + j] = D[i * J + j]!;
        left[i * 2 * J + J + j] = C[i * J + j]!;
        right[i * 2 * J + j] = C[i * J + j]!;
        right[i * 2 * J + J + j] = D[i * J + j]!;
      }
    }
    backend.dgemm(false, true, d, d, 2 * J, 0.5, left, right, 1, into.S.subarray(q * d2, (q + 1) * d2));
  }
}

/**
 * AΦc for coefficient rows c [count, n]: the moments (E p, E[x p], E[x xᵀ p]) of the coarse polynomials
 * p = a + bᵀx + xᵀSx, S = sym(D Cᵀ), in closed form. Per component N(μ, Σ) with Y = ΣD and ν = Dᵀμ: tr(SΣ) = ⟨Y, C⟩_F,
 * Sμ = ½(D Cᵀμ + C ν), u = b + 2Sμ, g = Σu, and E[x xᵀ p] = Y(ΣC)ᵀ + (ΣC)Yᵀ + E p·(Σ + μμᵀ) + μgᵀ + gμᵀ
 * (2ΣSΣ = Y(ΣC)ᵀ + (ΣC)Yᵀ). The rank-(J + 1) terms of all components are one product [d, K(J + 1)]·[K(J + 1), d]
 * per output: (2J + 3)·K·s·d² multiply-adds in all (ΣC, g, the rank terms and the E p·Σ terms; MNIST: 1.3 G for ten
 * outputs), against ≈ 36 G for the operator on the lifted Φc.
 */
async function coarseImage(space: MeanSpace, c: Float64Array, s: number, backend: LinAlgBackend): Promise<QuadraticBlock> {
  const { d, J, n, D, comps, covs, means } = space;
  const K = comps.length;
  const out = zeroQuadraticBlock(s, d);
  // The affine coefficients as a block, for meanTerms.
  const affine: QuadraticBlock = { count: s, dim: d, a: new Float64Array(s), b: new Float64Array(s * d), S: new Float64Array(0) };
  for (let q = 0; q < s; q++) {
    affine.a[q] = c[q * n]!;
    affine.b.set(c.subarray(q * n + 1, q * n + 1 + d), q * d);
  }
  // SM [(q, i), k] = (S_q μ_k)_i and T [q, k] = tr(S_qΣ_k) (both zero without mean directions).
  const SM = new Float64Array(s * d * K);
  const T = new Float64Array(s * K);
  let CW: Float64Array[] = [];
  if (J > 0) {
    const Nu = new Float64Array(J * K);
    const Yrows = new Float64Array(K * d * J);
    comps.forEach((m, k) => {
      for (let j = 0; j < J; j++) Nu[j * K + k] = m.nu[j]!;
      Yrows.set(m.Y, k * d * J);
    });
    const CtMu = new Float64Array(J * K);
    for (let q = 0; q < s; q++) {
      const Cq = c.subarray(q * n + 1 + d, (q + 1) * n);
      const SMq = SM.subarray(q * d * K, (q + 1) * d * K);
      backend.dgemm(true, false, J, K, d, 1, Cq, means, 0, CtMu);
      backend.dgemm(false, false, d, K, J, 0.5, D, CtMu, 0, SMq);
      backend.dgemm(false, false, d, K, J, 0.5, Cq, Nu, 1, SMq);
    }
    // T = [C_1; …; C_s]·[Y_1, …, Y_K] over the flattened d·J entries.
    const Crows = new Float64Array(s * d * J);
    for (let q = 0; q < s; q++) Crows.set(c.subarray(q * n + 1 + d, (q + 1) * n), q * d * J);
    backend.dgemm(false, true, s, K, d * J, 1, Crows, Yrows, 0, T);
    // ΣC for every component and output: C_all [d, (q, j)], then Σ_k·C_all.
    const Call = coarseDirections(c, s, d, J, n);
    CW = comps.map(() => new Float64Array(d * s * J));
    for (let k = 0; k < K; k++) await backend.dgemmAsync(false, false, d, s * J, d, 1, comps[k]!.cov, Call, 0, CW[k]!);
  }
  // Per component: E_kq, u_kq (meanTerms), g_kq = Σ_k u_kq.
  const Ep = new Float64Array(s);
  const u = new Float64Array(s * d);
  const g = comps.map(() => new Float64Array(s * d));
  const WE = new Float64Array(s * K);
  for (let k = 0; k < K; k++) {
    const m = comps[k]!;
    meanTerms(affine, SM, K, k, m.mu, u, Ep);
    await backend.dgemmAsync(false, false, s, d, d, 1, u, m.cov, 0, g[k]!);
    addTrace(m.w, Ep, T, k, K, WE);
    addAffineMoments(m.w, m.mu, Ep, g[k]!, out);
  }
  // 2M_q = 2·[π_kY_k | π_k(g_kq + ½E_kqμ_k)]·[Σ_kC_q | μ_k]ᵀ, then M_q + M_qᵀ by the symmetrisation, then the
  // E_kqπ_kΣ_k terms as one product over the components.
  const width = K * J + K;
  const L = new Float64Array(d * width);
  const R = new Float64Array(d * width);
  const d2 = d * d;
  for (let q = 0; q < s; q++) {
    imageFactors(comps, CW, g, WE, q, s, d, J, L, R);
    backend.dgemm(false, true, d, d, width, 2, L, R, 0, out.S.subarray(q * d2, (q + 1) * d2));
  }
  symmetrizeBlock(out, backend);
  await backend.dgemmAsync(false, false, s, d2, K, 1, WE, covs, 1, out.S);
  return out;
}

/** C_all [d, s·J] with C_all[i, (q, j)] = C_q[i, j], C_q the direction coefficients of row q of c. */
function coarseDirections(c: Float64Array, s: number, d: number, J: number, n: number): Float64Array {
  const Call = new Float64Array(d * s * J);
  for (let q = 0; q < s; q++) {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < J; j++) Call[i * s * J + q * J + j] = c[q * n + 1 + d + i * J + j]!;
    }
  }
  return Call;
}

/** E_kq = Ep_q + T[q, k] in place (meanTerms leaves out the trace), and WE[q, k] = wE_kq. */
function addTrace(w: number, Ep: Float64Array, T: Float64Array, k: number, K: number, WE: Float64Array): void {
  for (let q = 0; q < Ep.length; q++) {
    Ep[q]! += T[q * K + k]!;
    WE[q * K + k] = w * Ep[q]!;
  }
}

/** The factors of {@link coarseImage}'s rank terms for output q: L = [π_kY_k | π_k(g_kq + ½E_kqμ_k)], R = [Σ_kC_q | μ_k]. */
function imageFactors(
  comps: readonly MeanComponent[], CW: readonly Float64Array[], g: readonly Float64Array[], WE: Float64Array, q: number, s: number,
  d: number, J: number, L: Float64Array, R: Float64Array,
): void {
  const K = comps.length;
  const width = K * J + K;
  for (let k = 0; k < K; k++) {
    const { w, mu, Y } = comps[k]!;
    const half = 0.5 * WE[q * K + k]!;
    for (let i = 0; i < d; i++) {
      const row = i * width;
      for (let j = 0; j < J; j++) {
        L[row + k * J + j] = w * Y[i * J + j]!;
        R[row + k * J + j] = CW[k]![i * s * J + q * J + j]!;
      }
      L[row + K * J + k] = w * g[k]![q * d + i]! + half * mu[i]!;
      R[row + K * J + k] = mu[i]!;
    }
  }
}

/**
 * ΦᵀAθ per output [count, n] for a fine block θ: (E p, E[x p], E[x xᵀ p] D) summed over the components (module
 * documentation), without the d×d×d products of the full operator. Everything of size count·d·J or more is a
 * matrix product or a native copy: the direction rows as JavaScript loops (per component) and a JavaScript
 * regrouping took ≈ 45 ms of the ≈ 175 ms of an application at MNIST size. The remaining element loops live in
 * synchronous helpers: a loop of this kind ran ≈ 4× slower inside an async function (Node 20; not true of every loop).
 */
async function restrictedOperator(space: MeanSpace, x: QuadraticBlock, backend: LinAlgBackend): Promise<Float64Array> {
  const { d, J, n, comps, covs, meansY, means, F, weightedNu } = space;
  const s = x.count;
  const K = comps.length;
  const width = K + K * J;
  const out = new Float64Array(s * n);
  // One pass over the S blocks for all components: SMY[(q, i), ·] = ((S_q μ_k)_i for every k, π_k(S_q Y_k)_i· for
  // every k), and T[q, k] = tr(S_qΣ_k) = ⟨S_q, Σ_k⟩_F.
  const SMY = new Float64Array(s * d * width);
  await backend.dgemmAsync(false, false, s * d, width, d, 1, x.S, meansY, 0, SMY);
  const T = new Float64Array(s * K);
  await backend.dgemmAsync(false, true, s, K, d * d, 1, x.S, covs, 0, T);
  const Ep = new Float64Array(s);
  const u = new Float64Array(s * d);
  const g = new Float64Array(s * d);
  const Ytu = new Float64Array(s * J);
  // Per component, for the direction rows below: π_kE_q [s, K], g_qk as column k of G [(q, i), K] and π_k Yᵀu_qk
  // as row k of block q of WYtu [s, K, J].
  const WE = new Float64Array(s * K);
  const G = new Float64Array(J === 0 ? 0 : s * d * K);
  const WYtu = new Float64Array(s * K * J);
  for (let k = 0; k < K; k++) {
    const c = comps[k]!;
    // Ep_q = a_q + b_qᵀμ + μᵀS_qμ + tr(S_qΣ) and u_q = b_q + 2S_qμ (S_qμ_k in column k of SMY).
    meanTerms(x, SMY, width, k, c.mu, u, Ep);
    for (let q = 0; q < s; q++) Ep[q]! += T[q * K + k]!;
    await backend.dgemmAsync(false, false, s, d, d, 1, u, c.cov, 0, g);
    addAffineRows(c.w, c.mu, Ep, g, s, d, n, out);
    if (J === 0) continue;
    backend.dgemm(false, false, s, J, d, 1, u, c.Y, 0, Ytu);
    keepDirectionFactors(c.w, k, K, J, d, Ep, g, Ytu, WE, G, WYtu);
  }
  if (J > 0) {
    // DIR [(q, i), j] = Σ_k π_k(E_qk(Y_k + μ_kν_kᵀ)_ij + μ_k,i(Y_kᵀu_qk)_j + g_qk,i ν_k,j): three products over k.
    const DIR = new Float64Array(s * d * J);
    backend.dgemm(false, false, s * d, J, K, 1, G, weightedNu, 0, DIR);
    backend.dgemm(false, false, s, d * J, K, 1, WE, F, 1, DIR);
    for (let q = 0; q < s; q++) {
      backend.dgemm(false, false, d, J, K, 1, means, WYtu.subarray(q * K * J, (q + 1) * K * J), 1, DIR.subarray(q * d * J, (q + 1) * d * J));
    }
    // Σ_k π_k Σ_k S_q Y_k for every q as one product [Σ_1, …, Σ_K]·SYt, SYt [(k, i), (q, j)] = π_k(S_qY_k)_ij.
    const SYt = new Float64Array(K * d * s * J);
    runCopyPlan(backend, regroupPlan(space, s), SMY, SYt);
    const CSY = new Float64Array(d * s * J);
    await backend.dgemmAsync(true, false, d, s * J, K * d, 1, covs, SYt, 0, CSY);
    addDirectionRows(DIR, CSY, s, d, J, n, out);
  }
  return out;
}

/** out[q, 0] += w·Ep_q and out[q, 1 + i] += w·(μ_i Ep_q + g_q,i) (the constant and linear rows). */
function addAffineRows(w: number, mu: Float64Array, Ep: Float64Array, g: Float64Array, s: number, d: number, n: number, out: Float64Array): void {
  for (let q = 0; q < s; q++) {
    const e = Ep[q]!;
    out[q * n]! += w * e;
    for (let i = 0; i < d; i++) out[q * n + 1 + i]! += w * (mu[i]! * e + g[q * d + i]!);
  }
}

/** WE[q, k] = wE_q, G[(q, i), k] = g_q,i and WYtu[q, k, ·] = w·Ytu[q, ·] for component k (see restrictedOperator). */
function keepDirectionFactors(
  w: number, k: number, K: number, J: number, d: number, Ep: Float64Array, g: Float64Array, Ytu: Float64Array,
  WE: Float64Array, G: Float64Array, WYtu: Float64Array,
): void {
  const s = Ep.length;
  for (let q = 0; q < s; q++) {
    WE[q * K + k] = w * Ep[q]!;
    for (let i = 0; i < d; i++) G[(q * d + i) * K + k] = g[q * d + i]!;
    for (let j = 0; j < J; j++) WYtu[(q * K + k) * J + j] = w * Ytu[q * J + j]!;
  }
}

/**
 * The copy plan SMY [(q, i), K + (k, j)] → SYt [(k, i), (q, j)] for blocks of s outputs: row (q, i) of SMY has one
 * run of J columns per component k, which lands at row (k, i), columns (q, ·) of SYt.
 */
function regroupPlan(space: MeanSpace, s: number): CopyPlan {
  const cached = space.regroupPlans.get(s);
  if (cached !== undefined) return cached;
  const { d, J } = space;
  const K = space.comps.length;
  const width = K + K * J;
  const runs = new Int32Array(3 * K);
  for (let k = 0; k < K; k++) {
    runs[3 * k] = K + k * J;
    runs[3 * k + 1] = k * d * s * J;
    runs[3 * k + 2] = J;
  }
  const plan = copyPlan(blockRowOffsets(d, s, 'tq', (i, q) => [(q * d + i) * width, i * s * J + q * J]), runs, false);
  space.regroupPlans.set(s, plan);
  return plan;
}

/** out[q, 1 + d + (i, j)] += DIR[(q, i), j] + 2·CSY[i, (q, j)]. */
function addDirectionRows(DIR: Float64Array, CSY: Float64Array, s: number, d: number, J: number, n: number, out: Float64Array): void {
  for (let q = 0; q < s; q++) {
    const o = q * n + 1 + d;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < J; j++) out[o + i * J + j]! += DIR[(q * d + i) * J + j]! + 2 * CSY[i * s * J + q * J + j]!;
    }
  }
}

/**
 * E = ΦᵀAΦ [n, n] in closed form. For coarse functions p, p' with coefficients c, c' and every component,
 * E_k[p p'] = E_k p·E_k p' + uᵀΣu' + 2 tr(SΣS'Σ) (Gaussian: the odd central moments vanish), where for
 * c = (a, b, C) and S = sym(DCᵀ)
 *
 *     E_k p = a + bᵀμ + ⟨C, Y + μνᵀ⟩,   u = b + 2Sμ = b + D(Cᵀμ) + Cν,   2 tr(SΣS'Σ) = tr(CᵀY C'ᵀY) + tr(CᵀΣC' Z).
 *
 * On unit coefficients (C = e_i e_jᵀ, C' = e_i' e_j'ᵀ) the terms besides E_k p·E_k p' are
 *
 *     b_i  b_i':       Σ_ii'
 *     b_i  C_i'j':     μ_i' Y_ij' + ν_j' Σ_ii'
 *     C_ij C_i'j':     Σ_ii' (Z + ννᵀ)_jj' + μ_iμ_i' Z_jj' + Y_ij' Y_i'j + μ_i ν_j' Y_i'j + ν_j μ_i' Y_ij'
 *
 * (nothing on the constant a), summed over the components with their weights by small matrix products per row
 * block: O(K·d²·J²) flops, seconds at MNIST size.
 */
function assembleCoarseMatrix(space: MeanSpace, backend: LinAlgBackend): Float64Array {
  const { d, J, n, comps } = space;
  const K = comps.length;
  const K2 = 2 * K;
  const J2 = J * J;
  const off = 1 + d;
  const E = new Float64Array(n * n);
  // Shared right factors: kron [2K, J²] holds Z_k + ν_kν_kᵀ (row k) and Z_k (row K + k); swapLeft [d·J, 2K] holds
  // Y_k[i', j] (column k) and μ_k,i' ν_k,j (column K + k) in row (i', j).
  const kron = new Float64Array(K2 * J2);
  const swapLeft = new Float64Array(d * J * K2);
  comps.forEach(({ mu, Y, Z, nu }, k) => {
    for (let j = 0; j < J; j++) {
      for (let l = 0; l < J; l++) {
        kron[k * J2 + j * J + l] = Z[j * J + l]! + nu[j]! * nu[l]!;
        kron[(K + k) * J2 + j * J + l] = Z[j * J + l]!;
      }
    }
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < J; j++) {
        swapLeft[(i * J + j) * K2 + k] = Y[i * J + j]!;
        swapLeft[(i * J + j) * K2 + K + k] = mu[i]! * nu[j]!;
      }
    }
  });
  const left = new Float64Array(d * K2);
  const right = new Float64Array(K2 * J);
  const kronPart = new Float64Array(d * J2);
  const swapPart = new Float64Array(d * J * J);
  for (let i = 0; i < d; i++) {
    const bRow = (1 + i) * n;
    // b_i against b: Σ_k w_k Σ_k[i, ·].
    for (const { w, cov } of comps) for (let t = 0; t < d; t++) E[bRow + 1 + t]! += w * cov[i * d + t]!;
    if (J === 0) continue;
    // b_i against C: [i', j'] = left [d, 2K]·right [2K, J] with left = (μ_k,i', w_k Σ_k[i, i']) and
    // right = (w_k Y_k[i, j'], ν_k,j').
    comps.forEach(({ w, mu, cov, Y, nu }, k) => {
      for (let t = 0; t < d; t++) {
        left[t * K2 + k] = mu[t]!;
        left[t * K2 + K + k] = w * cov[i * d + t]!;
      }
      for (let j = 0; j < J; j++) {
        right[k * J + j] = w * Y[i * J + j]!;
        right[(K + k) * J + j] = nu[j]!;
      }
    });
    backend.dgemm(false, false, d, J, K2, 1, left, right, 0, E.subarray(bRow + off, bRow + n));
    // C_ij against C, the Kronecker terms: [i', (j, j')] = left·kron with left = (w_k Σ_k[i, i'], w_k μ_k,i μ_k,i').
    comps.forEach(({ w, mu, cov }, k) => {
      for (let t = 0; t < d; t++) {
        left[t * K2 + k] = w * cov[i * d + t]!;
        left[t * K2 + K + k] = w * mu[i]! * mu[t]!;
      }
    });
    backend.dgemm(false, false, d, J2, K2, 1, left, kron, 0, kronPart);
    // ... and the swapped ones: [(i', j), j'] = swapLeft·right with right = (w_k (Y_k[i, j'] + μ_k,i ν_k,j'), w_k Y_k[i, j']).
    comps.forEach(({ w, mu, Y, nu }, k) => {
      for (let j = 0; j < J; j++) {
        right[k * J + j] = w * (Y[i * J + j]! + mu[i]! * nu[j]!);
        right[(K + k) * J + j] = w * Y[i * J + j]!;
      }
    });
    backend.dgemm(false, false, d * J, J, K2, 1, swapLeft, right, 0, swapPart);
    for (let j = 0; j < J; j++) {
      const row = (off + i * J + j) * n + off;
      for (let t = 0; t < d; t++) {
        const kr = t * J2 + j * J;
        const sw = (t * J + j) * J;
        const to = row + t * J;
        for (let l = 0; l < J; l++) E[to + l] = kronPart[kr + l]! + swapPart[sw + l]!;
      }
    }
  }
  // The C–b block mirrors the b–C block.
  for (let i = 0; i < d; i++) for (let c = off; c < n; c++) E[c * n + 1 + i] = E[(1 + i) * n + c]!;
  // Σ_k w_k e_k e_kᵀ with e_k = (1, μ, vec(Y + μνᵀ)): one product [n, K]·[K, n].
  const e = new Float64Array(n * K);
  const ew = new Float64Array(n * K);
  comps.forEach(({ w, mu, Y, nu }, k) => {
    e[k] = 1;
    for (let i = 0; i < d; i++) {
      e[(1 + i) * K + k] = mu[i]!;
      for (let j = 0; j < J; j++) e[(off + i * J + j) * K + k] = Y[i * J + j]! + mu[i]! * nu[j]!;
    }
    for (let r = 0; r < n; r++) ew[r * K + k] = w * e[r * K + k]!;
  });
  backend.dgemm(false, true, n, n, K, 1, e, ew, 1, E);
  return E;
}

/** Exposed for tests: the coarse pieces of {@link meanDirectionDeflation} for a mixture. */
export function meanDirectionCoarseForTests(mix: GaussianMixture, backend: LinAlgBackend): {
  n: number;
  restrict(x: QuadraticBlock): Float64Array;
  lift(c: Float64Array, s: number): QuadraticBlock;
  restrictedOperator(x: QuadraticBlock): Promise<Float64Array>;
  /** E = ΦᵀAΦ as assembled (before the shift on the kernel of Φ). */
  coarseMatrix(): Float64Array;
  /** The deflation of `base` over this space, with (as in production) or without the independent coordinates. */
  deflation(base: MomentPreconditioner, prune: boolean): Promise<DeflatedPreconditioner>;
} {
  const space = meanSpace(mix, backend, true);
  return {
    n: space.n,
    restrict: (x) => restrict(space, x, backend),
    lift: (c, s) => {
      const out = zeroQuadraticBlock(s, space.d);
      lift(space, c, s, out, backend);
      symmetrizeBlock(out);
      return out;
    },
    restrictedOperator: (x) => restrictedOperator(space, x, backend),
    coarseMatrix: () => assembleCoarseMatrix(space, backend),
    deflation: (base, prune) => deflation(space, base, backend, prune),
  };
}
