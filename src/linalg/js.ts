/**
 * The portable linear-algebra backend: plain JavaScript on typed arrays, no native code and no `node:`
 * imports, so it also runs in a browser. It implements {@link LinAlgBackend} exactly (same storage
 * conventions, same typed errors) and is 30–70× slower than the OpenBLAS addon on large problems, which is
 * fine for tests, small models and the viewer.
 *
 * Algorithms:
 * - `dgemm`/`sgemm`: blocked i-k-j loops over row-major operands (transposed operands are copied once
 *   into row-major order), with a 4×4 register tile over (rows of C) × (inner dimension). `sgemm`
 *   accumulates in float64 and rounds once at the end.
 * - `dsyevd`: Householder tridiagonalisation followed by the implicit QL algorithm (EISPACK `tred2`/`tql2`
 *   as published in JAMA; the code follows ml-matrix 6.15.1's transposed-storage version of them, moved
 *   onto one flat Float64Array and given an iteration limit).
 * - `dgesdd`: ml-matrix's Golub–Kahan–Reinsch SVD (JAMA), run on the tall orientation of the matrix.
 * - `dpotrf`/`dpotrs`/`dgesv`: row-oriented Cholesky and LU with partial pivoting on typed arrays.
 */
import { Matrix as MlMatrix, SVD as MlSVD } from 'ml-matrix';
import {
  ConvergenceError,
  NotPositiveDefiniteError,
  ShapeError,
  SingularMatrixError,
  InvalidArgumentError,
} from '../errors.js';
import type { LinAlgBackend } from './backend.js';
import { checkCopyRuns, copyRunsJs } from './copyRuns.js';
import { checkScaleShiftRows, scaleShiftRowsJs } from './scaleShiftRows.js';
import { checkTrmm, trmmJs } from './trmm.js';
import { symmetrizeInPlace } from './matrix.js';

/** Inner-dimension block: 64 rows of op(B) (one column block of them) stay in L1/L2 while C's rows stream. */
const GEMM_K_BLOCK = 64;
/** Column block of op(B) and C. */
const GEMM_J_BLOCK = 512;
/** The QL iteration gives up on an eigenvalue after this many sweeps (EISPACK uses 30; a few more are harmless). */
const TQL2_MAX_SWEEPS_PER_EIGENVALUE = 60;

function checkDim(value: number, name: string, routine: string): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new ShapeError(`${routine}: ${name} must be a non-negative integer, got ${value}`);
  }
}

function checkLength(array: ArrayLike<number>, needed: number, name: string, routine: string): void {
  if (array.length < needed) {
    throw new ShapeError(`${routine}: ${name} has ${array.length} entries but needs at least ${needed}`);
  }
}

/**
 * Returns the r×c row-major matrix whose (i, j) entry is `scale · src[j * r + i]`, i.e. the transpose of
 * the c×r row-major `src`, in float64.
 */
function transposedCopy(src: ArrayLike<number>, r: number, c: number, scale: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let j = 0; j < c; j++) {
    const srcRow = j * r;
    for (let i = 0; i < r; i++) out[i * c + j] = scale * src[srcRow + i]!;
  }
  return out;
}

/** Returns `scale · src[0 .. length)` as a new Float64Array. */
function scaledCopy(src: ArrayLike<number>, length: number, scale: number): Float64Array {
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = scale * src[i]!;
  return out;
}

/**
 * `C += A · B` for row-major float64 A (m×k), B (k×n), C (m×n). Blocked over (k, n) so that a
 * GEMM_K_BLOCK × GEMM_J_BLOCK panel of B is reused from cache by every row of C, and register-tiled
 * 4 rows × 4 inner indices so each loaded B element feeds 4 multiply-adds and each C element is
 * loaded/stored once per 4 inner indices.
 */
