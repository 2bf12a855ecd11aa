/**
 * Test helpers for the linear-algebra tests: a seeded random generator, random test matrices, and
 * backend-independent reference computations (plain loops, compensated dot products) used as oracles.
 */
import { readFileSync } from 'node:fs';

import { Matrix, Matrix32 } from '../../src/linalg/matrix.js';

/** Unit roundoff of float64 (2⁻⁵³) and float32 (2⁻²⁴). */
export const U64 = 2 ** -53;
export const U32 = 2 ** -24;
/** Machine epsilon of float64 (2⁻⁵²). */
export const EPS = Number.EPSILON;

/** `γ_k = k·u / (1 − k·u)`, the classic bound factor for a length-k inner product in precision u. */
export function gamma(k: number, u: number): number {
  return (k * u) / (1 - k * u);
}

/** A small seeded generator (mulberry32) with uniform and standard-normal draws. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform on [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}

export function randomMatrix(rng: Rng, rows: number, cols: number): Matrix {
  const m = new Matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal();
  return m;
}

export function randomMatrix32(rng: Rng, rows: number, cols: number): Matrix32 {
  const m = new Matrix32(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal();
  return m;
}

export function randomVector(rng: Rng, n: number): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  return v;
}

/** Random symmetric matrix (G + Gᵀ)/2 with N(0, 1) G, exactly symmetric. */
export function randomSymmetric(rng: Rng, n: number): Matrix {
  const g = randomMatrix(rng, n, n);
  const s = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = 0.5 * (g.get(i, j) + g.get(j, i));
      s.set(i, j, v);
      s.set(j, i, v);
    }
  }
  return s;
}

/** Random SPD matrix G·Gᵀ/n + shift·I (naive product, exactly symmetric). */
export function randomSpd(rng: Rng, n: number, shift = 0.1): Matrix {
  const g = randomMatrix(rng, n, n);
  const s = naiveMatmul(g, g.transpose());
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) s.set(i, j, s.get(i, j) / n);
    s.set(i, i, s.get(i, i) + shift);
  }
  return symmetrize(s);
}

/** Random orthogonal matrix by modified Gram–Schmidt, applied twice for full orthogonality. */
export function randomOrthogonal(rng: Rng, n: number): Matrix {
  const q = randomMatrix(rng, n, n);
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < n; j++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q.get(i, p) * q.get(i, j);
        for (let i = 0; i < n; i++) q.set(i, j, q.get(i, j) - dot * q.get(i, p));
      }
      let norm = 0;
      for (let i = 0; i < n; i++) norm += q.get(i, j) ** 2;
      norm = Math.sqrt(norm);
      for (let i = 0; i < n; i++) q.set(i, j, q.get(i, j) / norm);
    }
  }
  return q;
}

/** Q·diag(values)·Qᵀ for a random orthogonal Q, symmetrised. */
export function symmetricWithSpectrum(rng: Rng, values: ArrayLike<number>): Matrix {
  const n = values.length;
  const q = randomOrthogonal(rng, n);
  const qd = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) qd.set(i, j, q.get(i, j) * values[j]!);
  return symmetrize(naiveMatmul(qd, q.transpose()));
}

export function symmetrize(a: Matrix): Matrix {
  const n = a.rows;
  const out = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) out.set(i, j, 0.5 * (a.get(i, j) + a.get(j, i)));
  }
  return out;
}

/** Plain triple loop, float64. */
export function naiveMatmul(a: { rows: number; cols: number; data: ArrayLike<number> }, b: { rows: number; cols: number; data: ArrayLike<number> }): Matrix {
  const out = new Matrix(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let s = 0;
      for (let p = 0; p < a.cols; p++) s += a.data[i * a.cols + p]! * b.data[p * b.cols + j]!;
      out.data[i * b.cols + j] = s;
    }
  }
  return out;
}

/** Elementwise |a|. */
export function absMatrix(a: { rows: number; cols: number; data: ArrayLike<number> }): Matrix {
  const out = new Matrix(a.rows, a.cols);
  for (let i = 0; i < out.data.length; i++) out.data[i] = Math.abs(a.data[i]!);
  return out;
}

