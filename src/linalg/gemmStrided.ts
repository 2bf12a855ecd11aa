/**
 * Matrix products on blocks of larger row-major arrays: C = alpha·op(A)·op(B) + beta·C with explicit leading
 * dimensions lda, ldb, ldc (see {@link LinAlgBackend.dgemmStrided}), so that a product can read and write
 * sub-matrices in place. The argument checks shared by both backends and the JavaScript implementation.
 */
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { assertDisjoint } from './matrix.js';

/** Elements of a, b and c a dgemmStrided call uses (from the first element of each view). */
export function checkGemmStrided(
  fn: string, transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Float64Array, lda: number, b: Float64Array, ldb: number, beta: number, c: Float64Array, ldc: number,
): { needA: number; needB: number; needC: number } {
  for (const [name, v] of [['transA', transA], ['transB', transB]] as const) {
    if (typeof v !== 'boolean') throw new InvalidArgumentError(`${fn}: ${name} must be a boolean, got ${typeof v}`);
  }
  for (const [name, v] of [['m', m], ['n', n], ['k', k], ['lda', lda], ['ldb', ldb], ['ldc', ldc]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 2147483647) throw new ShapeError(`${fn}: ${name} must be an integer in [0, 2^31), got ${v}`);
  }
  for (const [name, v] of [['alpha', alpha], ['beta', beta]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new NonFiniteError(`${fn}: ${name} must be finite, got ${v}`);
  }
  for (const [name, v] of [['a', a], ['b', b], ['c', c]] as const) {
    if (!(v instanceof Float64Array)) throw new InvalidArgumentError(`${fn}: ${name} must be a Float64Array`);
  }
  // Stored shapes: A is m×k (k×m transposed), B is k×n (n×k transposed), C is m×n.
  const stored = [
    ['a', 'lda', lda, transA ? k : m, transA ? m : k],
    ['b', 'ldb', ldb, transB ? n : k, transB ? k : n],
    ['c', 'ldc', ldc, m, n],
  ] as const;
  const need: number[] = [];
  for (const [name, ldName, ld, rows, cols] of stored) {
    if (ld < Math.max(1, cols)) throw new ShapeError(`${fn}: ${ldName} = ${ld} is less than max(1, ${cols})`);
    const count = rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
    const array = name === 'a' ? a : name === 'b' ? b : c;
    if (array.length < count) throw new ShapeError(`${fn}: ${name} has ${array.length} elements, ${count} needed`);
    need.push(count);
  }
  const [needA, needB, needC] = need as [number, number, number];
  assertDisjoint(fn, 'a', a, needA, 'c', c, needC);
  assertDisjoint(fn, 'b', b, needB, 'c', c, needC);
  return { needA, needB, needC };
}

/** A contiguous row-major GEMM (`LinAlgBackend.dgemm`'s signature). */
type ContiguousGemm = (
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array,
) => void;

/**
 * The JavaScript dgemmStrided (after {@link checkGemmStrided}): the blocks are copied to contiguous arrays, multiplied
 * by `gemm`, and the result written back row by row. beta = 0 overwrites C without reading it.
 */
export function gemmStridedJs(
  gemm: ContiguousGemm, transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Float64Array, lda: number, b: Float64Array, ldb: number, beta: number, c: Float64Array, ldc: number,
): void {
  if (m === 0 || n === 0) return;
  const A = packed(a, lda, transA ? k : m, transA ? m : k);
  const B = packed(b, ldb, transB ? n : k, transB ? k : n);
  const C = new Float64Array(m * n);
  if (beta !== 0) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) C[i * n + j] = c[i * ldc + j]!;
  gemm(transA, transB, m, n, k, alpha, A, B, beta, C);
  for (let i = 0; i < m; i++) c.set(C.subarray(i * n, i * n + n), i * ldc);
}

function packed(x: Float64Array, ld: number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) out.set(x.subarray(i * ld, i * ld + cols), i * cols);
  return out;
}
