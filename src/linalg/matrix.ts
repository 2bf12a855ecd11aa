/**
 * Dense row-major matrices over typed arrays. `Matrix` is float64 (everything numerical);
 * `Matrix32` is float32 (training). Element (i, j) lives at `data[i * cols + j]`.
 */
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';

function checkDims(rows: number, cols: number, length: number, what: string): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new ShapeError(`${what}: dimensions must be non-negative integers, got ${rows}×${cols}`);
  }
  if (length !== rows * cols) {
    throw new ShapeError(`${what}: data has ${length} entries but the shape ${rows}×${cols} needs ${rows * cols}`);
  }
}

/** A dense row-major float64 matrix. The data array is shared, not copied. */
export class Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;

  constructor(rows: number, cols: number, data?: Float64Array) {
    const d = data ?? new Float64Array(rows * cols);
    checkDims(rows, cols, d.length, 'Matrix');
    this.rows = rows;
    this.cols = cols;
    this.data = d;
  }

  static zeros(rows: number, cols: number): Matrix {
    return new Matrix(rows, cols);
  }

  static identity(n: number): Matrix {
    const m = new Matrix(n, n);
    for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
    return m;
  }

  /** Builds a matrix from an array of equal-length rows. */
  static fromRows(rows: ArrayLike<number>[]): Matrix {
    const r = rows.length;
    const c = r === 0 ? 0 : rows[0]!.length;
    const m = new Matrix(r, c);
    for (let i = 0; i < r; i++) {
      const row = rows[i]!;
      if (row.length !== c) throw new ShapeError(`Matrix.fromRows: row ${i} has ${row.length} entries, expected ${c}`);
      for (let j = 0; j < c; j++) m.data[i * c + j] = row[j]!;
    }
    return m;
  }

  /** A diagonal matrix with the given diagonal. */
  static diag(values: ArrayLike<number>): Matrix {
    const n = values.length;
    const m = new Matrix(n, n);
    for (let i = 0; i < n; i++) m.data[i * n + i] = values[i]!;
    return m;
  }

  get shape(): [number, number] {
    return [this.rows, this.cols];
  }

  get(i: number, j: number): number {
    return this.data[i * this.cols + j]!;
  }

  set(i: number, j: number, v: number): void {
    this.data[i * this.cols + j] = v;
  }

  /** Row i as a copy. */
  row(i: number): Float64Array {
    return this.data.slice(i * this.cols, (i + 1) * this.cols);
  }

  /** Column j as a copy. */
  col(j: number): Float64Array {
    const out = new Float64Array(this.rows);
    for (let i = 0; i < this.rows; i++) out[i] = this.data[i * this.cols + j]!;
    return out;
  }

  clone(): Matrix {
    return new Matrix(this.rows, this.cols, this.data.slice());
  }

  transpose(): Matrix {
    const { rows, cols, data } = this;
    const out = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
    }
    return new Matrix(cols, rows, out);
  }

  /** Nested arrays, for printing and tests. */
  toArray(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.rows; i++) out.push(Array.from(this.data.subarray(i * this.cols, (i + 1) * this.cols)));
    return out;
  }
}

/** A dense row-major float32 matrix (used for training). */
export class Matrix32 {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;

  constructor(rows: number, cols: number, data?: Float32Array) {
    const d = data ?? new Float32Array(rows * cols);
    checkDims(rows, cols, d.length, 'Matrix32');
    this.rows = rows;
    this.cols = cols;
    this.data = d;
  }

  get shape(): [number, number] {
    return [this.rows, this.cols];
  }

  get(i: number, j: number): number {
    return this.data[i * this.cols + j]!;
  }

  toFloat64(): Matrix {
    return new Matrix(this.rows, this.cols, Float64Array.from(this.data));
  }

  static fromFloat64(m: Matrix): Matrix32 {
    return new Matrix32(m.rows, m.cols, Float32Array.from(m.data));
  }
}

/**
 * Replaces the row-major n×n block at `offset` of `data` by (A + Aᵀ)/2. Products computed by blocked GEMMs or
 * factorisations round (i, j) and (j, i) differently; the average is exactly symmetric.
 */
export function symmetrizeInPlace(data: Float64Array, n: number, offset = 0): void {
  // In tiles, so that the transposed reads stay in cache (1.6× faster at n ≈ 8000).
  const T = 64;
  for (let i0 = 0; i0 < n; i0 += T) {
    const i1 = Math.min(n, i0 + T);
    for (let j0 = 0; j0 <= i0; j0 += T) {
      for (let i = i0; i < i1; i++) {
        const j1 = Math.min(i, j0 + T);
        const row = offset + i * n;
        for (let j = j0; j < j1; j++) {
          const v = 0.5 * (data[row + j]! + data[offset + j * n + i]!);
          data[row + j] = v;
          data[offset + j * n + i] = v;
        }
      }
    }
  }
}

