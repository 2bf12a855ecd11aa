/**
 * Tests of the native (OpenBLAS/LAPACKE) backend and its raw addon.
 *
 * Oracles are independent of the code under test: GEMM against plain JS loops with Higham's
 * componentwise rounding bound; decompositions through their defining identities (residual,
 * orthogonality) and against matrices built with a known spectrum from Householder reflectors.
 *
 * If the addon is not built the file checks that loading fails with a helpful BackendError,
 * unless POLYAPPROX_REQUIRE_NATIVE=1 (as in CI), in which case loading must succeed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';

import {
  BackendError,
  InvalidArgumentError,
  NonFiniteError,
  NotPositiveDefiniteError,
  ShapeError,
  SingularMatrixError,
} from '../../src/errors.js';
import {
  loadNativeAddon,
  loadNativeBackend,
  nativeBackendPath,
  type NativeAddon,
  type NativeLinAlgBackend,
} from '../../src/linalg/native.js';

const REQUIRED = process.env.POLYAPPROX_REQUIRE_NATIVE === '1';

let backend: NativeLinAlgBackend | undefined;
let raw: NativeAddon | undefined;
let loadError: unknown;
try {
  backend = loadNativeBackend();
  raw = loadNativeAddon();
} catch (e) {
  loadError = e;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Deterministic PRNG (mulberry32) with standard-normal draws by Box–Muller. */
function rng(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  return { uniform, normal };
}

function randn(len: number, r: ReturnType<typeof rng>): Float64Array {
  const out = new Float64Array(len);
  for (let i = 0; i < len; i++) out[i] = r.normal();
  return out;
}

/** Plain row-major product of an r×k and a k×c matrix. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, r: number, k: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let l = 0; l < k; l++) {
      const ail = a[i * k + l]!;
      for (let j = 0; j < c; j++) out[i * c + j] += ail * b[l * c + j]!;
    }
  }
  return out;
}

function transpose(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j]!;
  return out;
}

function frob(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

function frobDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** max |QᵀQ − I| for an r×c matrix Q whose columns should be orthonormal. */
function columnOrthogonalityError(q: ArrayLike<number>, r: number, c: number): number {
  const qtq = matmul(transpose(q, r, c), q, c, r, c);
  let worst = 0;
  for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) worst = Math.max(worst, Math.abs(qtq[i * c + j]! - (i === j ? 1 : 0)));
  return worst;
}

/** An n×n orthogonal matrix: a product of n random Householder reflectors applied to I. */
function randomOrthogonal(n: number, r: ReturnType<typeof rng>): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let h = 0; h < n; h++) {
    const v = randn(n, r);
    const vv = v.reduce((s, x) => s + x * x, 0);
    // Q ← Q (I − 2 v vᵀ / vᵀv)
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += q[i * n + j]! * v[j]!;
      const f = (2 * dot) / vv;
      for (let j = 0; j < n; j++) q[i * n + j] -= f * v[j]!;
    }
  }
  return q;
}

/** `count` values log-spaced from `lo` to `hi`, descending. */
function logspaceDesc(lo: number, hi: number, count: number): number[] {
  if (count === 1) return [hi];
  return Array.from({ length: count }, (_, i) => hi * (lo / hi) ** (i / (count - 1)));
}

/** Q · diag(d) · Qᵀ for an orthogonal n×n Q. */
function symmetricWithSpectrum(d: readonly number[], r: ReturnType<typeof rng>): Float64Array {
  const n = d.length;
  const q = randomOrthogonal(n, r);
  const qd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) qd[i * n + j] = q[i * n + j]! * d[j]!;
  const a = matmul(qd, transpose(q, n, n), n, n, n);
  // Exact symmetry, as LAPACK reads only one triangle.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j]!;
  return a;
}

/** An m×n matrix U diag(s) Vᵀ with the given singular values (s.length = min(m, n)). */
function matrixWithSingularValues(m: number, n: number, s: readonly number[], r: ReturnType<typeof rng>): Float64Array {
  const p = s.length;
  const u = randomOrthogonal(m, r);
  const v = randomOrthogonal(n, r);
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let x = 0;
      for (let l = 0; l < p; l++) x += u[i * m + l]! * s[l]! * v[j * n + l]!;
      a[i * n + j] = x;
    }
  }
  return a;
}

/** Reference `alpha · op(A) · op(B) + beta · C` and Higham's componentwise bound γ·(|α||op A||op B| + |β||C|). */
function gemmReference(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: ArrayLike<number>, b: ArrayLike<number>, beta: number, c: ArrayLike<number>, unitRoundoff: number,
): { value: Float64Array; bound: Float64Array } {
  const value = new Float64Array(m * n);
  const bound = new Float64Array(m * n);
  const gamma = ((k + 2) * unitRoundoff) / (1 - (k + 2) * unitRoundoff);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let abs = 0;
      for (let l = 0; l < k; l++) {
        const x = transA ? a[l * m + i]! : a[i * k + l]!;
        const y = transB ? b[j * k + l]! : b[l * n + j]!;
        s += x * y;
        abs += Math.abs(x * y);
      }
      const cij = beta === 0 ? 0 : beta * c[i * n + j]!;
      value[i * n + j] = alpha * s + cij;
      bound[i * n + j] = gamma * (Math.abs(alpha) * abs + Math.abs(cij)) + Number.MIN_VALUE;
    }
  }
  return { value, bound };
}

const F64_U = 2 ** -53;
const F32_U = 2 ** -24;

// ---------------------------------------------------------------------------------------------
// Loading (runs whether or not the addon is built)

