/**
 * What `polyapprox view` computes before it serves the page, cached in a folder (by default `<dir>/viewer/` for a
 * folder, `<file>.viewer/` for a single file), so that the page only fetches small files and paints at once.
 *
 * Sources:
 * - a folder of `step-<s>.safetensors` checkpoints (as `polyapprox train` writes them), or a study / reproduce
 *   output folder: `study.json` and the checkpoints are looked for in the folder itself and in its immediate
 *   subfolders, then at the paths study.json records (or give `checkpoints`);
 * - a single model file (one "checkpoint");
 * - a single approximant file (α, β and optionally Γ): just that approximant; the attack and the test digits
 *   need `model` (the network it approximates) and test data.
 *
 * Per checkpoint the quadratic approximant under N(0, I) is fitted (`fitQuadratic`), and for every class c the
 * top-k positive and negative eigenpairs of Γ_c and its nonzero spectrum are computed (`eigenFeatures`, with
 * the orientation convention of src/analysis/eigen.ts). With a network and test data, the SVD attack
 * (`svdAttack`: the top-k left singular directions of the degree-1 fit's β removed, k = 0 … kMax) is scored on
 * the test inputs, and a few test digits per class are decomposed into the quadratic approximant's constant,
 * linear and quadratic logit parts next to the network's logits, for every k. Training curves come from
 * study.json when present, otherwise from the viewer's own attack at k = 0.
 *
 * The cache is keyed by the settings, each checkpoint's SHA-256 and study.json's: a re-run reuses every
 * checkpoint whose key is unchanged and recomputes the others; an unchanged folder costs only the hashing.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { InvalidArgumentError, PolyapproxError, ShapeError } from '../errors.js';
import { Matrix } from '../linalg/matrix.js';
import { fitLinear, fitQuadratic } from '../approx/fit/index.js';
import { Gaussian } from '../approx/inputModel.js';
import { forward, inputDim, outputDim, type Network } from '../approx/network.js';
import { PolynomialApproximant } from '../approx/result.js';
import { eigenFeatures } from '../analysis/eigen.js';
import { projectOut, singularDirections, svdAttack, type SvdAttackResult } from '../analysis/svdAttack.js';
import { argmaxRows } from '../analysis/metrics.js';
import { listCheckpoints, type StudyRow } from '../analysis/study.js';
import { loadApproximant } from '../formats/approximantFile.js';
import { writeFileAtomic } from '../formats/atomic.js';
import { readFileBytes, readSafetensors } from '../formats/safetensors.js';
import { PUOR_ANCHORS } from '../figures/colormap.js';
import { isBuiltinDataset, loadDataset, type Dataset } from '../data/datasets.js';
import { imageShapeFor, loadEvaluationData, loadModelWithScaling } from '../cli/commands/attack.js';
import {
  VIEWER_FORMAT, VIEWER_FORMAT_VERSION, type AttackStepSummary, type BlobLayout, type CheckpointDetail,
  type CheckpointSummary, type ClassEigen, type CurveChart, type Curves, type DigitResult, type ViewerIndex,
} from './schema.js';

/** Fashion-MNIST's class names, in label order. */
export const FASHION_CLASS_NAMES: readonly string[] = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]);

/** Hooks for progress reporting. */
export interface PrecomputeHooks {
  onStart?(total: number): void;
  onCheckpoint?(done: number, label: string, cached: boolean): void;
  onNote?(message: string): void;
}

/** Options of {@link precomputeViewer}. */
export interface PrecomputeOptions {
  /** A folder (checkpoints, study or reproduce output) or a single model or approximant file. */
  source: string;
  /** Cache folder; default `<source>/viewer` for a folder, `<source>.viewer` for a file. */
  cacheDir?: string;
  /** Folder of `step-<s>.safetensors` checkpoints, when they are not inside `source`. */
  checkpoints?: string;
  /** For an approximant file: the network it approximates (enables the attack and the digits). */
  model?: string;
  /** Test data: `mnist-test`, `fashion-test` or a file; default from the checkpoints' `dataset` metadata. */
  data?: string;
  /** Labels file for data given as IDX images or .npy. */
  labels?: string;
  /** Score the attack on the first n test inputs only (default: all). */
  testLimit?: number | null;
  /** Test digits shown per class (default 2). */
  digitsPerClass?: number;
  /** Positive and negative eigenvectors kept per class (default 4). */
  top?: number;
  /** Largest number of singular directions removed by the attack (default 10, at most the rank of β). */
  kMax?: number;
  /** Ignore the cache. */
  refresh?: boolean;
  hooks?: PrecomputeHooks;
}

