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
 * that the mean shifts δ make heavy. Dimension n = 1 + d + d·J (MNIST: 7841, or 785 for the affine space). In the
 * coordinates (a, b, C) the adjoint is Φᵀ(a, b, S) = (a, b, S D) (⟨S, sym(D Cᵀ)⟩_F = ⟨S D, C⟩_F), and Φ has the
 * kernel {C = D A : A antisymmetric}, which the coarse matrix E = ΦᵀAΦ gets a multiple of the identity on (it never
 * touches Φ E⁻¹ Φᵀ, since Φᵀ's range is orthogonal to it).
 *
 * Per component N(μ, Σ) with Y = ΣD, Z = DᵀΣD, ν = Dᵀμ, the moments of p = a + bᵀx + xᵀSx projected on Φ are
 * (Stein): E p = a + bᵀμ + tr(SΣ) + μᵀSμ, E[x p] = μ E p + g with g = Σ u, u = b + 2Sμ, and
 *
 *     E[x xᵀ p] D = 2ΣSY + E p·(Y + μνᵀ) + μ (Yᵀu)ᵀ + g νᵀ,
 *
 * where for S = sym(D Cᵀ): tr(SΣ) = ⟨C, Y⟩, 2Sμ = D(Cᵀμ) + Cν, μᵀSμ = νᵀ(Cᵀμ) and 2ΣSY = Y (CᵀY) + (ΣC) Z.
 * E is assembled by applying that coarse operator to the unit vectors in batches, then factored once.
 *
 * Measured (bench/mixture.ts, native, 2 cores): MNIST 14×14 (d = 196, scaled-pooled base) reaches 1e-8 in 66
 * operator applications with the mean-direction space, 97 with the affine one and 150 with none; at d = 784 (pooled
 * base) the residual at 180 s is 1.6e-6 with the mean-direction space (after ≈ 45 s of setup, ≈ 1 s more per
 * iteration, 2.05 GiB peak RSS), 1.6e-5 with the affine one and 1.2e-4 with none.
 */
import { NotPositiveDefiniteError } from '../../errors.js';
import type { LinAlgBackend } from '../../linalg/backend.js';
import { Matrix } from '../../linalg/matrix.js';
import { eigh } from '../../linalg/ops.js';
import type { GaussianMixture } from '../inputModel.js';
import { symmetrizeBlock, zeroQuadraticBlock, type MomentPreconditioner, type QuadraticBlock } from './quadraticBlock.js';

/** A preconditioner with an exact solve on a coarse space, to be applied at every (re)start of the iteration. */
export interface DeflatedPreconditioner extends MomentPreconditioner {
  /** Dimension of the coarse space. */
  readonly coarseDim: number;
  /** Φ E⁻¹ Φᵀ r: the exact solution of A θ = r on the coarse space. */
  coarseSolve(r: QuadraticBlock): Promise<QuadraticBlock>;
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
  /** [d, K]: the component means as columns. */
  meansT: Float64Array;
  /** [K, d²]: the component covariances, one per row. */
  covs: Float64Array;
}

/**
 * Largest coarse dimension 1 + d + d·J for which the solver's default deflation ('auto') uses this space: its dense
 * coarse matrix and factor take 2·8·n² bytes (≈ 1 GB at n = 8192) and assembling it ≈ 1 minute at MNIST size.
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

/** Basis vectors per batch when the coarse matrix is assembled (work arrays of about 4·batch·d·J doubles). */
const ASSEMBLY_BATCH = 512;

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

async function deflation(space: MeanSpace, base: MomentPreconditioner, backend: LinAlgBackend): Promise<DeflatedPreconditioner> {
  const { n } = space;
  const E = new Float64Array(n * n);
  for (let start = 0; start < n; start += ASSEMBLY_BATCH) {
    const nb = Math.min(ASSEMBLY_BATCH, n - start);
    const basis = new Float64Array(nb * n);
    for (let v = 0; v < nb; v++) basis[v * n + start + v] = 1;
    E.set(await coarseOperator(space, basis, nb, backend), start * n);
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (E[i * n + j]! + E[j * n + i]!);
      E[i * n + j] = v;
      E[j * n + i] = v;
    }
  }
  addKernelShift(space, E);
  try {
    await backend.dpotrfAsync(n, E);
  } catch (e) {
    if (e instanceof NotPositiveDefiniteError) {
      throw new NotPositiveDefiniteError(`the coarse matrix of the deflation (dimension ${n}) is not positive definite${space.J > 0 ? "; use deflation 'affine'" : ''}`);
    }
    throw e;
  }
  const U = transpose(E, n);
  const solve = (t: Float64Array, s: number): Float64Array => {
    const cols = new Float64Array(n * s);
    for (let q = 0; q < s; q++) for (let i = 0; i < n; i++) cols[i * s + q] = t[q * n + i]!;
    const x = choleskySolveBlocked(E, U, n, cols, s, backend);
    const out = new Float64Array(s * n);
    for (let q = 0; q < s; q++) for (let i = 0; i < n; i++) out[q * n + i] = x[i * s + q]!;
    return out;
  };
  return {
    coarseDim: n,
    async coarseSolve(r) {
      const out = zeroQuadraticBlock(r.count, space.d);
      lift(space, solve(restrict(space, r, backend), r.count), r.count, out, backend);
      return out;
    },
    async apply(r) {
      const y = await base.apply(r);
      const t = restrict(space, r, backend);
      const Ay = await restrictedOperator(space, y, backend);
      for (let i = 0; i < t.length; i++) t[i]! -= Ay[i]!;
      lift(space, solve(t, r.count), r.count, y, backend);
      return y;
    },
  };
}

