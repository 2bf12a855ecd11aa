/**
 * The preconditioner of the mixture solver (mixtureKrylov.ts): the inverse of the pooled Gaussian N(μ̄, Σ̄)'s moment
 * operator in closed form, with two corrections of its quadratic block.
 *
 * In Hermite coordinates y = x − μ̄, with the dual moments g = (m0, m1 − μ̄ m0, R),
 * R = M2 − μ̄m1ᵀ − m1μ̄ᵀ + μ̄μ̄ᵀm0 − m0Σ̄, the pooled inverse has coefficients d = Σ̄⁻¹(m1 − μ̄ m0), S = ½Σ̄⁻¹RΣ̄⁻¹ and
 * c = m0 − tr(SΣ̄), converted back by a = c − dᵀμ̄ + μ̄ᵀSμ̄, b = d − 2Sμ̄. It is exact when K = 1. The quadratic
 * block S(R) is where the pooled Gaussian is wrong about a mixture, and any SPD replacement keeps the whole
 * preconditioner SPD:
 *
 * - 'scaled-pooled' (default) replaces S = ½Σ̄⁻¹RΣ̄⁻¹ by ½ D∘(Σ̄⁻¹(D∘R)Σ̄⁻¹) with
 *   D_ij = (E_0[y_i²y_j²]/E_mix[y_i²y_j²])^½: a symmetric rescaling that matches the mixture's fourth moments pixel
 *   pair by pixel pair.
 * - Rare coordinates: a coordinate r that varies (has a non-zero covariance off the diagonal) in only a few of the
 *   components — MNIST's border pixels, lit by a few digit classes and held at the ridge by the others — makes
 *   quadratics y_r·(vᵀy) whose mixture moments are far below the pooled Gaussian's whenever v lives where those
 *   classes are dark. Those fill the bottom of the preconditioned spectrum and set the late convergence rate. Each
 *   rare coordinate gets its own row block, S[r, ·], modelled exactly by the mixture covariance of its features,
 *
 *       M_r = Cov_mix(y_r y, y_r y),   M_r[j, l] = Σ_k π_k E_k[y_r² y_j y_l] − Σ̄_rj Σ̄_rl
 *                                     (E_k[y_r² y_j y_l] = (Σ_rr + m_r²)(Σ_jl + m_j m_l) + 2(Σ_rj + m_r m_j)(Σ_rl + m_r m_l)
 *                                      − 2 m_r² m_j m_l, m = μ_k − μ̄, Isserlis),
 *
 *   so that the row's dual moments are R[r, ·] = M_r t with t_j = 2S_rj (j ≠ r), t_r = S_rr; the other
 *   coordinates keep the (scaled) pooled model of their own marginal, ½Σ̄_CC⁻¹R_CCΣ̄_CC⁻¹. The blocks overlap on
 *   pairs of rare coordinates and are added (additive Schwarz), which is SPD.
 *   Measured at d = 784 (single-output PCG with the mean-direction deflation, Lanczos values): coordinates lit in at
 *   most 3 of the 10 classes (104 pixels) bring 1e-8 from ≈ 145 iterations to ≈ 97 and the smallest Ritz value after
 *   150 iterations from 4e-3 to 8e-3; at most 2 classes (76 pixels) ≈ 110, at most 5 (145) ≈ 105, at most 9 (292)
 *   slower than none — common pixels are better served by the pooled model. The block solve of all ten outputs
 *   needs 105 operator applications instead of 168 (351 s instead of 434 s, with the operator of the time; with the
 *   later operator, at most 4 classes: 112 applications against 110 for at most 3); the
 *   row blocks cost ≈ 3 s of setup (dpotrf + dpotri per row), 0.5 GB, and ≈ 0.1 s per application (reading the
 *   inverses is memory-bound).
 */