/** What {@link precomputeViewer} returns. */
export interface PrecomputeResult {
  cacheDir: string;
  index: ViewerIndex;
  /** Checkpoints computed now and taken from the cache. */
  computed: number;
  cached: number;
  seconds: number;
}

/** One model or approximant file to show. */
export interface SourceEntry {
  step: number | null;
  path: string;
}

/** What a source path turned out to be. */
export interface ResolvedSource {
  kind: 'checkpoints' | 'model' | 'approximant';
  path: string;
  entries: SourceEntry[];
  study: string | null;
  cacheDir: string;
}

const CHECKPOINT_NAME = /^step-(\d+)\.safetensors$/;

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function checkpointFilesIn(dir: string): SourceEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => ({ n, m: CHECKPOINT_NAME.exec(n) }))
    .filter((x) => x.m !== null)
    .map((x) => ({ step: Number(x.m![1]), path: join(dir, x.n) }))
    .sort((a, b) => a.step - b.step);
}

function subfolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'viewer' && !e.name.startsWith('.'))
    .map((e) => join(dir, e.name))
    .sort();
}

/** True when a safetensors file holds an approximant (α/β) rather than network weights. */
function isApproximantFile(path: string): boolean {
  if (extname(path).toLowerCase() !== '.safetensors') return false;
  const { tensors, metadata } = readSafetensors(readFileBytes(path), path);
  return tensors.has('alpha') || metadata['format'] === 'polyapprox.approximant';
}

function stepOfFile(path: string): number | null {
  if (extname(path).toLowerCase() === '.safetensors') {
    try {
      const step = Number(readSafetensors(readFileBytes(path), path).metadata['step']);
      if (Number.isInteger(step) && step >= 0) return step;
    } catch {
      // Not readable as safetensors here; loading the model later reports the real problem.
    }
  }
  const m = /step-(\d+)/.exec(basename(path));
  return m ? Number(m[1]) : null;
}

function studyCheckpointFiles(study: string): SourceEntry[] {
  try {
    const doc = JSON.parse(readFileSync(study, 'utf8')) as { checkpoints?: { step?: unknown; file?: unknown }[] };
    const found = (doc.checkpoints ?? [])
      .filter((c) => typeof c.file === 'string' && typeof c.step === 'number' && existsSync(c.file))
      .map((c) => ({ step: c.step as number, path: c.file as string }));
    return found.length === (doc.checkpoints ?? []).length ? found.sort((a, b) => a.step - b.step) : [];
  } catch {
    return [];
  }
}

/**
 * Works out what `source` is (see the module documentation) and where its cache goes.
 *
 * @throws InvalidArgumentError if the path does not exist or a folder holds no checkpoints
 */
export function resolveViewerSource(source: string, opts: Pick<PrecomputeOptions, 'cacheDir' | 'checkpoints'> = {}): ResolvedSource {
  const path = resolve(source);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new InvalidArgumentError(`"${source}" does not exist (give a folder of checkpoints, a study or reproduce output folder, or a model or approximant file)`);
  }
  if (!isDir) {
    if (opts.checkpoints !== undefined) throw new InvalidArgumentError('checkpoints applies only when the source is a folder');
    const kind = isApproximantFile(path) ? 'approximant' : 'model';
    return {
      kind, path, study: null,
      entries: [{ step: kind === 'model' ? stepOfFile(path) : null, path }],
      cacheDir: resolve(opts.cacheDir ?? `${path}.viewer`),
    };
  }
  const candidates = [path, ...subfolders(path)];
  const study = candidates.map((d) => join(d, 'study.json')).find((f) => existsSync(f)) ?? null;
  let entries: SourceEntry[] = [];
  if (opts.checkpoints !== undefined) {
    entries = listCheckpoints(resolve(opts.checkpoints)).map((c) => ({ step: c.step, path: c.path }));
  } else {
    for (const d of candidates) {
      entries = checkpointFilesIn(d);
      if (entries.length > 0) break;
    }
    if (entries.length === 0 && study !== null) entries = studyCheckpointFiles(study);
  }
  if (entries.length === 0) {
    throw new InvalidArgumentError(study === null
      ? `"${source}" holds no step-<s>.safetensors checkpoints (nor do its subfolders)`
      : `"${source}" has ${study} but its checkpoints are not there; pass the checkpoints folder with --checkpoints`);
  }
  return { kind: 'checkpoints', path, entries, study, cacheDir: resolve(opts.cacheDir ?? join(path, 'viewer')) };
}

