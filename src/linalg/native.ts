/**
 * The native linear-algebra backend: an N-API addon (native/src/*.c) over the system OpenBLAS and
 * LAPACKE, built by `npm run build:native` into `native/build/Release/polyapprox_blas.node`.
 *
 * Every argument is validated here (typed `ShapeError` / `InvalidArgumentError` / `NonFiniteError`)
 * and again in C before any memory is touched. LAPACK's `info` codes become typed errors:
 * dpotrf info > 0 → `NotPositiveDefiniteError`, dgesv info > 0 → `SingularMatrixError`,
 * dsyevd/dgesdd info > 0 → `ConvergenceError`, info < 0 → `BackendError`.
 *
 * Array lengths must be *at least* what the dimensions need; only that leading part is read or written.
 * Output arrays must not share memory with any other operand (inputs may share memory with each
 * other, e.g. `dgemm(false, true, n, n, k, 1, a, a, 0, c)` for A·Aᵀ).
 * Matrix entries of LAPACK inputs must be finite (LAPACK may loop or return NaN otherwise); GEMM
 * inputs are not scanned, and NaN in A or B propagates to C as IEEE arithmetic dictates.
 *
 * The BLAS thread count is process-wide: `setThreads` throws `BackendError` while any call (an async
 * one, or one in another worker thread) is running, because OpenBLAS cannot change it safely then.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  BackendError,
  ConvergenceError,
  InvalidArgumentError,
  NonFiniteError,
  NotPositiveDefiniteError,
  ShapeError,
  SingularMatrixError,
} from '../errors.js';
import type { LinAlgBackend } from './backend.js';
import { assertFinite } from './matrix.js';
import { checkCopyRuns } from './copyRuns.js';
import { checkScaleShiftRows } from './scaleShiftRows.js';
import { checkTrmm } from './trmm.js';

/** The addon's interface version this file was written for (PA_ABI_VERSION in native/src/polyapprox_blas.h). */
const EXPECTED_ABI_VERSION = 3;
/** Largest dimension, element count and LAPACK workspace a 32-bit BLAS/LAPACK integer can describe. */
const INT32_MAX = 2147483647;
/** Largest thread count accepted by `setThreads` (OpenBLAS clamps to its own compile-time maximum). */
const MAX_THREADS_ARG = 4096;
/** LAPACKE's codes for a failed workspace / transpose-buffer allocation. */
const LAPACKE_WORK_MEMORY_ERROR = -1010;
const LAPACKE_TRANSPOSE_MEMORY_ERROR = -1011;

const HOW_TO_BUILD =
  'Install OpenBLAS and LAPACKE (apt-get install libopenblas-dev liblapacke-dev) and run `npm run build:native`.';

/**
 * The raw functions exported by `polyapprox_blas.node`. They validate their arguments in C (throwing
 * `TypeError`/`RangeError`) and return LAPACK's `info` instead of throwing on numerical failure.
 * Prefer {@link loadNativeBackend}, which adds typed errors.
 */
