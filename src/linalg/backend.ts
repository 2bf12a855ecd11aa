/**
 * The small interface every linear-algebra backend implements: a handful of BLAS/LAPACK calls on
 * dense, contiguous, row-major typed arrays. Everything else in `linalg/` (shape checks, pseudo-inverse,
 * PSD square roots, ...) is written once on top of it.
 *
 * Conventions shared by all methods:
 * - Matrices are row-major and contiguous: element (i, j) of an r×c matrix is `a[i * c + j]`.
 * - Arguments are validated by the caller (`linalg/ops.ts`); a backend may still validate again
 *   (the native one must, before touching memory), throwing `ShapeError`.
 * - Failures are reported as typed errors from `errors.ts`, never as NaN results.
 * - The `*Async` variants compute the same thing off the main thread where the backend can
 *   (the native addon uses libuv's thread pool); the JS backend resolves after computing synchronously.
 *   The caller must not touch the arrays until the promise settles.
 */

export type BackendName = 'native' | 'js';

export interface LinAlgBackend {
  readonly name: BackendName;

  /**
   * General matrix product `C = alpha · op(A) · op(B) + beta · C` in float64, where op(A) is m×k and
   * op(B) is k×n. With `transA` false A is stored m×k, otherwise k×m; likewise B is k×n or n×k.
   * C is m×n. When beta is 0, C need not be initialised (NaN in C does not propagate).
   */
  dgemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array,
  ): void;
  /** `dgemm` in float32. */
  sgemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array,
  ): void;

  /**
   * Symmetric eigendecomposition of the n×n matrix `a` (both triangles must hold the matrix).
   * On return `w` holds the eigenvalues in ascending order and `a` is overwritten by the orthonormal
   * eigenvectors stored as columns: `a[i * n + j]` is component i of eigenvector j.
   * Throws `ConvergenceError` if the algorithm fails.
   */
  dsyevd(n: number, a: Float64Array, w: Float64Array): void;

  /**
   * Thin singular value decomposition of the m×n matrix `a` (destroyed): with p = min(m, n),
   * `u` (m×p) and `vt` (p×n) get orthonormal rows/columns and `s` (p) the singular values in
   * descending order, so that A = U · diag(s) · Vᵀ. Throws `ConvergenceError` if it fails.
   */
  dgesdd(m: number, n: number, a: Float64Array, s: Float64Array, u: Float64Array, vt: Float64Array): void;

  /**
   * Cholesky factorisation of the symmetric positive definite n×n matrix `a`, overwritten in place by
   * the lower-triangular factor L (A = L Lᵀ; the strict upper triangle is set to 0).
   * Throws `NotPositiveDefiniteError` naming the leading minor that is not positive.
   */
  dpotrf(n: number, a: Float64Array): void;

  /**
   * Overwrites the factor L from `dpotrf` (n×n) by the inverse (L Lᵀ)⁻¹, both triangles. Throws
   * `SingularMatrixError` if L has a zero on its diagonal.
   */
  dpotri(n: number, l: Float64Array): void;

  /** Solves `L Lᵀ X = B` given the factor from `dpotrf`; `b` (n×nrhs) is overwritten by X. */
  dpotrs(n: number, nrhs: number, l: Float64Array, b: Float64Array): void;

  /**
   * Solves the general system `A X = B` by LU with partial pivoting; `a` (n×n) is destroyed and
   * `b` (n×nrhs) overwritten by X. Throws `SingularMatrixError` for an exactly singular A.
   */
  dgesv(n: number, nrhs: number, a: Float64Array, b: Float64Array): void;

  /**
   * Copies sub-blocks between row-major arrays, given as rows × column runs (see linalg/copyRuns.ts): for every
   * row t and run r, dst[do_t + dc_r + j] = (accumulate ? dst[do_t + dc_r + j] : 0) + rowScale[t]·src[so_t + sc_r + j]
   * for j < n_r, with (so_t, do_t) = rowOffsets[2t, 2t+1] and (sc_r, dc_r, n_r) = runTable[3r .. 3r+2]. Offsets and
   * lengths must be non-negative and stay inside both arrays, and dst must not overlap src (ShapeError /
   * InvalidArgumentError otherwise).
   */
  dcopyRuns(
    rows: number, runs: number, accumulate: boolean, rowOffsets: Int32Array, runTable: Int32Array, rowScale: Float64Array,
    src: Float64Array, dst: Float64Array,
  ): void;

  /**
   * Triangular product, in place: b ← alpha·op(A)·b (`left`) or b ← alpha·b·op(A), with A the upper (`upper`) or
   * lower triangle of the k×k matrix `a` including its diagonal (k = m from the left, n from the right; the other
   * triangle is not read), op(A) = Aᵀ when `transA`, and b m×n. Both row-major with leading dimensions lda ≥ k and
   * ldb ≥ n, so that blocks of larger matrices can be used without copies. `b` must not overlap `a`.
   */
  dtrmm(
    left: boolean, upper: boolean, transA: boolean, m: number, n: number, alpha: number,
    a: Float64Array, lda: number, b: Float64Array, ldb: number,
  ): void;
  dtrmmAsync(
    left: boolean, upper: boolean, transA: boolean, m: number, n: number, alpha: number,
    a: Float64Array, lda: number, b: Float64Array, ldb: number,
  ): Promise<void>;

  /** Replaces each of the `count` n×n blocks of `a` (stored one after another) by (A + Aᵀ)/2, in place. */
  dsymmetrize(n: number, count: number, a: Float64Array): void;

  /**
   * Rows of the rows×n matrix x shifted and scaled in place, row r with row i = ⌊r/period⌋ of b and of scale:
   * x[r, j] ← (x[r, j] + alpha[r mod period]·b[i, j])·scale[i, j], the shift only when `shift`, the scaling only
   * when `scaled` (an array not used may be empty). b and scale have ⌈rows/period⌉ rows of n; x must not overlap
   * the others (ShapeError / InvalidArgumentError otherwise; linalg/scaleShiftRows.ts).
   */
  dscaleShiftRows(
    rows: number, n: number, period: number, shift: boolean, scaled: boolean,
    alpha: Float64Array, b: Float64Array, scale: Float64Array, x: Float64Array,
  ): void;

  /** Number of threads the backend's BLAS uses (1 for the JS backend). */
  getThreads(): number;
  /** Sets the BLAS thread count (ignored by the JS backend). */
  setThreads(n: number): void;

  dgemmAsync(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array,
  ): Promise<void>;
  sgemmAsync(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array,
  ): Promise<void>;
  dsyevdAsync(n: number, a: Float64Array, w: Float64Array): Promise<void>;
  dgesddAsync(m: number, n: number, a: Float64Array, s: Float64Array, u: Float64Array, vt: Float64Array): Promise<void>;
  dpotrfAsync(n: number, a: Float64Array): Promise<void>;
  dgesvAsync(n: number, nrhs: number, a: Float64Array, b: Float64Array): Promise<void>;
}