/** The package's version: part of the cache key, so that an upgrade (which may change the numbers) recomputes. */
function libraryVersion(): string {
  try {
    // src/viewer/ and dist/viewer/ both sit two levels below the package root.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function checkInt(v: number, what: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new InvalidArgumentError(`${what} must be an integer in [${min}, ${max}], got ${v}`);
}

/** Seven significant digits: float32 precision, about half the JSON size of full doubles. */
function r7(v: number): number {
  return Number(v.toPrecision(7));
}

function r7All(a: ArrayLike<number>): number[] {
  return Array.from(a, r7);
}

/** A checkpoint's approximants and (when known) network. */
interface Models {
  quadratic: PolynomialApproximant;
  linear: PolynomialApproximant;
  net: Network | null;
  scaling: { mean: number; std: number } | null;
  dataset: string | undefined;
}

function loadModels(entry: SourceEntry, kind: ResolvedSource['kind'], model: string | undefined): Models {
  if (kind !== 'approximant') {
    const { net, scaling } = loadModelWithScaling(entry.path);
    const d = inputDim(net);
    const n01 = Gaussian.standard(d);
    return { quadratic: fitQuadratic(net, n01), linear: fitLinear(net, n01), net, scaling, dataset: datasetOf(entry.path) };
  }
  const a = loadApproximant(entry.path);
  if (!(a instanceof PolynomialApproximant)) {
    throw new InvalidArgumentError(`${entry.path} holds a degree-${a.degree} approximant in Hermite form; the viewer needs the monomial form (α, β, Γ) of degree 1 or 2`);
  }
  let net: Network | null = null;
  let scaling: Models['scaling'] = null;
  let dataset: string | undefined;
  if (model !== undefined) {
    const m = loadModelWithScaling(model);
    if (inputDim(m.net) !== a.inputDim || outputDim(m.net) !== a.outputDim) {
      throw new ShapeError(`${model} maps ${inputDim(m.net)} → ${outputDim(m.net)} but the approximant ${entry.path} maps ${a.inputDim} → ${a.outputDim}`);
    }
    net = m.net;
    scaling = m.scaling;
    dataset = datasetOf(model);
  }
  return { quadratic: a, linear: a.degree === 2 ? a.toLinear() : a, net, scaling, dataset };
}

function datasetOf(path: string): string | undefined {
  if (extname(path).toLowerCase() !== '.safetensors') return undefined;
  try {
    return readSafetensors(readFileBytes(path), path).metadata['dataset'];
  } catch {
    return undefined;
  }
}

/** The test split matching a training-data name from checkpoint metadata (`mnist-train` → `mnist-test`). */
export function defaultTestData(datasetMeta: string | undefined, d: number): string | null {
  if (datasetMeta?.startsWith('fashion')) return 'fashion-test';
  if (datasetMeta?.startsWith('mnist')) return 'mnist-test';
  return d === 784 ? 'mnist-test' : null;
}

/** Test data prepared once for every checkpoint. */
interface EvalData {
  name: string;
  /** E.g. `the first 2000 of the 10000 images of mnist-test`. */
  description: string;
  ds: Dataset;
  X: Matrix;
  digitRows: number[];
  digits: Matrix;
}

/**
 * The rows of the test digits shown: `perClass` rounds of "the next unused example of each class", so that a
 * grid with one column per class shows the first examples in its first row.
 */
export function pickDigits(labels: ArrayLike<number>, classes: number, perClass: number): number[] {
  const out: number[] = [];
  const used = new Set<number>();
  for (let round = 0; round < perClass; round++) {
    const next = new Array<number>(classes).fill(-1);
    for (let i = 0; i < labels.length; i++) {
      const c = labels[i]!;
      if (c < classes && next[c] === -1 && !used.has(i)) next[c] = i;
    }
    for (const i of next) if (i >= 0) {
      out.push(i);
      used.add(i);
    }
  }
  return out;
}

function loadEval(name: string, d: number, opts: PrecomputeOptions, scaling: Models['scaling'], classes: number): EvalData {
  const { ds, X } = loadEvaluationData(name, d, { labels: opts.labels, limit: opts.testLimit ?? null, scaling });
  if (X.rows < 2) throw new InvalidArgumentError(`the test data ${name} have ${X.rows} samples; the attack needs at least 2`);
  // The loader caches datasets per process: asking again for the full size costs nothing.
  const total = loadDataset(name, opts.labels === undefined ? {} : { labels: opts.labels }).x.rows;
  const shown = isBuiltinDataset(name) ? name : basename(name);
  const description = X.rows < total ? `the first ${X.rows} of the ${total} images of ${shown}` : `the ${total} images of ${shown}`;
  const digitRows = pickDigits(ds.labels, classes, opts.digitsPerClass ?? 2);
  const digits = new Matrix(digitRows.length, d);
  digitRows.forEach((r, j) => digits.data.set(X.data.subarray(r * d, (r + 1) * d), j * d));
  return { name: shown, description, ds, X, digitRows, digits };
}

/** The float32 blob and its layout: eigenvectors, β columns, singular directions. */
function packBlob(
  o: number, d: number, top: number, eigenVectors: Float64Array[][][] | null, beta: Matrix, singular: Matrix | null, kMax: number,
): { blob: Float32Array; layout: BlobLayout } {
  const eigLen = eigenVectors === null ? 0 : o * 2 * top * d;
  const betaLen = o * d;
  const singLen = singular === null ? 0 : kMax * d;
  const blob = new Float32Array(eigLen + betaLen + singLen);
  if (eigenVectors !== null) {
    for (let c = 0; c < o; c++) for (let s = 0; s < 2; s++) eigenVectors[c]![s]!.forEach((v, j) => blob.set(v, ((c * 2 + s) * top + j) * d));
  }
  for (let c = 0; c < o; c++) for (let i = 0; i < d; i++) blob[eigLen + c * d + i] = beta.data[i * o + c]!;
  if (singular !== null) blob.set(singular.data.subarray(0, kMax * d), eigLen + betaLen);
  return {
    blob,
    layout: {
      eigenvectors: eigenVectors === null ? null : { offset: 0, length: eigLen },
      beta: { offset: eigLen, length: betaLen },
      singular: singular === null ? null : { offset: eigLen + betaLen, length: singLen },
    },
  };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function attackSummary(r: SvdAttackResult): AttackStepSummary[] {
  return r.steps.map((s) => ({
    k: s.k,
    accuracy: { network: s.accuracy.network.value, linear: s.accuracy.linear.value, quadratic: s.accuracy.quadratic.value },
    kl: { linear: r7(s.kl.linear.value), quadratic: r7(s.kl.quadratic.value) },
    fvu: { linear: r7(s.fvu.linear.value), quadratic: r7(s.fvu.quadratic.value) },
  }));
}

/** The digits' predictions and logit decompositions for k = 0 … kMax. */
function digitResults(models: Models, net: Network, digits: Matrix, directions: Matrix, kMax: number): DigitResult[][] {
  const out: DigitResult[][] = [];
  const o = models.quadratic.outputDim;
  for (let k = 0; k <= kMax; k++) {
    const Xk = projectOut(digits, directions, k);
    const F = forward(net, Xk);
    const parts = models.quadratic.split(Xk);
    const Fl = models.linear.predict(Xk);
    const pNet = argmaxRows(F);
    const pLin = argmaxRows(Fl);
    const row: DigitResult[] = [];
    for (let j = 0; j < Xk.rows; j++) {
      const sl = (m: Matrix) => m.data.subarray(j * o, (j + 1) * o);
      const lin = sl(parts.linear);
      const quad = sl(parts.quadratic);
      const cons = sl(parts.constant);
      const total = Array.from({ length: o }, (_, c) => cons[c]! + lin[c]! + quad[c]!);
      row.push({
        predictions: { network: pNet[j]!, linear: pLin[j]!, quadratic: argmaxOf(total) },
        linear: r7All(lin), quadratic: r7All(quad), approximant: r7All(total), network: r7All(sl(F)),
      });
    }
    out.push(row);
  }
  return out;
}

function argmaxOf(v: readonly number[]): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i;
  return b;
}

/** Everything computed for one checkpoint. */
interface ComputedCheckpoint {
  summary: Omit<CheckpointSummary, 'id' | 'detail' | 'blob'>;
  detail: Omit<CheckpointDetail, 'id'>;
  blob: Float32Array;
}

function computeCheckpoint(entry: SourceEntry, models: Models, top: number, kMaxWanted: number, evalData: EvalData | null): ComputedCheckpoint {
  const quad = models.quadratic;
  const o = quad.outputDim;
  const d = quad.inputDim;
  let eigen: ClassEigen[] | null = null;
  let vectors: Float64Array[][][] | null = null;
  const spectrum: number[][] = [];
  if (quad.degree === 2) {
    eigen = [];
    vectors = [];
    for (let c = 0; c < o; c++) {
      const f = eigenFeatures(quad, { class: c }, { top });
      eigen.push({ positive: f.positive.map((p) => p.value), negative: f.negative.map((p) => p.value), nonzero: f.spectrum.length, zeros: f.zeros });
      vectors.push([f.positive.map((p) => p.vector), f.negative.map((p) => p.vector)]);
      spectrum.push(r7All(f.spectrum));
    }
  }
  const singular = singularDirections(models.linear.beta);
  let attack: AttackStepSummary[] | null = null;
  let digits: DigitResult[][] | null = null;
  let kMax = 0;
  if (models.net !== null && evalData !== null) {
    kMax = Math.min(kMaxWanted, singular.rank);
    const r = svdAttack({ net: models.net, linear: models.linear, quadratic: quad, beta: models.linear.beta, X: evalData.X, labels: evalData.ds.labels, kMax });
    attack = attackSummary(r);
    digits = digitResults(models, models.net, evalData.digits, singular.directions, kMax);
  }
  const { blob, layout } = packBlob(o, d, top, vectors, quad.beta, attack === null ? null : singular.directions, kMax);
  const eigLen = layout.eigenvectors?.length ?? 0;
  return {
    summary: {
      step: entry.step,
      label: entry.step === null ? basename(entry.path) : `step ${entry.step}`,
      file: entry.path,
      layout,
      degree: quad.degree,
      eigen,
      eigenvectorScale: vectors === null ? null : maxAbs(blob.subarray(0, eigLen)),
      betaScale: maxAbs(quad.beta.data),
      singularValues: r7All(singular.values),
      attack,
    },
    detail: { step: entry.step, alpha: r7All(quad.alpha), spectrum, digits },
    blob,
  };
}

/** The detail file also carries the summary, so that a later run can reuse the checkpoint without the index. */
interface StoredDetail extends CheckpointDetail {
  summary: Omit<CheckpointSummary, 'id'>;
  dims: { d: number; o: number };
}

function readStored(path: string): StoredDetail | null {
  try {
    const doc = JSON.parse(readFileSync(path, 'utf8')) as StoredDetail;
    return doc && typeof doc.summary === 'object' && typeof doc.dims?.d === 'number' ? doc : null;
  } catch {
    // Missing or corrupt: recomputed.
    return null;
  }
}

function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value)));
}