function gemmAccumulate(m: number, n: number, k: number, a: Float64Array, b: Float64Array, c: Float64Array): void {
  for (let p0 = 0; p0 < k; p0 += GEMM_K_BLOCK) {
    const p1 = Math.min(k, p0 + GEMM_K_BLOCK);
    for (let j0 = 0; j0 < n; j0 += GEMM_J_BLOCK) {
      const j1 = Math.min(n, j0 + GEMM_J_BLOCK);
      let i = 0;
      for (; i + 3 < m; i += 4) {
        const c0 = i * n, c1 = c0 + n, c2 = c1 + n, c3 = c2 + n;
        const r0 = i * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
        let p = p0;
        for (; p + 3 < p1; p += 4) {
          const a00 = a[r0 + p]!, a01 = a[r0 + p + 1]!, a02 = a[r0 + p + 2]!, a03 = a[r0 + p + 3]!;
          const a10 = a[r1 + p]!, a11 = a[r1 + p + 1]!, a12 = a[r1 + p + 2]!, a13 = a[r1 + p + 3]!;
          const a20 = a[r2 + p]!, a21 = a[r2 + p + 1]!, a22 = a[r2 + p + 2]!, a23 = a[r2 + p + 3]!;
          const a30 = a[r3 + p]!, a31 = a[r3 + p + 1]!, a32 = a[r3 + p + 2]!, a33 = a[r3 + p + 3]!;
          const q0 = p * n, q1 = q0 + n, q2 = q1 + n, q3 = q2 + n;
          for (let j = j0; j < j1; j++) {
            const b0 = b[q0 + j]!, b1 = b[q1 + j]!, b2 = b[q2 + j]!, b3 = b[q3 + j]!;
            c[c0 + j] += a00 * b0 + a01 * b1 + a02 * b2 + a03 * b3;
            c[c1 + j] += a10 * b0 + a11 * b1 + a12 * b2 + a13 * b3;
            c[c2 + j] += a20 * b0 + a21 * b1 + a22 * b2 + a23 * b3;
            c[c3 + j] += a30 * b0 + a31 * b1 + a32 * b2 + a33 * b3;
          }
        }
        for (; p < p1; p++) {
          const a0 = a[r0 + p]!, a1 = a[r1 + p]!, a2 = a[r2 + p]!, a3 = a[r3 + p]!;
          const q = p * n;
          for (let j = j0; j < j1; j++) {
            const bj = b[q + j]!;
            c[c0 + j] += a0 * bj;
            c[c1 + j] += a1 * bj;
            c[c2 + j] += a2 * bj;
            c[c3 + j] += a3 * bj;
          }
        }
      }
      for (; i < m; i++) {
        const ci = i * n, ri = i * k;
        for (let p = p0; p < p1; p++) {
          const aip = a[ri + p]!;
          const q = p * n;
          for (let j = j0; j < j1; j++) c[ci + j] += aip * b[q + j]!;
        }
      }
    }
  }
}

/**
 * Shared float64 core of dgemm/sgemm: `acc += alpha · op(A) · op(B)` where `acc` already holds `beta · C`.
 * op(A) and op(B) are brought into row-major float64 form first (alpha folded into A's copy), which costs
 * O(mk + kn), negligible next to the O(mnk) product.
 */
function gemmInto(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: ArrayLike<number>, b: ArrayLike<number>, acc: Float64Array,
): void {
  if (alpha === 0 || m === 0 || n === 0 || k === 0) return;
  const aRowMajor = transA
    ? transposedCopy(a, m, k, alpha)
    : a instanceof Float64Array && alpha === 1 ? a : scaledCopy(a, m * k, alpha);
  const bRowMajor = transB
    ? transposedCopy(b, k, n, 1)
    : b instanceof Float64Array ? b : scaledCopy(b, k * n, 1);
  gemmAccumulate(m, n, k, aRowMajor, bRowMajor, acc);
}

