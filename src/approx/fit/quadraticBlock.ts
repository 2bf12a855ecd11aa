/**
 * Blocks of quadratic polynomials p_j(x) = a_j + b_jᵀx + xᵀS_jx in the coefficient inner product
 * ⟨θ, θ'⟩ = a a' + bᵀb' + ⟨S, S'⟩_F, and the operator/preconditioner interfaces the mixture solver composes
 * (see mixtureKrylov.ts).
 */
import type { LinAlgBackend } from '../../linalg/backend.js';
import { getBackend } from '../../linalg/index.js';
import { runInLanes } from '../../linalg/lanes.js';
import { blockRowOffsets, copyPlan, runCopyPlan, type CopyPlan } from '../../linalg/copyRuns.js';

/**
 * `count` quadratic polynomials p_j(x) = a_j + b_jᵀx + xᵀS_jx in `dim` variables, stored contiguously:
 * a [count], b [count, dim] (row j = b_j), S [count, dim, dim] (S_j row-major at offset j·dim²).
 */
export interface QuadraticBlock {
  readonly count: number;
  readonly dim: number;
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly S: Float64Array;
}

/** A block of `count` zero polynomials. Large S arrays may come from the pool of {@link releaseBlock}. */
export function zeroQuadraticBlock(count: number, dim: number): QuadraticBlock {
  return { count, dim, a: new Float64Array(count), b: new Float64Array(count * dim), S: takeZeroed(count * dim * dim) };
}

/**
 * A block whose S entries are unspecified (a recycled array is not zeroed): for a caller that overwrites all of S.
 * a and b are zero.
 */
export function uninitialisedQuadraticBlock(count: number, dim: number): QuadraticBlock {
  return { count, dim, a: new Float64Array(count), b: new Float64Array(count * dim), S: takeUninitialised(count * dim * dim) };
}

/** A deep copy of a block. */
export function copyBlock(x: QuadraticBlock): QuadraticBlock {
  const S = takeUninitialised(x.S.length);
  S.set(x.S);
  return { count: x.count, dim: x.dim, a: x.a.slice(), b: x.b.slice(), S };
}

// A small pool of large S arrays. The solver makes and drops several blocks of o·d² doubles per iteration (≈ 50 MB
// at MNIST size); a fresh allocation costs its page faults on first touch (≈ 25 ms per block on the machines
// measured), zeroing a recycled one ≈ 7 ms. Only arrays handed back by releaseBlock are reused.
const POOL_MIN_LENGTH = 1 << 20;
const POOL_PER_LENGTH = 6;
const pool = new Map<number, Float64Array[]>();

function takeUninitialised(length: number): Float64Array {
  const free = length >= POOL_MIN_LENGTH ? pool.get(length) : undefined;
  return free?.pop() ?? new Float64Array(length);
}

function takeZeroed(length: number): Float64Array {
  const free = length >= POOL_MIN_LENGTH ? pool.get(length) : undefined;
  const S = free?.pop();
  if (S === undefined) return new Float64Array(length);
  S.fill(0);
  return S;
}

/**
 * Hands the S array of a block that is no longer used back for reuse by later blocks of the same size. The caller
 * must not touch the block afterwards.
 */
export function releaseBlock(x: QuadraticBlock): void {
  const S = x.S;
  if (S.length < POOL_MIN_LENGTH || S.byteOffset !== 0 || S.length !== S.buffer.byteLength / 8) return;
  let free = pool.get(S.length);
  if (free === undefined) pool.set(S.length, (free = []));
  if (free.length < POOL_PER_LENGTH && !free.includes(S)) free.push(S);
}

/** Gram matrix G[i, j] = ⟨x_i, y_j⟩ = a_i a'_j + b_iᵀb'_j + ⟨S_i, S'_j⟩_F, [x.count, y.count] row-major. */
export function quadraticBlockGram(x: QuadraticBlock, y: QuadraticBlock, backend: LinAlgBackend = getBackend()): Float64Array {
  const d = x.dim;
  const G = new Float64Array(x.count * y.count);
  if (x.count === 0 || y.count === 0) return G;
  backend.dgemm(false, true, x.count, y.count, d * d, 1, x.S, y.S, 0, G);
  addAffineGram(x, y, G, backend);
  return G;
}

/**
 * Several Gram matrices ({@link quadraticBlockGram}) at once: with two or more pairs and threads, the S parts run
 * concurrently, one lane of the BLAS threads each (linalg/lanes.ts). OpenBLAS runs a Gram of a few rows over d²
 * terms at ≈ 5 GB/s and gains nothing from a second thread: at MNIST size two 10 × 10 Grams took 19 ms this way
 * against 41 ms in turn (splitting one Gram into halves did not pay: each half still reads all of y). The same
 * results as one by one up to the order of additions.
 */