import { InvalidArgumentError, NotPositiveDefiniteError } from '../../errors.js';
import type { LinAlgBackend } from '../../linalg/backend.js';
import { getBackend } from '../../linalg/index.js';
import { symmetrizeInPlace } from '../../linalg/matrix.js';
import { blockRowOffsets, columnRunTable, copyPlan, indexRuns, runCopyPlan, type CopyPlan } from '../../linalg/copyRuns.js';
import { eigh } from '../../linalg/ops.js';
import type { GaussianMixture } from '../inputModel.js';
import { splitCoordinates } from './coordinateSplit.js';
import { replicatePlan, symmetrizeBlock, upperTriangleProducts, zeroQuadraticBlock, type MomentPreconditioner, type QuadraticBlock } from './quadraticBlock.js';

/** Base preconditioners of the mixture solver. */
export type MixturePreconditioner = 'scaled-pooled' | 'pooled';

/** Default of {@link PooledPreconditionerOptions.rareComponents}. */
export const DEFAULT_RARE_COMPONENTS = 3;

export interface PooledPreconditionerOptions {
  /** Default 'scaled-pooled'. */
  kind?: MixturePreconditioner;
  /**
   * A coordinate that varies in at least one but at most this many components (and in fewer than all of them) gets
   * its own row block (module documentation). Default 3; 0 turns the row blocks off.
   */
  rareComponents?: number;
}

/** The pooled preconditioner, with the number of rare coordinates it gave row blocks. */
export interface PooledPreconditioner extends MomentPreconditioner {
  readonly rareCoordinates: number;
}

/**
 * The pooled-Gaussian preconditioner of a mixture (module documentation), set up in closed form: O(d³) for the
 * pooled inverse plus O(K·d²) and one d×d SPD inverse per rare coordinate (memory 8·d² bytes each).
 *
 * @throws NotPositiveDefiniteError if the pooled covariance is singular (use a ridge)
 */
export function pooledGaussianPreconditioner(
  mix: GaussianMixture, opts: PooledPreconditionerOptions = {}, backend: LinAlgBackend = getBackend(),
): PooledPreconditioner {
  const d = mix.dim;
  const mu = mix.mean();
  const cov = mix.covariance();
  const { values, vectors } = eigh(cov);
  const lmax = values[d - 1]!;
  if (!(values[0]! > 1e-14 * lmax)) {
    throw new NotPositiveDefiniteError(
      `the pooled covariance of the mixture is singular (smallest eigenvalue ${values[0]!.toExponential(3)}, largest ${lmax.toExponential(3)}); pass ridge > 0 (or 'auto')`,
    );
  }
  const covInv = inverseFromEigen(values, vectors.data, d, backend);
  const scale = (opts.kind ?? 'scaled-pooled') === 'scaled-pooled' ? fourthMomentScaling(mix, mu, cov.data) : null;
  const rare = rareCoordinates(mix, opts.rareComponents ?? DEFAULT_RARE_COMPONENTS);
  const quadratic = splitQuadratic(mix, mu, cov.data, scale, rare, backend);
  return {
    rareCoordinates: rare.length,
    apply: (m) => applyPooledInverse(mu, cov.data, covInv, quadratic, m, backend),
  };
}

/** V diag(1/λ) Vᵀ (V [n, n] the eigenvectors as columns), symmetrised. */
function inverseFromEigen(values: Float64Array, vectors: Float64Array, n: number, backend: LinAlgBackend): Float64Array {
  const inv = new Float64Array(n * n);
  const VL = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) VL[i * n + j] = vectors[i * n + j]! / values[j]!;
  backend.dgemm(false, true, n, n, n, 1, VL, vectors, 0, inv);
  symmetrizeInPlace(inv, n);
  return inv;
}

/** Returns `value` if it is a valid {@link PooledPreconditionerOptions.rareComponents} (a non-negative integer). */
export function checkRareComponents(value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError(`rareComponents must be a non-negative integer, got ${String(value)}`);
  return value;
}

/** Memory the row blocks may take (8·d² bytes each); beyond it the coordinates varying in the fewest components win. */
export const RARE_ROWS_MAX_BYTES = 2 ** 30;

/**
 * The coordinates that vary (have a non-zero covariance off the diagonal) in at least one and at most `limit` of
 * the components with positive weight, and in fewer than all of them; at most maxBytes / (8·d²) of them, those
 * varying in the fewest components first (ties by index). Sorted.
 */