describe('loading the native backend', () => {
  test('loads when required, otherwise fails with a helpful BackendError', () => {
    if (REQUIRED) {
      assert.ok(backend, `POLYAPPROX_REQUIRE_NATIVE=1 but loading failed: ${(loadError as Error | undefined)?.message}`);
    }
    if (backend === undefined) {
      assert.ok(loadError instanceof BackendError, `expected BackendError, got ${String(loadError)}`);
      assert.match(loadError.message, /npm run build:native/);
      assert.match(loadError.message, /libopenblas-dev liblapacke-dev/);
    } else {
      assert.equal(backend.name, 'native');
      assert.match(backend.blasInfo.config, /OpenBLAS/);
    }
  });

  test('a missing addon file gives a BackendError naming the file and how to build it', () => {
    const missing = join(tmpdir(), 'polyapprox-no-such-dir', 'polyapprox_blas.node');
    assert.throws(() => loadNativeBackend(missing), (e: unknown) => {
      assert.ok(e instanceof BackendError);
      assert.ok(e.message.includes(missing));
      assert.match(e.message, /not built/);
      assert.match(e.message, /apt-get install libopenblas-dev liblapacke-dev/);
      assert.match(e.message, /npm run build:native/);
      return true;
    });
  });

  test('a file that is not a loadable addon gives a BackendError saying it failed to load', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyapprox-native-'));
    try {
      const bogus = join(dir, 'polyapprox_blas.node');
      writeFileSync(bogus, 'not an ELF shared object');
      assert.throws(() => loadNativeBackend(bogus), (e: unknown) => {
        assert.ok(e instanceof BackendError);
        assert.match(e.message, /failed to load/);
        assert.match(e.message, /npm run build:native/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('nativeBackendPath points at native/build/Release under the package root', () => {
    const p = nativeBackendPath();
    assert.ok(p.endsWith(['native', 'build', 'Release', 'polyapprox_blas.node'].join(sep)), p);
    const root = p.slice(0, -['native', 'build', 'Release', 'polyapprox_blas.node'].join(sep).length);
    assert.ok(new URL(import.meta.url).pathname.startsWith(root), `${p} is not under the package root`);
  });
});

// ---------------------------------------------------------------------------------------------
// Everything below needs the built addon.

if (backend !== undefined && raw !== undefined) {
  const be = backend;
  const addon = raw;

  describe('dgemm / sgemm against JS loops', () => {
    const dims = fc.integer({ min: 0, max: 24 });
    const scalar = fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: -3, max: 3, noNaN: true }));

    for (const precision of ['f64', 'f32'] as const) {
      test(`${precision}: random shapes (0 and 1 included), all transposes, alpha, beta, within the rounding bound`, () => {
        fc.assert(
          fc.property(fc.boolean(), fc.boolean(), dims, dims, dims, scalar, scalar, fc.integer(), (tA, tB, m, n, k, alpha, beta, seed) => {
            const r = rng(seed);
            const pad = 3; // extra elements past the needed length must stay untouched
            const a64 = randn(m * k + pad, r);
            const b64 = randn(k * n + pad, r);
            const c64 = randn(m * n + pad, r);
            let c: Float64Array | Float32Array;
            let cIn: Float64Array | Float32Array;
            let ref: { value: Float64Array; bound: Float64Array };
            if (precision === 'f64') {
              ref = gemmReference(tA, tB, m, n, k, alpha, a64, b64, beta, c64, F64_U);
              cIn = c64;
              c = c64.slice();
              be.dgemm(tA, tB, m, n, k, alpha, a64, b64, beta, c);
            } else {
              // The reference sees exactly what sgemm sees: float32 inputs and float32 alpha, beta.
              const a32 = Float32Array.from(a64);
              const b32 = Float32Array.from(b64);
              cIn = Float32Array.from(c64);
              c = cIn.slice();
              ref = gemmReference(tA, tB, m, n, k, Math.fround(alpha), a32, b32, Math.fround(beta), cIn, F32_U);
              be.sgemm(tA, tB, m, n, k, alpha, a32, b32, beta, c);
            }
            for (let i = 0; i < m * n; i++) {
              const err = Math.abs(c[i]! - ref.value[i]!);
              assert.ok(err <= ref.bound[i]!, `(${tA},${tB},${m},${n},${k}) entry ${i}: |${c[i]} − ${ref.value[i]}| = ${err} > ${ref.bound[i]}`);
            }
            for (let i = m * n; i < m * n + pad; i++) assert.equal(c[i], cIn[i], 'wrote past m·n');
          }),
          { numRuns: 150, seed: 20261126, endOnFailure: true },
        );
      });
    }

    test('every transpose combination on odd sizes, including empty and unit dimensions', () => {
      const r = rng(7);
      const sizes = [0, 1, 3, 5];
      for (const tA of [false, true]) for (const tB of [false, true]) for (const m of sizes) for (const n of sizes) for (const k of sizes) {
        const a = randn(m * k, r);
        const b = randn(k * n, r);
        const c = randn(m * n, r);
        const ref = gemmReference(tA, tB, m, n, k, 1.5, a, b, -0.5, c, F64_U);
        be.dgemm(tA, tB, m, n, k, 1.5, a, b, -0.5, c);
        for (let i = 0; i < m * n; i++) assert.ok(Math.abs(c[i]! - ref.value[i]!) <= ref.bound[i]!, `(${tA},${tB},${m},${n},${k})`);
      }
    });

    test('beta = 0 ignores NaN already in C, also when k = 0', () => {
      for (const k of [0, 4]) {
        const a = new Float64Array(3 * k).fill(1);
        const b = new Float64Array(k * 2).fill(2);
        const c = new Float64Array(6).fill(NaN);
        be.dgemm(false, false, 3, 2, k, 1, a, b, 0, c);
        assert.deepEqual(Array.from(c), new Array(6).fill(2 * k));
        const c32 = new Float32Array(6).fill(NaN);
        be.sgemm(false, false, 3, 2, k, 1, Float32Array.from(a), Float32Array.from(b), 0, c32);
        assert.deepEqual(Array.from(c32), new Array(6).fill(2 * k));
      }
    });

    test('k = 0 scales C by beta', () => {
      const c = new Float64Array([1, -2, 3, 4]);
      be.dgemm(true, false, 2, 2, 0, 5, new Float64Array(0), new Float64Array(0), -0.5, c);
      assert.deepEqual(Array.from(c), [-0.5, 1, -1.5, -2]);
    });

    test('A·Aᵀ with the same array passed as a and b', () => {
      const r = rng(11);
      const a = randn(5 * 7, r);
      const c = new Float64Array(25);
      be.dgemm(false, true, 5, 5, 7, 1, a, a, 0, c);
      const ref = gemmReference(false, true, 5, 5, 7, 1, a, a, 0, c, F64_U);
      for (let i = 0; i < 25; i++) assert.ok(Math.abs(c[i]! - ref.value[i]!) <= ref.bound[i]!);
    });

    test('views with a byte offset into a shared buffer are read and written at their offset', () => {
      const r = rng(12);
      const buf = new Float64Array(100);
      buf.set(randn(100, r));
      const a = buf.subarray(3, 3 + 12); // 3×4
      const b = buf.subarray(20, 20 + 8); // 4×2
      const c = buf.subarray(50, 56); // 3×2
      const before = buf.slice();
      const ref = gemmReference(false, false, 3, 2, 4, 1, a, b, 0, c, F64_U);
      be.dgemm(false, false, 3, 2, 4, 1, a, b, 0, c);
      for (let i = 0; i < 6; i++) assert.ok(Math.abs(c[i]! - ref.value[i]!) <= ref.bound[i]!);
      for (let i = 0; i < 100; i++) if (i < 50 || i >= 56) assert.equal(buf[i], before[i], `index ${i} changed`);
    });
  });

  describe('dsyevd', () => {
    function checkEig(a0: Float64Array, n: number, expected?: number[]): void {
      const a = a0.slice();
      const w = new Float64Array(n);
      be.dsyevd(n, a, w);
      for (let i = 1; i < n; i++) assert.ok(w[i - 1]! <= w[i]!, 'eigenvalues not ascending');
      // A V = V Λ
      const av = matmul(a0, a, n, n, n);
      const vl = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vl[i * n + j] = a[i * n + j]! * w[j]!;
      assert.ok(frobDiff(av, vl) / frob(a0) <= 1e-12, `residual ${frobDiff(av, vl) / frob(a0)}`);
      assert.ok(columnOrthogonalityError(a, n, n) <= 1e-12, `orthogonality ${columnOrthogonalityError(a, n, n)}`);
      if (expected) {
        const sorted = [...expected].sort((x, y) => x - y);
        const scale = Math.max(...sorted.map(Math.abs));
        for (let i = 0; i < n; i++) assert.ok(Math.abs(w[i]! - sorted[i]!) <= 1e-12 * scale, `eigenvalue ${i}: ${w[i]} vs ${sorted[i]}`);
      }
    }

    test('random symmetric matrices of several sizes', () => {
      const r = rng(21);
      for (const n of [1, 2, 5, 31, 120]) {
        const g = randn(n * n, r);
        const s = new Float64Array(n * n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s[i * n + j] = (g[i * n + j]! + g[j * n + i]!) / 2;
        checkEig(s, n);
      }
    });

    test('ill-conditioned: known eigenvalues spanning 1e-10..1 (and a negative one) are recovered', () => {
      const r = rng(22);
      const d = logspaceDesc(1e-10, 1, 80);
      d[40] = -0.3;
      checkEig(symmetricWithSpectrum(d, r), d.length, d);
    });

    test('n = 0 is a no-op', () => {
      be.dsyevd(0, new Float64Array(0), new Float64Array(0));
    });

    test('non-finite input is a NonFiniteError', () => {
      const a = new Float64Array([1, NaN, NaN, 1]);
      assert.throws(() => be.dsyevd(2, a, new Float64Array(2)), NonFiniteError);
    });
  });

  describe('dgesdd', () => {
    function checkSvd(a0: Float64Array, m: number, n: number, expected?: readonly number[]): void {
      const p = Math.min(m, n);
      const a = a0.slice();
      const s = new Float64Array(p);
      const u = new Float64Array(m * p);
      const vt = new Float64Array(p * n);
      be.dgesdd(m, n, a, s, u, vt);
      for (let i = 0; i < p; i++) {
        assert.ok(s[i]! >= 0, 'negative singular value');
        if (i > 0) assert.ok(s[i - 1]! >= s[i]!, 'singular values not descending');
      }
      const us = new Float64Array(m * p);
      for (let i = 0; i < m; i++) for (let j = 0; j < p; j++) us[i * p + j] = u[i * p + j]! * s[j]!;
      const rec = matmul(us, vt, m, p, n);
      const scale = frob(a0);
      if (scale > 0) assert.ok(frobDiff(rec, a0) / scale <= 1e-12, `${m}×${n}: residual ${frobDiff(rec, a0) / scale}`);
      assert.ok(columnOrthogonalityError(u, m, p) <= 1e-12, `${m}×${n}: UᵀU error ${columnOrthogonalityError(u, m, p)}`);
      const v = transpose(vt, p, n);
      assert.ok(columnOrthogonalityError(v, n, p) <= 1e-12, `${m}×${n}: VᵀV error ${columnOrthogonalityError(v, n, p)}`);
      if (expected) {
        for (let i = 0; i < p; i++) assert.ok(Math.abs(s[i]! - expected[i]!) <= 1e-12 * expected[0]!, `σ${i}: ${s[i]} vs ${expected[i]}`);
      }
    }

    test('random tall, wide, square and degenerate shapes', () => {
      const r = rng(31);
      for (const [m, n] of [[1, 1], [1, 7], [7, 1], [5, 3], [3, 5], [40, 17], [17, 40], [60, 60]] as const) {
        checkSvd(randn(m * n, r), m, n);
      }
    });

    test('ill-conditioned: known singular values spanning 1e-10..1 are recovered', () => {
      const r = rng(32);
      for (const [m, n] of [[70, 50], [50, 70]] as const) {
        const s = logspaceDesc(1e-10, 1, Math.min(m, n));
        checkSvd(matrixWithSingularValues(m, n, s, r), m, n, s);
      }
    });

    test('rank-deficient input', () => {
      const r = rng(33);
      const s = [3, 2, 1, 0, 0, 0];
      checkSvd(matrixWithSingularValues(9, 6, s, r), 9, 6, s);
    });

    test('empty shapes return without touching memory', () => {
      be.dgesdd(0, 5, new Float64Array(0), new Float64Array(0), new Float64Array(0), new Float64Array(0));
      be.dgesdd(5, 0, new Float64Array(0), new Float64Array(0), new Float64Array(0), new Float64Array(0));
    });
  });

  describe('dpotrf / dpotrs', () => {
    function spd(n: number, r: ReturnType<typeof rng>): Float64Array {
      const g = randn(n * n, r);
      const p = matmul(g, transpose(g, n, n), n, n, n);
      for (let i = 0; i < n * n; i++) p[i] /= n;
      for (let i = 0; i < n; i++) p[i * n + i] += 1;
      return p;
    }

    function checkCholesky(p: Float64Array, n: number, nrhsList: readonly number[], r: ReturnType<typeof rng>): void {
      const l = p.slice();
      be.dpotrf(n, l);
      for (let i = 0; i < n; i++) {
        assert.ok(l[i * n + i]! > 0, 'non-positive diagonal');
        for (let j = i + 1; j < n; j++) assert.equal(l[i * n + j], 0, 'upper triangle not zeroed');
      }
      const llt = matmul(l, transpose(l, n, n), n, n, n);
      assert.ok(frobDiff(llt, p) / frob(p) <= 1e-12, `‖LLᵀ − P‖/‖P‖ = ${frobDiff(llt, p) / frob(p)}`);
      for (const nrhs of nrhsList) {
        const b = randn(n * nrhs, r);
        const x = b.slice();
        be.dpotrs(n, nrhs, l, x);
        if (nrhs === 0) continue;
        const px = matmul(p, x, n, n, nrhs);
        // Normwise backward error, scale-free even when P is ill-conditioned.
        const eta = frobDiff(px, b) / (frob(p) * frob(x) + frob(b));
        assert.ok(eta <= 1e-12, `n=${n} nrhs=${nrhs}: backward error ${eta}`);
      }
    }

    test('random SPD matrices, 1 and several right-hand sides', () => {
      const r = rng(41);
      for (const n of [1, 2, 7, 64]) checkCholesky(spd(n, r), n, [1, 3, 0], r);
    });

    test('ill-conditioned SPD (eigenvalues 1e-10..1)', () => {
      const r = rng(42);
      checkCholesky(symmetricWithSpectrum(logspaceDesc(1e-10, 1, 60), r), 60, [1, 4], r);
    });

    test('an indefinite matrix is a NotPositiveDefiniteError naming the leading minor', () => {
      assert.throws(() => be.dpotrf(2, new Float64Array([1, 2, 2, 1])), (e: unknown) => {
        assert.ok(e instanceof NotPositiveDefiniteError);
        assert.match(e.message, /leading minor 2 is not positive definite/);
        return true;
      });
      const d = new Float64Array(16);
      [1, 2, -1, 3].forEach((x, i) => (d[i * 4 + i] = x));
      assert.throws(() => be.dpotrf(4, d), /leading minor 3 is not positive definite/);
    });
  });

  describe('dgesv', () => {
    function checkSolve(a0: Float64Array, n: number, nrhs: number, r: ReturnType<typeof rng>): void {
      const b = randn(n * nrhs, r);
      const x = b.slice();
      be.dgesv(n, nrhs, a0.slice(), x);
      const ax = matmul(a0, x, n, n, nrhs);
      const eta = frobDiff(ax, b) / (frob(a0) * frob(x) + frob(b));
      assert.ok(eta <= 1e-12, `n=${n} nrhs=${nrhs}: backward error ${eta}`);
    }

    test('random and ill-conditioned (singular values 1e-10..1) systems', () => {
      const r = rng(51);
      for (const n of [1, 3, 50]) for (const nrhs of [1, 5]) checkSolve(randn(n * n, r), n, nrhs, r);
      checkSolve(matrixWithSingularValues(60, 60, logspaceDesc(1e-10, 1, 60), r), 60, 2, r);
    });

    test('an exactly singular matrix is a SingularMatrixError', () => {
      assert.throws(() => be.dgesv(2, 1, new Float64Array([1, 2, 2, 4]), new Float64Array(2)), SingularMatrixError);
      assert.throws(() => be.dgesv(3, 1, new Float64Array(9), new Float64Array(3)), SingularMatrixError);
      // With no right-hand side the factorisation still runs and still reports singularity.
      assert.throws(() => be.dgesv(2, 0, new Float64Array([1, 2, 2, 4]), new Float64Array(0)), SingularMatrixError);
    });

    test('non-finite right-hand side is a NonFiniteError', () => {
      assert.throws(() => be.dgesv(2, 1, new Float64Array([2, 0, 0, 2]), new Float64Array([1, Infinity])), NonFiniteError);
    });
  });

  describe('typed validation in the TS wrapper', () => {
    test('short arrays, bad dimensions, wrong types, overlapping outputs and bad scalars', () => {
      const f = (len: number): Float64Array => new Float64Array(len);
      assert.throws(() => be.dgemm(false, false, 2, 2, 2, 1, f(3), f(4), 0, f(4)), ShapeError);
      assert.throws(() => be.dgemm(false, false, 2, 2, 2, 1, f(4), f(4), 0, f(3)), ShapeError);
      assert.throws(() => be.dgemm(false, false, -1, 2, 2, 1, f(4), f(4), 0, f(4)), ShapeError);
      assert.throws(() => be.dgemm(false, false, 1.5, 2, 2, 1, f(4), f(4), 0, f(4)), ShapeError);
      assert.throws(() => be.dgemm(false, false, 2, 2, 2, NaN, f(4), f(4), 0, f(4)), NonFiniteError);
      assert.throws(() => be.dgemm(false, false, 2, 2, 2, 1, new Float32Array(4) as unknown as Float64Array, f(4), 0, f(4)), InvalidArgumentError);
      const shared = f(8);
      assert.throws(() => be.dgemm(false, false, 2, 2, 2, 1, shared.subarray(0, 4), f(4), 0, shared.subarray(2, 6)), InvalidArgumentError);
      assert.throws(() => be.dsyevd(3, f(8), f(3)), ShapeError);
      assert.throws(() => be.dsyevd(3, f(9), f(2)), ShapeError);
      assert.throws(() => be.dgesdd(3, 2, f(6), f(2), f(5), f(4)), ShapeError);
      assert.throws(() => be.dpotrf(2, f(3)), ShapeError);
      assert.throws(() => be.dpotrs(2, 2, f(4), f(3)), ShapeError);
      assert.throws(() => be.dgesv(2, 1, f(4), f(1)), ShapeError);
      const ab = f(6);
      assert.throws(() => be.dgesv(2, 1, ab.subarray(0, 4), ab.subarray(3, 5)), InvalidArgumentError);
      assert.throws(() => be.setThreads(0), InvalidArgumentError);
      assert.throws(() => be.setThreads(1.5), InvalidArgumentError);
    });

    test('async variants reject with the same typed errors', async () => {
      await assert.rejects(be.dgemmAsync(false, false, 2, 2, 2, 1, new Float64Array(3), new Float64Array(4), 0, new Float64Array(4)), ShapeError);
      await assert.rejects(be.dpotrfAsync(2, new Float64Array([1, 2, 2, 1])), NotPositiveDefiniteError);
      await assert.rejects(be.dgesvAsync(2, 1, new Float64Array([1, 2, 2, 4]), new Float64Array(2)), SingularMatrixError);
      await assert.rejects(be.dsyevdAsync(2, new Float64Array([1, Infinity, Infinity, 1]), new Float64Array(2)), NonFiniteError);
    });
  });

  describe('validation in C (raw addon)', () => {
    const f = (len: number): Float64Array => new Float64Array(len);
    const callRaw = (fn: () => unknown): void => void fn();

    test('dcopyRuns: out-of-range and negative plans are RangeErrors, wrong array types TypeErrors', () => {
      const src = new Float64Array(10);
      const dst = new Float64Array(10);
      const one = Float64Array.from([1]);
      const i32 = (v: number[]): Int32Array => Int32Array.from(v);
      assert.throws(() => addon.dcopyRuns(1, 1, false, i32([0, 0]), i32([8, 0, 3]), one, src, dst), RangeError);
      assert.throws(() => addon.dcopyRuns(1, 1, false, i32([0, 9]), i32([0, 0, 2]), one, src, dst), RangeError);
      assert.throws(() => addon.dcopyRuns(1, 1, false, i32([-4, 0]), i32([4, 0, 1]), one, src, dst), RangeError);
      assert.throws(() => addon.dcopyRuns(1, 1, false, i32([0, 0]), i32([0, 0, -1]), one, src, dst), RangeError);
      assert.throws(() => addon.dcopyRuns(2, 1, false, i32([0, 0]), i32([0, 0, 1]), one, src, dst), RangeError); // short rowOffsets
      assert.throws(() => addon.dcopyRuns(1, 1, false, i32([0, 0]), i32([0, 0, 1]), Float64Array.from([Infinity]), src, dst), RangeError);
      assert.throws(() => addon.dcopyRuns(1, 1, false, i32([0, 0]), i32([0, 0, 5]), one, src, src), RangeError); // overlap
      assert.throws(() => addon.dcopyRuns(1, 1, false, new Float64Array(2) as unknown as Int32Array, i32([0, 0, 1]), one, src, dst), TypeError);
      addon.dcopyRuns(1, 1, false, i32([0, 5]), i32([0, 0, 5]), one, Float64Array.from({ length: 10 }, (_, i) => i), dst);
      assert.deepEqual([...dst], [0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    });

    test('dscaleShiftRows: period 0, short arrays and overlap are RangeErrors, wrong array types TypeErrors', () => {
      const e = new Float64Array(0);
      assert.throws(() => addon.dscaleShiftRows(4, 2, 0, false, true, e, e, f(8), f(8)), RangeError);
      assert.throws(() => addon.dscaleShiftRows(4, 2, 2, true, false, f(1), f(4), e, f(8)), RangeError);
      assert.throws(() => addon.dscaleShiftRows(4, 2, 2, true, false, f(2), f(3), e, f(8)), RangeError);
      assert.throws(() => addon.dscaleShiftRows(4, 2, 2, false, true, e, e, f(3), f(8)), RangeError);
      assert.throws(() => addon.dscaleShiftRows(4, 2, 2, false, false, e, e, e, f(7)), RangeError);
      const shared = f(16);
      assert.throws(() => addon.dscaleShiftRows(4, 2, 2, false, true, e, e, shared.subarray(4, 8), shared.subarray(0, 8)), RangeError);
      assert.throws(() => addon.dscaleShiftRows(4, 2, 2, false, true, e, e, new Float32Array(4) as unknown as Float64Array, f(8)), TypeError);
      // Unused arrays are not read: the shift's arrays may be empty when only scaling, and the other way round.
      const x = Float64Array.from([1, 2, 3, 4]);
      addon.dscaleShiftRows(2, 2, 2, false, true, e, e, Float64Array.from([10, 100]), x);
      assert.deepEqual([...x], [10, 200, 30, 400]);
      addon.dscaleShiftRows(2, 2, 1, true, false, Float64Array.from([1]), Float64Array.from([1, 1, 2, 2]), e, x);
      assert.deepEqual([...x], [11, 201, 32, 402]);
    });

    test('dpotri: a short array is a RangeError', () => {
      assert.throws(() => addon.dpotri(3, new Float64Array(8)), RangeError);
    });

    test('dtrmm: short arrays, small leading dimensions and overlap are RangeErrors', () => {
      const a = new Float64Array(9);
      const b = new Float64Array(9);
      assert.throws(() => addon.dtrmm(true, true, false, 3, 3, 1, a, 2, b, 3), RangeError);
      assert.throws(() => addon.dtrmm(true, true, false, 3, 3, 1, a, 3, b, 2), RangeError);
      assert.throws(() => addon.dtrmm(false, true, false, 3, 4, 1, a, 4, b, 4), RangeError);
      assert.throws(() => addon.dtrmm(true, true, false, 3, 3, 1, a, 3, a, 3), RangeError);
      assert.throws(() => addon.dtrmm(true, true, false, 3, 3, 1, new Float32Array(9) as unknown as Float64Array, 3, b, 3), TypeError);
    });

    test('wrong typed-array type or a non-array is a TypeError', () => {
      assert.throws(() => callRaw(() => addon.dgemm(false, false, 2, 2, 2, 1, new Float32Array(4) as unknown as Float64Array, f(4), 0, f(4))), TypeError);
      assert.throws(() => callRaw(() => addon.sgemm(false, false, 2, 2, 2, 1, new Float32Array(4), f(4) as unknown as Float32Array, 0, new Float32Array(4))), TypeError);
      assert.throws(() => callRaw(() => addon.dsyevd(2, [1, 0, 0, 1] as unknown as Float64Array, f(2))), TypeError);
      assert.throws(() => callRaw(() => addon.dpotrf(2, new Int32Array(4) as unknown as Float64Array)), /must be a Float64Array, got Int32Array/);
      assert.throws(() => callRaw(() => addon.dpotrf(2, undefined as unknown as Float64Array)), TypeError);
    });

    test('non-boolean flags, non-number dims and wrong argument counts are TypeErrors', () => {
      assert.throws(() => callRaw(() => addon.dgemm(0 as unknown as boolean, false, 2, 2, 2, 1, f(4), f(4), 0, f(4))), TypeError);
      assert.throws(() => callRaw(() => addon.dpotrf('2' as unknown as number, f(4))), TypeError);
      assert.throws(() => callRaw(() => (addon.dpotrf as unknown as (n: number) => number)(2)), /expected 2 arguments, got 1/);
      assert.throws(() => callRaw(() => (addon.dpotrf as unknown as (...a: unknown[]) => number)(2, f(4), f(4))), TypeError);
    });

    test('negative, fractional, non-finite or huge dims and too-short arrays are RangeErrors', () => {
      assert.throws(() => callRaw(() => addon.dgemm(false, false, -1, 2, 2, 1, f(4), f(4), 0, f(4))), RangeError);
      assert.throws(() => callRaw(() => addon.dgemm(false, false, 2.5, 2, 2, 1, f(6), f(4), 0, f(6))), RangeError);
      assert.throws(() => callRaw(() => addon.dgemm(false, false, NaN, 2, 2, 1, f(4), f(4), 0, f(4))), RangeError);
      assert.throws(() => callRaw(() => addon.dgemm(false, false, 2 ** 31, 1, 1, 1, f(4), f(4), 0, f(4))), RangeError);
      assert.throws(() => callRaw(() => addon.dgemm(false, false, 2 ** 30, 2 ** 30, 2 ** 30, 1, f(4), f(4), 0, f(4))), /need at least/);
      assert.throws(() => callRaw(() => addon.dgemm(false, false, 2, 2, 2, 1, f(4), f(4), 0, f(3))), /array 'c' has 3 elements/);
      assert.throws(() => callRaw(() => addon.dgesdd(4, 3, f(12), f(3), f(11), f(9))), /array 'u'/);
      assert.throws(() => callRaw(() => addon.dgemm(false, false, 2, 2, 2, Infinity, f(4), f(4), 0, f(4))), RangeError);
      assert.throws(() => callRaw(() => addon.setNumThreads(0)), RangeError);
      assert.throws(() => callRaw(() => addon.setNumThreads(2.5)), RangeError);
    });

    test('an output overlapping another operand is refused; disjoint views of one buffer are accepted', () => {
      const buf = f(12);
      assert.throws(() => callRaw(() => addon.dgemm(false, false, 2, 2, 2, 1, buf.subarray(0, 4), buf.subarray(4, 8), 0, buf.subarray(6, 10))), /overlap/);
      addon.dgemm(false, false, 2, 2, 2, 1, buf.subarray(0, 4), buf.subarray(0, 4), 0, buf.subarray(8, 12));
    });

    test('a detached buffer is refused instead of read', () => {
      const buffer = new ArrayBuffer(32);
      const a = new Float64Array(buffer);
      structuredClone(buffer, { transfer: [buffer] });
      assert.equal(a.length, 0);
      assert.throws(() => callRaw(() => addon.dpotrf(2, a)), RangeError);
    });

    test('async entry points validate synchronously too', () => {
      assert.throws(() => callRaw(() => addon.dgemmAsync(false, false, 2, 2, 2, 1, f(4), f(4), 0, f(3))), RangeError);
      assert.throws(() => callRaw(() => addon.dsyevdAsync(2, new Float32Array(4) as unknown as Float64Array, f(2))), TypeError);
    });

    test('fuzzed arguments either throw TypeError/RangeError or succeed, never writing outside the arrays', async () => {
      type Kind = 'bool' | 'dim' | 'num' | 'f64' | 'f32';
      const gemm = (t: 'f64' | 'f32'): Kind[] => ['bool', 'bool', 'dim', 'dim', 'dim', 'num', t, t, 'num', t];
      const templates: Record<string, Kind[]> = {
        dgemm: gemm('f64'), sgemm: gemm('f32'), dsyevd: ['dim', 'f64', 'f64'],
        dgesdd: ['dim', 'dim', 'f64', 'f64', 'f64', 'f64'], dpotrf: ['dim', 'f64'],
        dpotrs: ['dim', 'dim', 'f64', 'f64'], dgesv: ['dim', 'dim', 'f64', 'f64'],
      };
      const GUARD = 8;
      const SENTINEL = 7.25;
      type ArrayArg = { kind: 'f64' | 'f32' | 'i32' | 'plain' | 'same'; len: number };
      type Arg = { t: 'value'; v: unknown } | { t: 'array'; a: ArrayArg };
      const arrayArb = (kind: ArrayArg['kind']): fc.Arbitrary<Arg> =>
        fc.integer({ min: 0, max: 30 }).map((len) => ({ t: 'array' as const, a: { kind, len } }));
      const junk: fc.Arbitrary<Arg> = fc.oneof(
        fc.constantFrom<unknown>(-1, 0.5, NaN, Infinity, 2 ** 31, 1e300, -0, true, undefined, null, 'x', {}).map((v) => ({ t: 'value' as const, v })),
        arrayArb('f64'), arrayArb('f32'), arrayArb('i32'), arrayArb('plain'), arrayArb('same'),
      );
      const typed = (k: Kind): fc.Arbitrary<Arg> => {
        switch (k) {
          case 'bool': return fc.boolean().map((v) => ({ t: 'value' as const, v }));
          case 'dim': return fc.integer({ min: 0, max: 5 }).map((v) => ({ t: 'value' as const, v }));
          case 'num': return fc.double({ min: -2, max: 2, noNaN: true }).map((v) => ({ t: 'value' as const, v }));
          default: return fc.oneof({ weight: 5, arbitrary: arrayArb(k) }, { weight: 1, arbitrary: arrayArb('same') });
        }
      };
      const callArb = fc.constantFrom(...Object.keys(templates)).chain((name) =>
        fc.record({
          name: fc.constant(name),
          async: fc.boolean(),
          args: fc.oneof(
            { weight: 9, arbitrary: fc.tuple(...templates[name]!.map((k) => fc.oneof({ weight: 12, arbitrary: typed(k) }, { weight: 1, arbitrary: junk }))) },
            { weight: 1, arbitrary: fc.array(junk, { maxLength: 12 }) },
          ),
        }),
      );
      const r = rng(71);
      let succeeded = 0;
      let refused = 0;
      await fc.assert(
        fc.asyncProperty(callArb, async ({ name, async, args }) => {
          const guarded: { full: Float64Array | Float32Array }[] = [];
          let last: unknown = new Float64Array(4);
          const values = args.map((arg): unknown => {
            if (arg.t === 'value') return arg.v;
            const { kind, len } = arg.a;
            if (kind === 'same') return last;
            if (kind === 'plain') return (last = Array.from({ length: len }, () => r.normal()));
            if (kind === 'i32') return (last = new Int32Array(len));
            const full = kind === 'f64' ? new Float64Array(len + 2 * GUARD) : new Float32Array(len + 2 * GUARD);
            full.fill(SENTINEL);
            for (let i = GUARD; i < GUARD + len; i++) full[i] = r.normal();
            guarded.push({ full });
            return (last = full.subarray(GUARD, GUARD + len));
          });
          const fn = (addon as unknown as Record<string, (...a: unknown[]) => unknown>)[async ? `${name}Async` : name]!;
          let result: unknown;
          try {
            result = fn(...values);
          } catch (e) {
            assert.ok(e instanceof TypeError || e instanceof RangeError, `${name}: unexpected ${String(e)}`);
            refused++;
            return;
          }
          if (async) {
            assert.ok(result instanceof Promise);
            result = await result;
          }
          assert.ok(result === undefined || Number.isInteger(result), `${name} returned ${String(result)}`);
          succeeded++;
          for (const { full } of guarded) {
            for (let i = 0; i < GUARD; i++) {
              assert.equal(full[i], SENTINEL, `${name} wrote before an array`);
              assert.equal(full[full.length - 1 - i], SENTINEL, `${name} wrote past an array`);
            }
          }
        }),
        { numRuns: 2000, seed: 4242, endOnFailure: true },
      );
      // Both outcomes must be common, or the fuzzer is not exercising the validation or the kernels.
      assert.ok(succeeded >= 300 && refused >= 300, `succeeded ${succeeded}, refused ${refused}`);
    });

    test('LAPACK info is returned, not thrown', () => {
      assert.equal(addon.dpotrf(2, new Float64Array([1, 2, 2, 1])), 2);
      assert.equal(addon.dgesv(2, 1, new Float64Array([1, 2, 2, 4]), f(2)), 2);
      assert.equal(addon.dpotrf(2, new Float64Array([4, 0, 0, 9])), 0);
    });
  });

  describe('async variants', () => {
    test('give bit-identical results to the synchronous calls', async () => {
      const r = rng(61);
      const n = 90;
      const a = randn(n * 70, r);
      const b = randn(70 * n, r);
      const cSync = new Float64Array(n * n);
      const cAsync = new Float64Array(n * n);
      be.dgemm(true, true, n, n, 70, 0.5, b, a, 0, cSync);
      await be.dgemmAsync(true, true, n, n, 70, 0.5, b, a, 0, cAsync);
      assert.deepEqual(cAsync, cSync);

      const a32 = Float32Array.from(a);
      const s1 = new Float32Array(n * n);
      const s2 = new Float32Array(n * n);
      be.sgemm(false, false, n, n, 70, 1, a32, Float32Array.from(b), 0, s1);
      await be.sgemmAsync(false, false, n, n, 70, 1, a32, Float32Array.from(b), 0, s2);
      assert.deepEqual(s2, s1);

      const sym = matmul(a, transpose(a, n, 70), n, 70, n);
      const e1 = sym.slice();
      const e2 = sym.slice();
      const w1 = new Float64Array(n);
      const w2 = new Float64Array(n);
      be.dsyevd(n, e1, w1);
      await be.dsyevdAsync(n, e2, w2);
      assert.deepEqual(w2, w1);
      assert.deepEqual(e2, e1);

      const g1 = a.slice();
      const g2 = a.slice();
      const [sv1, sv2] = [new Float64Array(70), new Float64Array(70)];
      const [u1, u2] = [new Float64Array(n * 70), new Float64Array(n * 70)];
      const [v1, v2] = [new Float64Array(70 * 70), new Float64Array(70 * 70)];
      be.dgesdd(n, 70, g1, sv1, u1, v1);
      await be.dgesddAsync(n, 70, g2, sv2, u2, v2);
      assert.deepEqual([sv2, u2, v2], [sv1, u1, v1]);

      for (let i = 0; i < n; i++) sym[i * n + i] += 1;
      const l1 = sym.slice();
      const l2 = sym.slice();
      be.dpotrf(n, l1);
      await be.dpotrfAsync(n, l2);
      assert.deepEqual(l2, l1);

      const x1 = b.slice(0, n * 3);
      const x2 = x1.slice();
      be.dgesv(n, 3, sym.slice(), x1);
      await be.dgesvAsync(n, 3, sym.slice(), x2);
      assert.deepEqual(x2, x1);
    });

    test('a 2000×2000 dgemmAsync runs off the main thread: timers keep firing', async () => {
      const r = rng(62);
      const n = 2000;
      const a = new Float64Array(n * n);
      const b = new Float64Array(n * n);
      for (let i = 0; i < n * n; i++) {
        a[i] = r.uniform() - 0.5;
        b[i] = r.uniform() - 0.5;
      }
      const c = new Float64Array(n * n);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 2);
      try {
        const t0 = performance.now();
        const pending = be.dgemmAsync(false, false, n, n, n, 1, a, b, 0, c);
        const callMs = performance.now() - t0;
        await pending;
        const totalMs = performance.now() - t0;
        assert.ok(ticks >= 3, `only ${ticks} timer ticks during a ${totalMs.toFixed(0)} ms dgemmAsync`);
        assert.ok(callMs < totalMs / 2, `the call itself took ${callMs.toFixed(1)} of ${totalMs.toFixed(1)} ms`);
      } finally {
        clearInterval(timer);
      }
      // Spot-check entries against dot products.
      for (const [i, j] of [[0, 0], [1999, 1999], [123, 1700], [1500, 7]] as const) {
        let s = 0;
        let abs = 0;
        for (let l = 0; l < n; l++) {
          s += a[i * n + l]! * b[l * n + j]!;
          abs += Math.abs(a[i * n + l]! * b[l * n + j]!);
        }
        assert.ok(Math.abs(c[i * n + j]! - s) <= (n + 2) * F64_U * abs * 2, `entry (${i},${j})`);
      }
    });

    test('unreferenced input arrays survive garbage collection while the work runs', async () => {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      const n = 1200; // long enough (tens of ms) that the collections below happen during the product
      const expected = new Float64Array(n * n);
      const r = rng(63);
      for (let i = 0; i < n * n; i++) expected[i] = r.uniform();
      const identity = (): Float64Array => {
        const id = new Float64Array(n * n);
        for (let i = 0; i < n; i++) id[i * n + i] = 1;
        return id;
      };
      const c = new Float64Array(n * n);
      // Once start() returns, the inputs are reachable only through the addon's references (a separate
      // frame, so no interpreter register of this function still holds them).
      const start = (): Promise<void> => addon.dgemmAsync(false, false, n, n, n, 1, expected.slice(), identity(), 0, c);
      const pending = start();
      for (let i = 0; i < 4; i++) {
        gc();
        new Float64Array(n * n).fill(-1); // reuse freed memory if the inputs were collected
      }
      await pending;
      assert.deepEqual(c, expected);
    });

    test('many concurrent calls complete with correct results', async () => {
      const r = rng(64);
      const jobs = Array.from({ length: 8 }, (_, t) => {
        const n = 40 + t;
        const a = randn(n * n, r);
        const c = new Float64Array(n * n);
        return { n, a, c, ref: gemmReference(false, true, n, n, n, 1, a, a, 0, c, F64_U) };
      });
      await Promise.all(jobs.map(({ n, a, c }) => be.dgemmAsync(false, true, n, n, n, 1, a, a, 0, c)));
      for (const { n, c, ref } of jobs) for (let i = 0; i < n * n; i++) assert.ok(Math.abs(c[i]! - ref.value[i]!) <= ref.bound[i]!);
    });
  });

  describe('worker threads', () => {
    test('the addon loads in a worker, and terminating a worker with async work in flight is safe', async () => {
      const source = `
        const { parentPort, workerData } = require('node:worker_threads');
        const m = require(workerData);
        const c = new Float64Array(4);
        m.dgemm(false, false, 2, 2, 2, 1, new Float64Array([1, 2, 3, 4]), new Float64Array([5, 6, 7, 8]), 0, c);
        const n = 1200;
        const big = new Float64Array(n * n).fill(1);
        m.dgemmAsync(false, false, n, n, n, 1, big, big, 0, new Float64Array(n * n));
        parentPort.postMessage(Array.from(c));
      `;
      const worker = new Worker(source, { eval: true, workerData: nativeBackendPath() });
      const product = await new Promise<number[]>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      assert.deepEqual(product, [19, 22, 43, 50]);
      await worker.terminate(); // the dgemmAsync is still running or queued
      const c = new Float64Array(1);
      await be.dgemmAsync(false, false, 1, 1, 1, 1, new Float64Array([2]), new Float64Array([3]), 0, c);
      assert.equal(c[0], 6);
    });
  });

  describe('threads', () => {
    test('setThreads / getThreads round-trip', () => {
      const original = be.getThreads();
      assert.ok(Number.isInteger(original) && original >= 1);
      try {
        be.setThreads(1);
        assert.equal(be.getThreads(), 1);
        be.setThreads(2);
        assert.equal(be.getThreads(), 2);
        // A product still comes out right after changing the thread count.
        const a = new Float64Array([1, 2, 3, 4]);
        const c = new Float64Array(4);
        be.dgemm(false, false, 2, 2, 2, 1, a, a, 0, c);
        assert.deepEqual(Array.from(c), [7, 10, 15, 22]);
      } finally {
        be.setThreads(original);
      }
      assert.equal(be.getThreads(), original);
    });

    test('changing the thread count while an async call runs is refused, and allowed again afterwards', async () => {
      const n = 2000;
      const a = new Float64Array(n * n).fill(0.5);
      const c = new Float64Array(n * n);
      const threads = be.getThreads();
      const pending = be.dgemmAsync(false, false, n, n, n, 1, a, a, 0, c);
      // Give the libuv thread time to start the (≥ 100 ms) product.
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.throws(() => be.setThreads(threads), (e: unknown) => e instanceof BackendError && /running/.test(e.message));
      await pending;
      assert.equal(c[0], n * 0.25);
      be.setThreads(threads);
      assert.equal(be.getThreads(), threads);
    });
  });
}
