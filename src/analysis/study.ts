/**
 * The training-dynamics study (method.md §5.4–5.6, Figs. 2–3 of the paper): for every checkpoint of a training
 * run, how well do the network's least-squares linear and quadratic approximants reproduce it, and how does that
 * change over training?
 *
 * Approximants per checkpoint (ids used in the outputs):
 *
 * | id                 | input model                                  | degree |
 * |--------------------|----------------------------------------------|--------|
 * | `linear_n01`       | N(0, I)                                      | 1      |
 * | `quadratic_n01`    | N(0, I)                                      | 2      |
 * | `linear_trunc_n01` | N(0, I): the quadratic fit with Γ dropped    | 1      |
 * | `linear_data`      | data Gaussian N(x̄, S + εI) of the train set  | 1      |
 * | `quadratic_data`   | data Gaussian                                | 2      |
 * | `linear_mixture`   | class-conditional mixture Σ π_c N(x̄_c, S_c + εI) | 1  |
 * | `quadratic_mixture`| class-conditional mixture (when available)   | 2      |
 *
 * `linear_trunc_n01` is what the reference plotted as "linear" (`quadratic.to_linear()`, method.md §5.4): the
 * least-squares β with the quadratic fit's intercept α − tr Γ. Under N(0, I) its exact FVU is the linear
 * fit's plus Σ_o (α_lin,o − α_quad,o)² / Σ_o Var f_o (the two differ by a constant, and E[f − f̂_lin] = 0).
 * `quadratic_mixture` comes from the dense normal equations when d ≤ 64 (milliseconds, every checkpoint). Above
 * that (MNIST: d = 784) it is solved by block conjugate gradients (`fitQuadraticAsync`), which takes minutes per
 * checkpoint, so `mixtureQuadratic` chooses where: `'last'` (default) only the last checkpoint, `'all'` every one,
 * `'none'` none (also at d ≤ 64). Each solve runs under a wall-clock budget (`mixtureQuadraticSeconds`, default
 * 240 s) towards the residual `mixtureQuadraticTol` (default 1e-8); when the budget runs out the iterate reached is
 * kept, and the checkpoint's `solver.quadratic_mixture` records whether it converged, the relative residual
 * reached, operator applications, seconds and ridge. Checkpoints without the fit record it as not available
 * (empty values, with the reason in `unavailable`) instead of any number.
 *
 * Evaluation sets (the same for every checkpoint): `test` — the dataset's test split; `n01`, `data_gaussian`,
 * `mixture` — `samples` draws from each input model with a fixed seed. On each set and for each approximant:
 * `accuracy` (on `test` against the labels; on synthetic sets, which have no labels, agreement of the
 * approximant's argmax with the network's), `kl` (mean KL(softmax network ‖ softmax approximant), nats),
 * `fvu_standard` and `fvu_pooled` (see `metrics.ts`), each with a standard error over samples. The network's own
 * test accuracy is reported as approximant `network`. `fvu_analytic` is the exact FVU under the approximant's own
 * input model (from the variance report; `eval_set` = that input model, no standard error).
 *
 * Outputs in `out`: `study.csv` (tidy: step, approximant, input_model, degree, eval_set, metric, value, se),
 * `study.json` (the same rows, settings, per-checkpoint notes), `figures/*.svg|png`, and `cache/step-<s>.json`
 * holding each checkpoint's rows under a key of the settings and the checkpoint's SHA-256, so re-runs only
 * compute new or changed checkpoints (and skip loading the data altogether when nothing is new).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve as resolvePath } from 'node:path';
import { FormatError, InvalidArgumentError, NotPositiveDefiniteError, PolyapproxError } from '../errors.js';
import { Matrix } from '../linalg/matrix.js';
import { cholesky, matmul } from '../linalg/ops.js';
import { Rng } from '../numerics/random.js';
import {
  DEFAULT_KRYLOV_MAX_ITERATIONS, fitLinear, fitQuadratic, fitQuadraticAsync, quadraticUsesKrylov, type KrylovSolveReport,
} from '../approx/fit/index.js';
import { mixtureVarianceReport } from '../approx/fit/mixture.js';
import { Gaussian, GaussianMixture } from '../approx/inputModel.js';
import { forward, inputDim, type Network } from '../approx/network.js';
import type { Approximant, PolynomialApproximant, VarianceReport } from '../approx/result.js';
import { loadNetwork } from '../cli/load.js';
import { writeFileAtomic } from '../formats/atomic.js';
import { readFileBytes, readSafetensors } from '../formats/safetensors.js';
import { loadDataset, standardizeDataset, subsetDataset, type Dataset } from '../data/datasets.js';
import { classConditionalMixture, dataGaussian } from '../data/inputModels.js';
import { lineChart, type LineSeries } from '../figures/charts.js';
import { writeFigure } from '../figures/render.js';
import { accuracyEstimate, agreementEstimate, fvu, klEstimate, type Estimate } from './metrics.js';

/** Bumped whenever the computed rows change meaning; part of the cache key. */
export const STUDY_FORMAT_VERSION = 2;

export type StudyInputModel = 'n01' | 'data_gaussian' | 'mixture';
export type StudyEvalSet = 'test' | StudyInputModel;
export type StudyMetric = 'accuracy' | 'kl' | 'fvu_standard' | 'fvu_pooled' | 'fvu_analytic';