/** Rows of the triangular factors handled per GEMM in {@link choleskySolveBlocked}. */
const SOLVE_BLOCK = 256;

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j]!;
  return t;
}

/**
 * X with L Lᵀ X = B, for the row-major lower factor L [n, n] (strict upper triangle zero), U = Lᵀ, B [n, s]. Blocked
 * forward and back substitution: the coupling to already-solved rows is one GEMM with full rows of L (or U) against
 * the solution so far (zero in the rows not yet solved), the diagonal blocks are substituted directly. LAPACKE's
 * row-major dpotrs would transpose the whole factor on every call, which at n ≈ 8000 costs more than the solve.
 */
function choleskySolveBlocked(L: Float64Array, U: Float64Array, n: number, B: Float64Array, s: number, backend: LinAlgBackend): Float64Array {
  const y = new Float64Array(n * s);
  const tmp = new Float64Array(SOLVE_BLOCK * s);
  for (let r0 = 0; r0 < n; r0 += SOLVE_BLOCK) {
    const r1 = Math.min(n, r0 + SOLVE_BLOCK);
    const bs = r1 - r0;
    if (r0 > 0) backend.dgemm(false, false, bs, s, n, 1, L.subarray(r0 * n, r1 * n), y, 0, tmp);
    else tmp.fill(0);
    for (let i = r0; i < r1; i++) {
      const lii = L[i * n + i]!;
      for (let q = 0; q < s; q++) {
        let v = B[i * s + q]! - tmp[(i - r0) * s + q]!;
        for (let k = r0; k < i; k++) v -= L[i * n + k]! * y[k * s + q]!;
        y[i * s + q] = v / lii;
      }
    }
  }
  const x = new Float64Array(n * s);
  for (let r1 = n; r1 > 0; r1 -= SOLVE_BLOCK) {
    const r0 = Math.max(0, r1 - SOLVE_BLOCK);
    const bs = r1 - r0;
    if (r1 < n) backend.dgemm(false, false, bs, s, n, 1, U.subarray(r0 * n, r1 * n), x, 0, tmp);
    else tmp.fill(0);
    for (let i = r1 - 1; i >= r0; i--) {
      const uii = U[i * n + i]!;
      for (let q = 0; q < s; q++) {
        let v = y[i * s + q]! - tmp[(i - r0) * s + q]!;
        for (let k = i + 1; k < r1; k++) v -= U[i * n + k]! * x[k * s + q]!;
        x[i * s + q] = v / uii;
      }
    }
  }
  return x;
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
  const meansT = new Float64Array(d * K);
  const covs = new Float64Array(K * d * d);
  comps.forEach((c, k) => {
    for (let i = 0; i < d; i++) meansT[i * K + k] = c.mu[i]!;
    covs.set(c.cov, k * d * d);
  });
  return { d, J, n: 1 + d + d * J, D, comps, meansT, covs };
}

