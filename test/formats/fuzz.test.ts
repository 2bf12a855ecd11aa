/**
 * Fuzz tests of the safetensors, npz and PyTorch readers: random bytes and mutated valid files (bit flips,
 * byte overwrites, truncations, header-length overwrites, huge shapes, mutated headers and pickles inside
 * re-zipped archives with valid CRCs, so the mutations reach the inner parsers). Every case must parse or
 * throw FormatError — never another exception — within a time budget.
 *
 * The cases run in a worker thread so that a hang can be detected and the worker terminated: the main
 * thread kills it when no case finishes within HANG_MS. Cases are a pure function of (seed, index), so a
 * failure names what to replay.
 */
import assert from 'node:assert/strict';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FormatError } from '../../src/errors.js';
import { readNpz } from '../../src/formats/npz.js';
import { readTorchStateDict } from '../../src/formats/pytorch.js';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { openZip, writeZip } from '../../src/formats/zip.js';

type Target = 'safetensors' | 'npz' | 'pytorch';
interface Job {
  target: Target;
  seed: number;
  cases: number;
}
interface CaseReport {
  kind: 'case';
  index: number;
  outcome: 'parsed' | 'format-error' | 'other';
  ms: number;
  description: string;
  error?: string;
}

/** Whole-case time limit: beyond this the case is considered hung and the worker is terminated. */
const HANG_MS = 10_000;
/** Per-case budget checked after the run (generous: the machine is shared). */
const CASE_BUDGET_MS = 2_000;

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/formats/${p}`, import.meta.url));

// ---------------------------------------------------------------------------------------------------------
// Deterministic generation

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }
}

const INTERESTING_U32 = [0, 1, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const HUGE_NUMBERS = ['0', '-1', '1e20', '9007199254740993', '4294967296', '18446744073709551615', '1.5', '99999999', '2147483648', '-0'];

function flipBits(r: Rng, b: Uint8Array): string {
  const k = r.int(1, 8);
  for (let i = 0; i < k && b.length > 0; i++) {
    const at = r.int(0, b.length - 1);
    b[at]! ^= 1 << r.int(0, 7);
  }
  return `${k} bit flips`;
}

function overwriteBytes(r: Rng, b: Uint8Array): string {
  const k = r.int(1, 4);
  for (let i = 0; i < k && b.length > 0; i++) b[r.int(0, b.length - 1)] = r.pick([0x00, 0xff, 0x7f, 0x80, 0x01, 0x7b, 0x22]);
  return `${k} byte overwrites`;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  if (at + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0, true);
}

/** A generic mutation of any byte string; returns the mutated bytes and a description. */
function mutateGeneric(r: Rng, src: Uint8Array): [Uint8Array, string] {
  const b = src.slice();
  switch (r.int(0, 5)) {
    case 0:
      return [b, flipBits(r, b)];
    case 1:
      return [b, overwriteBytes(r, b)];
    case 2: {
      const n = r.int(0, b.length);
      return [b.subarray(0, n), `truncated to ${n} of ${b.length} bytes`];
    }
    case 3: {
      const at = r.int(0, Math.max(0, b.length - 4));
      const v = r.pick(INTERESTING_U32);
      writeU32(b, at, v);
      return [b, `u32 ${v} written at ${at}`];
    }
    case 4: {
      const extra = r.bytes(r.int(1, 64));
      const at = r.int(0, b.length);
      const out = new Uint8Array(b.length + extra.length);
      out.set(b.subarray(0, at));
      out.set(extra, at);
      out.set(b.subarray(at), at + extra.length);
      return [out, `${extra.length} random bytes inserted at ${at}`];
    }
    default: {
      const at = r.int(0, b.length);
      const n = Math.min(r.int(1, 32), b.length - at);
      const out = new Uint8Array(b.length - n);
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + n), at);
      return [out, `${n} bytes deleted at ${at}`];
    }
  }
}

function randomFile(r: Rng, magics: Uint8Array[]): [Uint8Array, string] {
  const body = r.bytes(r.int(0, 3000));
  if (r.float() < 0.5) {
    const m = r.pick(magics);
    const out = new Uint8Array(m.length + body.length);
    out.set(m);
    out.set(body, m.length);
    return [out, `magic + ${body.length} random bytes`];
  }
  return [body, `${body.length} random bytes`];
}

// --- safetensors-specific mutations

function safetensorsParts(b: Uint8Array): { header: string; data: Uint8Array } {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  return { header: Buffer.from(b.subarray(8, 8 + n)).toString('utf8'), data: b.subarray(8 + n) };
}

function safetensorsFrom(header: string, data: Uint8Array): Uint8Array {
  const h = Buffer.from(header, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function mutateSafetensors(r: Rng, src: Uint8Array): [Uint8Array, string] {
  const { header, data } = safetensorsParts(src);
  switch (r.int(0, 4)) {
    case 0: {
      // A header-length overwrite.
      const b = src.slice();
      const v = r.pick([0n, 1n, 7n, BigInt(src.length), BigInt(src.length - 8), 100_000_001n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 64n - 1n, BigInt(r.int(0, 5000))]);
      new DataView(b.buffer).setBigUint64(0, v, true);
      return [b, `header length := ${v}`];
    }
    case 1: {
      // A number in the header (a shape or an offset) replaced by a huge or odd one.
      const numbers = [...header.matchAll(/-?\d+(\.\d+)?/g)];
      if (numbers.length === 0) return mutateGeneric(r, src);
      const m = r.pick(numbers);
      const v = r.pick(HUGE_NUMBERS);
      const h = header.slice(0, m.index) + v + header.slice(m.index! + m[0].length);
      return [safetensorsFrom(h, data), `header number ${m[0]} at ${m.index} := ${v}`];
    }
    case 2: {
      // A dtype swapped for another (sizes then disagree) or an unknown one.
      const dtypes = [...header.matchAll(/"dtype":\s*"([A-Z0-9_]+)"/g)];
      if (dtypes.length === 0) return mutateGeneric(r, src);
      const m = r.pick(dtypes);
      const v = r.pick(['F64', 'F32', 'F16', 'BF16', 'I8', 'BOOL', 'U64', 'F8_E4M3', 'X', '']);
      const h = header.replace(m[0], `"dtype": "${v}"`);
      return [safetensorsFrom(h, data), `dtype ${m[1]} := ${v}`];
    }
    case 3: {
      // Header text damaged but the length kept consistent, so JSON parsing and validation are reached.
      const h = Buffer.from(header, 'utf8');
      const [m, what] = mutateGeneric(r, h);
      return [safetensorsFrom(Buffer.from(m).toString('latin1'), data), `header ${what}`];
    }
    default:
      return mutateGeneric(r, src);
  }
}

// --- zip-based mutations: mutate an inner entry and re-zip with valid CRCs

function rezip(r: Rng, src: Uint8Array, pick: (names: readonly string[]) => string | undefined, inner: (b: Uint8Array) => [Uint8Array, string]): [Uint8Array, string] {
  const zip = openZip(src);
  const target = pick(zip.names);
  if (target === undefined) return mutateGeneric(r, src);
  const entries = zip.names.map((n) => [n, zip.read(n)] as [string, Uint8Array]);
  let desc = '';
  for (const e of entries) {
    if (e[0] === target) {
      const [m, what] = inner(e[1]);
      e[1] = m;
      desc = `${target}: ${what}`;
    }
  }
  return [writeZip(entries), desc];
}

function mutateZipStructure(r: Rng, src: Uint8Array): [Uint8Array, string] {
  // Overwrite a field of the end record or of a central-directory entry.
  const b = src.slice();
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const cds: number[] = [];
  for (let at = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); at >= 0; at = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), at + 1)) cds.push(at);
  const v = r.pick(INTERESTING_U32);
  if (eocd >= 0 && (cds.length === 0 || r.float() < 0.4)) {
    const field = r.pick([8, 10, 12, 16, 20]);
    if (field === 8 || field === 10 || field === 20) new DataView(b.buffer).setUint16(eocd + field, v & 0xffff, true);
    else writeU32(b, eocd + field, v);
    return [b, `end record field +${field} := ${v}`];
  }
  if (cds.length === 0) return mutateGeneric(r, src);
  const cd = r.pick(cds);
  const field = r.pick([10, 16, 20, 24, 28, 30, 42]);
  if (field === 10 || field === 28 || field === 30) new DataView(b.buffer).setUint16(cd + field, v & 0xffff, true);
  else writeU32(b, cd + field, v);
  return [b, `central directory entry at ${cd} field +${field} := ${v}`];
}

function mutateNpy(r: Rng, src: Uint8Array): [Uint8Array, string] {
  if (r.float() < 0.5) return mutateGeneric(r, src);
  // Damage the header dict text (keeping its length field consistent) or its length field.
  const b = src.slice();
  const headerLength = b[8]! | (b[9]! << 8);
  if (r.float() < 0.3) {
    const v = r.pick([0, 1, 0xffff, headerLength + 1, headerLength - 1, r.int(0, 300)]);
    b[8] = v & 0xff;
    b[9] = (v >> 8) & 0xff;
    return [b, `npy header length := ${v}`];
  }
  const text = Buffer.from(b.subarray(10, 10 + headerLength)).toString('latin1');
  const numbers = [...text.matchAll(/\d+/g)];
  let mutated: string;
  let what: string;
  if (numbers.length > 0 && r.float() < 0.5) {
    const m = r.pick(numbers);
    const v = r.pick(HUGE_NUMBERS);
    mutated = text.slice(0, m.index) + v + text.slice(m.index! + m[0].length);
    what = `npy header number ${m[0]} := ${v}`;
  } else {
    const [m, w] = mutateGeneric(r, Buffer.from(text, 'latin1'));
    mutated = Buffer.from(m).toString('latin1');
    what = `npy header ${w}`;
  }
  const h = Buffer.from(mutated, 'latin1');
  const out = new Uint8Array(10 + h.length + (b.length - 10 - headerLength));
  out.set(b.subarray(0, 8));
  out[8] = h.length & 0xff;
  out[9] = (h.length >> 8) & 0xff;
  out.set(h, 10);
  out.set(b.subarray(10 + headerLength), 10 + h.length);
  return [out, what];
}

const PICKLE_OPCODES = [0x28, 0x2e, 0x30, 0x31, 0x32, 0x4b, 0x4a, 0x4d, 0x8a, 0x8b, 0x58, 0x8c, 0x74, 0x85, 0x86, 0x87, 0x29, 0x5d, 0x7d, 0x73, 0x75, 0x61, 0x65, 0x52, 0x62, 0x81, 0x63, 0x93, 0x51, 0x71, 0x68, 0x94, 0x95, 0x47, 0x88, 0x89, 0x4e, 0x6c, 0x64, 0x69, 0x6f, 0x82, 0x97];

function mutatePickle(r: Rng, src: Uint8Array): [Uint8Array, string] {
  const b = src.slice();
  switch (r.int(0, 3)) {
    case 0: {
      // "Huge shapes": a small-int argument (sizes, strides, offsets, numels) replaced by a large BININT.
      const positions: number[] = [];
      for (let i = 0; i + 1 < b.length; i++) if (b[i] === 0x4b) positions.push(i);
      if (positions.length === 0) return mutateGeneric(r, src);
      const at = r.pick(positions);
      const v = r.pick([0, 0x7fffffff, -1, 0x10000, 1 << 24, 123456789, r.int(0, 255)]);
      const out = new Uint8Array(b.length + 3);
      out.set(b.subarray(0, at));
      out[at] = 0x4a;
      new DataView(out.buffer).setInt32(at + 1, v, true);
      out.set(b.subarray(at + 2), at + 5);
      return [out, `BININT1 at ${at} := BININT ${v}`];
    }
    case 1: {
      const at = r.int(0, b.length);
      const op = r.pick(PICKLE_OPCODES);
      const out = new Uint8Array(b.length + 1);
      out.set(b.subarray(0, at));
      out[at] = op;
      out.set(b.subarray(at), at + 1);
      return [out, `opcode 0x${op.toString(16)} inserted at ${at}`];
    }
    case 2: {
      const at = r.int(0, Math.max(0, b.length - 1));
      b[at] = r.pick(PICKLE_OPCODES);
      return [b, `byte ${at} := opcode 0x${b[at]!.toString(16)}`];
    }
    default:
      return mutateGeneric(r, src);
  }
}

function makeCase(target: Target, seeds: Uint8Array[], seed: number, index: number): [Uint8Array, string] {
  const r = new Rng(seed * 1_000_003 + index);
  const src = r.pick(seeds);
  const roll = r.float();
  if (target === 'safetensors') {
    if (roll < 0.1) return randomFile(r, [Uint8Array.from([0x40, 0, 0, 0, 0, 0, 0, 0, 0x7b])]);
    return mutateSafetensors(r, src);
  }
  const zipMagics = [Uint8Array.from([0x50, 0x4b, 0x03, 0x04]), Uint8Array.from([0x50, 0x4b, 0x05, 0x06])];
  if (roll < 0.08) return randomFile(r, zipMagics);
  if (roll < 0.35) return mutateGeneric(r, src);
  if (roll < 0.55) return mutateZipStructure(r, src);
  if (target === 'npz') return rezip(r, src, (names) => (names.length > 0 ? r.pick(names) : undefined), (b) => mutateNpy(r, b));
  return rezip(
    r,
    src,
    (names) => {
      const pkl = names.find((n) => n.endsWith('/data.pkl'));
      if (r.float() < 0.75 && pkl !== undefined) return pkl;
      const storages = names.filter((n) => n.includes('/data/') || n.endsWith('byteorder'));
      return storages.length > 0 ? r.pick(storages) : pkl;
    },
    (b) => (r.float() < 0.8 ? mutatePickle(r, b) : mutateGeneric(r, b)),
  );
}

const SEED_FILES: Record<Target, string[]> = {
  safetensors: [
    'golden/mlp_relu_iso/model.safetensors',
    'golden/glu_bilinear/model.safetensors',
    'golden/mlp_silu_mixture/input.safetensors',
    'safetensors/all_dtypes.safetensors',
    'safetensors/reference_writer.safetensors',
    'layouts/llama.safetensors',
  ],
  npz: ['npz/stored.npz', 'npz/compressed.npz', 'npz/model_mlp.npz'],
  pytorch: ['pt/sequential.pt', 'pt/views.pt', 'pt/dtypes.pt', 'pt/protocol4.pt', 'pt/fc_checkpoint.pt', 'pt/big_endian.pt', 'pt/tl_gated.pt'],
};

/** Touches every tensor's data, so lazily decoded tensors are decoded inside the case too. */
function decodeAll(tensors: Map<string, { data: Float64Array }>): number {
  let n = 0;
  for (const t of tensors.values()) n += t.data.length;
  return n;
}

const READERS: Record<Target, (b: Uint8Array) => unknown> = {
  safetensors: (b) => decodeAll(readSafetensors(b, 'fuzz.safetensors').tensors),
  npz: (b) => decodeAll(readNpz(b, 'fuzz.npz')),
  pytorch: (b) => decodeAll(readTorchStateDict(b, 'fuzz.pt')),
};

function runJob(job: Job): void {
  const seeds = SEED_FILES[job.target].map((p) => new Uint8Array(readFileSync(fixture(p))));
  for (const s of seeds) READERS[job.target](s); // the seeds themselves must parse
  for (let index = 0; index < job.cases; index++) {
    const [bytes, description] = makeCase(job.target, seeds, job.seed, index);
    const t0 = performance.now();
    let outcome: CaseReport['outcome'] = 'parsed';
    let error: string | undefined;
    try {
      READERS[job.target](bytes);
    } catch (e) {
      if (e instanceof FormatError) outcome = 'format-error';
      else {
        outcome = 'other';
        error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
      }
    }
    const report: CaseReport = { kind: 'case', index, outcome, ms: performance.now() - t0, description };
    if (error !== undefined) report.error = error;
    parentPort!.postMessage(report);
  }
  parentPort!.postMessage({ kind: 'done' });
}

// ---------------------------------------------------------------------------------------------------------

if (!isMainThread) {
  runJob(workerData as Job);
} else {
  const { describe, test } = await import('node:test');
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;

  /** Runs a job in a worker; resolves with every case report, or rejects if a case hangs. */
  const runInWorker = (job: Job): Promise<CaseReport[]> =>
    new Promise((resolve, reject) => {
      const boot = `import(${JSON.stringify(tsxApi)}).then((api) => api.tsImport(${JSON.stringify(self)}, ${JSON.stringify(self)}))`;
      const worker = new Worker(boot, { eval: true, workerData: job });
      const reports: CaseReport[] = [];
      let timer: NodeJS.Timeout;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          void worker.terminate();
          reject(new Error(`${job.target} fuzz case ${reports.length} (seed ${job.seed}) did not finish within ${HANG_MS} ms: a hang`));
        }, HANG_MS);
      };
      arm();
      worker.on('message', (m: CaseReport | { kind: 'done' }) => {
        if (m.kind === 'done') {
          clearTimeout(timer);
          void worker.terminate().then(() => resolve(reports));
          return;
        }
        reports.push(m);
        arm();
      });
      worker.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });

  const jobs: Job[] = [
    { target: 'safetensors', seed: 1, cases: 1200 },
    { target: 'npz', seed: 2, cases: 800 },
    { target: 'pytorch', seed: 3, cases: 1200 },
  ];

  describe('fuzzing the readers', () => {
    for (const job of jobs) {
      test(`${job.target}: ${job.cases} random and mutated files → parse or FormatError, within ${CASE_BUDGET_MS} ms each`, { timeout: 120_000 }, async (t) => {
        const reports = await runInWorker(job);
        assert.equal(reports.length, job.cases);
        const others = reports.filter((r) => r.outcome === 'other');
        assert.deepEqual(
          others.map((r) => `case ${r.index} (${r.description}): ${r.error}`),
          [],
          'readers must only ever throw FormatError',
        );
        const slow = reports.filter((r) => r.ms > CASE_BUDGET_MS);
        assert.deepEqual(slow.map((r) => `case ${r.index} (${r.description}) took ${r.ms.toFixed(0)} ms`), []);
        // The mutations must actually exercise both outcomes, or the test proves nothing.
        const errors = reports.filter((r) => r.outcome === 'format-error').length;
        const parsed = reports.filter((r) => r.outcome === 'parsed').length;
        const slowest = Math.max(...reports.map((r) => r.ms));
        t.diagnostic(`${parsed} parsed, ${errors} FormatErrors, slowest case ${slowest.toFixed(1)} ms`);
        assert.ok(errors > job.cases / 4, `${errors} FormatErrors`);
        assert.ok(parsed > 10, `${parsed} successful parses`);
      });
    }
  });
}