/** The approximants of the study, in output order. */
export const STUDY_APPROXIMANTS = Object.freeze([
  { id: 'linear_n01', label: 'linear, N(0, I)', inputModel: 'n01', degree: 1 },
  { id: 'quadratic_n01', label: 'quadratic, N(0, I)', inputModel: 'n01', degree: 2 },
  { id: 'linear_trunc_n01', label: 'quadratic minus Γ, N(0, I)', inputModel: 'n01', degree: 1 },
  { id: 'linear_data', label: 'linear, data Gaussian', inputModel: 'data_gaussian', degree: 1 },
  { id: 'quadratic_data', label: 'quadratic, data Gaussian', inputModel: 'data_gaussian', degree: 2 },
  { id: 'linear_mixture', label: 'linear, class mixture', inputModel: 'mixture', degree: 1 },
  { id: 'quadratic_mixture', label: 'quadratic, class mixture', inputModel: 'mixture', degree: 2 },
] as const satisfies readonly { id: string; label: string; inputModel: StudyInputModel; degree: 1 | 2 }[]);

export type StudyApproximantId = (typeof STUDY_APPROXIMANTS)[number]['id'];

export const STUDY_EVAL_SETS: readonly StudyEvalSet[] = Object.freeze(['test', 'n01', 'data_gaussian', 'mixture']);
const SAMPLE_METRICS = ['accuracy', 'kl', 'fvu_standard', 'fvu_pooled'] as const;

/** The columns of study.csv, in order. */
export const STUDY_CSV_COLUMNS = Object.freeze(['step', 'approximant', 'input_model', 'degree', 'eval_set', 'metric', 'value', 'se']);

/** One row of the tidy table. `value` null = not available (see the checkpoint's `unavailable`). */
export interface StudyRow {
  step: number;
  /** A {@link StudyApproximantId}, or `network`. */
  approximant: string;
  /** Empty for the network. */
  input_model: StudyInputModel | '';
  degree: number | null;
  eval_set: StudyEvalSet;
  metric: StudyMetric;
  value: number | null;
  se: number | null;
}

/** What the study was asked to do; everything here is part of the cache key. */
export interface StudySettings {
  /** Draws per synthetic evaluation set. */
  samples: number;
  /** Ridge added to data covariances. */
  eps: number;
  seed: number;
  /** Training data for the data Gaussian and mixture: a built-in name (`mnist-train`) or a resolved file path. */
  train: string;
  /** Test data: a built-in name (`mnist-test`) or a resolved file path. */
  test: string;
  /** Number of training images used for the data Gaussian and mixture (null = all). */
  trainLimit: number | null;
  /** Number of test images evaluated (null = all). */
  testLimit: number | null;
  /** Global standardisation the checkpoints were trained with, read from their metadata (null = raw [0, 1]). */
  standardize: { mean: number; std: number } | null;
  /** Whether the exact variance report of the quadratic mixture fit is computed when that fit exists. */
  mixtureQuadraticVariance: boolean;
  /** Where the quadratic mixture fit is computed when d > 64 (see the module documentation). */
  mixtureQuadratic: MixtureQuadraticMode;
  /** Wall-clock budget of each conjugate-gradient solve, in seconds. */
  mixtureQuadraticSeconds: number;
  /** Relative residual each conjugate-gradient solve aims for. */
  mixtureQuadraticTol: number;
}

/** Which checkpoints get the quadratic mixture fit: none, only the last one (default), or all. */
export type MixtureQuadraticMode = 'none' | 'last' | 'all';
export const MIXTURE_QUADRATIC_MODES: readonly MixtureQuadraticMode[] = Object.freeze(['none', 'last', 'all']);

/** Diagnostics of a checkpoint's conjugate-gradient solve (`solver.quadratic_mixture` in study.json). */
export interface StudySolverRecord {
  /** The approximant's method string, stating the outcome in words. */
  method: string;
  converged: boolean;
  operator_applications: number;
  /** The largest final relative residual ‖r − Aθ‖/‖r‖ over the outputs. */
  relative_residual: number;
  tol: number;
  /** ε added to every component covariance by the solver (0 when they are all positive definite). */
  ridge: number;
  seconds: number;
  max_seconds: number;
  /** What stopped an unconverged solve (`the 240 s budget`, `maxIterations = 500`); null when it converged. */
  stopped_by: string | null;
}

/**
 * How {@link studyCheckpoint} gets the quadratic mixture approximant: `dense` — fit it here by the dense normal
 * equations (refused above d = 64, which is recorded as not available); `fitted` — an approximant computed
 * beforehand (e.g. by conjugate gradients), with its solver diagnostics if any; `skipped` — not available, for
 * the given reason.
 */
export type QuadraticMixtureSource =
  | { kind: 'dense' }
  | { kind: 'fitted'; approx: PolynomialApproximant; seconds: number; solver: StudySolverRecord | null }
  | { kind: 'skipped'; reason: string };

/** The results of one checkpoint. */
export interface CheckpointStudy {
  step: number;
  file: string;
  sha256: string;
  rows: StudyRow[];
  /** Why values are missing: approximant id (or `<id>.fvu_analytic`) → reason. */
  unavailable: Record<string, string>;
  /** Diagnostics of iterative solves, by approximant id (only `quadratic_mixture`, when solved by conjugate gradients). */
  solver: Partial<Record<StudyApproximantId, StudySolverRecord>>;
  /** Seconds spent on fits, variance reports and evaluation. */
  seconds: { fits: Record<string, number>; evaluate: number; total: number };
}

/** Hooks for progress reporting. */
export interface StudyHooks {
  onStart?(total: number): void;
  onCheckpoint?(done: number, step: number, cached: boolean): void;
  onNote?(message: string): void;
  /** A conjugate-gradient solve of the quadratic mixture fit starts at `step` (at most `maxIterations` iterations). */
  onSolveStart?(step: number, maxIterations: number, maxSeconds: number): void;
  /** After every operator application of that solve: its count, the largest relative residual, seconds so far. */
  onSolveProgress?(step: number, iteration: number, residual: number, seconds: number): void;
  /** The solve at `step` ended (converged or out of budget). */
  onSolveEnd?(step: number, record: StudySolverRecord): void;
}