/** E += τ·Σ κκᵀ over an orthonormal basis κ of ker Φ (C = D A, A antisymmetric), τ the mean diagonal of E. */
function addKernelShift(space: MeanSpace, E: Float64Array): void {
  const { d, J, n, D } = space;
  let tau = 0;
  for (let i = 0; i < n; i++) tau += E[i * n + i]!;
  tau /= n;
  const off = 1 + d;
  // κ is non-zero only in columns a and b of C: 2d entries.
  const idx = new Int32Array(2 * d);
  const val = new Float64Array(2 * d);
  for (let a = 0; a < J; a++) {
    for (let b = a + 1; b < J; b++) {
      // A = e_a e_bᵀ − e_b e_aᵀ: column b of C = D A is D_a, column a is −D_b; norm √2.
      for (let i = 0; i < d; i++) {
        idx[2 * i] = off + i * J + b;
        val[2 * i] = D[i * J + a]! / Math.SQRT2;
        idx[2 * i + 1] = off + i * J + a;
        val[2 * i + 1] = -D[i * J + b]! / Math.SQRT2;
      }
      for (let p = 0; p < 2 * d; p++) {
        const row = idx[p]! * n;
        const f = tau * val[p]!;
        for (let r = 0; r < 2 * d; r++) E[row + idx[r]!]! += f * val[r]!;
      }
    }
  }
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

/** into += Φc for coefficient rows c [count, n]: a += c_a, b += c_b, S += sym(D Cᵀ). */
function lift(space: MeanSpace, c: Float64Array, s: number, into: QuadraticBlock, backend: LinAlgBackend): void {
  const { d, J, n, D } = space;
  const d2 = d * d;
  const DCt = new Float64Array(d2);
  for (let q = 0; q < s; q++) {
    into.a[q]! += c[q * n]!;
    for (let i = 0; i < d; i++) into.b[q * d + i]! += c[q * n + 1 + i]!;
    if (J === 0) continue;
    const C = c.subarray(q * n + 1 + d, (q + 1) * n);
    backend.dgemm(false, true, d, d, J, 1, D, C, 0, DCt);
    const S = into.S;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) S[q * d2 + i * d + j]! += 0.5 * (DCt[i * d + j]! + DCt[j * d + i]!);
    }
  }
}

/**
 * ΦᵀAθ per output [count, n] for a fine block θ: (E p, E[x p], E[x xᵀ p] D) summed over the components (module
 * documentation), without the d×d×d products of the full operator.
 */