export function rareCoordinates(mix: GaussianMixture, limit: number, maxBytes = RARE_ROWS_MAX_BYTES): number[] {
  checkRareComponents(limit);
  const d = mix.dim;
  const comps = mix.components.filter((_, k) => mix.weights[k]! > 0);
  const K = comps.length;
  const count = new Int32Array(d);
  for (const g of comps) for (const i of splitCoordinates(g.covariance().data, d).coupled) count[i]!++;
  const out: number[] = [];
  for (let i = 0; i < d; i++) if (count[i]! >= 1 && count[i]! <= limit && count[i]! < K) out.push(i);
  const cap = Math.floor(maxBytes / (8 * d * d));
  if (out.length <= cap) return out;
  return out.sort((a, b) => count[a]! - count[b]! || a - b).slice(0, cap).sort((a, b) => a - b);
}

/**
 * D_ij = (E_0[y_i²y_j²] / E_mix[y_i²y_j²])^½ with y = x − μ̄, E_0 under the pooled Gaussian (Σ̄_iiΣ̄_jj + 2Σ̄_ij²) and
 * E_mix = Σ_k π_k [(Σ_k,ii + m_i²)(Σ_k,jj + m_j²) + 2Σ_k,ij² + 4 m_i m_j Σ_k,ij], m = μ_k − μ̄ (Isserlis).
 */
function fourthMomentScaling(mix: GaussianMixture, mu: Float64Array, pooledCov: Float64Array): Float64Array {
  const d = mix.dim;
  const mixture = new Float64Array(d * d);
  const m = new Float64Array(d);
  const diag = new Float64Array(d);
  mix.components.forEach((g, k) => {
    const w = mix.weights[k]!;
    if (w === 0) return;
    const S = g.covariance().data;
    for (let i = 0; i < d; i++) {
      m[i] = g.mean[i]! - mu[i]!;
      diag[i] = S[i * d + i]! + m[i]! * m[i]!;
    }
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        const sij = S[i * d + j]!;
        mixture[i * d + j]! += w * (diag[i]! * diag[j]! + 2 * sij * sij + 4 * m[i]! * m[j]! * sij);
      }
    }
  });
  const D = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const sij = pooledCov[i * d + j]!;
      const pooled = pooledCov[i * d + i]! * pooledCov[j * d + j]! + 2 * sij * sij;
      // The mixture moment is positive whenever the pooled covariance is definite; the floor only guards rounding.
      D[i * d + j] = Math.sqrt(pooled / Math.max(mixture[i * d + j]!, 1e-300));
    }
  }
  return D;
}

/**
 * The centred Hermite moments of a block, R_q = M2_q − m0_qΣ̄ − μ̄w_qᵀ − w_qμ̄ᵀ with w_q = m1_q − ½m0_qμ̄ (equal to
 * M2 − μ̄m1ᵀ − m1μ̄ᵀ + μ̄μ̄ᵀm0 − m0Σ̄), described rather than formed: the quadratic block reads only the entries it
 * needs and centres them after gathering (forming R cost a copy and two passes over the o·d² doubles per application).
 */
interface CenteredMoments {
  /** The dual moments (m0, m1, M2) = (a, b, S) of the block. */
  readonly m: QuadraticBlock;
  /** w [count, d]. */
  readonly w: Float64Array;
}

function centeredMoments(m: QuadraticBlock, mu: Float64Array): CenteredMoments {
  const d = m.dim;
  const w = new Float64Array(m.count * d);
  for (let q = 0; q < m.count; q++) for (let i = 0; i < d; i++) w[q * d + i] = m.b[q * d + i]! - 0.5 * m.a[q]! * mu[i]!;
  return { m, w };
}

/** The quadratic block of the preconditioner: centred moments → coefficients S_q written into out (unsymmetrised). */
interface QuadraticInverse {
  /** `out` [count, d, d] must be zero on entry (the caller's fresh block is). */
  apply(R: CenteredMoments, out: Float64Array): Promise<void>;
}