function writeFloat32(path: string, data: Float32Array): void {
  // Blobs are little-endian; typed arrays use the platform's order, which is little-endian on every platform
  // Node runs on in practice — checked once here rather than assumed silently.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new InvalidArgumentError('the viewer cache needs a little-endian platform');
  writeFileAtomic(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

interface StudyDoc {
  settings?: { testLimit?: number | null; test?: string; data?: string };
  rows?: StudyRow[];
}

const CURVE_SERIES = [
  { id: 'network', name: 'network', dashed: false },
  { id: 'linear_n01', name: 'linear approximant', dashed: true },
  { id: 'quadratic_n01', name: 'quadratic approximant', dashed: false },
] as const;

function chartsFrom(points: (id: string, metric: 'accuracy' | 'kl' | 'fvu') => [number, number][]): CurveChart[] {
  const series = (metric: 'accuracy' | 'kl' | 'fvu', ids: readonly string[]) => CURVE_SERIES
    .filter((s) => ids.includes(s.id))
    .map((s) => ({ id: s.id, name: s.name, dashed: s.dashed, points: points(s.id, metric) }))
    .filter((s) => s.points.length > 0);
  const charts: CurveChart[] = [
    { id: 'accuracy', title: 'Test accuracy', yLabel: 'accuracy', logY: false, series: series('accuracy', ['network', 'linear_n01', 'quadratic_n01']) },
    { id: 'kl', title: 'KL(network ‖ approximant)', yLabel: 'nats', logY: true, series: series('kl', ['linear_n01', 'quadratic_n01']) },
    { id: 'fvu', title: 'FVU of the approximants', yLabel: 'FVU', logY: true, series: series('fvu', ['linear_n01', 'quadratic_n01']) },
  ];
  return charts.filter((c) => c.series.length > 0);
}

/**
 * Training curves from a study's rows: test accuracy of the network and the N(0, I) linear and quadratic
 * approximants, their KL and standard FVU on the test set.
 */
export function curvesFromStudy(doc: StudyDoc, path: string): Curves | null {
  const rows = Array.isArray(doc.rows) ? doc.rows : [];
  const metricName = { accuracy: 'accuracy', kl: 'kl', fvu: 'fvu_standard' } as const;
  const charts = chartsFrom((id, metric) => rows
    .filter((r) => r.approximant === id && r.eval_set === 'test' && r.metric === metricName[metric] && typeof r.value === 'number' && Number.isFinite(r.value))
    .map((r) => [r.step, r.value!] as [number, number])
    .sort((a, b) => a[0] - b[0]));
  if (charts.length === 0) return null;
  const limit = doc.settings?.testLimit;
  const test = doc.settings?.test ?? (doc.settings?.data ? `${doc.settings.data}-test` : 'the test set');
  return {
    source: 'study',
    description: `From ${path}: ${test}${typeof limit === 'number' ? `, first ${limit} images` : ''}; approximants fitted under N(0, I).`,
    charts,
  };
}

/** Training curves from the viewer's own attack at k = 0 (no study.json); `data` says what was scored. */
export function curvesFromAttack(summaries: readonly Pick<CheckpointSummary, 'step' | 'attack'>[], data: string): Curves | null {
  const usable = summaries.filter((s) => s.step !== null && s.attack !== null && s.attack.length > 0);
  if (usable.length < 2) return null;
  const charts = chartsFrom((id, metric) => usable.map((s) => {
    const a = s.attack![0]!;
    const role = id === 'network' ? 'network' : id === 'linear_n01' ? 'linear' : 'quadratic';
    const v = metric === 'accuracy' ? a.accuracy[role] : role === 'network' ? NaN : a[metric][role];
    return [s.step!, v] as [number, number];
  }).filter(([, v]) => Number.isFinite(v)));
  return {
    source: 'viewer',
    description: `Computed by the viewer on ${data} (no study.json found); approximants fitted under N(0, I).`,
    charts,
  };
}

function classNamesFor(o: number, dataset: string | undefined, dataName: string | null): string[] {
  const fashion = (dataset ?? dataName ?? '').startsWith('fashion');
  if (fashion && o === FASHION_CLASS_NAMES.length) return [...FASHION_CLASS_NAMES];
  return Array.from({ length: o }, (_, c) => String(c));
}

function ensureCacheDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.probe-${process.pid}`);
    writeFileAtomic(probe, new Uint8Array(0));
    unlinkSync(probe);
  } catch (e) {
    throw new InvalidArgumentError(`cannot write the viewer cache in "${dir}" (${(e as Error).message}); choose another folder with --cache <dir>`);
  }
}

const CACHE_FILE = /^(index\.json|ckpt-[A-Za-z0-9._-]+\.(json|bin)|digits-[0-9a-f]+\.bin)$/;

function removeStale(dir: string, keep: Set<string>): void {
  for (const name of readdirSync(dir)) {
    if (CACHE_FILE.test(name) && !keep.has(name)) {
      try {
        unlinkSync(join(dir, name));
      } catch {
        // A file that cannot be removed is only wasted space.
      }
    }
  }
}

function readIndex(path: string): ViewerIndex | null {
  try {
    const doc = JSON.parse(readFileSync(path, 'utf8')) as ViewerIndex;
    return doc.format === VIEWER_FORMAT && doc.version === VIEWER_FORMAT_VERSION ? doc : null;
  } catch {
    return null;
  }
}

function safeName(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
}

/**
 * Precomputes (or reuses) the viewer's files for `opts.source` (see the module documentation).
 *
 * @throws InvalidArgumentError for a missing source, an empty folder, bad options, an unwritable cache folder or
 *   checkpoints that disagree on their input scaling; FormatError for unreadable files; ShapeError when a model,
 *   approximant and data disagree on dimensions
 */
export async function precomputeViewer(opts: PrecomputeOptions): Promise<PrecomputeResult> {
  const t0 = performance.now();
  const top = opts.top ?? 4;
  const kMaxWanted = opts.kMax ?? 10;
  const perClass = opts.digitsPerClass ?? 2;
  checkInt(top, 'top', 1, 64);
  checkInt(kMaxWanted, 'kMax', 0, 1000);
  checkInt(perClass, 'digitsPerClass', 0, 100);
  if (opts.testLimit != null) checkInt(opts.testLimit, 'testLimit', 2);
  const src = resolveViewerSource(opts.source, opts);
  if (src.kind !== 'approximant' && opts.model !== undefined) throw new InvalidArgumentError('model applies only to a single approximant file (a checkpoint is its own model)');
  const hooks = opts.hooks ?? {};
  const note = (m: string): void => hooks.onNote?.(m);
  ensureCacheDir(src.cacheDir);

  const dataKey = opts.data === undefined ? null : (existsSync(opts.data) ? { path: resolve(opts.data), sha: sha256(readFileBytes(opts.data)) } : opts.data);
  const settingsKey = sha256(JSON.stringify({
    version: VIEWER_FORMAT_VERSION, library: libraryVersion(), top, kMax: kMaxWanted, perClass, testLimit: opts.testLimit ?? null, data: dataKey,
    labels: opts.labels === undefined ? null : sha256(readFileBytes(opts.labels)),
    model: opts.model === undefined ? null : sha256(readFileBytes(opts.model)),
  }));
  const keys = src.entries.map((e) => sha256(`${settingsKey}:${sha256(readFileBytes(e.path))}`));
  const studyText = src.study === null ? null : readFileSync(src.study, 'utf8');
  const indexKey = sha256(JSON.stringify({ settingsKey, keys, study: studyText === null ? null : sha256(studyText), cacheDir: src.cacheDir }));
  const indexPath = join(src.cacheDir, 'index.json');
  const names = src.entries.map((e, i) => `ckpt-${safeName(e.step === null ? basename(e.path) : String(e.step))}-${keys[i]!.slice(0, 12)}`);

  const previous = opts.refresh ? null : readIndex(indexPath);
  if (previous !== null && previous.key === indexKey
    && previous.checkpoints.every((c) => existsSync(join(src.cacheDir, c.detail)) && existsSync(join(src.cacheDir, c.blob)))
    && (previous.digits === null || existsSync(join(src.cacheDir, previous.digits.file)))) {
    hooks.onStart?.(0);
    return { cacheDir: src.cacheDir, index: previous, computed: 0, cached: src.entries.length, seconds: (performance.now() - t0) / 1000 };
  }

  const notes: string[] = [];
  const addNote = (m: string): void => {
    notes.push(m);
    note(m);
  };
  hooks.onStart?.(src.entries.length);
  let evalData: EvalData | null = null;
  let evalState: 'unloaded' | 'loaded' | 'none' = 'unloaded';
  let scalingSeen: string | null = null;
  let dims: { d: number; o: number } | null = null;
  let dataName: string | null = null;
  let firstDataset: string | undefined;
  const summaries: CheckpointSummary[] = [];
  let computed = 0;
  let cached = 0;
  for (const [i, entry] of src.entries.entries()) {
    const detailFile = `${names[i]}.json`;
    const blobFile = `${names[i]}.bin`;
    const stored = opts.refresh ? null : readStored(join(src.cacheDir, detailFile));
    let summary: Omit<CheckpointSummary, 'id'>;
    let fromCache = false;
    if (stored !== null && existsSync(join(src.cacheDir, blobFile)) && stored.summary.detail === detailFile
      && (dims === null || (dims.d === stored.dims.d && dims.o === stored.dims.o))) {
      summary = stored.summary;
      dims = stored.dims;
      fromCache = true;
      cached++;
    } else {
      const models = loadModels(entry, src.kind, opts.model);
      const d = models.quadratic.inputDim;
      const o = models.quadratic.outputDim;
      if (dims !== null && (dims.d !== d || dims.o !== o)) {
        throw new ShapeError(`${entry.path} maps ${d} → ${o} but ${src.entries[0]!.path} maps ${dims.d} → ${dims.o}`);
      }
      dims = { d, o };
      firstDataset ??= models.dataset;
      const scalingText = JSON.stringify(models.scaling);
      if (scalingSeen !== null && scalingSeen !== scalingText) {
        throw new InvalidArgumentError(`the checkpoints disagree on input scaling: ${entry.path} has ${scalingText}, an earlier one ${scalingSeen}`);
      }
      scalingSeen = scalingText;
      if (evalState === 'unloaded' && models.net !== null) {
        dataName = opts.data ?? defaultTestData(models.dataset, d);
        if (dataName === null) {
          evalState = 'none';
          addNote(`no test data for ${d}-dimensional inputs: the attack and the test digits are not shown (pass --data)`);
        } else {
          try {
            evalData = loadEval(dataName, d, opts, models.scaling, o);
            evalState = 'loaded';
          } catch (e) {
            // Data named explicitly must load; a guessed default only adds a note.
            if (opts.data !== undefined || !(e instanceof PolyapproxError)) throw e;
            evalState = 'none';
            addNote(`the test data ${dataName} could not be loaded (${e.message}): the attack and the test digits are not shown`);
          }
        }
      }
      const c = computeCheckpoint(entry, models, top, kMaxWanted, evalData);
      summary = { ...c.summary, detail: detailFile, blob: blobFile };
      writeFloat32(join(src.cacheDir, blobFile), c.blob);
      writeJson(join(src.cacheDir, detailFile), { ...c.detail, id: i, summary, dims } satisfies StoredDetail);
      computed++;
    }
    summaries.push({ ...summary, id: i });
    hooks.onCheckpoint?.(i + 1, summary.label, fromCache);
    // Let a progress bar repaint between checkpoints.
    await new Promise<void>((r) => setImmediate(r));
  }
  if (src.kind === 'approximant' && opts.model === undefined) addNote('a single approximant without --model: no attack and no test digits (they need the network)');
  else if (evalState === 'unloaded' && !summaries.some((s) => s.attack !== null)) {
    // Every checkpoint came from the cache, computed without test data; the reason was noted back then.
    addNote('no test data was available: the attack and the test digits are not shown (pass --data)');
  }
  if (summaries.some((s) => s.degree === 1)) addNote('a degree-1 approximant has no Γ: no eigenvectors or spectrum');

  const { d, o } = dims!;
  const digitsFile = `digits-${settingsKey.slice(0, 12)}.bin`;
  const haveAttack = summaries.some((s) => s.attack !== null);
  let digitsInfo: ViewerIndex['digits'] = null;
  let attackInfo: ViewerIndex['attack'] = null;
  let imageShape: [number, number] | null = imageShapeFor(d);
  if (haveAttack) {
    // Every checkpoint may have come from the cache: the digits' labels and rows come from the data.
    if (evalData === null) {
      const modelFile = src.kind === 'approximant' ? opts.model! : src.entries[0]!.path;
      const { scaling } = loadModelWithScaling(modelFile);
      firstDataset ??= datasetOf(modelFile);
      dataName = opts.data ?? defaultTestData(firstDataset, d);
      if (dataName === null) throw new InvalidArgumentError(`the cache has attack results but no test data is known for ${modelFile}; pass --data or --refresh`);
      evalData = loadEval(dataName, d, opts, scaling, o);
    }
    const ds = evalData.ds;
    if (ds.shape.length === 2 && ds.shape[0]! * ds.shape[1]! === d) imageShape = [ds.shape[0]!, ds.shape[1]!];
    writeFloat32(join(src.cacheDir, digitsFile), Float32Array.from(evalData.digits.data));
    digitsInfo = { file: digitsFile, count: evalData.digitRows.length, labels: evalData.digitRows.map((r) => ds.labels[r]!), indices: evalData.digitRows };
    attackInfo = {
      kMax: Math.max(...summaries.map((s) => (s.attack === null ? 0 : s.attack.length - 1))),
      samples: evalData.X.rows,
      data: evalData.name,
      description: evalData.description,
      linear: src.kind === 'approximant' ? 'the approximant with Γ dropped' : 'degree-1 least squares under N(0, I)',
      quadratic: src.kind === 'approximant' ? 'the approximant' : 'degree-2 least squares under N(0, I)',
    };
  } else if (firstDataset === undefined && src.kind !== 'approximant') {
    firstDataset = datasetOf(src.entries[0]!.path);
  }

  let curves: Curves | null = null;
  if (studyText !== null) {
    try {
      curves = curvesFromStudy(JSON.parse(studyText) as StudyDoc, src.study!);
      if (curves === null) addNote(`${src.study} has no test-set rows of the network or the N(0, I) approximants: no training curves`);
    } catch (e) {
      addNote(`${src.study} could not be read (${(e as Error).message}): no training curves`);
    }
  }
  if (curves === null && attackInfo !== null) curves = curvesFromAttack(summaries, attackInfo.description);
  if (curves === null && summaries.length > 1 && studyText === null) addNote('no study.json and no test data: no training curves');

  const index: ViewerIndex = {
    format: VIEWER_FORMAT,
    version: VIEWER_FORMAT_VERSION,
    key: indexKey,
    title: src.kind === 'checkpoints'
      ? `${basename(src.path)} — ${summaries.length} checkpoint${summaries.length === 1 ? '' : 's'}`
      : `${basename(src.path)} — ${src.kind === 'approximant' ? 'approximant' : 'model'}`,
    source: { kind: src.kind, path: src.path, study: src.study },
    createdAt: new Date().toISOString(),
    seconds: (performance.now() - t0) / 1000,
    inputDim: d,
    outputDim: o,
    imageShape,
    classNames: classNamesFor(o, firstDataset, dataName),
    colormap: { name: 'PuOr (ColorBrewer, colour-blind safe)', anchors: [...PUOR_ANCHORS] },
    top,
    checkpoints: summaries,
    curves,
    attack: attackInfo,
    digits: digitsInfo,
    notes,
  };
  writeJson(indexPath, index);
  removeStale(src.cacheDir, new Set(['index.json', ...summaries.flatMap((s) => [s.detail, s.blob]), ...(digitsInfo ? [digitsInfo.file] : [])]));
  return { cacheDir: src.cacheDir, index, computed, cached, seconds: (performance.now() - t0) / 1000 };
}
