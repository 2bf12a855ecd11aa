/**
 * Sub-block copies between row-major arrays, described as rows × column runs: the gathers and scatters of index
 * subsets that the mixture solver does on every operator application (the coupled coordinates of each component).
 * In JavaScript they cost ≈ 4 ns per element; the native backend runs the same plan in C at memory speed
 * ({@link LinAlgBackend.dcopyRuns}).
 *
 * A plan copies, for every row t (source offset so_t = rowOffsets[2t], destination offset do_t = rowOffsets[2t+1])
 * and every run r (source column sc_r = runTable[3r], destination column dc_r = runTable[3r+1], length
 * n_r = runTable[3r+2]):
 *
 *     dst[do_t + dc_r + j] = (accumulate ? dst[do_t + dc_r + j] : 0) + rowScale[t]·src[so_t + sc_r + j],   j < n_r.
 */
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import type { LinAlgBackend } from './backend.js';
import { assertDisjoint } from './matrix.js';

/** A reusable copy plan (module documentation). */
export interface CopyPlan {
  readonly rows: number;
  readonly runs: number;
  readonly accumulate: boolean;
  /** [2·rows]: source and destination offset of every row. */
  readonly rowOffsets: Int32Array;
  /** [3·runs]: source column, destination column and length of every run. */
  readonly runTable: Int32Array;
  /** [rows]: factor applied to every row. */
  readonly rowScale: Float64Array;
}

/** A sorted index set as runs of consecutive indices: run r covers start[r] .. start[r] + length[r] − 1 and sits
 * at position offset[r] of the packed order. */
export interface IndexRuns {
  readonly start: Int32Array;
  readonly length: Int32Array;
  readonly offset: Int32Array;
}

/** The runs of consecutive values in `idx` (in the given order). */
export function indexRuns(idx: ArrayLike<number>): IndexRuns {
  const start: number[] = [];
  const length: number[] = [];
  const offset: number[] = [];
  for (let i = 0; i < idx.length; i++) {
    if (i > 0 && idx[i] === idx[i - 1]! + 1) length[length.length - 1]!++;
    else {
      start.push(idx[i]!);
      length.push(1);
      offset.push(i);
    }
  }
  return { start: Int32Array.from(start), length: Int32Array.from(length), offset: Int32Array.from(offset) };
}

/**
 * The run table of a column subset: `gather` reads the columns idx from a full row into a packed row
 * (source column = idx run start, destination = packed position); otherwise it scatters a packed row back.
 */
export function columnRunTable(runs: IndexRuns, gather: boolean): Int32Array {
  const R = runs.start.length;
  const table = new Int32Array(3 * R);
  for (let r = 0; r < R; r++) {
    table[3 * r] = gather ? runs.start[r]! : runs.offset[r]!;
    table[3 * r + 1] = gather ? runs.offset[r]! : runs.start[r]!;
    table[3 * r + 2] = runs.length[r]!;
  }
  return table;
}

/**
 * The row offsets of a plan over n rows for each of s blocks, rows listed as (t, q) — t-major, the interleaved
 * layout — or as (q, t); `offsets(t, q)` gives the source and destination offset of row t of block q. List the rows
 * in increasing destination order where possible: the native kernel then splits the plan between two threads.
 */
export function blockRowOffsets(n: number, s: number, order: 'tq' | 'qt', offsets: (t: number, q: number) => readonly [number, number]): Int32Array {
  const out = new Int32Array(2 * n * s);
  for (let t = 0; t < n; t++) {
    for (let q = 0; q < s; q++) {
      const row = order === 'tq' ? t * s + q : q * n + t;
      const [from, to] = offsets(t, q);
      out[2 * row] = from;
      out[2 * row + 1] = to;
    }
  }
  return out;
}

/** A plan from explicit row offsets (pairs source, destination), a run table and optional per-row factors. */
export function copyPlan(rowOffsets: Int32Array, runTable: Int32Array, accumulate: boolean, rowScale?: Float64Array): CopyPlan {
  const rows = rowOffsets.length >> 1;
  return {
    rows, runs: Math.floor(runTable.length / 3), accumulate, rowOffsets, runTable,
    rowScale: rowScale ?? new Float64Array(rows).fill(1),
  };
}

/**
 * Checks a plan against its arrays and returns the number of elements it reads from src and writes to dst (the
 * furthest element + 1; 0 when nothing is copied).
 *
 * @throws ShapeError if a table is too short or the plan reaches outside src or dst
 * @throws InvalidArgumentError for negative offsets or lengths, or dst overlapping src
 * @throws NonFiniteError for a non-finite row factor
 */