/** Options of {@link runStudy}. */
export interface StudyOptions {
  /** Directory with `step-<s>.safetensors` model files. */
  checkpoints: string;
  /** Output directory (created if needed). */
  out: string;
  samples?: number;
  eps?: number;
  seed?: number;
  /** Built-in dataset; default from the checkpoints' `dataset` metadata, else `mnist`. */
  data?: 'mnist' | 'fashion';
  /**
   * User data instead of a built-in dataset (any file `loadDataset` reads, e.g. .safetensors/.npz with `x`, `y`);
   * both must be given together. Identified in the cache key by resolved path only.
   */
  trainData?: string;
  testData?: string;
  trainLimit?: number | null;
  testLimit?: number | null;
  /** Ignore cached results. Default false. */
  fresh?: boolean;
  /** Default true. */
  mixtureQuadraticVariance?: boolean;
  /** Default 'last' (see the module documentation). */
  mixtureQuadratic?: MixtureQuadraticMode;
  /** Default 240. */
  mixtureQuadraticSeconds?: number;
  /** Default 1e-8. */
  mixtureQuadraticTol?: number;
  /** Write the charts (default true). */
  figures?: boolean;
  hooks?: StudyHooks;
}

/** What {@link runStudy} returns (and writes as study.json, plus `figures`). */
export interface StudyResult {
  settings: StudySettings;
  checkpoints: CheckpointStudy[];
  rows: StudyRow[];
  files: { csv: string; json: string; figures: string[] };
  /** How many checkpoints came from the cache. */
  cached: number;
}

/** A checkpoint file found in the directory. */
export interface CheckpointFile {
  step: number;
  path: string;
}

/**
 * The `step-<s>.safetensors` files of `dir`, sorted by step.
 * @throws InvalidArgumentError if `dir` is not a readable directory or holds no checkpoint
 */
export function listCheckpoints(dir: string): CheckpointFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new InvalidArgumentError(`checkpoints directory "${dir}" cannot be read: ${(e as Error).message}`);
  }
  const found: CheckpointFile[] = [];
  for (const name of names) {
    const m = /^step-(\d+)\.safetensors$/.exec(name);
    if (m) found.push({ step: Number(m[1]), path: join(dir, name) });
  }
  if (found.length === 0) throw new InvalidArgumentError(`checkpoints directory "${dir}" contains no step-<s>.safetensors files`);
  return found.sort((a, b) => a.step - b.step);
}

/**
 * The global standardisation recorded in a checkpoint's `input_scaling` metadata (written by the trainer with
 * `describeScaling`), or null for raw pixels.
 * @throws FormatError if the metadata says "standardized" but the mean/std cannot be read
 */
export function parseInputScaling(text: string | undefined): { mean: number; std: number } | null {
  if (text === undefined || !/standardized/.test(text.replace('not standardized', ''))) return null;
  const m = /standardized \(x - (\S+)\)\/(\S+)$/.exec(text.trim());
  const mean = m ? Number(m[1]) : NaN;
  const std = m ? Number(m[2]) : NaN;
  if (!Number.isFinite(mean) || !(std > 0)) throw new FormatError(`cannot read the standardisation from input_scaling "${text}"`);
  return { mean, std };
}

function checkPositiveInt(v: number, what: string, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`${what} must be an integer ≥ ${min}, got ${v}`);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The data and input models every checkpoint is evaluated with; built once, only if some checkpoint needs it. */
export interface StudyContext {
  d: number;
  models: { n01: Gaussian; data_gaussian: Gaussian; mixture: GaussianMixture };
  sets: Record<StudyEvalSet, { X: Matrix; labels: Uint8Array | null }>;
}

const choleskyCache = new WeakMap<Gaussian, Matrix>();

/**
 * n draws of N(μ, Σ) as μ + L z with the Cholesky factor L (Σ = L Lᵀ): the same distribution as
 * `Gaussian.sample`, whose symmetric square root needs an eigendecomposition — ten of those at d = 784 cost
 * seconds; a Cholesky factor milliseconds. A covariance Cholesky refuses (ε = 0 and singular data) falls back to
 * `Gaussian.sample`.
 */
export function sampleGaussianFast(g: Gaussian, n: number, rng: Rng): Matrix {
  if (g.cov === null) return g.sample(n, rng);
  let L = choleskyCache.get(g);
  if (L === undefined) {
    try {
      L = cholesky(g.cov);
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError) return g.sample(n, rng);
      throw e;
    }
    choleskyCache.set(g, L);
  }
  const d = g.dim;
  const Z = new Matrix(n, d, rng.fillNormal(new Float64Array(n * d)));
  const X = matmul(Z, L, { transB: true });
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X.data[i * d + j]! += g.mean[j]!;
  return X;
}

/** n draws of a mixture (component by weight, then {@link sampleGaussianFast}) and their components. */
export function sampleMixtureFast(mix: GaussianMixture, n: number, rng: Rng): { X: Matrix; component: Uint8Array } {
  const K = mix.components.length;
  const component = new Uint8Array(n);
  const counts = new Int32Array(K);
  for (let i = 0; i < n; i++) {
    let u = rng.uniform();
    let k = 0;
    while (k < K - 1 && u >= mix.weights[k]!) {
      u -= mix.weights[k]!;
      k++;
    }
    component[i] = k;
    counts[k]!++;
  }
  const d = mix.dim;
  const X = new Matrix(n, d);
  for (let k = 0; k < K; k++) {
    if (counts[k] === 0) continue;
    const Xk = sampleGaussianFast(mix.components[k]!, counts[k]!, rng);
    let r = 0;
    for (let i = 0; i < n; i++) {
      if (component[i] !== k) continue;
      X.data.set(Xk.data.subarray(r * d, (r + 1) * d), i * d);
      r++;
    }
  }
  return { X, component };
}