/**
 * The principal submatrices A[keep, keep] of `count` n×n row-major blocks stored one after another, written in place
 * as m×m blocks one after another at the front of `blocks` (m = keep.length; keep strictly ascending). Every entry
 * is written at or before where it is read, and after every entry read before it, so no copy is needed. Returns the
 * front part, count·m² entries.
 */
export function principalSubmatricesInPlace(blocks: Float64Array, count: number, n: number, keep: Int32Array): Float64Array {
  const m = keep.length;
  for (let i = 1; i < m; i++) if (!(keep[i]! > keep[i - 1]!)) throw new InvalidArgumentError('principalSubmatricesInPlace: keep must be strictly ascending');
  if (m > 0 && (keep[0]! < 0 || keep[m - 1]! >= n)) throw new InvalidArgumentError(`principalSubmatricesInPlace: keep must lie in [0, ${n})`);
  if (blocks.length < count * n * n) throw new ShapeError(`principalSubmatricesInPlace: ${count} blocks of ${n}×${n} need ${count * n * n} entries, got ${blocks.length}`);
  for (let b = 0; b < count; b++) {
    const from = b * n * n;
    const to = b * m * m;
    for (let r = 0; r < m; r++) {
      const src = from + keep[r]! * n;
      const dst = to + r * m;
      for (let c = 0; c < m; c++) blocks[dst + c] = blocks[src + keep[c]!]!;
    }
  }
  return blocks.subarray(0, count * m * m);
}

/**
 * Throws `InvalidArgumentError` if the first `outNeed` elements of `output` overlap the first `inNeed` of `input`
 * (views of one buffer that do not overlap are fine): a routine that writes `output` while reading `input` would
 * read its own results.
 */
export function assertDisjoint(
  fn: string, inName: string, input: Float64Array, inNeed: number, outName: string, output: Float64Array, outNeed: number,
): void {
  if (inNeed === 0 || outNeed === 0 || input.buffer !== output.buffer) return;
  const i0 = input.byteOffset;
  const o0 = output.byteOffset;
  if (i0 < o0 + 8 * outNeed && o0 < i0 + 8 * inNeed) {
    throw new InvalidArgumentError(`${fn}: ${inName} and ${outName} share memory, but ${outName} is written`);
  }
}

/** Throws `NonFiniteError` naming `what` if any entry is NaN or infinite. */
export function assertFinite(data: ArrayLike<number>, what: string): void {
  // Typed arrays take a monomorphic branch-free scan (≈ 4× faster than the generic loop on the 10⁸-entry inputs of
  // the mixture solver's factorisations); only a failing array is searched for the offending index.
  const clean = data instanceof Float64Array ? allFinite64(data) : data instanceof Float32Array ? allFinite32(data) : false;
  if (clean) return;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new NonFiniteError(`${what} contains a non-finite value (${data[i]}) at flat index ${i}`);
    }
  }
}

// x·0 is ±0 for finite x and NaN for NaN and ±∞, so the sums below are 0 exactly when every entry is finite. Two
// copies on purpose: one function taking both array types is polymorphic and measured ≈ 3.5× slower.
function allFinite64(a: Float64Array): boolean {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n = a.length;
  const n4 = n - (n % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    s0 += a[i]! * 0;
    s1 += a[i + 1]! * 0;
    s2 += a[i + 2]! * 0;
    s3 += a[i + 3]! * 0;
  }
  for (; i < n; i++) s0 += a[i]! * 0;
  return s0 + s1 + s2 + s3 === 0;
}

function allFinite32(a: Float32Array): boolean {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n = a.length;
  const n4 = n - (n % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    s0 += a[i]! * 0;
    s1 += a[i + 1]! * 0;
    s2 += a[i + 2]! * 0;
    s3 += a[i + 3]! * 0;
  }
  for (; i < n; i++) s0 += a[i]! * 0;
  return s0 + s1 + s2 + s3 === 0;
}

/** Throws `ShapeError` unless `m` is square. */
export function assertSquare(m: { rows: number; cols: number }, what: string): void {
  if (m.rows !== m.cols) throw new ShapeError(`${what} must be square, got ${m.rows}×${m.cols}`);
}