export interface NativeAddon {
  readonly abiVersion: number;
  /** `info` returned when a LAPACK workspace query exceeds the 32-bit integer range. */
  readonly INFO_WORKSPACE_TOO_LARGE: number;
  dgemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array): void;
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void;
  dsyevd(n: number, a: Float64Array, w: Float64Array): number;
  dgesdd(m: number, n: number, a: Float64Array, s: Float64Array, u: Float64Array, vt: Float64Array): number;
  dpotrf(n: number, a: Float64Array): number;
  dpotrs(n: number, nrhs: number, l: Float64Array, b: Float64Array): number;
  dpotri(n: number, l: Float64Array): number;
  dsymmetrize(n: number, count: number, a: Float64Array): void;
  dscaleShiftRows(rows: number, n: number, period: number, shift: boolean, scaled: boolean,
    alpha: Float64Array, b: Float64Array, scale: Float64Array, x: Float64Array): void;
  dpotriAsync(n: number, l: Float64Array): Promise<number>;
  dgesv(n: number, nrhs: number, a: Float64Array, b: Float64Array): number;
  dcopyRuns(rows: number, runs: number, accumulate: boolean, rowOffsets: Int32Array, runTable: Int32Array,
    rowScale: Float64Array, src: Float64Array, dst: Float64Array): void;
  dtrmm(left: boolean, upper: boolean, transA: boolean, m: number, n: number, alpha: number,
    a: Float64Array, lda: number, b: Float64Array, ldb: number): void;
  dtrmmAsync(left: boolean, upper: boolean, transA: boolean, m: number, n: number, alpha: number,
    a: Float64Array, lda: number, b: Float64Array, ldb: number): Promise<void>;
  dgemmAsync(transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array): Promise<void>;
  sgemmAsync(transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): Promise<void>;
  dsyevdAsync(n: number, a: Float64Array, w: Float64Array): Promise<number>;
  dgesddAsync(m: number, n: number, a: Float64Array, s: Float64Array, u: Float64Array, vt: Float64Array): Promise<number>;
  dpotrfAsync(n: number, a: Float64Array): Promise<number>;
  dpotrsAsync(n: number, nrhs: number, l: Float64Array, b: Float64Array): Promise<number>;
  dgesvAsync(n: number, nrhs: number, a: Float64Array, b: Float64Array): Promise<number>;
  /** Throws an Error with code `EBUSY` while any BLAS/LAPACK call is running in the process. */
  setNumThreads(n: number): void;
  getNumThreads(): number;
  blasInfo(): { config: string; corename: string };
}

/** The native backend, plus a description of the BLAS it runs on. */
export interface NativeLinAlgBackend extends LinAlgBackend {
  readonly name: 'native';
  /** OpenBLAS's build configuration and the CPU kernel set it picked, e.g. `SkylakeX`. */
  readonly blasInfo: { readonly config: string; readonly corename: string };
}

const ADDON_FUNCTIONS = [
  'dgemm', 'sgemm', 'dsyevd', 'dgesdd', 'dpotrf', 'dpotrs', 'dpotri', 'dpotriAsync', 'dsymmetrize', 'dscaleShiftRows', 'dgesv', 'dcopyRuns', 'dtrmm', 'dtrmmAsync',
  'dgemmAsync', 'sgemmAsync', 'dsyevdAsync', 'dgesddAsync', 'dpotrfAsync', 'dpotrsAsync', 'dgesvAsync',
  'setNumThreads', 'getNumThreads', 'blasInfo',
] as const;

/** The package root: the nearest ancestor directory whose package.json is named "polyapprox". */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (let i = 0; i < 6; i++) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'polyapprox') return dir;
      } catch {
        // unreadable manifest: keep climbing
      }
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Both src/linalg/ and dist/linalg/ sit two levels below the root.
  return join(here, '..', '..');
}

/** Absolute path where `npm run build:native` puts the addon. */
export function nativeBackendPath(): string {
  return join(packageRoot(), 'native', 'build', 'Release', 'polyapprox_blas.node');
}

const addonCache = new Map<string, NativeAddon>();

/**
 * Loads the raw addon (cached per path).
 * @throws BackendError if the file is missing, fails to load (e.g. libopenblas is gone), or is a
 *   stale build with a different interface version.
 */
export function loadNativeAddon(addonPath: string = nativeBackendPath()): NativeAddon {
  const cached = addonCache.get(addonPath);
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    throw new BackendError(`native backend is not built: ${addonPath} does not exist. ${HOW_TO_BUILD}`);
  }
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(addonPath);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new BackendError(`native backend at ${addonPath} failed to load: ${reason}. ${HOW_TO_BUILD}`);
  }
  const addon = loaded as Partial<NativeAddon> & Record<string, unknown>;
  if (addon.abiVersion !== EXPECTED_ABI_VERSION) {
    throw new BackendError(
      `native backend at ${addonPath} has interface version ${String(addon.abiVersion)}, expected ` +
        `${EXPECTED_ABI_VERSION}; it is a stale build. Rebuild it with \`npm run build:native\`.`,
    );
  }
  const absent = ADDON_FUNCTIONS.filter((f) => typeof addon[f] !== 'function');
  if (absent.length > 0) {
    throw new BackendError(`native backend at ${addonPath} lacks ${absent.join(', ')}. Rebuild it with \`npm run build:native\`.`);
  }
  addonCache.set(addonPath, addon as NativeAddon);
  return addon as NativeAddon;
}