function firstRows(ds: Dataset, limit: number | null): Dataset {
  if (limit === null || limit >= ds.x.rows) return ds;
  return subsetDataset(ds, Int32Array.from({ length: limit }, (_, i) => i), `${ds.name}[:${limit}]`);
}

/**
 * Loads the dataset named in `settings`, estimates the data Gaussian and the class-conditional mixture from the
 * (first `trainLimit`) training images, and draws the synthetic evaluation sets.
 */
export function buildStudyContext(settings: StudySettings, note: (m: string) => void = () => {}): StudyContext {
  let train = firstRows(loadDataset(settings.train), settings.trainLimit);
  let test = firstRows(loadDataset(settings.test), settings.testLimit);
  if (settings.standardize !== null) {
    train = standardizeDataset(train, settings.standardize);
    test = standardizeDataset(test, settings.standardize);
  }
  const d = train.x.cols;
  if (test.x.cols !== d) throw new InvalidArgumentError(`the training data have ${d} features but the test data ${test.x.cols}`);
  note(`study: estimating the data Gaussian and the ${train.classes}-class mixture from ${train.x.rows} training samples`);
  const models = {
    n01: Gaussian.standard(d),
    data_gaussian: dataGaussian(train.x, settings.eps),
    mixture: classConditionalMixture(train.x, train.labels, train.classes, settings.eps),
  };
  note(`study: drawing ${settings.samples} samples from each input model (seed ${settings.seed})`);
  // One stream, drawn in a fixed order, so every set is reproducible from the seed alone.
  const rng = new Rng(settings.seed);
  const n01 = models.n01.sample(settings.samples, rng);
  const data = sampleGaussianFast(models.data_gaussian, settings.samples, rng);
  const mixture = sampleMixtureFast(models.mixture, settings.samples, rng).X;
  return {
    d,
    models,
    sets: {
      test: { X: test.x.toFloat64(), labels: test.labels },
      n01: { X: n01, labels: null },
      data_gaussian: { X: data, labels: null },
      mixture: { X: mixture, labels: null },
    },
  };
}

interface FittedApproximant {
  approx: Approximant | null;
  analytic: number | null;
}

function timed<T>(seconds: Record<string, number>, key: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    seconds[key] = (performance.now() - t0) / 1000;
  }
}

/** Runs `fn`; a library error becomes a recorded reason instead of aborting the study. */
function orReason<T>(unavailable: Record<string, string>, key: string, fn: () => T): T | null {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof PolyapproxError)) throw e;
    unavailable[key] = `${e.name}: ${e.message}`;
    return null;
  }
}

function fvuOf(report: VarianceReport | undefined): number | null {
  return report === undefined || !Number.isFinite(report.fvu) ? null : report.fvu;
}

/** The quadratic mixture approximant from its source; null (with the reason recorded) when not available. */
function quadraticMixtureFrom(
  source: QuadraticMixtureSource, net: Network, mixture: GaussianMixture, unavailable: Record<string, string>,
  seconds: Record<string, number>,
): PolynomialApproximant | null {
  if (source.kind === 'skipped') {
    unavailable.quadratic_mixture = source.reason;
    return null;
  }
  if (source.kind === 'fitted') {
    seconds.quadratic_mixture = source.seconds;
    return source.approx;
  }
  return timed(seconds, 'quadratic_mixture', () => {
    try {
      return fitQuadratic(net, mixture);
    } catch (e) {
      // The dense mixture solver refuses large d with InvalidArgumentError; no other number can stand in for it.
      if (!(e instanceof InvalidArgumentError)) throw e;
      unavailable.quadratic_mixture = `fitQuadratic under the mixture is not available here: ${e.message}`;
      return null;
    }
  });
}

/** Fits every approximant of {@link STUDY_APPROXIMANTS} with its exact FVU where available. */
function fitAll(
  net: Network, ctx: StudyContext, settings: StudySettings, unavailable: Record<string, string>, seconds: Record<string, number>,
  quadraticMixture: QuadraticMixtureSource,
): Record<StudyApproximantId, FittedApproximant> {
  const { n01, data_gaussian: dataG, mixture } = ctx.models;
  const linN01 = timed(seconds, 'linear_n01', () => fitLinear(net, n01, { variance: true }));
  const quadN01 = timed(seconds, 'quadratic_n01', () => fitQuadratic(net, n01, { variance: true }));
  const linVar = linN01.info.variance;
  let truncFvu: number | null = null;
  if (linVar !== undefined && linVar.total > 0) {
    let shift = 0;
    for (let c = 0; c < linN01.outputDim; c++) shift += (linN01.alpha[c]! - quadN01.alpha[c]!) ** 2;
    truncFvu = linVar.fvu + shift / linVar.total;
  }
  const linData = timed(seconds, 'linear_data', () => fitLinear(net, dataG, { variance: true }));
  const quadData = timed(seconds, 'quadratic_data', () => fitQuadratic(net, dataG, { variance: true }));
  const linMix = timed(seconds, 'linear_mixture', () => fitLinear(net, mixture));
  const linMixReport = timed(seconds, 'linear_mixture.fvu_analytic', () =>
    orReason(unavailable, 'linear_mixture.fvu_analytic', () => mixtureVarianceReport(net, mixture, [linMix])));
  const quadMix = quadraticMixtureFrom(quadraticMixture, net, mixture, unavailable, seconds);
  let quadMixFvu: number | null = null;
  if (quadMix !== null) {
    if (settings.mixtureQuadraticVariance) {
      const report = timed(seconds, 'quadratic_mixture.fvu_analytic', () =>
        orReason(unavailable, 'quadratic_mixture.fvu_analytic', () => mixtureVarianceReport(net, mixture, [linMix, quadMix])));
      quadMixFvu = fvuOf(report ?? undefined);
    } else {
      unavailable['quadratic_mixture.fvu_analytic'] = 'the exact mixture variance report of the quadratic fit was switched off (mixtureQuadraticVariance = false)';
    }
  }
  return {
    linear_n01: { approx: linN01, analytic: fvuOf(linVar) },
    quadratic_n01: { approx: quadN01, analytic: fvuOf(quadN01.info.variance) },
    linear_trunc_n01: { approx: quadN01.toLinear(), analytic: truncFvu },
    linear_data: { approx: linData, analytic: fvuOf(linData.info.variance) },
    quadratic_data: { approx: quadData, analytic: fvuOf(quadData.info.variance) },
    linear_mixture: { approx: linMix, analytic: fvuOf(linMixReport ?? undefined) },
    quadratic_mixture: { approx: quadMix, analytic: quadMixFvu },
  };
}