export async function quadraticBlockGrams(
  pairs: readonly (readonly [QuadraticBlock, QuadraticBlock])[], backend: LinAlgBackend = getBackend(),
): Promise<Float64Array[]> {
  if (pairs.length < 2 || backend.getThreads() < 2) return pairs.map(([x, y]) => quadraticBlockGram(x, y, backend));
  const out = pairs.map(([x, y]) => new Float64Array(x.count * y.count));
  await runInLanes(backend, pairs.map(([x, y], i) => async () => {
    const d2 = x.dim * x.dim;
    if (x.count === 0 || y.count === 0) return;
    await backend.dgemmAsync(false, true, x.count, y.count, d2, 1, x.S.subarray(0, x.count * d2), y.S.subarray(0, y.count * d2), 0, out[i]!);
  }));
  pairs.forEach(([x, y], i) => addAffineGram(x, y, out[i]!, backend));
  return out;
}

/** G += the a and b parts of the Gram matrix of x and y. */
function addAffineGram(x: QuadraticBlock, y: QuadraticBlock, G: Float64Array, backend: LinAlgBackend): void {
  backend.dgemm(false, true, x.count, y.count, x.dim, 1, x.b, y.b, 1, G);
  for (let i = 0; i < x.count; i++) for (let j = 0; j < y.count; j++) G[i * y.count + j]! += x.a[i]! * y.a[j]!;
}

/**
 * The copy plan that writes an a×a matrix C into every block of W [a, s·a] (W[i, q·a + ·] = C[i, ·]), for
 * {@link upperTriangleProducts}.
 */
export function replicatePlan(a: number, s: number): CopyPlan {
  return copyPlan(blockRowOffsets(a, s, 'tq', (i, q) => [i * a, i * s * a + q * a]), Int32Array.of(0, 0, a), false);
}

/**
 * W_q = U_q·C for the s blocks of the interleaved G (row (i, q) = row i of block q, the first a·s rows of G, leading
 * dimension s·a), U_q the upper triangle of block q with its diagonal halved (G's diagonals are halved in place), W
 * [a, s·a] side by side. For symmetric S_q and C this gives C S_q C = M_q + M_qᵀ with M_q = C·W_q, and C·W is one
 * product for every block: 1.5 a³ multiply-adds per block instead of 2 a³ (the mixture operator's ΣSΣ and the pooled
 * preconditioner's P(D∘R)P). `plan` is {@link replicatePlan}(a, s).
 */
export async function upperTriangleProducts(
  G: Float64Array, C: Float64Array, W: Float64Array, a: number, s: number, plan: CopyPlan, backend: LinAlgBackend,
): Promise<void> {
  const sa = s * a;
  halveBlockDiagonals(G, a, s);
  runCopyPlan(backend, plan, C, W);
  for (let q = 0; q < s; q++) await backend.dtrmmAsync(true, true, false, a, a, 1, G.subarray(q * a), sa, W.subarray(q * a), sa);
}

/**
 * Halves the diagonal of every block of the interleaved G (a synchronous helper: element loops ran ≈ 4× slower
 * inside async functions on Node 20).
 */
function halveBlockDiagonals(G: Float64Array, a: number, s: number): void {
  for (let i = 0; i < a; i++) for (let q = 0; q < s; q++) G[(i * s + q) * a + i]! *= 0.5;
}

/** out ← beta·out + alpha·x·C, i.e. out_j = beta·out_j + alpha·Σ_i C[i, j]·x_i, with C [x.count, out.count]. */
export function blockGemm(alpha: number, x: QuadraticBlock, C: Float64Array, beta: number, out: QuadraticBlock, backend: LinAlgBackend): void {
  const d = x.dim;
  const m = out.count;
  const k = x.count;
  if (m === 0) return;
  if (k === 0) {
    scaleBlock(out, beta);
    return;
  }
  backend.dgemm(true, false, m, d * d, k, alpha, C, x.S, beta, out.S);
  backend.dgemm(true, false, m, d, k, alpha, C, x.b, beta, out.b);
  for (let j = 0; j < m; j++) {
    let acc = 0;
    for (let i = 0; i < k; i++) acc += C[i * m + j]! * x.a[i]!;
    out.a[j] = beta * out.a[j]! + alpha * acc;
  }
}