// ---------------------------------------------------------------------------------------------
// Validation (mirrors native/src/validate.c, but with the library's typed errors)

type F64 = Float64Array;
type F32 = Float32Array;

/** One typed-array operand: how many elements the call uses and whether it writes them. */
interface Operand {
  name: string;
  array: F64 | F32;
  need: number;
  output: boolean;
}

function checkDim(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > INT32_MAX) {
    throw new ShapeError(`${fn}: dimension ${name} must be an integer in [0, ${INT32_MAX}], got ${v}`);
  }
}

function checkScalar(fn: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new NonFiniteError(`${fn}: scalar ${name} must be a finite number, got ${v}`);
  }
}

function checkFlag(fn: string, name: string, v: boolean): void {
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`${fn}: ${name} must be a boolean, got ${typeof v}`);
}

/**
 * Checks each operand's type and length, and that no output overlaps another operand.
 * `what` describes the shape for messages, e.g. "m·k = 2·3".
 */
function checkOperands(fn: string, kind: 'f64' | 'f32', operands: readonly (Operand & { what: string })[]): void {
  const ctor = kind === 'f64' ? Float64Array : Float32Array;
  for (const op of operands) {
    if (!(op.array instanceof ctor)) {
      const got = (op.array as unknown as { constructor?: { name?: string } } | null)?.constructor?.name ?? typeof op.array;
      throw new InvalidArgumentError(`${fn}: ${op.name} must be a ${ctor.name}, got ${got}`);
    }
    if (op.array.length < op.need) {
      throw new ShapeError(`${fn}: ${op.name} has ${op.array.length} elements but ${op.what} = ${op.need} are needed`);
    }
  }
  for (let i = 0; i < operands.length; i++) {
    for (let j = i + 1; j < operands.length; j++) {
      const x = operands[i]!;
      const y = operands[j]!;
      if ((!x.output && !y.output) || x.need === 0 || y.need === 0 || x.array.buffer !== y.array.buffer) continue;
      const x0 = x.array.byteOffset;
      const x1 = x0 + x.need * x.array.BYTES_PER_ELEMENT;
      const y0 = y.array.byteOffset;
      const y1 = y0 + y.need * y.array.BYTES_PER_ELEMENT;
      if (x0 < y1 && y0 < x1) {
        const written = x.output ? x.name : y.name;
        throw new InvalidArgumentError(`${fn}: ${x.name} and ${y.name} share memory, but ${written} is overwritten`);
      }
    }
  }
}

/** LAPACK-only limits: LAPACKE's row-major copies and the workspaces are indexed with 32-bit integers. */
function checkLapackSizes(fn: string, operands: readonly Operand[]): void {
  for (const op of operands) {
    if (op.need > INT32_MAX) {
      throw new ShapeError(`${fn}: ${op.name} would have ${op.need} elements, more than LAPACK's 32-bit limit ${INT32_MAX}`);
    }
  }
}

function checkFiniteInputs(fn: string, operands: readonly Operand[]): void {
  for (const op of operands) assertFinite(op.array.subarray(0, op.need), `${fn}: ${op.name}`);
}

/** Maps a LAPACK info < 0 (or LAPACKE/addon failure code) to a BackendError. */
function negativeInfoError(fn: string, info: number, workspaceCode: number): BackendError {
  if (info === LAPACKE_WORK_MEMORY_ERROR || info === LAPACKE_TRANSPOSE_MEMORY_ERROR) {
    return new BackendError(`${fn}: out of memory allocating LAPACK workspace (info ${info})`);
  }
  if (info === workspaceCode) {
    return new BackendError(`${fn}: the LAPACK workspace would exceed the 32-bit integer range`);
  }
  return new BackendError(`${fn}: LAPACK rejected argument ${-info} (info ${info}); this is a bug in polyapprox`);
}