/**
 * R ↦ ½ D∘(P (D∘R_CC) P) on the coordinates C = `common` of d×d blocks (P = Σ̄_CC⁻¹ symmetric [c, c]; D [c, c]
 * over C, or 1 when `scale` is null), written into out[C, C] (the rest of out untouched), up to the caller's
 * symmetrisation. Work:
 *
 * - C splits into coordinates coupled within Σ̄_CC (C₁) and isolated ones (I: zero pooled covariance off the
 *   diagonal, MNIST's 67 pixels that no image lights), on which P is diagonal (p_t = 1/Σ̄_tt). Only C₁ × C₁ takes
 *   the c₁³ products; a row t ∈ I needs p_t (D∘R)[t, C₁]P₁, written with twice the weight to [I, C₁] and nothing to
 *   [C₁, I] (the symmetrisation averages the two); I × I is elementwise.
 * - On C₁ × C₁, with U_q the upper triangle of (D∘R_q)[C₁, C₁] (diagonal halved), P₁(D∘R_q)P₁ = M_q + M_qᵀ for
 *   M_q = P₁U_qP₁: a triangular product W_q = U_qP₁ and one product P₁·[W_1, …, W_s] (1.5 c₁³ multiply-adds per
 *   output instead of 2 c³; with the split, ≈ 3.7 instead of 6.3 G multiply-adds per ten outputs at MNIST size).
 * - The blocks are gathered interleaved, row (i, q) = R_q[rowOrder_i, C₁] with rowOrder = (C₁, I), so that every
 *   product is one call for the whole block.
 */
