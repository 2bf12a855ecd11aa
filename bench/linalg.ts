/**
 * Dense linear-algebra benchmark, per backend (median wall time over several runs):
 * - GEMM 784×4096 · 4096×784 in float64 and float32 (ms and GFLOP/s, 2·m·n·k flops)
 * - symmetric eigendecomposition 784, values and vectors (dsyevd)
 * - thin SVD 784×784 (dgesdd)
 * - Cholesky solve 784 (dpotrf + dpotrs) with 1 and with 784 right-hand sides
 *
 * Inputs follow the survey in the project's ecosystem notes: A, B, G standard normal,
 * S = (G + Gᵀ)/2, P = G Gᵀ/784 + I. Copies that restore destroyed inputs are made outside the timed
 * region. Targets (native backend only): f64 GEMM ≥ 60 GFLOP/s, eig 784 ≤ 150 ms, SVD 784 ≤ 400 ms.
 * The machine may be shared, so expect noise; the targets are printed as PASS/FAIL, not asserted.
 */
import type { BackendName, LinAlgBackend } from '../src/linalg/backend.js';

export interface BenchLinalgOptions {
  /** Timed runs per backend (median reported). Default: 7 for native, 3 for js. */
  runs?: Partial<Record<BackendName, number>>;
  /** Untimed warm-up runs per backend. Default: 1 for native, 0 for js (a JS run takes seconds). */
  warmup?: Partial<Record<BackendName, number>>;
  /** BLAS threads for the native backend during the benchmark (restored afterwards). Default: unchanged. */
  threads?: number;
  /** Square size n of eig/SVD/Cholesky and the outer GEMM dimensions. Default 784. */
  n?: number;
  /** Inner GEMM dimension. Default 4096. */
  k?: number;
  /** Seed of the random inputs. */
  seed?: number;
  /** Where lines go. Default: console.log. */
  log?: (line: string) => void;
}

/** One measured case. */
export interface BenchLinalgCase {
  label: string;
  /** Median wall-clock time. */
  medianMs: number;
  /**
   * Median CPU time of the whole process (all BLAS threads, including their spin-waits). On a busy
   * machine wall time inflates while single-thread CPU time stays close to the idle wall time.
   */
  medianCpuMs: number;
  /** Only for GEMM. */
  gflops?: number;
  /** Native-backend target, if the case has one. */
  target?: { text: string; pass: boolean };
}

export interface BenchLinalgResult {
  backend: BackendName;
  threads: number;
  runs: number;
  cases: BenchLinalgCase[];
}

const DEFAULT_RUNS: Record<BackendName, number> = { native: 7, js: 3 };
const DEFAULT_WARMUP: Record<BackendName, number> = { native: 1, js: 0 };