export function checkCopyRuns(
  fn: string, rows: number, runs: number, rowOffsets: Int32Array, runTable: Int32Array, rowScale: Float64Array,
  src: Float64Array, dst: Float64Array,
): { read: number; written: number } {
  for (const [name, v] of [['rows', rows], ['runs', runs]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 2147483647) throw new ShapeError(`${fn}: ${name} must be an integer in [0, 2^31), got ${v}`);
  }
  if (!(rowOffsets instanceof Int32Array) || !(runTable instanceof Int32Array)) {
    throw new InvalidArgumentError(`${fn}: rowOffsets and runTable must be Int32Arrays`);
  }
  if (!(rowScale instanceof Float64Array) || !(src instanceof Float64Array) || !(dst instanceof Float64Array)) {
    throw new InvalidArgumentError(`${fn}: rowScale, src and dst must be Float64Arrays`);
  }
  if (rowOffsets.length < 2 * rows) throw new ShapeError(`${fn}: rowOffsets has ${rowOffsets.length} entries, 2·rows = ${2 * rows} needed`);
  if (runTable.length < 3 * runs) throw new ShapeError(`${fn}: runTable has ${runTable.length} entries, 3·runs = ${3 * runs} needed`);
  if (rowScale.length < rows) throw new ShapeError(`${fn}: rowScale has ${rowScale.length} entries, rows = ${rows} needed`);
  let maxSrcRow = 0;
  let maxDstRow = 0;
  for (let t = 0; t < rows; t++) {
    const so = rowOffsets[2 * t]!;
    const dO = rowOffsets[2 * t + 1]!;
    if (so < 0 || dO < 0) throw new InvalidArgumentError(`${fn}: row ${t} has a negative offset (${so}, ${dO})`);
    if (so > maxSrcRow) maxSrcRow = so;
    if (dO > maxDstRow) maxDstRow = dO;
    if (!Number.isFinite(rowScale[t]!)) throw new NonFiniteError(`${fn}: rowScale[${t}] must be finite, got ${rowScale[t]}`);
  }
  let srcEnd = 0;
  let dstEnd = 0;
  let any = false;
  for (let r = 0; r < runs; r++) {
    const sc = runTable[3 * r]!;
    const dc = runTable[3 * r + 1]!;
    const n = runTable[3 * r + 2]!;
    if (sc < 0 || dc < 0 || n < 0) throw new InvalidArgumentError(`${fn}: run ${r} has a negative offset or length (${sc}, ${dc}, ${n})`);
    if (n === 0) continue;
    any = true;
    srcEnd = Math.max(srcEnd, sc + n);
    dstEnd = Math.max(dstEnd, dc + n);
  }
  const read = rows > 0 && any ? maxSrcRow + srcEnd : 0;
  const written = rows > 0 && any ? maxDstRow + dstEnd : 0;
  if (read > src.length) throw new ShapeError(`${fn}: the plan reads element ${read - 1} of src, which has ${src.length} elements`);
  if (written > dst.length) throw new ShapeError(`${fn}: the plan writes element ${written - 1} of dst, which has ${dst.length} elements`);
  assertDisjoint(fn, 'src', src, read, 'dst', dst, written);
  return { read, written };
}

/** The plan in JavaScript (the JS backend's {@link LinAlgBackend.dcopyRuns}, after {@link checkCopyRuns}). */
export function copyRunsJs(
  rows: number, runs: number, accumulate: boolean, rowOffsets: Int32Array, runTable: Int32Array, rowScale: Float64Array,
  src: Float64Array, dst: Float64Array,
): void {
  for (let t = 0; t < rows; t++) {
    const so = rowOffsets[2 * t]!;
    const dO = rowOffsets[2 * t + 1]!;
    const f = rowScale[t]!;
    for (let r = 0; r < runs; r++) {
      const s = so + runTable[3 * r]!;
      const d = dO + runTable[3 * r + 1]!;
      const n = runTable[3 * r + 2]!;
      if (accumulate) for (let j = 0; j < n; j++) dst[d + j]! += f * src[s + j]!;
      else for (let j = 0; j < n; j++) dst[d + j] = f * src[s + j]!;
    }
  }
}

/** Runs `plan` from src into dst on `backend`. */
export function runCopyPlan(backend: LinAlgBackend, plan: CopyPlan, src: Float64Array, dst: Float64Array): void {
  backend.dcopyRuns(plan.rows, plan.runs, plan.accumulate, plan.rowOffsets, plan.runTable, plan.rowScale, src, dst);
}