// ---------------------------------------------------------------------------------------------
// Per-operation validation, run before the raw call.

function gemmOperands(
  fn: string, kind: 'f64' | 'f32', transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: F64 | F32, b: F64 | F32, beta: number, c: F64 | F32,
): void {
  checkFlag(fn, 'transA', transA);
  checkFlag(fn, 'transB', transB);
  checkDim(fn, 'm', m);
  checkDim(fn, 'n', n);
  checkDim(fn, 'k', k);
  checkScalar(fn, 'alpha', alpha);
  checkScalar(fn, 'beta', beta);
  checkOperands(fn, kind, [
    { name: 'a', array: a, need: m * k, output: false, what: transA ? `k·m = ${k}·${m}` : `m·k = ${m}·${k}` },
    { name: 'b', array: b, need: k * n, output: false, what: transB ? `n·k = ${n}·${k}` : `k·n = ${k}·${n}` },
    { name: 'c', array: c, need: m * n, output: true, what: `m·n = ${m}·${n}` },
  ]);
}

function syevdOperands(fn: string, n: number, a: F64, w: F64): void {
  checkDim(fn, 'n', n);
  const ops = [
    { name: 'a', array: a, need: n * n, output: true, what: `n·n = ${n}·${n}` },
    { name: 'w', array: w, need: n, output: true, what: `n` },
  ];
  checkOperands(fn, 'f64', ops);
  checkLapackSizes(fn, ops);
  // dsyevd's minimum workspace 1 + 6n + 2n² must fit a 32-bit integer.
  if (1 + 6 * n + 2 * n * n > INT32_MAX) {
    throw new ShapeError(`${fn}: n = ${n} is too large for LAPACK's 32-bit workspace (n ≤ 32766)`);
  }
  checkFiniteInputs(fn, [ops[0]!]);
}

function gesddOperands(fn: string, m: number, n: number, a: F64, s: F64, u: F64, vt: F64): void {
  checkDim(fn, 'm', m);
  checkDim(fn, 'n', n);
  const p = Math.min(m, n);
  const ops = [
    { name: 'a', array: a, need: m * n, output: true, what: `m·n = ${m}·${n}` },
    { name: 's', array: s, need: p, output: true, what: `min(m, n)` },
    { name: 'u', array: u, need: m * p, output: true, what: `m·min(m, n) = ${m}·${p}` },
    { name: 'vt', array: vt, need: p * n, output: true, what: `min(m, n)·n = ${p}·${n}` },
  ];
  checkOperands(fn, 'f64', ops);
  checkLapackSizes(fn, ops);
  // dgesdd's minimum workspace for jobz = 'S': 3p² + max(max(m, n), 4p² + 4p).
  if (3 * p * p + Math.max(Math.max(m, n), 4 * p * p + 4 * p) > INT32_MAX) {
    throw new ShapeError(`${fn}: ${m}×${n} is too large for LAPACK's 32-bit workspace`);
  }
  checkFiniteInputs(fn, [ops[0]!]);
}

function potrfOperands(fn: string, n: number, a: F64): void {
  checkDim(fn, 'n', n);
  const ops = [{ name: 'a', array: a, need: n * n, output: true, what: `n·n = ${n}·${n}` }];
  checkOperands(fn, 'f64', ops);
  checkLapackSizes(fn, ops);
  checkFiniteInputs(fn, ops);
}

function solveOperands(fn: string, n: number, nrhs: number, a: F64, b: F64, aName: string, aIsOutput: boolean): void {
  checkDim(fn, 'n', n);
  checkDim(fn, 'nrhs', nrhs);
  const ops = [
    { name: aName, array: a, need: n * n, output: aIsOutput, what: `n·n = ${n}·${n}` },
    { name: 'b', array: b, need: n * nrhs, output: true, what: `n·nrhs = ${n}·${nrhs}` },
  ];
  checkOperands(fn, 'f64', ops);
  checkLapackSizes(fn, ops);
  checkFiniteInputs(fn, ops);
}