function commonSandwich(
  P: Float64Array, scale: Float64Array | null, common: Int32Array, mu: Float64Array, pooledCov: Float64Array, backend: LinAlgBackend,
): QuadraticInverse {
  const d = mu.length;
  const c = common.length;
  const d2 = d * d;
  const covCC = new Float64Array(c * c);
  for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) covCC[i * c + j] = pooledCov[common[i]! * d + common[j]!]!;
  const local = splitCoordinates(covCC, c);
  const C1 = Int32Array.from(local.coupled, (i) => common[i]!);
  const I = Int32Array.from(local.decoupled, (i) => common[i]!);
  const c1 = C1.length;
  const e = I.length;
  const n = c1 + e;
  const rowOrder = Int32Array.from([...C1, ...I]);
  // P₁ = P[C₁, C₁] (the inverse of Σ̄_C₁C₁, P being block diagonal), p_t = P_tt on I.
  const P1 = new Float64Array(c1 * c1);
  for (let i = 0; i < c1; i++) for (let j = 0; j < c1; j++) P1[i * c1 + j] = P[local.coupled[i]! * c + local.coupled[j]!]!;
  const pI = Float64Array.from(local.decoupled, (i) => P[i * c + i]!);
  // Σ̄ and D on the gathered rows (rowOrder × C₁), and D on I × I; Σ̄_CC and D are [c, c] over `common`, read at
  // local indices.
  const pick = (A: Float64Array, rows: Int32Array, cols: Int32Array): Float64Array => {
    const out = new Float64Array(rows.length * cols.length);
    for (let i = 0; i < rows.length; i++) for (let j = 0; j < cols.length; j++) out[i * cols.length + j] = A[rows[i]! * c + cols[j]!]!;
    return out;
  };
  const localOrder = Int32Array.from([...local.coupled, ...local.decoupled]);
  const covRows = pick(covCC, localOrder, local.coupled);
  const scaleRows = scale === null ? null : pick(scale, localOrder, local.coupled);
  const scaleII = scale === null ? null : pick(scale, local.decoupled, local.decoupled);
  const runs = indexRuns(C1);
  const gatherRuns = columnRunTable(runs, true);
  const scatterRuns = columnRunTable(runs, false);
  const plans = new Map<number, { gather: CopyPlan; replicate: CopyPlan; scatter: CopyPlan }>();
  const planFor = (s: number): { gather: CopyPlan; replicate: CopyPlan; scatter: CopyPlan } => {
    let plan = plans.get(s);
    if (plan === undefined) {
      // Both row plans list their rows in increasing destination order (native copies may split them between
      // threads). The scatter weights the rows of I by p_t (twice ½, see above).
      const gatherRows = blockRowOffsets(n, s, 'tq', (i, q) => [q * d2 + rowOrder[i]! * d, (i * s + q) * c1]);
      const scatterRows = blockRowOffsets(n, s, 'qt', (i, q) => [(i * s + q) * c1, q * d2 + rowOrder[i]! * d]);
      const rowScale = new Float64Array(n * s);
      for (let q = 0; q < s; q++) for (let i = 0; i < n; i++) rowScale[q * n + i] = i < c1 ? 1 : pI[i - c1]!;
      plan = {
        gather: copyPlan(gatherRows, gatherRuns, false),
        replicate: replicatePlan(c1, s),
        scatter: copyPlan(scatterRows, scatterRuns, false, rowScale),
      };
      plans.set(s, plan);
    }
    return plan;
  };
  // Work arrays, reused from one application to the next; an application that overlaps another (the same
  // preconditioner used from two async tasks) gets its own.
  let X = new Float64Array(0);
  let W = new Float64Array(0);
  let Y = new Float64Array(0);
  let busy = false;
  return {
    async apply(R, out) {
      const s = R.m.count;
      if (c === 0 || s === 0) return;
      const plan = planFor(s);
      const own = !busy;
      if (own && X.length < s * n * c1) {
        X = new Float64Array(s * n * c1);
        W = new Float64Array(s * c1 * c1);
        Y = new Float64Array(s * n * c1);
      }
      const [Xw, Ww, Yw] = own ? [X, W, Y] : [new Float64Array(s * n * c1), new Float64Array(s * c1 * c1), new Float64Array(s * n * c1)];
      busy = true;
      try {
        if (c1 > 0) {
          runCopyPlan(backend, plan.gather, R.m.S, Xw);
          // Centring R_q = M2_q − m0_qΣ̄ − μ̄w_qᵀ − w_qμ̄ᵀ and the first scaling by D: the two rank-one terms of every
          // block as one product, then the Σ̄ term and D in one pass of the kernel.
          const { left, right, negM0 } = centeringFactors(R, rowOrder, C1, mu);
          await backend.dgemmAsync(false, false, s * n, c1, s + 1, -1, left, right, 1, Xw);
          backend.dscaleShiftRows(s * n, c1, s, true, scaleRows !== null, negM0, covRows, scaleRows ?? NONE, Xw);
          const sc1 = s * c1;
          await upperTriangleProducts(Xw, P1, Ww, c1, s, plan.replicate, backend);
          await backend.dgemmAsync(false, false, c1, sc1, c1, 1, P1, Ww, 0, Yw);
          if (e > 0) {
            // Rows of I: (D∘R)[t, C₁]P₁ (their diagonal was not halved: the rows of I hold no C₁ × C₁ entries).
            await backend.dgemmAsync(false, false, e * s, c1, c1, 1, Xw.subarray(c1 * sc1, n * sc1), P1, 0, Yw.subarray(c1 * sc1, n * sc1));
          }
          if (scaleRows !== null) backend.dscaleShiftRows(s * n, c1, s, false, true, NONE, NONE, scaleRows, Yw);
          runCopyPlan(backend, plan.scatter, Yw, out);
        }
        if (e > 0) isolatedBlock(R, I, pI, pooledCov, scaleII, mu, out);
      } finally {
        if (own) busy = false;
      }
    },
  };
}

/**
 * out_q[t, u] = ½ D_tu² p_t p_u R_q[t, u] on I × I (P diagonal there), with the centred R_q[t, u] = M2_q[t, u] −
 * m0_qΣ̄_tu − μ̄_t w_q,u − w_q,t μ̄_u (module documentation of {@link CenteredMoments}).
 */
function isolatedBlock(
  R: CenteredMoments, I: Int32Array, p: Float64Array, pooledCov: Float64Array, scale: Float64Array | null, mu: Float64Array,
  out: Float64Array,
): void {
  const { m, w } = R;
  const d = m.dim;
  const e = I.length;
  for (let q = 0; q < m.count; q++) {
    const base = q * d * d;
    const m0 = m.a[q]!;
    for (let a = 0; a < e; a++) {
      const t = I[a]!;
      for (let b = 0; b < e; b++) {
        const u = I[b]!;
        const r = m.S[base + t * d + u]! - m0 * pooledCov[t * d + u]! - mu[t]! * w[q * d + u]! - w[q * d + t]! * mu[u]!;
        const D = scale === null ? 1 : scale[a * e + b]!;
        out[base + t * d + u] = 0.5 * D * D * p[a]! * p[b]! * r;
      }
    }
  }
}