/**
 * Fits and evaluates every approximant of one network against the study's data: the rows of one checkpoint.
 * Rows of an approximant that could not be fitted carry null values (the reason is in `unavailable`).
 *
 * @param quadraticMixture - where the quadratic mixture approximant comes from (default: the dense normal
 *   equations, fitted here); {@link runStudy} passes conjugate-gradient fits computed with
 *   {@link solveStudyQuadraticMixture}, or the reason a checkpoint goes without
 */
export function studyCheckpoint(
  net: Network, step: number, ctx: StudyContext, settings: StudySettings,
  quadraticMixture: QuadraticMixtureSource = { kind: 'dense' },
): Pick<CheckpointStudy, 'rows' | 'unavailable' | 'solver' | 'seconds'> {
  const t0 = performance.now();
  if (inputDim(net) !== ctx.d) {
    throw new InvalidArgumentError(`the checkpoint at step ${step} takes ${inputDim(net)} inputs but the samples of ${settings.train} have ${ctx.d} features`);
  }
  const unavailable: Record<string, string> = {};
  const fitSeconds: Record<string, number> = {};
  const fitted = fitAll(net, ctx, settings, unavailable, fitSeconds, quadraticMixture);
  const solver: CheckpointStudy['solver'] = quadraticMixture.kind === 'fitted' && quadraticMixture.solver !== null
    ? { quadratic_mixture: quadraticMixture.solver }
    : {};
  const t1 = performance.now();
  const rows: StudyRow[] = [];
  const row = (approximant: string, input_model: StudyRow['input_model'], degree: number | null, eval_set: StudyEvalSet, metric: StudyMetric, e: Estimate | null): void => {
    rows.push({ step, approximant, input_model, degree, eval_set, metric, value: e === null ? null : e.value, se: e === null ? null : e.se });
  };
  for (const set of STUDY_EVAL_SETS) {
    const { X, labels } = ctx.sets[set];
    const F = forward(net, X);
    if (labels !== null) row('network', '', null, set, 'accuracy', accuracyEstimate(F, labels));
    for (const a of STUDY_APPROXIMANTS) {
      const model = fitted[a.id].approx;
      const Fh = model === null ? null : model.predict(X);
      for (const metric of SAMPLE_METRICS) {
        let e: Estimate | null = null;
        if (Fh !== null) {
          if (metric === 'accuracy') e = labels !== null ? accuracyEstimate(Fh, labels) : agreementEstimate(F, Fh);
          else if (metric === 'kl') e = klEstimate(F, Fh);
          else e = fvu(F, Fh, metric === 'fvu_standard' ? 'standard' : 'pooled');
        }
        row(a.id, a.inputModel, a.degree, set, metric, e);
      }
    }
  }
  for (const a of STUDY_APPROXIMANTS) {
    const v = fitted[a.id].analytic;
    row(a.id, a.inputModel, a.degree, a.inputModel, 'fvu_analytic', v === null ? null : { value: v, se: null });
  }
  const t2 = performance.now();
  return { rows, unavailable, solver, seconds: { fits: fitSeconds, evaluate: (t2 - t1) / 1000, total: (t2 - t0) / 1000 } };
}

/** A {@link KrylovSolveReport} as stored in study.json. */
function solverRecord(report: KrylovSolveReport, maxSeconds: number): StudySolverRecord {
  return {
    method: report.method, converged: report.converged, operator_applications: report.operatorApplications,
    relative_residual: report.relativeResidual, tol: report.tol, ridge: report.ridge, seconds: report.seconds, max_seconds: maxSeconds,
    stopped_by: report.stoppedBy,
  };
}

/**
 * The quadratic mixture approximant of `net` by `fitQuadraticAsync` under the study's mixture: conjugate gradients
 * when d > 64 (towards `settings.mixtureQuadraticTol` within `settings.mixtureQuadraticSeconds`, keeping the iterate
 * reached when the budget runs out), the dense normal equations otherwise. A library error (e.g. a singular pooled
 * covariance) becomes a `skipped` source with the error as its reason.
 */
export async function solveStudyQuadraticMixture(
  net: Network, step: number, ctx: StudyContext, settings: StudySettings, hooks: StudyHooks = {},
): Promise<QuadraticMixtureSource> {
  const t0 = performance.now();
  let record: StudySolverRecord | null = null;
  const maxSeconds = settings.mixtureQuadraticSeconds;
  if (quadraticUsesKrylov(ctx.models.mixture)) hooks.onSolveStart?.(step, DEFAULT_KRYLOV_MAX_ITERATIONS, maxSeconds);
  try {
    const approx = await fitQuadraticAsync(net, ctx.models.mixture, {
      krylov: {
        tol: settings.mixtureQuadraticTol, maxSeconds, throwOnNonConvergence: false,
        onIteration: (iteration, residual) => hooks.onSolveProgress?.(step, iteration, residual, (performance.now() - t0) / 1000),
      },
      onSolved: (report) => {
        record = solverRecord(report, maxSeconds);
      },
    });
    if (record !== null) hooks.onSolveEnd?.(step, record);
    return { kind: 'fitted', approx, seconds: (performance.now() - t0) / 1000, solver: record };
  } catch (e) {
    if (!(e instanceof PolyapproxError)) throw e;
    return { kind: 'skipped', reason: `the conjugate-gradient fit under the mixture failed: ${e.name}: ${e.message}` };
  }
}