function scaleBlock(x: QuadraticBlock, s: number): void {
  for (const arr of [x.a, x.b, x.S]) for (let i = 0; i < arr.length; i++) arr[i]! *= s;
}

/** The columns `cols` of x as a new block. */
export function selectColumns(x: QuadraticBlock, cols: readonly number[]): QuadraticBlock {
  const d = x.dim;
  const out = uninitialisedQuadraticBlock(cols.length, d);
  cols.forEach((c, j) => {
    out.a[j] = x.a[c]!;
    out.b.set(x.b.subarray(c * d, (c + 1) * d), j * d);
    out.S.set(x.S.subarray(c * d * d, (c + 1) * d * d), j * d * d);
  });
  return out;
}

/** Writes the columns of `src` into the columns `cols` of `dst`. */
export function scatterColumns(src: QuadraticBlock, dst: QuadraticBlock, cols: readonly number[]): void {
  const d = src.dim;
  cols.forEach((c, j) => {
    dst.a[c] = src.a[j]!;
    dst.b.set(src.b.subarray(j * d, (j + 1) * d), c * d);
    dst.S.set(src.S.subarray(j * d * d, (j + 1) * d * d), c * d * d);
  });
}

/** Norms ‖θ_j‖ = (a_j² + ‖b_j‖² + ‖S_j‖_F²)^½ of the columns of a block. */
export function columnNorms(x: QuadraticBlock, backend: LinAlgBackend = getBackend()): Float64Array {
  const d = x.dim;
  const d2 = d * d;
  const out = new Float64Array(x.count);
  const dot = new Float64Array(1);
  for (let j = 0; j < x.count; j++) {
    // ⟨S_j, S_j⟩_F through BLAS (a 1×1 product over d² entries): the blocks are large and this runs every iteration.
    const Sj = x.S.subarray(j * d2, (j + 1) * d2);
    backend.dgemm(false, true, 1, 1, d2, 1, Sj, Sj, 0, dot);
    let s = x.a[j]! ** 2 + dot[0]!;
    for (let i = j * d; i < (j + 1) * d; i++) s += x.b[i]! ** 2;
    out[j] = Math.sqrt(s);
  }
  return out;
}

/** Replaces each S_j by (S_j + S_jᵀ)/2. */
export function symmetrizeBlock(x: QuadraticBlock, backend: LinAlgBackend = getBackend()): void {
  backend.dsymmetrize(x.dim, x.count, x.S);
}

/**
 * For component k with mean μ: u_q = b_q + 2S_qμ and Ep_q = a_q + b_qᵀμ + μᵀS_qμ, reading (S_qμ)_i from
 * SM[(q·d + i)·stride + k] (a product of the stacked S blocks with the means as columns). Shared by the moment
 * operator and its coarse restriction.
 */
export function meanTerms(
  x: QuadraticBlock, SM: Float64Array, stride: number, k: number, mu: Float64Array, u: Float64Array, Ep: Float64Array,
): void {
  const d = x.dim;
  const b = x.b;
  for (let q = 0; q < x.count; q++) {
    let e = x.a[q]!;
    for (let i = 0; i < d; i++) {
      const bi = b[q * d + i]!;
      const smu = SM[(q * d + i) * stride + k]!;
      u[q * d + i] = bi + 2 * smu;
      e += mu[i]! * (bi + smu);
    }
    Ep[q] = e;
  }
}

/**
 * out.a_q += w·E p_q and out.b_q += w·(μ E p_q + Cov(x, p_q)): one component's E p and E[x p] = μ E p + Cov(x, p)
 * (Stein), with Cov(x, p_q) the rows of `cov` [count, dim]. Shared by the moment operator and the coarse image.
 */
export function addAffineMoments(w: number, mu: Float64Array, Ep: Float64Array, cov: Float64Array, out: QuadraticBlock): void {
  const d = out.dim;
  for (let q = 0; q < out.count; q++) {
    const e = Ep[q]!;
    out.a[q]! += w * e;
    for (let i = 0; i < d; i++) out.b[q * d + i]! += w * (mu[i]! * e + cov[q * d + i]!);
  }
}

/** θ ↦ Aθ for blocks of polynomials (the mixture moment operator). */
export interface MomentOperator {
  readonly dim: number;
  apply(x: QuadraticBlock): Promise<QuadraticBlock>;
}

/** An approximate inverse of the moment operator: fixed, symmetric and positive definite. */
export interface MomentPreconditioner {
  apply(m: QuadraticBlock): Promise<QuadraticBlock>;
}