const NONE = new Float64Array(0);

/**
 * The factors of the rank-one centring terms of interleaved rows (row (i, q) = M2_q[rows_i, cols]): with
 * left [(i, q), ·] = (μ̄_{rows_i} e_q, w_q,{rows_i}) [n·s, s + 1] and right = (w_1, …, w_s, μ̄) restricted to cols
 * [s + 1, |cols|], left·right [(i, q), j] = μ̄_{rows_i} w_q,{cols_j} + w_q,{rows_i} μ̄_{cols_j}; and −m0 for the Σ̄
 * term. `cols` null means every coordinate. (Centring and scaling in JavaScript loops over the blocks took ≈ 130 ms
 * per application inside the MNIST solve; with this product and the backend's dscaleShiftRows kernel the
 * preconditioner's application went from 498 to 381 ms, medians of an in-process A/B.)
 */
function centeringFactors(
  R: CenteredMoments, rows: ArrayLike<number>, cols: Int32Array | null, mu: Float64Array,
): { left: Float64Array; right: Float64Array; negM0: Float64Array } {
  const { m, w } = R;
  const d = m.dim;
  const s = m.count;
  const n = rows.length;
  const c = cols === null ? d : cols.length;
  const k = s + 1;
  const right = new Float64Array(k * c);
  for (let q = 0; q < s; q++) {
    if (cols === null) right.set(w.subarray(q * d, (q + 1) * d), q * c);
    else for (let j = 0; j < c; j++) right[q * c + j] = w[q * d + cols[j]!]!;
  }
  for (let j = 0; j < c; j++) right[s * c + j] = mu[cols === null ? j : cols[j]!]!;
  const left = new Float64Array(n * s * k);
  for (let i = 0; i < n; i++) {
    const ri = rows[i]!;
    for (let q = 0; q < s; q++) {
      const row = (i * s + q) * k;
      left[row + q] = mu[ri]!;
      left[row + s] = w[q * d + ri]!;
    }
  }
  return { left, right, negM0: Float64Array.from(m.a, (v) => -v) };
}

/**
 * The common coordinates through the (scaled) pooled model of their marginal, each rare one through M_r⁻¹. The
 * output is only symmetric after the caller's symmetrisation: a row block adds its t = M_r⁻¹R[r, ·]ᵀ to the row r
 * alone, which the averaging of the two triangles turns into S_rj = S_jr = t_j/2 (j ≠ r) and S_rr = t_r.
 */
function splitQuadratic(
  mix: GaussianMixture, mu: Float64Array, pooledCov: Float64Array, scale: Float64Array | null, rare: readonly number[],
  backend: LinAlgBackend,
): QuadraticInverse {
  const d = mix.dim;
  const isRare = new Uint8Array(d);
  for (const r of rare) isRare[r] = 1;
  const common = Int32Array.from({ length: d }, (_, i) => i).filter((i) => isRare[i] === 0);
  const c = common.length;
  const pick = (A: Float64Array): Float64Array => {
    const out = new Float64Array(c * c);
    for (let a = 0; a < c; a++) for (let b = 0; b < c; b++) out[a * c + b] = A[common[a]! * d + common[b]!]!;
    return out;
  };
  let commonBlock: QuadraticInverse | null = null;
  if (c > 0) {
    const ccInv = pick(pooledCov);
    invertBlocksInPlace(ccInv, 1, c, () => 'the pooled covariance of the common coordinates', backend);
    commonBlock = commonSandwich(ccInv, scale === null ? null : pick(scale), common, mu, pooledCov, backend);
  }
  const rows = rare.length === 0 ? new Float64Array(0) : rareRowCovariances(mix, mu, pooledCov, rare, backend);
  invertBlocksInPlace(rows, rare.length, d, (t) => `the row model of rare coordinate ${rare[t]}`, backend);
  const rareBlock = rare.length === 0 ? null : rareRows(rare, rows, mu, pooledCov, backend);
  return {
    async apply(R, out) {
      if (commonBlock !== null) await commonBlock.apply(R, out);
      rareBlock?.(R, out);
    },
  };
}