function validateGemm(
  routine: string, m: number, n: number, k: number,
  a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>,
): void {
  checkDim(m, 'm', routine);
  checkDim(n, 'n', routine);
  checkDim(k, 'k', routine);
  checkLength(a, m * k, 'a', routine);
  checkLength(b, k * n, 'b', routine);
  checkLength(c, m * n, 'c', routine);
}

/** `C = alpha · op(A) · op(B) + beta · C` in float64 (see {@link LinAlgBackend.dgemm}). */
function dgemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array,
): void {
  validateGemm('dgemm', m, n, k, a, b, c);
  const mn = m * n;
  // beta = 0 overwrites C without reading it, so NaN garbage in an uninitialised C cannot leak through.
  if (beta === 0) c.fill(0, 0, mn);
  else if (beta !== 1) for (let i = 0; i < mn; i++) c[i] = beta * c[i]!;
  gemmInto(transA, transB, m, n, k, alpha, a, b, c);
}

/** `C = alpha · op(A) · op(B) + beta · C` in float32 storage, accumulated in float64 and rounded once. */
function sgemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array,
): void {
  validateGemm('sgemm', m, n, k, a, b, c);
  const mn = m * n;
  const acc = new Float64Array(mn);
  if (beta !== 0) for (let i = 0; i < mn; i++) acc[i] = beta * c[i]!;
  gemmInto(transA, transB, m, n, k, alpha, a, b, acc);
  for (let i = 0; i < mn; i++) c[i] = acc[i]!;
}

/** `sqrt(a² + b²)` without destructive underflow or overflow (as in JAMA). */
function hypotenuse(a: number, b: number): number {
  const absA = Math.abs(a);
  const absB = Math.abs(b);
  if (absA > absB) {
    const r = b / a;
    return absA * Math.sqrt(1 + r * r);
  }
  if (b !== 0) {
    const r = a / b;
    return absB * Math.sqrt(1 + r * r);
  }
  return 0;
}

/** Transposes the n×n row-major matrix `v` in place. */
function transposeSquareInPlace(n: number, v: Float64Array): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const t = v[i * n + j]!;
      v[i * n + j] = v[j * n + i]!;
      v[j * n + i] = t;
    }
  }
}

/**
 * Householder reduction of the symmetric matrix held (transposed) in `v` to tridiagonal form, accumulating
 * the transformations in `v`. On return `d` is the diagonal and `e[1..n)` the subdiagonal (EISPACK `tred2`).
 * `v[j * n + i]` holds the logical V(i, j) so that the hot loops run along rows.
 */