function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = typeof v === 'number' ? String(v) : v;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The rows as CSV text with the header {@link STUDY_CSV_COLUMNS}; missing values are empty fields. */
export function studyRowsToCsv(rows: readonly StudyRow[]): string {
  const lines = [STUDY_CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push([r.step, r.approximant, r.input_model, r.degree, r.eval_set, r.metric, r.value, r.se].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

function label(id: string): string {
  return id === 'network' ? 'network' : STUDY_APPROXIMANTS.find((a) => a.id === id)?.label ?? id;
}

function seriesOf(rows: readonly StudyRow[], ids: readonly string[], evalSet: StudyEvalSet | 'own', metric: StudyMetric): LineSeries[] {
  const out: LineSeries[] = [];
  for (const id of ids) {
    const spec = STUDY_APPROXIMANTS.find((a) => a.id === id);
    const set = evalSet === 'own' ? spec?.inputModel : evalSet;
    const points = rows
      .filter((r) => r.approximant === id && r.eval_set === set && r.metric === metric && r.value !== null)
      .map((r) => [r.step, r.value!] as const);
    if (points.length > 0) out.push({ name: label(id), points, dashed: spec?.degree === 1 });
  }
  return out;
}

const N01_IDS = ['linear_n01', 'quadratic_n01'] as const;
const ALL_IDS = STUDY_APPROXIMANTS.map((a) => a.id);

/**
 * The study's line charts over log-scaled steps, written as `<dir>/<name>.svg` and `.png`:
 * `accuracy_test` (network and the N(0, I) linear and quadratic approximants; the linear one's best checkpoint
 * marked), `accuracy_test_all`, `fvu_test`, `fvu_n01`, `kl_test`, `kl_n01` (every approximant; standard FVU),
 * `fvu_analytic_n01` and `fvu_analytic_all` (exact FVU, each approximant under its own input model). Linear
 * approximants are dashed. Charts whose series are all empty are skipped.
 * @returns the paths written (without extension)
 */
export async function writeStudyFigures(rows: readonly StudyRow[], dir: string): Promise<string[]> {
  const written: string[] = [];
  const stepAxis = { label: 'training step', log: true };
  const emit = async (name: string, title: string, y: { label: string; log?: boolean; domain?: [number, number] }, series: LineSeries[], extra: { marker?: { x: number; label: string }; referenceLines?: { y: number; label: string }[] } = {}): Promise<void> => {
    if (series.every((s) => s.points.length === 0)) return;
    const svg = await lineChart({ title, x: stepAxis, y, series, ...extra });
    writeFigure(join(dir, name), svg);
    written.push(join(dir, name));
  };
  const acc = [...seriesOf(rows, ['network'], 'test', 'accuracy'), ...seriesOf(rows, N01_IDS, 'test', 'accuracy')];
  const lin = acc.find((s) => s.name === label('linear_n01'));
  let marker: { x: number; label: string } | undefined;
  if (lin !== undefined && lin.points.length > 2) {
    const best = lin.points.reduce((a, b) => (b[1] > a[1] ? b : a));
    marker = { x: best[0], label: `best linear: step ${best[0]}` };
  }
  await emit('accuracy_test', 'Test accuracy: network vs N(0, I) approximants', { label: 'test accuracy', domain: [0, 1] }, acc, marker ? { marker } : {});
  await emit('accuracy_test_all', 'Test accuracy: network vs all approximants', { label: 'test accuracy', domain: [0, 1] },
    [...seriesOf(rows, ['network'], 'test', 'accuracy'), ...seriesOf(rows, ALL_IDS, 'test', 'accuracy')]);
  const one = { referenceLines: [{ y: 1, label: 'FVU = 1' }] };
  await emit('fvu_test', 'FVU on the test set', { label: 'FVU (standard)', log: true }, seriesOf(rows, ALL_IDS, 'test', 'fvu_standard'), one);
  await emit('fvu_n01', 'FVU on N(0, I) samples', { label: 'FVU (standard)', log: true }, seriesOf(rows, ALL_IDS, 'n01', 'fvu_standard'), one);
  await emit('kl_test', 'KL(network ‖ approximant) on the test set', { label: 'KL divergence (nats)', log: true }, seriesOf(rows, ALL_IDS, 'test', 'kl'));
  await emit('kl_n01', 'KL(network ‖ approximant) on N(0, I) samples', { label: 'KL divergence (nats)', log: true }, seriesOf(rows, ALL_IDS, 'n01', 'kl'));
  // Paper Figs. 2–3 evaluate on samples of the Gaussian mixture imitating the training set.
  await emit('fvu_mixture', 'FVU on samples of the class-conditional Gaussian mixture', { label: 'FVU (standard)', log: true }, seriesOf(rows, ALL_IDS, 'mixture', 'fvu_standard'), one);
  await emit('kl_mixture', 'KL(network ‖ approximant) on mixture samples', { label: 'KL divergence (nats)', log: true }, seriesOf(rows, ALL_IDS, 'mixture', 'kl'));
  await emit('fvu_analytic_n01', 'Exact FVU under N(0, I)', { label: 'FVU (exact)', log: true }, seriesOf(rows, [...N01_IDS, 'linear_trunc_n01'], 'own', 'fvu_analytic'));
  await emit('fvu_analytic_all', 'Exact FVU, each approximant under its own input model', { label: 'FVU (exact)', log: true }, seriesOf(rows, ALL_IDS, 'own', 'fvu_analytic'));
  return written;
}

interface CacheFile {
  key: string;
  result: CheckpointStudy;
}

/**
 * What a checkpoint's quadratic mixture fit is planned to be: `none` (mixtureQuadratic = 'none'), `unselected`
 * (dense at d ≤ 64, else not available: not the last checkpoint under 'last'), or a solve with its limits.
 */
type QuadraticMixturePlan = 'none' | 'unselected' | { tol: number; seconds: number };

function quadraticMixturePlan(settings: StudySettings, isLast: boolean): QuadraticMixturePlan {
  if (settings.mixtureQuadratic === 'none') return 'none';
  if (settings.mixtureQuadratic === 'last' && !isLast) return 'unselected';
  return { tol: settings.mixtureQuadraticTol, seconds: settings.mixtureQuadraticSeconds };
}

/**
 * The cache key of one checkpoint: the settings with the mode of the quadratic mixture fit replaced by this
 * checkpoint's plan, so switching 'last' ↔ 'all' keeps the last checkpoint's (minutes-long) solve, while a
 * checkpoint that stops being the last one is recomputed without it.
 */
function cacheKey(settings: StudySettings, plan: QuadraticMixturePlan, hash: string): string {
  const { mixtureQuadratic: _mode, mixtureQuadraticSeconds: _seconds, mixtureQuadraticTol: _tol, ...rest } = settings;
  return sha256(new TextEncoder().encode(JSON.stringify({ version: STUDY_FORMAT_VERSION, settings: rest, mixtureQuadratic: plan, checkpoint: hash })));
}

function readCache(path: string, key: string): CheckpointStudy | null {
  if (!existsSync(path)) return null;
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
    return c.key === key && Array.isArray(c.result?.rows) ? c.result : null;
  } catch {
    // A corrupt or foreign cache file is recomputed and overwritten.
    return null;
  }
}

function resolveMixtureQuadratic(opts: StudyOptions): Pick<StudySettings, 'mixtureQuadratic' | 'mixtureQuadraticSeconds' | 'mixtureQuadraticTol'> {
  const mode = opts.mixtureQuadratic ?? 'last';
  if (!MIXTURE_QUADRATIC_MODES.includes(mode)) {
    throw new InvalidArgumentError(`mixtureQuadratic must be one of ${MIXTURE_QUADRATIC_MODES.join(', ')}, got "${String(mode)}"`);
  }
  const seconds = opts.mixtureQuadraticSeconds ?? 240;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || !(seconds > 0)) {
    throw new InvalidArgumentError(`mixtureQuadraticSeconds must be a positive number, got ${String(seconds)}`);
  }
  const tol = opts.mixtureQuadraticTol ?? 1e-8;
  if (typeof tol !== 'number' || !(tol > 0 && tol < 1)) throw new InvalidArgumentError(`mixtureQuadraticTol must be in (0, 1), got ${String(tol)}`);
  return { mixtureQuadratic: mode, mixtureQuadraticSeconds: seconds, mixtureQuadraticTol: tol };
}

function resolveSettings(opts: StudyOptions, files: CheckpointFile[]): StudySettings {
  const samples = opts.samples ?? 10000;
  checkPositiveInt(samples, 'samples', 2);
  const eps = opts.eps ?? 1e-6;
  if (!Number.isFinite(eps) || eps < 0) throw new InvalidArgumentError(`eps must be a non-negative number, got ${eps}`);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new InvalidArgumentError(`seed must be an integer, got ${seed}`);
  const trainLimit = opts.trainLimit ?? null;
  const testLimit = opts.testLimit ?? null;
  if (trainLimit !== null) checkPositiveInt(trainLimit, 'trainLimit', 2);
  if (testLimit !== null) checkPositiveInt(testLimit, 'testLimit', 2);
  const userData = opts.trainData !== undefined || opts.testData !== undefined;
  if (userData) {
    if (opts.trainData === undefined || opts.testData === undefined) throw new InvalidArgumentError('trainData and testData must be given together');
    if (opts.data !== undefined) throw new InvalidArgumentError('give either data or trainData/testData, not both');
  }
  const metas = files.map((f) => ({ f, meta: readSafetensors(readFileBytes(f.path), f.path).metadata }));
  const scalings = metas.map(({ f, meta }) => ({ f, s: parseInputScaling(meta['input_scaling']) }));
  const first = JSON.stringify(scalings[0]!.s);
  const odd = scalings.find(({ s }) => JSON.stringify(s) !== first);
  if (odd !== undefined) {
    throw new InvalidArgumentError(`the checkpoints disagree on input scaling: ${basename(files[0]!.path)} has ${first}, ${basename(odd.f.path)} has ${JSON.stringify(odd.s)}`);
  }
  for (const { f, meta } of metas) {
    if (meta['step'] !== undefined && Number(meta['step']) !== f.step) {
      throw new FormatError(`${f.path}: the file name says step ${f.step} but its metadata says step ${meta['step']}`);
    }
  }
  let train: string;
  let test: string;
  if (userData) {
    train = resolvePath(opts.trainData!);
    test = resolvePath(opts.testData!);
  } else {
    const dataMeta = metas[0]!.meta['dataset'];
    const data = opts.data ?? (dataMeta?.startsWith('fashion') ? 'fashion' : 'mnist');
    if (data !== 'mnist' && data !== 'fashion') throw new InvalidArgumentError(`data must be "mnist" or "fashion", got "${String(data)}"`);
    train = `${data}-train`;
    test = `${data}-test`;
  }
  return {
    samples, eps, seed, train, test, trainLimit, testLimit, standardize: scalings[0]!.s,
    mixtureQuadraticVariance: opts.mixtureQuadraticVariance ?? true,
    ...resolveMixtureQuadratic(opts),
  };
}

/** Carries out a checkpoint's {@link QuadraticMixturePlan}. */
async function quadraticMixtureSourceFor(
  plan: QuadraticMixturePlan, net: Network, step: number, ctx: StudyContext, settings: StudySettings, hooks: StudyHooks,
): Promise<QuadraticMixtureSource> {
  if (plan === 'none') {
    return { kind: 'skipped', reason: 'not fitted (mixtureQuadratic = \'none\'); pass --mixture-quadratic last or all' };
  }
  if (plan === 'unselected') {
    // The dense solve is cheap; only the conjugate-gradient route is rationed.
    if (!quadraticUsesKrylov(ctx.models.mixture)) return { kind: 'dense' };
    return { kind: 'skipped', reason: 'fitted only at the last checkpoint (mixtureQuadratic = \'last\'); pass --mixture-quadratic all' };
  }
  return solveStudyQuadraticMixture(net, step, ctx, settings, hooks);
}

/**
 * Runs the study over every checkpoint in `opts.checkpoints` (see the module documentation) and writes its
 * outputs to `opts.out`.
 * @throws InvalidArgumentError for bad options or an empty directory; FormatError for unreadable checkpoints;
 *   errors of the fits themselves
 */
export async function runStudy(opts: StudyOptions): Promise<StudyResult> {
  const files = listCheckpoints(opts.checkpoints);
  const settings = resolveSettings(opts, files);
  const hooks = opts.hooks ?? {};
  const cacheDir = join(opts.out, 'cache');
  mkdirSync(cacheDir, { recursive: true });
  let ctx: StudyContext | null = null;
  const results: CheckpointStudy[] = [];
  let cached = 0;
  hooks.onStart?.(files.length);
  for (const [i, f] of files.entries()) {
    const bytes = readFileBytes(f.path);
    const hash = sha256(bytes);
    const plan = quadraticMixturePlan(settings, i === files.length - 1);
    const key = cacheKey(settings, plan, hash);
    const cachePath = join(cacheDir, `step-${f.step}.json`);
    const hit = opts.fresh ? null : readCache(cachePath, key);
    if (hit !== null) {
      results.push({ ...hit, file: f.path });
      cached++;
      hooks.onCheckpoint?.(i + 1, f.step, true);
      continue;
    }
    const { net } = loadNetwork(f.path);
    ctx ??= buildStudyContext(settings, (m) => hooks.onNote?.(m));
    const source = await quadraticMixtureSourceFor(plan, net, f.step, ctx, settings, hooks);
    const r = studyCheckpoint(net, f.step, ctx, settings, source);
    const result: CheckpointStudy = { step: f.step, file: f.path, sha256: hash, ...r };
    writeFileAtomic(cachePath, new TextEncoder().encode(JSON.stringify({ key, result } satisfies CacheFile)));
    results.push(result);
    hooks.onCheckpoint?.(i + 1, f.step, false);
    // Let a progress bar repaint between checkpoints.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const rows = results.flatMap((r) => r.rows);
  const csv = join(opts.out, 'study.csv');
  const json = join(opts.out, 'study.json');
  writeFileAtomic(csv, new TextEncoder().encode(studyRowsToCsv(rows)));
  const doc = {
    description: 'polyapprox study: network vs least-squares polynomial approximants over training',
    version: STUDY_FORMAT_VERSION,
    settings,
    columns: STUDY_CSV_COLUMNS,
    definitions: STUDY_DEFINITIONS,
    approximants: STUDY_APPROXIMANTS,
    checkpoints: results.map(({ rows: _rows, ...rest }) => rest),
    rows,
  };
  writeFileAtomic(json, new TextEncoder().encode(`${JSON.stringify(doc, null, 1)}\n`));
  const figures = opts.figures === false ? [] : await writeStudyFigures(rows, join(opts.out, 'figures'));
  return { settings, checkpoints: results, rows, files: { csv, json, figures }, cached };
}

/** What the metrics mean, copied into study.json. */
export const STUDY_DEFINITIONS = Object.freeze({
  accuracy: 'test set: mean(argmax logits == label); synthetic sets (no labels): agreement of the approximant\'s argmax with the network\'s. se = sqrt(p(1-p)/n)',
  kl: 'mean over samples of KL(softmax(network) || softmax(approximant)) in nats (log-softmax); se = sd/sqrt(n)',
  fvu_standard: 'sum_i |f_i - fhat_i|^2 / sum_i |f_i - mean f|^2 with per-output means; delta-method se',
  fvu_pooled: 'reference experiments: var(F - Fhat) / var(F) over all n*o entries flattened (one scalar mean, biased variance); delta-method se',
  fvu_analytic: 'exact E|f - fhat|^2 / sum_o Var f_o under the approximant\'s own input model (eval_set = that model); no se',
  linear_trunc_n01: 'the N(0, I) quadratic fit with its quadratic term dropped (reference to_linear()); exact FVU = FVU_linear + sum_o (alpha_lin - alpha_quad)^2 / total variance',
  missing: 'empty value = not available; the checkpoint\'s "unavailable" map gives the reason',
  quadratic_mixture: 'least-squares quadratic under the class mixture: dense normal equations when d <= 64; above, block conjugate gradients within settings.mixtureQuadraticSeconds towards settings.mixtureQuadraticTol, only at the checkpoints settings.mixtureQuadratic selects (last, all or none)',
  solver: 'per checkpoint, solver.quadratic_mixture: the conjugate-gradient solve (converged, operator_applications, relative_residual = max over outputs of ||r - A theta|| / ||r||, tol, ridge added to the component covariances, seconds, max_seconds, stopped_by, method); when converged is false the budget ran out and the rows describe the iterate reached',
});