// ---------------------------------------------------------------------------------------------
// Mapping LAPACK info to typed errors

function syevdResult(fn: string, n: number, info: number, workspaceCode: number): void {
  if (info < 0) throw negativeInfoError(fn, info, workspaceCode);
  if (info > 0) {
    throw new ConvergenceError(`${fn}: the symmetric eigensolver did not converge on the ${n}×${n} matrix (LAPACK info ${info})`);
  }
}

function gesddResult(fn: string, m: number, n: number, info: number, workspaceCode: number): void {
  if (info < 0) throw negativeInfoError(fn, info, workspaceCode);
  if (info > 0) {
    throw new ConvergenceError(`${fn}: the SVD did not converge on the ${m}×${n} matrix (LAPACK info ${info})`);
  }
}

function potrfResult(fn: string, n: number, info: number, workspaceCode: number): void {
  if (info < 0) throw negativeInfoError(fn, info, workspaceCode);
  if (info > 0) {
    throw new NotPositiveDefiniteError(
      `${fn}: the ${n}×${n} matrix is not positive definite (leading minor ${info} is not positive definite)`,
    );
  }
}

function potriResult(fn: string, n: number, info: number, workspaceCode: number): void {
  if (info < 0) throw negativeInfoError(fn, info, workspaceCode);
  if (info > 0) throw new SingularMatrixError(`${fn}: the ${n}×${n} factor has a zero on its diagonal at ${info}, the matrix is singular`);
}

function potrsResult(fn: string, info: number, workspaceCode: number): void {
  if (info !== 0) throw negativeInfoError(fn, info, workspaceCode);
}

function gesvResult(fn: string, n: number, info: number, workspaceCode: number): void {
  if (info < 0) throw negativeInfoError(fn, info, workspaceCode);
  if (info > 0) {
    throw new SingularMatrixError(`${fn}: the ${n}×${n} matrix is singular: U(${info},${info}) is exactly zero after LU factorisation`);
  }
}

/**
 * Loads the native backend.
 * @param addonPath - the .node file; defaults to {@link nativeBackendPath}.
 * @throws BackendError with the reason and how to build it if the addon is missing or does not load.
 */
