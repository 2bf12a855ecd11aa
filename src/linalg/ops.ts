/**
 * The linear-algebra API the rest of polyapprox uses: matrix products, symmetric eigendecomposition, SVD,
 * Cholesky and general solves, pseudo-inverses and PSD square roots on {@link Matrix} values.
 *
 * Every function
 * - validates shapes (`ShapeError` naming the argument and the shapes involved) and finiteness of its
 *   inputs (`NonFiniteError` naming the argument and the offending entry),
 * - never mutates its inputs (destructive backend routines get copies),
 * - reports failures as the typed errors of `errors.ts`, never as NaN results,
 * - takes an optional last `opts` whose `backend` selects the {@link LinAlgBackend} to run on
 *   (default: the process-wide one from `getBackend()`).
 *
 * The `*Async` variants run the heavy call off the main thread when the backend can (the native one does);
 * all their errors, including validation errors, arrive as rejections. While a `matmulAsync`/`matmul32Async`
 * promise is pending the caller must not modify the input matrices, which are read in place.
 */
import {
  ConvergenceError,
  InvalidArgumentError,
  NonFiniteError,
  NotPositiveDefiniteError,
  ShapeError,
  SingularMatrixError,
} from '../errors.js';
import type { LinAlgBackend } from './backend.js';
import { Matrix, Matrix32, symmetrizeInPlace } from './matrix.js';
import { getBackend } from './index.js';

/** Options shared by every operation. */
export interface BackendOptions {
  /** The backend to compute with; default: `getBackend()`. */
  backend?: LinAlgBackend;
}

/** Options of {@link matmul} and friends. */
export interface MatmulOptions extends BackendOptions {
  /** Use `aᵀ` instead of `a`. */
  transA?: boolean;
  /** Use `bᵀ` instead of `b`. */
  transB?: boolean;
}

/** Options of {@link matvec}. */
export interface MatvecOptions extends BackendOptions {
  /** Compute `aᵀ x` instead of `a x`. */
  trans?: boolean;
}

/** Options of the routines that require a symmetric matrix. */
export interface SymmetricOptions extends BackendOptions {
  /**
   * Largest accepted asymmetry, relative to the largest entry: the input is rejected when
   * `max |a_ij − a_ji| > symmetryTol · max |a_ij|`. Accepted inputs are symmetrised as `(a + aᵀ)/2`.
   * Default {@link DEFAULT_SYMMETRY_TOL}.
   */
  symmetryTol?: number;
}

/** Options of {@link pinv}. */
export interface PinvOptions extends BackendOptions {
  /**
   * Relative cutoff: singular values `σ ≤ rcond · σ_max` are treated as zero.
   * Default `max(m, n) · ε` with ε = 2⁻⁵² (numpy's default `rtol`).
   */
  rcond?: number;
}

/** Options of {@link sqrtPSD}. */
export interface SqrtPSDOptions extends SymmetricOptions {
  /**
   * Relative tolerance for negative eigenvalues: eigenvalues in `[−tol · max|λ|, 0)` are rounding noise and
   * clamped to 0, more negative ones make the matrix indefinite. Default `1e-10 · n` (see {@link defaultPsdTol}).
   */
  tol?: number;
}

/** Options of {@link pinvSqrtPSD}. */
export interface PinvSqrtPSDOptions extends SqrtPSDOptions {
  /**
   * Relative cutoff for inversion: eigenvalues `λ ≤ rcond · max|λ|` are treated as 0 (their directions get
   * 0 in the result). Default: the value of `tol`.
   */
  rcond?: number;
}

/** Result of {@link eigh}. */
export interface EighResult {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** n×n orthonormal matrix whose column j is the eigenvector of `values[j]`. */
  vectors: Matrix;
}

/** Result of {@link svd}: `a = U · diag(S) · Vt` with p = min(m, n). */
export interface SvdResult {
  /** m×p, orthonormal columns (left singular vectors). */
  U: Matrix;
  /** p singular values, non-negative, in descending order. */
  S: Float64Array;
  /** p×n, orthonormal rows (right singular vectors, transposed). */
  Vt: Matrix;
}

/** Default relative symmetry tolerance of {@link SymmetricOptions.symmetryTol}. */
export const DEFAULT_SYMMETRY_TOL = 1e-10;