async function restrictedOperator(space: MeanSpace, x: QuadraticBlock, backend: LinAlgBackend): Promise<Float64Array> {
  const { d, J, n, comps, meansT, covs } = space;
  const s = x.count;
  const K = comps.length;
  const out = new Float64Array(s * n);
  // One pass over the S blocks for all components: SM[(q, i), k] = (S_q μ_k)_i and T[q, k] = tr(S_qΣ_k) = ⟨S_q, Σ_k⟩_F.
  const SM = new Float64Array(s * d * K);
  await backend.dgemmAsync(false, false, s * d, K, d, 1, x.S, meansT, 0, SM);
  const T = new Float64Array(s * K);
  await backend.dgemmAsync(false, true, s, K, d * d, 1, x.S, covs, 0, T);
  const Ep = new Float64Array(s);
  const u = new Float64Array(s * d);
  const g = new Float64Array(s * d);
  const SY = new Float64Array(s * d * J);
  const SYt = new Float64Array(d * s * J);
  const CSY = new Float64Array(d * s * J);
  const Ytu = new Float64Array(s * J);
  for (let k = 0; k < K; k++) {
    const { w, mu, cov, Y, nu } = comps[k]!;
    for (let q = 0; q < s; q++) {
      let e = x.a[q]! + T[q * K + k]!;
      for (let i = 0; i < d; i++) {
        const bi = x.b[q * d + i]!;
        const smu = SM[(q * d + i) * K + k]!;
        e += mu[i]! * (bi + smu);
        u[q * d + i] = bi + 2 * smu;
      }
      Ep[q] = e;
    }
    await backend.dgemmAsync(false, false, s, d, d, 1, u, cov, 0, g);
    for (let q = 0; q < s; q++) {
      const e = Ep[q]!;
      out[q * n]! += w * e;
      for (let i = 0; i < d; i++) out[q * n + 1 + i]! += w * (mu[i]! * e + g[q * d + i]!);
    }
    if (J === 0) continue;
    // E[x xᵀ p] D: ΣS_qY for every q (S_qY stacked [s·d, J] → [d, s·J] → Σ·that), and the low-rank terms.
    backend.dgemm(false, false, s, J, d, 1, u, Y, 0, Ytu);
    await backend.dgemmAsync(false, false, s * d, J, d, 1, x.S, Y, 0, SY);
    for (let q = 0; q < s; q++) for (let i = 0; i < d; i++) for (let j = 0; j < J; j++) SYt[i * s * J + q * J + j] = SY[(q * d + i) * J + j]!;
    await backend.dgemmAsync(false, false, d, s * J, d, 1, cov, SYt, 0, CSY);
    for (let q = 0; q < s; q++) {
      const e = Ep[q]!;
      const o = q * n + 1 + d;
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < J; j++) {
          out[o + i * J + j]! += w * (2 * CSY[i * s * J + q * J + j]! + e * (Y[i * J + j]! + mu[i]! * nu[j]!)
            + mu[i]! * Ytu[q * J + j]! + g[q * d + i]! * nu[j]!);
        }
      }
    }
  }
  return out;
}

/**
 * E c = ΦᵀAΦc for coefficient rows c [count, n] (module documentation), for assembling E. Internally everything is
 * laid out coordinate-major ([i][v] and [i][v][j]) so that the loops over the batch run over contiguous memory.
 */