export function loadNativeBackend(addonPath: string = nativeBackendPath()): NativeLinAlgBackend {
  const raw = loadNativeAddon(addonPath);
  const ws = raw.INFO_WORKSPACE_TOO_LARGE;
  const info = raw.blasInfo();
  return {
    name: 'native',
    blasInfo: Object.freeze({ config: info.config, corename: info.corename }),

    dgemm(transA, transB, m, n, k, alpha, a, b, beta, c) {
      gemmOperands('dgemm', 'f64', transA, transB, m, n, k, alpha, a, b, beta, c);
      raw.dgemm(transA, transB, m, n, k, alpha, a, b, beta, c);
    },
    sgemm(transA, transB, m, n, k, alpha, a, b, beta, c) {
      gemmOperands('sgemm', 'f32', transA, transB, m, n, k, alpha, a, b, beta, c);
      raw.sgemm(transA, transB, m, n, k, alpha, a, b, beta, c);
    },
    dsyevd(n, a, w) {
      syevdOperands('dsyevd', n, a, w);
      syevdResult('dsyevd', n, raw.dsyevd(n, a, w), ws);
    },
    dgesdd(m, n, a, s, u, vt) {
      gesddOperands('dgesdd', m, n, a, s, u, vt);
      gesddResult('dgesdd', m, n, raw.dgesdd(m, n, a, s, u, vt), ws);
    },
    dpotrf(n, a) {
      potrfOperands('dpotrf', n, a);
      potrfResult('dpotrf', n, raw.dpotrf(n, a), ws);
    },
    dpotrs(n, nrhs, l, b) {
      solveOperands('dpotrs', n, nrhs, l, b, 'l', false);
      potrsResult('dpotrs', raw.dpotrs(n, nrhs, l, b), ws);
    },
    dsymmetrize(n, count, a) {
      checkDim('dsymmetrize', 'n', n);
      checkDim('dsymmetrize', 'count', count);
      checkOperands('dsymmetrize', 'f64', [{ name: 'a', array: a, need: n * n * count, output: true, what: `n·n·count = ${n}·${n}·${count}` }]);
      raw.dsymmetrize(n, count, a);
    },
    dpotri(n, l) {
      potrfOperands('dpotri', n, l);
      potriResult('dpotri', n, raw.dpotri(n, l), ws);
    },
    dgesv(n, nrhs, a, b) {
      solveOperands('dgesv', n, nrhs, a, b, 'a', true);
      gesvResult('dgesv', n, raw.dgesv(n, nrhs, a, b), ws);
    },
    dscaleShiftRows(rows, n, period, shift, scaled, alpha, b, scale, x) {
      checkScaleShiftRows('dscaleShiftRows', rows, n, period, shift, scaled, alpha, b, scale, x);
      raw.dscaleShiftRows(rows, n, period, shift, scaled, alpha, b, scale, x);
    },
    dcopyRuns(rows, runs, accumulate, rowOffsets, runTable, rowScale, src, dst) {
      checkCopyRuns('dcopyRuns', rows, runs, rowOffsets, runTable, rowScale, src, dst);
      raw.dcopyRuns(rows, runs, accumulate, rowOffsets, runTable, rowScale, src, dst);
    },
    dtrmm(left, upper, transA, m, n, alpha, a, lda, b, ldb) {
      checkTrmm('dtrmm', left, upper, transA, m, n, alpha, a, lda, b, ldb);
      raw.dtrmm(left, upper, transA, m, n, alpha, a, lda, b, ldb);
    },
    async dtrmmAsync(left, upper, transA, m, n, alpha, a, lda, b, ldb) {
      checkTrmm('dtrmmAsync', left, upper, transA, m, n, alpha, a, lda, b, ldb);
      await raw.dtrmmAsync(left, upper, transA, m, n, alpha, a, lda, b, ldb);
    },

    getThreads() {
      return raw.getNumThreads();
    },
    setThreads(n) {
      if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS_ARG) {
        throw new InvalidArgumentError(`setThreads: n must be an integer in [1, ${MAX_THREADS_ARG}], got ${n}`);
      }
      try {
        raw.setNumThreads(n);
      } catch (e) {
        // The addon refuses while any BLAS/LAPACK call (e.g. an async one) is running.
        throw new BackendError(e instanceof Error ? e.message : String(e));
      }
    },

    async dgemmAsync(transA, transB, m, n, k, alpha, a, b, beta, c) {
      gemmOperands('dgemmAsync', 'f64', transA, transB, m, n, k, alpha, a, b, beta, c);
      await raw.dgemmAsync(transA, transB, m, n, k, alpha, a, b, beta, c);
    },
    async sgemmAsync(transA, transB, m, n, k, alpha, a, b, beta, c) {
      gemmOperands('sgemmAsync', 'f32', transA, transB, m, n, k, alpha, a, b, beta, c);
      await raw.sgemmAsync(transA, transB, m, n, k, alpha, a, b, beta, c);
    },
    async dsyevdAsync(n, a, w) {
      syevdOperands('dsyevdAsync', n, a, w);
      syevdResult('dsyevdAsync', n, await raw.dsyevdAsync(n, a, w), ws);
    },
    async dgesddAsync(m, n, a, s, u, vt) {
      gesddOperands('dgesddAsync', m, n, a, s, u, vt);
      gesddResult('dgesddAsync', m, n, await raw.dgesddAsync(m, n, a, s, u, vt), ws);
    },
    async dpotrfAsync(n, a) {
      potrfOperands('dpotrfAsync', n, a);
      potrfResult('dpotrfAsync', n, await raw.dpotrfAsync(n, a), ws);
    },
    async dgesvAsync(n, nrhs, a, b) {
      solveOperands('dgesvAsync', n, nrhs, a, b, 'a', true);
      gesvResult('dgesvAsync', n, await raw.dgesvAsync(n, nrhs, a, b), ws);
    },
  };
}