function tred2(n: number, e: Float64Array, d: Float64Array, v: Float64Array): void {
  for (let j = 0; j < n; j++) d[j] = v[j * n + n - 1]!;

  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);

    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = v[j * n + i - 1]!;
        v[j * n + i] = 0;
        v[i * n + j] = 0;
      }
    } else {
      // Scale the row to avoid under/overflow in the Householder vector.
      for (let k = 0; k < i; k++) {
        d[k] = d[k]! / scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;

      // Apply the similarity transformation to the remaining columns.
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        v[i * n + j] = f;
        g = e[j]! + v[j * n + j]! * f;
        const rowJ = j * n;
        for (let k = j + 1; k <= i - 1; k++) {
          g += v[rowJ + k]! * d[k]!;
          e[k] = e[k]! + v[rowJ + k]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = e[j]! / h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = e[j]! - hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        const rowJ = j * n;
        for (let k = j; k <= i - 1; k++) v[rowJ + k] = v[rowJ + k]! - (f * e[k]! + g * d[k]!);
        d[j] = v[rowJ + i - 1]!;
        v[rowJ + i] = 0;
      }
    }
    d[i] = h;
  }

  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    v[i * n + n - 1] = v[i * n + i]!;
    v[i * n + i] = 1;
    const h = d[i + 1]!;
    const rowNext = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = v[rowNext + k]! / h;
      for (let j = 0; j <= i; j++) {
        const rowJ = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += v[rowNext + k]! * v[rowJ + k]!;
        for (let k = 0; k <= i; k++) v[rowJ + k] = v[rowJ + k]! - g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) v[rowNext + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = v[j * n + n - 1]!;
    v[j * n + n - 1] = 0;
  }
  v[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * Implicit QL iteration on the tridiagonal matrix (d, e) from {@link tred2}, applying the rotations to `v`
 * (transposed storage, as there), then sorting eigenvalues ascending with their vectors (EISPACK `tql2`).
 * Throws `ConvergenceError` if an eigenvalue needs more than TQL2_MAX_SWEEPS_PER_EIGENVALUE sweeps.
 */
function tql2(n: number, e: Float64Array, d: Float64Array, v: Float64Array): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;

  let f = 0;
  let tst1 = 0;
  const eps = Number.EPSILON;
  for (let l = 0; l < n; l++) {
    // Find a small subdiagonal element.
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }

    if (m > l) {
      let sweeps = 0;
      do {
        if (++sweeps > TQL2_MAX_SWEEPS_PER_EIGENVALUE) {
          throw new ConvergenceError(
            `dsyevd (JS): the QL iteration did not converge for eigenvalue ${l} of ${n} after ${TQL2_MAX_SWEEPS_PER_EIGENVALUE} sweeps`,
          );
        }
        // Compute the implicit shift.
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = hypotenuse(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - h;
        f += h;

        // Implicit QL transformation.
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = hypotenuse(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          const rowI = i * n, rowNext = rowI + n;
          for (let k = 0; k < n; k++) {
            const vNext = v[rowNext + k]!;
            const vI = v[rowI + k]!;
            v[rowNext + k] = s * vI + c * vNext;
            v[rowI + k] = c * vI - s * vNext;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }

  // Selection sort, ascending, moving the vectors along.
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i]!;
    for (let j = i + 1; j < n; j++) {
      if (d[j]! < p) {
        k = j;
        p = d[j]!;
      }
    }
    if (k !== i) {
      d[k] = d[i]!;
      d[i] = p;
      const rowI = i * n, rowK = k * n;
      for (let j = 0; j < n; j++) {
        const t = v[rowI + j]!;
        v[rowI + j] = v[rowK + j]!;
        v[rowK + j] = t;
      }
    }
  }
}

function assertFiniteResult(values: ArrayLike<number>, length: number, routine: string): void {
  for (let i = 0; i < length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new ConvergenceError(`${routine} (JS): produced a non-finite value (${values[i]}) at index ${i}`);
    }
  }
}

/** Symmetric eigendecomposition in place (see {@link LinAlgBackend.dsyevd}). */
function dsyevd(n: number, a: Float64Array, w: Float64Array): void {
  checkDim(n, 'n', 'dsyevd');
  checkLength(a, n * n, 'a', 'dsyevd');
  checkLength(w, n, 'w', 'dsyevd');
  if (n === 0) return;
  const e = new Float64Array(n);
  const d = new Float64Array(n);
  // The routines work on Vᵀ; for the symmetric input the transpose only matters if the caller broke the
  // "both triangles" contract, and then it keeps the behaviour identical to ml-matrix's.
  transposeSquareInPlace(n, a);
  tred2(n, e, d, a);
  tql2(n, e, d, a);
  // Rows of the transposed storage are the eigenvectors; normalise each to unit length (removes the last
  // ulp-level drift of the accumulated rotations) before restoring the column layout.
  for (let j = 0; j < n; j++) {
    const row = j * n;
    let sumSq = 0;
    for (let i = 0; i < n; i++) sumSq += a[row + i]! * a[row + i]!;
    const inv = 1 / Math.sqrt(sumSq);
    for (let i = 0; i < n; i++) a[row + i] = a[row + i]! * inv;
  }
  transposeSquareInPlace(n, a);
  for (let i = 0; i < n; i++) w[i] = d[i]!;
  assertFiniteResult(w, n, 'dsyevd');
  assertFiniteResult(a, n * n, 'dsyevd');
}

/** Thin SVD (see {@link LinAlgBackend.dgesdd}). */
function dgesdd(m: number, n: number, a: Float64Array, s: Float64Array, u: Float64Array, vt: Float64Array): void {
  checkDim(m, 'm', 'dgesdd');
  checkDim(n, 'n', 'dgesdd');
  const p = Math.min(m, n);
  checkLength(a, m * n, 'a', 'dgesdd');
  checkLength(s, p, 's', 'dgesdd');
  checkLength(u, m * p, 'u', 'dgesdd');
  checkLength(vt, p * n, 'vt', 'dgesdd');
  if (p === 0) return;
  // JAMA's SVD is written for rows ≥ columns; for a wide A decompose Aᵀ = U' S V'ᵀ, so A = V' S U'ᵀ.
  const wide = m < n;
  const rows = wide ? n : m;
  const cols = wide ? m : n;
  const tall = new MlMatrix(rows, cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) tall.set(i, j, wide ? a[j * n + i]! : a[i * n + j]!);
  }
  const result = new MlSVD(tall, { computeLeftSingularVectors: true, computeRightSingularVectors: true, autoTranspose: false });
  const left = result.leftSingularVectors; // rows × p
  const right = result.rightSingularVectors; // cols × cols (= p × p)
  const sigma = result.diagonal;
  for (let i = 0; i < p; i++) s[i] = sigma[i]!;
  if (wide) {
    // U = V' (m×m), Vᵀ = U'ᵀ (m×n).
    for (let i = 0; i < m; i++) for (let j = 0; j < p; j++) u[i * p + j] = right.get(i, j);
    for (let j = 0; j < p; j++) for (let i = 0; i < n; i++) vt[j * n + i] = left.get(i, j);
  } else {
    for (let i = 0; i < m; i++) for (let j = 0; j < p; j++) u[i * p + j] = left.get(i, j);
    for (let j = 0; j < p; j++) for (let i = 0; i < n; i++) vt[j * n + i] = right.get(i, j);
  }
  assertFiniteResult(s, p, 'dgesdd');
  assertFiniteResult(u, m * p, 'dgesdd');
  assertFiniteResult(vt, p * n, 'dgesdd');
}