/** Transposed float64 copy of a float64 or float32 matrix. */
export function transposeAny(a: { rows: number; cols: number; data: ArrayLike<number> }): Matrix {
  const out = new Matrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j]!;
  return out;
}

// Error-free transformations (Knuth TwoSum, Dekker TwoProduct) for a dot product as accurate as if
// computed in twice the working precision (Ogita–Rump–Oishi Dot2).
const SPLITTER = 134217729; // 2^27 + 1
function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b), bl = b - bh;
  return [p, al * bl - (((p - ah * bh) - al * bh) - ah * bl)];
}

/**
 * Reference product of float64/float32 matrices with compensated dot products: the result is the exact
 * product rounded with error ≲ u·|C| + γ²·|A||B|, far below the errors the tests bound.
 */
export function accurateMatmul(
  a: { rows: number; cols: number; data: ArrayLike<number> }, b: { rows: number; cols: number; data: ArrayLike<number> },
): Matrix {
  const out = new Matrix(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let s = 0, c = 0;
      for (let p = 0; p < a.cols; p++) {
        const [prod, prodErr] = twoProduct(a.data[i * a.cols + p]!, b.data[p * b.cols + j]!);
        const t = s + prod;
        const z = t - s;
        c += (s - (t - z)) + (prod - z) + prodErr;
        s = t;
      }
      out.data[i * b.cols + j] = s + c;
    }
  }
  return out;
}

export function frobenius(a: { data: ArrayLike<number> }): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * a.data[i]!;
  return Math.sqrt(s);
}

export function maxAbs(a: { data: ArrayLike<number> } | ArrayLike<number>): number {
  const d = 'data' in a ? a.data : a;
  let m = 0;
  for (let i = 0; i < d.length; i++) m = Math.max(m, Math.abs(d[i]!));
  return m;
}

export function subtract(a: Matrix, b: Matrix): Matrix {
  const out = new Matrix(a.rows, a.cols);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[i]! - b.data[i]!;
  return out;
}

/** max |QᵀQ − I| over the columns of q (computed with plain loops). */
export function columnOrthonormalityError(q: Matrix): number {
  const gram = naiveMatmul(q.transpose(), q);
  let err = 0;
  for (let i = 0; i < gram.rows; i++) for (let j = 0; j < gram.cols; j++) err = Math.max(err, Math.abs(gram.get(i, j) - (i === j ? 1 : 0)));
  return err;
}

/** max |Q Qᵀ − I| over the rows of q. */
export function rowOrthonormalityError(q: Matrix): number {
  return columnOrthonormalityError(q.transpose());
}

/** `a · diag(d)`. */
export function scaleColumns(a: Matrix, d: ArrayLike<number>): Matrix {
  const out = a.clone();
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[i * a.cols + j] = out.data[i * a.cols + j]! * d[j]!;
  return out;
}

/** Largest eigenvalue magnitude of a symmetric matrix, bounded above by the max row sum (∞-norm). */
export function infNorm(a: Matrix): number {
  let best = 0;
  for (let i = 0; i < a.rows; i++) {
    let s = 0;
    for (let j = 0; j < a.cols; j++) s += Math.abs(a.get(i, j));
    best = Math.max(best, s);
  }
  return best;
}

export interface LinalgFixture {
  generator: string;
  dps: number;
  cases: {
    ill_conditioned_sym: { a: number[][]; eigenvalues: number[] };
    near_duplicate_sym: { a: number[][]; eigenvalues: number[] };
    svd_rank_deficient: { a: number[][]; rank: number; singular_values: number[] };
    svd_general: { a: number[][]; singular_values: number[] };
    psd_singular: { a: number[][]; zero_rows: number[]; sqrt: number[][]; pinv_sqrt: number[][]; eigenvalues: number[] };
    solve_general: { a: number[][]; b: number[][]; x: number[][]; cond2: number };
    spd: { a: number[][]; b: number[][]; l: number[][]; x: number[][]; cond2: number };
  };
}

/** fixtures/linalg/reference.json, written by scripts/fixtures/linalg_reference.py (mpmath, 60 digits). */
export function loadLinalgFixture(): LinalgFixture {
  const url = new URL('../../fixtures/linalg/reference.json', import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as LinalgFixture;
}