/** Unit roundoff spacing of float64 (2⁻⁵²). */
const EPS = Number.EPSILON;

/**
 * Default tolerance of {@link sqrtPSD}/{@link pinvSqrtPSD} for an n×n matrix: `1e-10 · max(n, 1)`.
 * A backward-stable eigensolver perturbs eigenvalues by O(n·ε·‖A‖) ≈ n·2e-16·‖A‖, and matrices formed
 * in floating point (covariances, W Σ Wᵀ) carry errors of a similar relative size times their own
 * summation lengths; 1e-10·n leaves a wide margin above both while still rejecting genuinely indefinite
 * matrices.
 */
export function defaultPsdTol(n: number): number {
  return 1e-10 * Math.max(n, 1);
}

// ---------------------------------------------------------------------------------------------------
// Validation helpers

function shapeOf(m: { rows: number; cols: number }): string {
  return `${m.rows}×${m.cols}`;
}

function checkMatrix(m: Matrix, name: string, fn: string): void {
  if (m === null || typeof m !== 'object' || !(m.data instanceof Float64Array)) {
    throw new InvalidArgumentError(`${fn}: ${name} must be a Matrix (float64 data), got ${describe(m)}`);
  }
  if (m.data.length !== m.rows * m.cols) {
    throw new ShapeError(`${fn}: ${name} has ${m.data.length} entries but its shape ${shapeOf(m)} needs ${m.rows * m.cols}`);
  }
}