/**
 * Cholesky factorisation in place, reading the lower triangle (row-oriented Cholesky–Banachiewicz:
 * every inner product runs along two contiguous rows). See {@link LinAlgBackend.dpotrf}.
 */
function dpotrf(n: number, a: Float64Array): void {
  checkDim(n, 'n', 'dpotrf');
  checkLength(a, n * n, 'a', 'dpotrf');
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * n;
      let sum = a[rowI + j]!;
      for (let k = 0; k < j; k++) sum -= a[rowI + k]! * a[rowJ + k]!;
      if (i === j) {
        // `!(sum > 0)` also rejects NaN, which an overflowing or NaN-filled input would produce.
        if (!(sum > 0)) {
          throw new NotPositiveDefiniteError(
            `dpotrf: the leading minor of order ${i + 1} is not positive definite (pivot ${sum})`,
          );
        }
        a[rowI + i] = Math.sqrt(sum);
      } else {
        a[rowI + j] = sum / a[rowJ + j]!;
      }
    }
    for (let j = i + 1; j < n; j++) a[rowI + j] = 0;
  }
}

/** Solves `L Lᵀ X = B` in place in `b` (see {@link LinAlgBackend.dpotrs}). */
function dpotrs(n: number, nrhs: number, l: Float64Array, b: Float64Array): void {
  checkDim(n, 'n', 'dpotrs');
  checkDim(nrhs, 'nrhs', 'dpotrs');
  checkLength(l, n * n, 'l', 'dpotrs');
  checkLength(b, n * nrhs, 'b', 'dpotrs');
  // Forward substitution L Y = B, one row of Y at a time (rows of B are contiguous).
  for (let i = 0; i < n; i++) {
    const rowL = i * n, rowB = i * nrhs;
    for (let k = 0; k < i; k++) {
      const lik = l[rowL + k]!;
      if (lik === 0) continue;
      const rowK = k * nrhs;
      for (let j = 0; j < nrhs; j++) b[rowB + j] = b[rowB + j]! - lik * b[rowK + j]!;
    }
    const inv = 1 / l[rowL + i]!;
    for (let j = 0; j < nrhs; j++) b[rowB + j] = b[rowB + j]! * inv;
  }
  // Back substitution Lᵀ X = Y in column-sweep form, so that L is read along its rows.
  for (let k = n - 1; k >= 0; k--) {
    const rowL = k * n, rowK = k * nrhs;
    const inv = 1 / l[rowL + k]!;
    for (let j = 0; j < nrhs; j++) b[rowK + j] = b[rowK + j]! * inv;
    for (let i = 0; i < k; i++) {
      const lki = l[rowL + i]!;
      if (lki === 0) continue;
      const rowI = i * nrhs;
      for (let j = 0; j < nrhs; j++) b[rowI + j] = b[rowI + j]! - lki * b[rowK + j]!;
    }
  }
}