async function coarseOperator(space: MeanSpace, c: Float64Array, nb: number, backend: LinAlgBackend): Promise<Float64Array> {
  const { d, J, n, D, comps } = space;
  const nJ = nb * J;
  // bT [d, nb] and Ct [d, nb·J] (the C blocks side by side), read once from the rows of c.
  const bT = new Float64Array(d * nb);
  const Ct = new Float64Array(d * nJ);
  for (let v = 0; v < nb; v++) {
    const row = v * n;
    for (let i = 0; i < d; i++) {
      bT[i * nb + v] = c[row + 1 + i]!;
      for (let j = 0; j < J; j++) Ct[i * nJ + v * J + j] = c[row + 1 + d + i * J + j]!;
    }
  }
  const outA = new Float64Array(nb);
  const outBT = new Float64Array(d * nb);
  const outCt = new Float64Array(d * nJ);
  const Ctmu = new Float64Array(nJ);
  const CtmuT = new Float64Array(J * nb);
  const CnuT = new Float64Array(d * nb);
  const muB = new Float64Array(nb);
  const uT = new Float64Array(d * nb);
  const gT = new Float64Array(d * nb);
  const YtuT = new Float64Array(J * nb);
  const Ep = new Float64Array(nb);
  const SC = new Float64Array(d * nJ);
  const CtY = new Float64Array(nJ * J);
  const T = new Float64Array(J * nJ);
  const YCY = new Float64Array(d * nJ);
  const SCZ = new Float64Array(d * nJ);
  for (const { w, mu, cov, Y, Z, nu } of comps) {
    // Cᵀμ per v ([v][j], then [j][v]); Cν per v as [i][v] (Ct read as [d·nb, J]); bᵀμ per v.
    backend.dgemm(true, false, nJ, 1, d, 1, Ct, mu, 0, Ctmu);
    for (let v = 0; v < nb; v++) for (let j = 0; j < J; j++) CtmuT[j * nb + v] = Ctmu[v * J + j]!;
    backend.dgemm(false, false, d * nb, 1, J, 1, Ct, nu, 0, CnuT);
    backend.dgemm(false, false, 1, nb, d, 1, mu, bT, 0, muB);
    // Ep = a + bᵀμ + ⟨C, Y⟩ + νᵀ(Cᵀμ).
    for (let v = 0; v < nb; v++) {
      let e = c[v * n]! + muB[v]!;
      for (let j = 0; j < J; j++) e += nu[j]! * Ctmu[v * J + j]!;
      Ep[v] = e;
    }
    for (let i = 0; i < d; i++) {
      for (let v = 0; v < nb; v++) {
        let t = 0;
        for (let j = 0; j < J; j++) t += Ct[i * nJ + v * J + j]! * Y[i * J + j]!;
        Ep[v]! += t;
      }
    }
    // u = b + D(Cᵀμ) + Cν ([i][v]); g = Σu; Yᵀu.
    backend.dgemm(false, false, d, nb, J, 1, D, CtmuT, 0, uT);
    for (let k = 0; k < d * nb; k++) uT[k]! += bT[k]! + CnuT[k]!;
    await backend.dgemmAsync(false, false, d, nb, d, 1, cov, uT, 0, gT);
    backend.dgemm(true, false, J, nb, d, 1, Y, uT, 0, YtuT);
    // ΣC; CᵀY per v [nb·J, J] → T [J, nb·J] → Y·T; (ΣC)Z with ΣC read as [d·nb, J].
    await backend.dgemmAsync(false, false, d, nJ, d, 1, cov, Ct, 0, SC);
    backend.dgemm(true, false, nJ, J, d, 1, Ct, Y, 0, CtY);
    for (let v = 0; v < nb; v++) for (let a = 0; a < J; a++) for (let b = 0; b < J; b++) T[a * nJ + v * J + b] = CtY[(v * J + a) * J + b]!;
    backend.dgemm(false, false, d, nJ, J, 1, Y, T, 0, YCY);
    backend.dgemm(false, false, d * nb, J, J, 1, SC, Z, 0, SCZ);
    for (let v = 0; v < nb; v++) outA[v]! += w * Ep[v]!;
    for (let i = 0; i < d; i++) {
      const mi = mu[i]!;
      for (let v = 0; v < nb; v++) {
        const e = Ep[v]!;
        const gi = gT[i * nb + v]!;
        outBT[i * nb + v]! += w * (mi * e + gi);
        const base = i * nJ + v * J;
        for (let j = 0; j < J; j++) {
          outCt[base + j]! += w * (YCY[base + j]! + SCZ[base + j]! + e * (Y[i * J + j]! + mi * nu[j]!) + mi * YtuT[j * nb + v]! + gi * nu[j]!);
        }
      }
    }
  }
  const out = new Float64Array(nb * n);
  for (let v = 0; v < nb; v++) {
    const row = v * n;
    out[row] = outA[v]!;
    for (let i = 0; i < d; i++) {
      out[row + 1 + i] = outBT[i * nb + v]!;
      for (let j = 0; j < J; j++) out[row + 1 + d + i * J + j] = outCt[i * nJ + v * J + j]!;
    }
  }
  return out;
}

/** Exposed for tests: the coarse pieces of {@link meanDirectionDeflation} for a mixture. */
export function meanDirectionCoarseForTests(mix: GaussianMixture, backend: LinAlgBackend): {
  n: number;
  restrict(x: QuadraticBlock): Float64Array;
  lift(c: Float64Array, s: number): QuadraticBlock;
  restrictedOperator(x: QuadraticBlock): Promise<Float64Array>;
  coarseOperator(c: Float64Array, nb: number): Promise<Float64Array>;
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
    coarseOperator: (c, nb) => coarseOperator(space, c, nb, backend),
  };
}