/**
 * out_q[r, ·] += R_q[r, ·] M_r⁻¹ for every rare r (M_r⁻¹ symmetric, the rows of `inverses`), all outputs at once:
 * the rows M2_q[r, ·] are gathered interleaved (row (k, q)), centred by one product and the dscaleShiftRows kernel,
 * multiplied by M_r⁻¹ per rare coordinate, and added back with an accumulating copy. (The same centring and
 * accumulation as JavaScript loops took ≈ 28 ms per application inside the MNIST solve; reading the inverses,
 * 8·d² bytes each, dominates either way.)
 */
function rareRows(
  rare: readonly number[], inverses: Float64Array, mu: Float64Array, pooledCov: Float64Array, backend: LinAlgBackend,
): (R: CenteredMoments, out: Float64Array) => void {
  const d = mu.length;
  const d2 = d * d;
  const n = rare.length;
  const covRows = new Float64Array(n * d);
  rare.forEach((r, k) => covRows.set(pooledCov.subarray(r * d, (r + 1) * d), k * d));
  const fullRow = Int32Array.of(0, 0, d);
  const plans = new Map<number, { gather: CopyPlan; scatter: CopyPlan }>();
  return (R, out) => {
    const s = R.m.count;
    if (s === 0) return;
    let plan = plans.get(s);
    if (plan === undefined) {
      plan = {
        gather: copyPlan(blockRowOffsets(n, s, 'tq', (k, q) => [q * d2 + rare[k]! * d, (k * s + q) * d]), fullRow, false),
        scatter: copyPlan(blockRowOffsets(n, s, 'qt', (k, q) => [(k * s + q) * d, q * d2 + rare[k]! * d]), fullRow, true),
      };
      plans.set(s, plan);
    }
    const G = new Float64Array(n * s * d);
    runCopyPlan(backend, plan.gather, R.m.S, G);
    const { left, right, negM0 } = centeringFactors(R, rare, null, mu);
    backend.dgemm(false, false, n * s, d, s + 1, -1, left, right, 1, G);
    backend.dscaleShiftRows(n * s, d, s, true, false, negM0, covRows, NONE, G);
    const T = new Float64Array(n * s * d);
    for (let k = 0; k < n; k++) {
      backend.dgemm(false, false, s, d, d, 1, G.subarray(k * s * d, (k + 1) * s * d), inverses.subarray(k * d2, (k + 1) * d2), 0,
        T.subarray(k * s * d, (k + 1) * s * d));
    }
    runCopyPlan(backend, plan.scatter, T, out);
  };
}

/**
 * M_r = Cov_mix(y_r y, y_r y) [d, d] for every r in `rare`, stacked [|rare|, d²] (module documentation; y = x − μ̄,
 * μ̄ and Σ̄ the pooled moments). The part Σ_k π_k (Σ_k,rr + m_r²)(Σ_k + m mᵀ) is one product [|rare|, K]·[K, d²]; the
 * rest is rank 2K + 1 per row: 2π v vᵀ with v = Σ_k[·, r] + m_r m and −2π m_r² m mᵀ per component, and −Σ̄_{·r}Σ̄_{r·}.
 */