/** (L Lᵀ)⁻¹ from the factor L, in place (see {@link LinAlgBackend.dpotri}): dpotrs on the identity. */
function dpotri(n: number, l: Float64Array): void {
  checkDim(n, 'n', 'dpotri');
  checkLength(l, n * n, 'l', 'dpotri');
  for (let i = 0; i < n; i++) {
    if (l[i * n + i] === 0) throw new SingularMatrixError(`dpotri: the factor has a zero on its diagonal at ${i}, the matrix is singular`);
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  dpotrs(n, n, l, inv);
  symmetrizeInPlace(inv, n);
  l.set(inv.subarray(0, n * n));
}

/** LU with partial pivoting and solve, in place (see {@link LinAlgBackend.dgesv}). */
function dgesv(n: number, nrhs: number, a: Float64Array, b: Float64Array): void {
  checkDim(n, 'n', 'dgesv');
  checkDim(nrhs, 'nrhs', 'dgesv');
  checkLength(a, n * n, 'a', 'dgesv');
  checkLength(b, n * nrhs, 'b', 'dgesv');
  for (let j = 0; j < n; j++) {
    let pivotRow = j;
    let pivotAbs = Math.abs(a[j * n + j]!);
    for (let i = j + 1; i < n; i++) {
      const v = Math.abs(a[i * n + j]!);
      if (v > pivotAbs) {
        pivotAbs = v;
        pivotRow = i;
      }
    }
    if (pivotAbs === 0) {
      throw new SingularMatrixError(`dgesv: the matrix is singular (U(${j + 1},${j + 1}) is exactly zero)`);
    }
    if (pivotRow !== j) {
      for (let c = 0; c < n; c++) {
        const t = a[j * n + c]!;
        a[j * n + c] = a[pivotRow * n + c]!;
        a[pivotRow * n + c] = t;
      }
      for (let c = 0; c < nrhs; c++) {
        const t = b[j * nrhs + c]!;
        b[j * nrhs + c] = b[pivotRow * nrhs + c]!;
        b[pivotRow * nrhs + c] = t;
      }
    }
    const pivot = a[j * n + j]!;
    const rowJ = j * n, rhsJ = j * nrhs;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      const factor = a[rowI + j]! / pivot;
      if (factor === 0) continue;
      a[rowI + j] = factor;
      for (let c = j + 1; c < n; c++) a[rowI + c] = a[rowI + c]! - factor * a[rowJ + c]!;
      const rhsI = i * nrhs;
      for (let c = 0; c < nrhs; c++) b[rhsI + c] = b[rhsI + c]! - factor * b[rhsJ + c]!;
    }
  }
  // Back substitution U X = Y in column-sweep form (U read along rows).
  for (let k = n - 1; k >= 0; k--) {
    const rhsK = k * nrhs;
    const inv = 1 / a[k * n + k]!;
    for (let c = 0; c < nrhs; c++) b[rhsK + c] = b[rhsK + c]! * inv;
    for (let i = 0; i < k; i++) {
      const uik = a[i * n + k]!;
      if (uik === 0) continue;
      const rhsI = i * nrhs;
      for (let c = 0; c < nrhs; c++) b[rhsI + c] = b[rhsI + c]! - uik * b[rhsK + c]!;
    }
  }
}