function checkMatrix32(m: Matrix32, name: string, fn: string): void {
  if (m === null || typeof m !== 'object' || !(m.data instanceof Float32Array)) {
    throw new InvalidArgumentError(`${fn}: ${name} must be a Matrix32 (float32 data), got ${describe(m)}`);
  }
  if (m.data.length !== m.rows * m.cols) {
    throw new ShapeError(`${fn}: ${name} has ${m.data.length} entries but its shape ${shapeOf(m)} needs ${m.rows * m.cols}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

function checkFiniteMatrix(m: { rows: number; cols: number; data: ArrayLike<number> }, name: string, fn: string): void {
  const { data, cols } = m;
  for (let idx = 0; idx < data.length; idx++) {
    const v = data[idx]!;
    if (!Number.isFinite(v)) {
      const i = Math.floor(idx / cols);
      throw new NonFiniteError(`${fn}: ${name} contains a non-finite value (${v}) at (${i}, ${idx - i * cols})`);
    }
  }
}

function checkFiniteVector(x: Float64Array, name: string, fn: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) throw new NonFiniteError(`${fn}: ${name} contains a non-finite value (${x[i]}) at index ${i}`);
  }
}

function checkSquare(m: Matrix, name: string, fn: string): void {
  if (m.rows !== m.cols) throw new ShapeError(`${fn}: ${name} must be square, got ${shapeOf(m)}`);
}

/** A validated finite, square float64 matrix. */
function checkSquareFinite(m: Matrix, name: string, fn: string): void {
  checkMatrix(m, name, fn);
  checkSquare(m, name, fn);
  checkFiniteMatrix(m, name, fn);
}

function checkTolerance(value: number | undefined, name: string, fn: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`${fn}: ${name} must be a finite non-negative number, got ${value}`);
  }
}

function resolveBackend(opts: BackendOptions | undefined): LinAlgBackend {
  return opts?.backend ?? getBackend();
}

/**
 * Checks that the square matrix `a` is symmetric to within `tol` relative to its largest entry and returns
 * the symmetrised copy `(a + aᵀ)/2` (so that every backend sees both triangles equal, whichever one it reads).
 */
function symmetrizedCopy(a: Matrix, tol: number, name: string, fn: string): Float64Array {
  const n = a.rows;
  const src = a.data;
  let maxAbs = 0;
  for (let i = 0; i < src.length; i++) maxAbs = Math.max(maxAbs, Math.abs(src[i]!));
  const out = new Float64Array(n * n);
  let worst = 0, worstI = 0, worstJ = 0;
  for (let i = 0; i < n; i++) {
    out[i * n + i] = src[i * n + i]!;
    for (let j = 0; j < i; j++) {
      const aij = src[i * n + j]!, aji = src[j * n + i]!;
      const diff = Math.abs(aij - aji);
      if (diff > worst) {
        worst = diff;
        worstI = i;
        worstJ = j;
      }
      const mean = 0.5 * (aij + aji);
      out[i * n + j] = mean;
      out[j * n + i] = mean;
    }
  }
  if (worst > tol * maxAbs) {
    throw new InvalidArgumentError(
      `${fn}: ${name} is not symmetric: |${name}[${worstI}][${worstJ}] − ${name}[${worstJ}][${worstI}]| = ${worst} ` +
        `exceeds symmetryTol · max|${name}| = ${tol} · ${maxAbs}`,
    );
  }
  return out;
}

function checkResultFinite(values: ArrayLike<number>, what: string, fn: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new ConvergenceError(`${fn}: the backend returned a non-finite ${what} entry (${values[i]}) at flat index ${i}`);
    }
  }
}

/** Prefixes the message of a typed backend error with the calling function and argument. */
function rethrowNamed(error: unknown, fn: string, name: string): never {
  if (error instanceof NotPositiveDefiniteError) {
    throw new NotPositiveDefiniteError(`${fn}: ${name} is not positive definite (${error.message})`);
  }
  if (error instanceof SingularMatrixError) {
    throw new SingularMatrixError(`${fn}: ${name} is singular (${error.message})`);
  }
  throw error;
}

// ---------------------------------------------------------------------------------------------------
// Products

interface GemmPlan {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

function planGemm(
  a: { rows: number; cols: number }, b: { rows: number; cols: number }, opts: MatmulOptions | undefined, fn: string,
): GemmPlan {
  const transA = opts?.transA ?? false;
  const transB = opts?.transB ?? false;
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  if (k !== kb) {
    throw new ShapeError(
      `${fn}: inner dimensions differ: ${transA ? 'aᵀ' : 'a'} is ${m}×${k} (a is ${shapeOf(a)}) but ` +
        `${transB ? 'bᵀ' : 'b'} is ${kb}×${n} (b is ${shapeOf(b)})`,
    );
  }
  return { m, n, k, transA, transB };
}

/**
 * Matrix product `op(a) · op(b)` in float64, where op transposes when `opts.transA`/`opts.transB` is set.
 *
 * @param a - m×k matrix (k×m with `transA`).
 * @param b - k×n matrix (n×k with `transB`).
 * @returns the m×n product, newly allocated.
 * @throws ShapeError if the inner dimensions differ; NonFiniteError if an input has NaN/±Infinity.
 */
export function matmul(a: Matrix, b: Matrix, opts?: MatmulOptions): Matrix {
  const fn = 'matmul';
  checkMatrix(a, 'a', fn);
  checkMatrix(b, 'b', fn);
  const plan = planGemm(a, b, opts, fn);
  checkFiniteMatrix(a, 'a', fn);
  checkFiniteMatrix(b, 'b', fn);
  const c = new Matrix(plan.m, plan.n);
  resolveBackend(opts).dgemm(plan.transA, plan.transB, plan.m, plan.n, plan.k, 1, a.data, b.data, 0, c.data);
  return c;
}

/** {@link matmul}, computed off the main thread where the backend supports it. */
export async function matmulAsync(a: Matrix, b: Matrix, opts?: MatmulOptions): Promise<Matrix> {
  const fn = 'matmulAsync';
  checkMatrix(a, 'a', fn);
  checkMatrix(b, 'b', fn);
  const plan = planGemm(a, b, opts, fn);
  checkFiniteMatrix(a, 'a', fn);
  checkFiniteMatrix(b, 'b', fn);
  const c = new Matrix(plan.m, plan.n);
  await resolveBackend(opts).dgemmAsync(plan.transA, plan.transB, plan.m, plan.n, plan.k, 1, a.data, b.data, 0, c.data);
  return c;
}

/**
 * Matrix product `op(a) · op(b)` in float32 (training). Same conventions as {@link matmul}; the native
 * backend accumulates in float32 (OpenBLAS sgemm), the JS backend in float64.
 */
export function matmul32(a: Matrix32, b: Matrix32, opts?: MatmulOptions): Matrix32 {
  const fn = 'matmul32';
  checkMatrix32(a, 'a', fn);
  checkMatrix32(b, 'b', fn);
  const plan = planGemm(a, b, opts, fn);
  checkFiniteMatrix(a, 'a', fn);
  checkFiniteMatrix(b, 'b', fn);
  const c = new Matrix32(plan.m, plan.n);
  resolveBackend(opts).sgemm(plan.transA, plan.transB, plan.m, plan.n, plan.k, 1, a.data, b.data, 0, c.data);
  return c;
}

/** {@link matmul32}, computed off the main thread where the backend supports it. */
export async function matmul32Async(a: Matrix32, b: Matrix32, opts?: MatmulOptions): Promise<Matrix32> {
  const fn = 'matmul32Async';
  checkMatrix32(a, 'a', fn);
  checkMatrix32(b, 'b', fn);
  const plan = planGemm(a, b, opts, fn);
  checkFiniteMatrix(a, 'a', fn);
  checkFiniteMatrix(b, 'b', fn);
  const c = new Matrix32(plan.m, plan.n);
  await resolveBackend(opts).sgemmAsync(plan.transA, plan.transB, plan.m, plan.n, plan.k, 1, a.data, b.data, 0, c.data);
  return c;
}

/**
 * Matrix–vector product `a x` (or `aᵀ x` with `opts.trans`).
 *
 * @param a - m×n matrix.
 * @param x - vector of length n (m with `trans`).
 * @returns a new vector of length m (n with `trans`).
 */
export function matvec(a: Matrix, x: Float64Array, opts?: MatvecOptions): Float64Array {
  const fn = 'matvec';
  checkMatrix(a, 'a', fn);
  if (!(x instanceof Float64Array)) throw new InvalidArgumentError(`${fn}: x must be a Float64Array, got ${describe(x)}`);
  const trans = opts?.trans ?? false;
  const m = trans ? a.cols : a.rows;
  const k = trans ? a.rows : a.cols;
  if (x.length !== k) {
    throw new ShapeError(`${fn}: ${trans ? 'aᵀ' : 'a'} is ${m}×${k} (a is ${shapeOf(a)}) but x has length ${x.length}`);
  }
  checkFiniteMatrix(a, 'a', fn);
  checkFiniteVector(x, 'x', fn);
  const y = new Float64Array(m);
  resolveBackend(opts).dgemm(trans, false, m, 1, k, 1, a.data, x, 0, y);
  return y;
}

// ---------------------------------------------------------------------------------------------------
// Eigendecomposition and SVD

function prepareEigh(s: Matrix, opts: SymmetricOptions | undefined, fn: string, name = 's'): Float64Array {
  checkSquareFinite(s, name, fn);
  checkTolerance(opts?.symmetryTol, 'symmetryTol', fn);
  return symmetrizedCopy(s, opts?.symmetryTol ?? DEFAULT_SYMMETRY_TOL, name, fn);
}

/** {@link eigh} reporting errors as coming from `fn`'s argument `name`. */
function eighFor(s: Matrix, opts: SymmetricOptions | undefined, fn: string, name: string): EighResult {
  const work = prepareEigh(s, opts, fn, name);
  const n = s.rows;
  const values = new Float64Array(n);
  if (n > 0) resolveBackend(opts).dsyevd(n, work, values);
  return finishEigh(n, work, values, fn);
}

function finishEigh(n: number, work: Float64Array, values: Float64Array, fn: string): EighResult {
  checkResultFinite(values, 'eigenvalue', fn);
  checkResultFinite(work, 'eigenvector', fn);
  return { values, vectors: new Matrix(n, n, work) };
}

/**
 * Eigendecomposition of a real symmetric matrix, `s = V · diag(values) · Vᵀ`.
 *
 * @param s - n×n symmetric matrix (checked to within `opts.symmetryTol`, then symmetrised).
 * @returns eigenvalues ascending and the orthonormal eigenvectors as columns. Signs of eigenvectors, and
 *   the basis within a repeated eigenvalue, are whatever the backend produces.
 * @throws ShapeError if not square; NonFiniteError; InvalidArgumentError if not symmetric;
 *   ConvergenceError if the backend's iteration fails.
 */
export function eigh(s: Matrix, opts?: SymmetricOptions): EighResult {
  return eighFor(s, opts, 'eigh', 's');
}

/** {@link eigh}, computed off the main thread where the backend supports it. */
export async function eighAsync(s: Matrix, opts?: SymmetricOptions): Promise<EighResult> {
  const fn = 'eighAsync';
  const work = prepareEigh(s, opts, fn);
  const n = s.rows;
  const values = new Float64Array(n);
  if (n > 0) await resolveBackend(opts).dsyevdAsync(n, work, values);
  return finishEigh(n, work, values, fn);
}

interface SvdWork {
  m: number;
  n: number;
  p: number;
  work: Float64Array;
  S: Float64Array;
  U: Matrix;
  Vt: Matrix;
}

function prepareSvd(a: Matrix, fn: string): SvdWork {
  checkMatrix(a, 'a', fn);
  checkFiniteMatrix(a, 'a', fn);
  const m = a.rows, n = a.cols, p = Math.min(m, n);
  return { m, n, p, work: a.data.slice(), S: new Float64Array(p), U: new Matrix(m, p), Vt: new Matrix(p, n) };
}

function finishSvd(w: SvdWork, fn: string): SvdResult {
  checkResultFinite(w.S, 'singular value', fn);
  checkResultFinite(w.U.data, 'U', fn);
  checkResultFinite(w.Vt.data, 'Vt', fn);
  return { U: w.U, S: w.S, Vt: w.Vt };
}

/**
 * Thin singular value decomposition `a = U · diag(S) · Vt`.
 *
 * @param a - m×n matrix; p = min(m, n).
 * @returns U (m×p) and Vt (p×n) with orthonormal columns/rows, S (p) non-negative and descending.
 * @throws NonFiniteError; ConvergenceError if the backend's iteration fails.
 */
export function svd(a: Matrix, opts?: BackendOptions): SvdResult {
  return svdFor(a, opts, 'svd');
}

/** {@link svd} reporting errors as coming from `fn`. */
function svdFor(a: Matrix, opts: BackendOptions | undefined, fn: string): SvdResult {
  const w = prepareSvd(a, fn);
  if (w.p > 0) resolveBackend(opts).dgesdd(w.m, w.n, w.work, w.S, w.U.data, w.Vt.data);
  return finishSvd(w, fn);
}

/** {@link svd}, computed off the main thread where the backend supports it. */
export async function svdAsync(a: Matrix, opts?: BackendOptions): Promise<SvdResult> {
  const fn = 'svdAsync';
  const w = prepareSvd(a, fn);
  if (w.p > 0) await resolveBackend(opts).dgesddAsync(w.m, w.n, w.work, w.S, w.U.data, w.Vt.data);
  return finishSvd(w, fn);
}

// ---------------------------------------------------------------------------------------------------
// Cholesky and linear solves

/**
 * Cholesky factor of a symmetric positive definite matrix.
 *
 * @param a - n×n symmetric positive definite matrix (symmetry checked as in {@link eigh}).
 * @returns the lower-triangular L with `a = L Lᵀ` (zeros above the diagonal).
 * @throws NotPositiveDefiniteError naming the leading minor that is not positive; InvalidArgumentError if
 *   not symmetric; ShapeError; NonFiniteError.
 */
export function cholesky(a: Matrix, opts?: SymmetricOptions): Matrix {
  const fn = 'cholesky';
  checkSquareFinite(a, 'a', fn);
  checkTolerance(opts?.symmetryTol, 'symmetryTol', fn);
  const n = a.rows;
  const work = symmetrizedCopy(a, opts?.symmetryTol ?? DEFAULT_SYMMETRY_TOL, 'a', fn);
  try {
    if (n > 0) resolveBackend(opts).dpotrf(n, work);
  } catch (error) {
    rethrowNamed(error, fn, 'a');
  }
  return new Matrix(n, n, work);
}

/** The right-hand side of a solve as an n×nrhs row-major copy, plus how to shape the answer. */
interface RhsWork {
  nrhs: number;
  work: Float64Array;
  asVector: boolean;
}

function prepareRhs(a: Matrix, b: Matrix | Float64Array, fn: string): RhsWork {
  const n = a.rows;
  if (b instanceof Float64Array) {
    if (b.length !== n) throw new ShapeError(`${fn}: a is ${shapeOf(a)} but b has length ${b.length}`);
    checkFiniteVector(b, 'b', fn);
    return { nrhs: 1, work: b.slice(), asVector: true };
  }
  checkMatrix(b, 'b', fn);
  if (b.rows !== n) throw new ShapeError(`${fn}: a is ${shapeOf(a)} but b is ${shapeOf(b)} (needs ${n} rows)`);
  checkFiniteMatrix(b, 'b', fn);
  return { nrhs: b.cols, work: b.data.slice(), asVector: false };
}

function finishSolve(n: number, rhs: RhsWork, fn: string): Matrix | Float64Array {
  // Exactly singular systems were rejected by the backend; an overflowing solution means the matrix is
  // singular to working precision, which must not come back as ±Infinity/NaN.
  for (let i = 0; i < rhs.work.length; i++) {
    if (!Number.isFinite(rhs.work[i]!)) {
      throw new SingularMatrixError(`${fn}: a is numerically singular (the solution overflowed at flat index ${i})`);
    }
  }
  return rhs.asVector ? rhs.work : new Matrix(n, rhs.nrhs, rhs.work);
}

function prepareSpd(a: Matrix, b: Matrix | Float64Array, opts: SymmetricOptions | undefined, fn: string) {
  checkSquareFinite(a, 'a', fn);
  checkTolerance(opts?.symmetryTol, 'symmetryTol', fn);
  const rhs = prepareRhs(a, b, fn);
  const factor = symmetrizedCopy(a, opts?.symmetryTol ?? DEFAULT_SYMMETRY_TOL, 'a', fn);
  return { n: a.rows, rhs, factor };
}

/**
 * Solves `a x = b` for symmetric positive definite `a` by Cholesky factorisation.
 *
 * @param a - n×n SPD matrix.
 * @param b - n×nrhs matrix, or a vector of length n.
 * @returns x with the shape of `b`.
 * @throws NotPositiveDefiniteError; SingularMatrixError if the solution overflows; ShapeError; NonFiniteError;
 *   InvalidArgumentError if `a` is not symmetric.
 */
export function solveSPD(a: Matrix, b: Matrix, opts?: SymmetricOptions): Matrix;
export function solveSPD(a: Matrix, b: Float64Array, opts?: SymmetricOptions): Float64Array;
export function solveSPD(a: Matrix, b: Matrix | Float64Array, opts?: SymmetricOptions): Matrix | Float64Array;
export function solveSPD(a: Matrix, b: Matrix | Float64Array, opts?: SymmetricOptions): Matrix | Float64Array {
  const fn = 'solveSPD';
  const { n, rhs, factor } = prepareSpd(a, b, opts, fn);
  if (n > 0 && rhs.nrhs > 0) {
    const backend = resolveBackend(opts);
    try {
      backend.dpotrf(n, factor);
    } catch (error) {
      rethrowNamed(error, fn, 'a');
    }
    backend.dpotrs(n, rhs.nrhs, factor, rhs.work);
  }
  return finishSolve(n, rhs, fn);
}

/** {@link solveSPD} with the factorisation computed off the main thread where the backend supports it. */
export async function solveSPDAsync(a: Matrix, b: Matrix, opts?: SymmetricOptions): Promise<Matrix>;
export async function solveSPDAsync(a: Matrix, b: Float64Array, opts?: SymmetricOptions): Promise<Float64Array>;
export async function solveSPDAsync(
  a: Matrix, b: Matrix | Float64Array, opts?: SymmetricOptions,
): Promise<Matrix | Float64Array>;
export async function solveSPDAsync(
  a: Matrix, b: Matrix | Float64Array, opts?: SymmetricOptions,
): Promise<Matrix | Float64Array> {
  const fn = 'solveSPDAsync';
  const { n, rhs, factor } = prepareSpd(a, b, opts, fn);
  if (n > 0 && rhs.nrhs > 0) {
    const backend = resolveBackend(opts);
    try {
      await backend.dpotrfAsync(n, factor);
    } catch (error) {
      rethrowNamed(error, fn, 'a');
    }
    // The triangular solves are O(n²·nrhs), cheap next to the O(n³) factorisation.
    backend.dpotrs(n, rhs.nrhs, factor, rhs.work);
  }
  return finishSolve(n, rhs, fn);
}

function prepareGeneral(a: Matrix, b: Matrix | Float64Array, fn: string) {
  checkSquareFinite(a, 'a', fn);
  const rhs = prepareRhs(a, b, fn);
  return { n: a.rows, rhs, lu: a.data.slice() };
}

/**
 * Solves the general square system `a x = b` by LU factorisation with partial pivoting.
 *
 * @param a - n×n nonsingular matrix.
 * @param b - n×nrhs matrix, or a vector of length n.
 * @returns x with the shape of `b`.
 * @throws SingularMatrixError if `a` is exactly singular or the solution overflows; ShapeError; NonFiniteError.
 */
export function solve(a: Matrix, b: Matrix, opts?: BackendOptions): Matrix;
export function solve(a: Matrix, b: Float64Array, opts?: BackendOptions): Float64Array;
export function solve(a: Matrix, b: Matrix | Float64Array, opts?: BackendOptions): Matrix | Float64Array;
export function solve(a: Matrix, b: Matrix | Float64Array, opts?: BackendOptions): Matrix | Float64Array {
  const fn = 'solve';
  const { n, rhs, lu } = prepareGeneral(a, b, fn);
  if (n > 0) {
    try {
      resolveBackend(opts).dgesv(n, rhs.nrhs, lu, rhs.work);
    } catch (error) {
      rethrowNamed(error, fn, 'a');
    }
  }
  return finishSolve(n, rhs, fn);
}

/** {@link solve}, computed off the main thread where the backend supports it. */
export async function solveAsync(a: Matrix, b: Matrix, opts?: BackendOptions): Promise<Matrix>;
export async function solveAsync(a: Matrix, b: Float64Array, opts?: BackendOptions): Promise<Float64Array>;
export async function solveAsync(a: Matrix, b: Matrix | Float64Array, opts?: BackendOptions): Promise<Matrix | Float64Array>;
export async function solveAsync(a: Matrix, b: Matrix | Float64Array, opts?: BackendOptions): Promise<Matrix | Float64Array> {
  const fn = 'solveAsync';
  const { n, rhs, lu } = prepareGeneral(a, b, fn);
  if (n > 0) {
    try {
      await resolveBackend(opts).dgesvAsync(n, rhs.nrhs, lu, rhs.work);
    } catch (error) {
      rethrowNamed(error, fn, 'a');
    }
  }
  return finishSolve(n, rhs, fn);
}

// ---------------------------------------------------------------------------------------------------
// Pseudo-inverse and PSD square roots

/**
 * Moore–Penrose pseudo-inverse via the SVD: `a⁺ = V · diag(1/σ) · Uᵀ`, with singular values
 * `σ ≤ rcond · σ_max` treated as zero.
 *
 * @param a - m×n matrix.
 * @returns the n×m pseudo-inverse (all zeros for a zero matrix).
 */
export function pinv(a: Matrix, opts?: PinvOptions): Matrix {
  const fn = 'pinv';
  checkMatrix(a, 'a', fn);
  checkTolerance(opts?.rcond, 'rcond', fn);
  const { U, S, Vt } = svdFor(a, opts, fn);
  const m = a.rows, n = a.cols, p = S.length;
  const rcond = opts?.rcond ?? Math.max(m, n) * EPS;
  const cutoff = rcond * (p > 0 ? S[0]! : 0);
  // Keep the leading `rank` singular triplets; S is descending so they are a prefix.
  let rank = 0;
  while (rank < p && S[rank]! > cutoff) rank++;
  if (rank === 0) return new Matrix(n, m);
  // a⁺ = (diag(1/σ) Vt)ᵀ · Uᵀ over the kept triplets.
  const scaledVt = new Matrix(rank, n, Vt.data.slice(0, rank * n));
  for (let r = 0; r < rank; r++) {
    const inv = 1 / S[r]!;
    for (let j = 0; j < n; j++) scaledVt.data[r * n + j] = scaledVt.data[r * n + j]! * inv;
  }
  const uKept = rank === p ? U : leadingColumns(U, rank);
  return matmul(scaledVt, uKept, { transA: true, transB: true, backend: opts?.backend });
}

function leadingColumns(a: Matrix, count: number): Matrix {
  const out = new Matrix(a.rows, count);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < count; j++) out.data[i * count + j] = a.data[i * a.cols + j]!;
  }
  return out;
}

/**
 * Eigendecomposition of a matrix that must be positive semidefinite up to `tol`. Returns the eigenpairs
 * with the tolerated negative eigenvalues clamped to 0, and the scale `max|λ|`.
 */
function psdEigen(a: Matrix, opts: SqrtPSDOptions | undefined, fn: string): { values: Float64Array; vectors: Matrix; scale: number } {
  checkSquareFinite(a, 'a', fn);
  checkTolerance(opts?.tol, 'tol', fn);
  const n = a.rows;
  const tol = opts?.tol ?? defaultPsdTol(n);
  const { values, vectors } = eighFor(a, opts, fn, 'a');
  const lambdaMin = n > 0 ? values[0]! : 0;
  const lambdaMax = n > 0 ? values[n - 1]! : 0;
  const scale = Math.max(Math.abs(lambdaMin), Math.abs(lambdaMax));
  if (lambdaMin < -tol * scale) {
    throw new NotPositiveDefiniteError(
      `${fn}: matrix is not positive semidefinite: smallest eigenvalue ${lambdaMin} < −tol · max|λ| = −${tol} · ${scale}`,
    );
  }
  for (let i = 0; i < n && values[i]! < 0; i++) values[i] = 0;
  return { values, vectors, scale };
}

/**
 * `V · diag(f) · Vᵀ` over the columns with f ≠ 0, computed as `(V·diag(f)) · Vᵀ` (one rounding of f per
 * entry, unlike a `B·Bᵀ` split with √f) and then symmetrised exactly.
 */
function symmetricFromEigen(vectors: Matrix, weights: Float64Array, backend: LinAlgBackend | undefined): Matrix {
  const n = vectors.rows;
  const kept: number[] = [];
  for (let j = 0; j < weights.length; j++) if (weights[j] !== 0) kept.push(j);
  if (kept.length === 0) return new Matrix(n, n);
  const r = kept.length;
  const scaled = new Matrix(n, r);
  const plain = new Matrix(n, r);
  for (let c = 0; c < r; c++) {
    const j = kept[c]!;
    const w = weights[j]!;
    for (let i = 0; i < n; i++) {
      const v = vectors.data[i * n + j]!;
      plain.data[i * r + c] = v;
      scaled.data[i * r + c] = v * w;
    }
  }
  const out = matmul(scaled, plain, { transB: true, backend });
  symmetrizeInPlace(out.data, n);
  return out;
}

/**
 * Symmetric positive semidefinite square root: the unique PSD R with `R R = a`, via {@link eigh}
 * (`R = V · diag(√λ) · Vᵀ`). Singular PSD inputs (e.g. a pixel covariance with all-zero rows) are fine.
 *
 * @param a - n×n symmetric PSD matrix.
 * @param opts.tol - eigenvalues in `[−tol · max|λ|, 0)` are clamped to 0; default {@link defaultPsdTol}(n).
 * @returns R, symmetric.
 * @throws NotPositiveDefiniteError ("matrix is not positive semidefinite: smallest eigenvalue …") if an
 *   eigenvalue is below `−tol · max|λ|`; InvalidArgumentError if not symmetric; ShapeError; NonFiniteError.
 */
export function sqrtPSD(a: Matrix, opts?: SqrtPSDOptions): Matrix {
  const { values, vectors } = psdEigen(a, opts, 'sqrtPSD');
  const weights = values.map((lambda) => Math.sqrt(lambda));
  return symmetricFromEigen(vectors, weights, opts?.backend);
}

/**
 * Pseudo-inverse square root of a PSD matrix: `V · diag(λ⁻¹ᐟ²) · Vᵀ` over the eigenvalues
 * `λ > rcond · max|λ|`, with the other directions mapped to 0. It equals `pinv(sqrtPSD(a))` and whitens
 * on the range of `a`: `W a W` is the orthogonal projector onto that range.
 *
 * @param a - n×n symmetric PSD matrix.
 * @param opts.tol - negative-eigenvalue tolerance as in {@link sqrtPSD}; default {@link defaultPsdTol}(n).
 * @param opts.rcond - relative inversion cutoff; default `tol`.
 * @throws as {@link sqrtPSD}.
 */
export function pinvSqrtPSD(a: Matrix, opts?: PinvSqrtPSDOptions): Matrix {
  const fn = 'pinvSqrtPSD';
  checkMatrix(a, 'a', fn);
  checkTolerance(opts?.rcond, 'rcond', fn);
  const { values, vectors, scale } = psdEigen(a, opts, fn);
  const rcond = opts?.rcond ?? opts?.tol ?? defaultPsdTol(a.rows);
  const cutoff = rcond * scale;
  const weights = values.map((lambda) => (lambda > cutoff ? 1 / Math.sqrt(lambda) : 0));
  return symmetricFromEigen(vectors, weights, opts?.backend);
}
