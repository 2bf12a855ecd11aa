/**
 * Triangular matrix products B ← alpha·op(A)·B (from the left) or B ← alpha·B·op(A) (from the right), A triangular
 * with a non-unit diagonal, both row-major with leading dimensions (see {@link LinAlgBackend.dtrmm}). The argument
 * checks shared by both backends and the JavaScript reference.
 */
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { assertDisjoint } from './matrix.js';

/** Elements of a and b a dtrmm call uses: a is k×k (k = m from the left, n from the right), b is m×n. */
export function checkTrmm(
  fn: string, left: boolean, upper: boolean, transA: boolean, m: number, n: number, alpha: number,
  a: Float64Array, lda: number, b: Float64Array, ldb: number,
): { needA: number; needB: number } {
  for (const [name, v] of [['left', left], ['upper', upper], ['transA', transA]] as const) {
    if (typeof v !== 'boolean') throw new InvalidArgumentError(`${fn}: ${name} must be a boolean, got ${typeof v}`);
  }
  for (const [name, v] of [['m', m], ['n', n], ['lda', lda], ['ldb', ldb]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 2147483647) throw new ShapeError(`${fn}: ${name} must be an integer in [0, 2^31), got ${v}`);
  }
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new NonFiniteError(`${fn}: alpha must be finite, got ${alpha}`);
  if (!(a instanceof Float64Array) || !(b instanceof Float64Array)) throw new InvalidArgumentError(`${fn}: a and b must be Float64Arrays`);
  const k = left ? m : n;
  if (lda < Math.max(1, k)) throw new ShapeError(`${fn}: lda = ${lda} is less than max(1, ${k})`);
  if (ldb < Math.max(1, n)) throw new ShapeError(`${fn}: ldb = ${ldb} is less than max(1, n = ${n})`);
  const needA = k === 0 ? 0 : (k - 1) * lda + k;
  const needB = m === 0 || n === 0 ? 0 : (m - 1) * ldb + n;
  if (a.length < needA) throw new ShapeError(`${fn}: a has ${a.length} elements, ${needA} needed`);
  if (b.length < needB) throw new ShapeError(`${fn}: b has ${b.length} elements, ${needB} needed`);
  assertDisjoint(fn, 'a', a, needA, 'b', b, needB);
  return { needA, needB };
}

/** The JavaScript dtrmm (after {@link checkTrmm}): O(m·n·k) loops over a dense copy of op(A). */
export function trmmJs(
  left: boolean, upper: boolean, transA: boolean, m: number, n: number, alpha: number,
  a: Float64Array, lda: number, b: Float64Array, ldb: number,
): void {
  if (m === 0 || n === 0) return;
  const k = left ? m : n;
  // T = alpha·op(A), dense k×k.
  const T = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const inTriangle = upper ? j >= i : j <= i;
      if (inTriangle) T[transA ? j * k + i : i * k + j] = alpha * a[i * lda + j]!;
    }
  }
  const B = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) B[i * n + j] = b[i * ldb + j]!;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let v = 0;
      if (left) for (let p = 0; p < k; p++) v += T[i * k + p]! * B[p * n + j]!;
      else for (let p = 0; p < k; p++) v += B[i * n + p]! * T[p * k + j]!;
      b[i * ldb + j] = v;
    }
  }
}