/** Deterministic standard-normal fill (mulberry32 + Box–Muller); benchmark inputs only. */
function normals(len: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(len);
  for (let i = 0; i < len; i++) out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median wall and process CPU time of `run` in ms; `prepare` (untimed) runs before every call. */
function timeMedian(prepare: () => void, run: () => void, runs: number, warmup: number): { wall: number; cpu: number } {
  for (let i = 0; i < warmup; i++) {
    prepare();
    run();
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    prepare();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    wall.push(performance.now() - t0);
    const dc = process.cpuUsage(c0);
    cpu.push((dc.user + dc.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

/** Inputs shared by all backends (built once). */
interface Inputs {
  n: number;
  k: number;
  a: Float64Array; // n×k
  b: Float64Array; // k×n
  a32: Float32Array;
  b32: Float32Array;
  g: Float64Array; // n×n
  s: Float64Array; // (G + Gᵀ)/2
  p: Float64Array; // G Gᵀ/n + I
  rhs1: Float64Array; // n×1
  rhsN: Float64Array; // n×n
}

function makeInputs(n: number, k: number, seed: number, helper: LinAlgBackend): Inputs {
  const a = normals(n * k, seed);
  const b = normals(k * n, seed + 1);
  const g = normals(n * n, seed + 2);
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s[i * n + j] = (g[i * n + j]! + g[j * n + i]!) / 2;
  const p = new Float64Array(n * n);
  helper.dgemm(false, true, n, n, n, 1 / n, g, g, 0, p);
  for (let i = 0; i < n; i++) {
    p[i * n + i] += 1;
    for (let j = 0; j < i; j++) p[j * n + i] = p[i * n + j]!; // exact symmetry
  }
  return {
    n, k, a, b, g, s, p,
    a32: Float32Array.from(a),
    b32: Float32Array.from(b),
    rhs1: normals(n, seed + 3),
    rhsN: normals(n * n, seed + 4),
  };
}

function benchOne(be: LinAlgBackend, x: Inputs, runs: number, warmup: number): BenchLinalgCase[] {
  const { n, k } = x;
  const cases: BenchLinalgCase[] = [];
  const isNative = be.name === 'native';
  const gemmFlops = 2 * n * n * k;
  const add = (label: string, t: { wall: number; cpu: number }, extra: Partial<BenchLinalgCase> = {}): void => {
    cases.push({ label, medianMs: t.wall, medianCpuMs: t.cpu, ...extra });
  };

  const c64 = new Float64Array(n * n);
  const gemm64 = timeMedian(() => {}, () => be.dgemm(false, false, n, n, k, 1, x.a, x.b, 0, c64), runs, warmup);
  const gf64 = gemmFlops / gemm64.wall / 1e6;
  add(`GEMM f64 ${n}×${k}×${n}`, gemm64, {
    gflops: gf64,
    target: isNative ? { text: '≥ 60 GFLOP/s', pass: gf64 >= 60 } : undefined,
  });

  const c32 = new Float32Array(n * n);
  const gemm32 = timeMedian(() => {}, () => be.sgemm(false, false, n, n, k, 1, x.a32, x.b32, 0, c32), runs, warmup);
  add(`GEMM f32 ${n}×${k}×${n}`, gemm32, { gflops: gemmFlops / gemm32.wall / 1e6 });

  const work = new Float64Array(n * n);
  const w = new Float64Array(n);
  const eig = timeMedian(() => work.set(x.s), () => be.dsyevd(n, work, w), runs, warmup);
  add(`sym eig ${n} (values+vectors)`, eig, {
    target: isNative ? { text: '≤ 150 ms', pass: eig.wall <= 150 } : undefined,
  });

  const sv = new Float64Array(n);
  const u = new Float64Array(n * n);
  const vt = new Float64Array(n * n);
  const svd = timeMedian(() => work.set(x.g), () => be.dgesdd(n, n, work, sv, u, vt), runs, warmup);
  add(`thin SVD ${n}×${n}`, svd, {
    target: isNative ? { text: '≤ 400 ms', pass: svd.wall <= 400 } : undefined,
  });

  const rhs1 = new Float64Array(n);
  const chol1 = timeMedian(
    () => { work.set(x.p); rhs1.set(x.rhs1); },
    () => { be.dpotrf(n, work); be.dpotrs(n, 1, work, rhs1); },
    runs, warmup,
  );
  add(`Cholesky solve ${n}, 1 RHS`, chol1);

  const rhsN = new Float64Array(n * n);
  const cholN = timeMedian(
    () => { work.set(x.p); rhsN.set(x.rhsN); },
    () => { be.dpotrf(n, work); be.dpotrs(n, n, work, rhsN); },
    runs, warmup,
  );
  add(`Cholesky solve ${n}, ${n} RHS`, cholN);
  return cases;
}

/**
 * Runs the linear-algebra benchmark on each backend in turn and prints one table per backend.
 * @returns the measured medians, in the order of `backends`.
 */
export async function benchLinalg(backends: readonly LinAlgBackend[], opts: BenchLinalgOptions = {}): Promise<BenchLinalgResult[]> {
  const n = opts.n ?? 784;
  const k = opts.k ?? 4096;
  const log = opts.log ?? ((line: string) => console.log(line));
  const results: BenchLinalgResult[] = [];
  if (backends.length === 0) {
    log('linalg: no backend to benchmark');
    return results;
  }
  // Inputs are built with the fastest backend available; they are the same for every backend.
  const helper = backends.find((b) => b.name === 'native') ?? backends[0]!;
  const inputs = makeInputs(n, k, opts.seed ?? 20261126, helper);

  for (const be of backends) {
    const runs = opts.runs?.[be.name] ?? DEFAULT_RUNS[be.name];
    const warmup = opts.warmup?.[be.name] ?? DEFAULT_WARMUP[be.name];
    const originalThreads = be.getThreads();
    if (opts.threads !== undefined) be.setThreads(opts.threads);
    try {
      const threads = be.getThreads();
      const blas = 'blasInfo' in be ? ` (OpenBLAS ${(be as { blasInfo: { corename: string } }).blasInfo.corename})` : '';
      log(`linalg — backend ${be.name}${blas}, ${threads} thread${threads === 1 ? '' : 's'}, median of ${runs} run${runs === 1 ? '' : 's'}${warmup > 0 ? ` after ${warmup} warm-up` : ''}`);
      const cases = benchOne(be, inputs, runs, warmup);
      for (const c of cases) {
        const rate = c.gflops !== undefined ? `${c.gflops.toFixed(1).padStart(7)} GFLOP/s` : ''.padStart(15);
        const target = c.target ? `   target ${c.target.text.padEnd(13)} ${c.target.pass ? 'PASS' : 'FAIL'}` : '';
        log(`  ${c.label.padEnd(30)} ${fmtMs(c.medianMs).padStart(10)}  (cpu ${fmtMs(c.medianCpuMs).padStart(9)})  ${rate}${target}`);
      }
      results.push({ backend: be.name, threads, runs, cases });
    } finally {
      if (opts.threads !== undefined) be.setThreads(originalThreads);
    }
    // Let timers and I/O run between backends.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return results;
}