/** Runs `compute` now and reports its outcome as a settled promise (errors become rejections). */
function settled(compute: () => void): Promise<void> {
  try {
    compute();
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Creates the pure-JavaScript backend. It is stateless and single-threaded: `getThreads()` is 1 and
 * `setThreads` only validates its argument. The `*Async` methods compute synchronously and return a
 * settled promise.
 */
export function createJsBackend(): LinAlgBackend {
  return {
    name: 'js',
    dgemm,
    sgemm,
    dsyevd,
    dgesdd,
    dpotrf,
    dpotrs,
    dgesv,
    dpotri,
    dsymmetrize(n, count, a) {
      checkDim(n, 'n', 'dsymmetrize');
      checkDim(count, 'count', 'dsymmetrize');
      checkLength(a, n * n * count, 'a', 'dsymmetrize');
      for (let b = 0; b < count; b++) symmetrizeInPlace(a, n, b * n * n);
    },
    dscaleShiftRows(rows, n, period, shift, scaled, alpha, b, scale, x) {
      checkScaleShiftRows('dscaleShiftRows', rows, n, period, shift, scaled, alpha, b, scale, x);
      scaleShiftRowsJs(rows, n, period, shift, scaled, alpha, b, scale, x);
    },
    dcopyRuns(rows, runs, accumulate, rowOffsets, runTable, rowScale, src, dst) {
      checkCopyRuns('dcopyRuns', rows, runs, rowOffsets, runTable, rowScale, src, dst);
      copyRunsJs(rows, runs, accumulate, rowOffsets, runTable, rowScale, src, dst);
    },
    dtrmm(left, upper, transA, m, n, alpha, a, lda, b, ldb) {
      checkTrmm('dtrmm', left, upper, transA, m, n, alpha, a, lda, b, ldb);
      trmmJs(left, upper, transA, m, n, alpha, a, lda, b, ldb);
    },
    dtrmmAsync: (left, upper, transA, m, n, alpha, a, lda, b, ldb) => settled(() => {
      checkTrmm('dtrmmAsync', left, upper, transA, m, n, alpha, a, lda, b, ldb);
      trmmJs(left, upper, transA, m, n, alpha, a, lda, b, ldb);
    }),
    getThreads: () => 1,
    setThreads(n: number): void {
      if (!Number.isInteger(n) || n < 1) {
        throw new InvalidArgumentError(`setThreads: n must be a positive integer, got ${n}`);
      }
    },
    dgemmAsync: (transA, transB, m, n, k, alpha, a, b, beta, c) =>
      settled(() => dgemm(transA, transB, m, n, k, alpha, a, b, beta, c)),
    sgemmAsync: (transA, transB, m, n, k, alpha, a, b, beta, c) =>
      settled(() => sgemm(transA, transB, m, n, k, alpha, a, b, beta, c)),
    dsyevdAsync: (n, a, w) => settled(() => dsyevd(n, a, w)),
    dgesddAsync: (m, n, a, s, u, vt) => settled(() => dgesdd(m, n, a, s, u, vt)),
    dpotrfAsync: (n, a) => settled(() => dpotrf(n, a)),
    dgesvAsync: (n, nrhs, a, b) => settled(() => dgesv(n, nrhs, a, b)),
  };
}