export function rareRowCovariances(mix: GaussianMixture, mu: Float64Array, pooledCov: Float64Array, rare: readonly number[], backend: LinAlgBackend): Float64Array {
  const d = mix.dim;
  const d2 = d * d;
  const n = rare.length;
  const comps = mix.components.map((g, k) => ({ cov: g.covariance().data, m: Float64Array.from(g.mean, (v, i) => v - mu[i]!), w: mix.weights[k]! }))
    .filter(({ w }) => w > 0);
  const K = comps.length;
  const second = new Float64Array(K * d2);
  const F = new Float64Array(n * K);
  comps.forEach(({ cov, m, w }, k) => {
    const M2 = second.subarray(k * d2, (k + 1) * d2);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) M2[i * d + j] = cov[i * d + j]! + m[i]! * m[j]!;
    rare.forEach((r, t) => {
      F[t * K + k] = w * (cov[r * d + r]! + m[r]! * m[r]!);
    });
  });
  const out = new Float64Array(n * d2);
  backend.dgemm(false, false, n, d2, K, 1, F, second, 0, out);
  const rank = 2 * K + 1;
  const U = new Float64Array(d * rank);
  const V = new Float64Array(d * rank);
  rare.forEach((r, t) => {
    comps.forEach(({ cov, m, w }, k) => {
      const mr = m[r]!;
      for (let i = 0; i < d; i++) {
        const v = cov[i * d + r]! + mr * m[i]!;
        U[i * rank + 2 * k] = 2 * w * v;
        V[i * rank + 2 * k] = v;
        U[i * rank + 2 * k + 1] = -2 * w * mr * mr * m[i]!;
        V[i * rank + 2 * k + 1] = m[i]!;
      }
    });
    for (let i = 0; i < d; i++) {
      U[i * rank + rank - 1] = -pooledCov[i * d + r]!;
      V[i * rank + rank - 1] = pooledCov[i * d + r]!;
    }
    backend.dgemm(false, true, d, d, rank, 1, U, V, 1, out.subarray(t * d2, (t + 1) * d2));
  });
  return out;
}

/**
 * Replaces every d×d SPD block of `blocks` [count, d²] by its inverse (Cholesky, then the inverse from the factor).
 *
 * @throws NotPositiveDefiniteError naming the block that is not positive definite
 */
function invertBlocksInPlace(blocks: Float64Array, count: number, d: number, what: (t: number) => string, backend: LinAlgBackend): void {
  const d2 = d * d;
  for (let t = 0; t < count; t++) {
    const M = blocks.subarray(t * d2, (t + 1) * d2);
    try {
      backend.dpotrf(d, M);
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError) throw new NotPositiveDefiniteError(`${what(t)} is not positive definite`);
      throw e;
    }
    backend.dpotri(d, M);
  }
}

async function applyPooledInverse(
  mu: Float64Array, cov: Float64Array, covInv: Float64Array, quadratic: QuadraticInverse, m: QuadraticBlock, backend: LinAlgBackend,
): Promise<QuadraticBlock> {
  const d = m.dim;
  const s = m.count;
  const out = zeroQuadraticBlock(s, d);
  if (s === 0) return out;
  // Linear part: dvec_q = Σ̄⁻¹(m1_q − μ̄ m0_q).
  const g1 = new Float64Array(s * d);
  for (let q = 0; q < s; q++) for (let i = 0; i < d; i++) g1[q * d + i] = m.b[q * d + i]! - mu[i]! * m.a[q]!;
  const dvec = new Float64Array(s * d);
  backend.dgemm(false, false, s, d, d, 1, g1, covInv, 0, dvec);
  await quadratic.apply(centeredMoments(m, mu), out.S);
  symmetrizeBlock(out, backend);
  toMonomialAffine(m, mu, cov, dvec, out, backend);
  return out;
}

/**
 * The constant c = m0 − tr(SΣ̄), then back to monomial coefficients: a = c − dᵀμ̄ + μ̄ᵀSμ̄, b = d − 2Sμ̄ (in out.a,
 * out.b; out.S holds S).
 */
function toMonomialAffine(m: QuadraticBlock, mu: Float64Array, cov: Float64Array, dvec: Float64Array, out: QuadraticBlock, backend: LinAlgBackend): void {
  const d = m.dim;
  const s = m.count;
  const Smu = new Float64Array(s * d);
  backend.dgemm(false, false, s * d, 1, d, 1, out.S, mu, 0, Smu);
  const trSC = new Float64Array(s);
  backend.dgemm(false, false, s, 1, d * d, 1, out.S, cov, 0, trSC);
  for (let q = 0; q < s; q++) {
    const c = m.a[q]! - trSC[q]!;
    let dmu = 0;
    let muSmu = 0;
    for (let i = 0; i < d; i++) {
      dmu += dvec[q * d + i]! * mu[i]!;
      muSmu += mu[i]! * Smu[q * d + i]!;
      out.b[q * d + i] = dvec[q * d + i]! - 2 * Smu[q * d + i]!;
    }
    out.a[q] = c - dmu + muSmu;
  }
}

