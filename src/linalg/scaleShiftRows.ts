/**
 * `dscaleShiftRows`, a memory-bound kernel of the linear-algebra backends: rows of a matrix shifted by a multiple of
 * a row of a second matrix and scaled element-wise by a row of a third, where row r uses row ⌊r/period⌋ of both and
 * multiple alpha[r mod period]. The mixture solver's preconditioner stores `period` polynomials interleaved row by row
 * (row i·period + q holds row i of polynomial q), so that one call centres and rescales all of them.
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import { assertDisjoint } from './matrix.js';

/**
 * Checks the arguments of dscaleShiftRows (see {@link LinAlgBackend.dscaleShiftRows}).
 *
 * @throws ShapeError for bad dimensions or arrays too short
 * @throws InvalidArgumentError for arrays of the wrong type, or x overlapping another operand
 */
export function checkScaleShiftRows(
  fn: string, rows: number, n: number, period: number, shift: boolean, scaled: boolean,
  alpha: Float64Array, b: Float64Array, scale: Float64Array, x: Float64Array,
): void {
  for (const [name, v] of [['rows', rows], ['n', n], ['period', period]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 2147483647) throw new ShapeError(`${fn}: ${name} must be an integer in [0, 2^31), got ${v}`);
  }
  if (period < 1) throw new ShapeError(`${fn}: period must be at least 1, got ${period}`);
  if (typeof shift !== 'boolean' || typeof scaled !== 'boolean') throw new InvalidArgumentError(`${fn}: shift and scaled must be booleans`);
  const arrays = { alpha, b, scale, x };
  for (const [name, a] of Object.entries(arrays)) {
    if (!(a instanceof Float64Array)) throw new InvalidArgumentError(`${fn}: ${name} must be a Float64Array`);
  }
  const blocks = Math.ceil(rows / period);
  const need = { alpha: shift ? period : 0, b: shift ? blocks * n : 0, scale: scaled ? blocks * n : 0, x: rows * n };
  for (const [name, k] of Object.entries(need)) {
    const a = arrays[name as keyof typeof arrays];
    if (a.length < k) throw new ShapeError(`${fn}: ${name} has ${a.length} entries but needs at least ${k}`);
  }
  for (const name of ['alpha', 'b', 'scale'] as const) assertDisjoint(fn, name, arrays[name], need[name], 'x', x, need.x);
}

/** The JavaScript implementation (arguments already checked). */
export function scaleShiftRowsJs(
  rows: number, n: number, period: number, shift: boolean, scaled: boolean,
  alpha: Float64Array, b: Float64Array, scale: Float64Array, x: Float64Array,
): void {
  for (let r = 0; r < rows; r++) {
    const row = r * n;
    const blk = Math.floor(r / period) * n;
    const a = shift ? alpha[r % period]! : 0;
    if (shift && scaled) for (let j = 0; j < n; j++) x[row + j] = (x[row + j]! + a * b[blk + j]!) * scale[blk + j]!;
    else if (shift) for (let j = 0; j < n; j++) x[row + j]! += a * b[blk + j]!;
    else if (scaled) for (let j = 0; j < n; j++) x[row + j]! *= scale[blk + j]!;
  }
}
