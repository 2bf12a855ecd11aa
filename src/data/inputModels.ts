/**
 * Input models estimated from data: the data Gaussian N(x̄, S + εI) and the class-conditional Gaussian
 * mixture Σ_c π_c N(x̄_c, S_c + εI), as the reference's data-aware approximants and samplers use them
 * (method.md §5.4–5.5), and the input-model file of the `fit` contract.
 *
 * Covariances are the unbiased sample covariances S = (X − 1x̄ᵀ)ᵀ(X − 1x̄ᵀ)/(n − 1), computed in float64
 * with a GEMM over row chunks of the centred data (the mean is subtracted first, so there is no
 * cancellation). ε (default 1e-6, the reference's value) is added to the diagonal because image data has
 * constant pixels (MNIST's borders are always 0), which makes S singular; with ε > 0 the covariance is
 * positive definite and samplers and solvers work in every direction. Mixture weights are the empirical
 * class priors n_c/n (the reference's samplers use these; its analytic code used uniform weights).
 *
 * Sampling: the returned `Gaussian` / `GaussianMixture` draw samples with `.sample(n, rng)` (x = μ + S^½ z
 * with the symmetric PSD square root; the mixture picks a component by its weight first).
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import { Gaussian, GaussianMixture } from '../approx/inputModel.js';
import type { LinAlgBackend } from '../linalg/backend.js';
import { getBackend } from '../linalg/index.js';
import { Matrix, symmetrizeInPlace, type Matrix32 } from '../linalg/matrix.js';
import { writeNpz } from '../formats/npz.js';
import { writeSafetensorsFile } from '../formats/safetensors.js';
import type { WritableTensor } from '../formats/tensor.js';
import { writeFileAtomic } from '../formats/atomic.js';

/** The ε the reference adds to data covariances. */
export const DEFAULT_COVARIANCE_EPS = 1e-6;

/** Rows of centred data per GEMM call: bounds the float64 scratch to CHUNK_ROWS·d doubles. */
const CHUNK_ROWS = 2048;

/** Sample mean and unbiased sample covariance. */
export interface SampleMoments {
  /** Number of samples used. */
  n: number;
  mean: Float64Array;
  /** Unbiased covariance (divided by n − 1), exactly symmetric, without ε. */
  cov: Matrix;
}

/**
 * Mean and unbiased covariance of the rows of `x` (all rows, or those listed in `rows`).
 *
 * @param x samples as rows, float32 or float64
 * @param rows indices of the rows to use (default all)
 * @throws InvalidArgumentError for fewer than 2 rows, a row index out of range, or non-finite data
 */
export function sampleMoments(x: Matrix32 | Matrix, rows?: ArrayLike<number>, backend: LinAlgBackend = getBackend()): SampleMoments {
  const d = x.cols;
  const n = rows === undefined ? x.rows : rows.length;
  if (n < 2) throw new InvalidArgumentError(`sample covariance needs at least 2 samples, got ${n}`);
  if (d < 1) throw new ShapeError('samples have no entries (0 columns)');
  const rowAt = (i: number): number => {
    if (rows === undefined) return i;
    const r = rows[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= x.rows) throw new InvalidArgumentError(`row index ${r} is outside [0, ${x.rows})`);
    return r;
  };
  const src = x.data;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const off = rowAt(i) * d;
    for (let j = 0; j < d; j++) mean[j]! += src[off + j]!;
  }
  for (let j = 0; j < d; j++) {
    mean[j]! /= n;
    if (!Number.isFinite(mean[j]!)) throw new InvalidArgumentError(`the data contain a non-finite value in column ${j}`);
  }
  const cov = new Float64Array(d * d);
  const chunk = new Float64Array(Math.min(CHUNK_ROWS, n) * d);
  for (let start = 0; start < n; start += CHUNK_ROWS) {
    const m = Math.min(CHUNK_ROWS, n - start);
    for (let i = 0; i < m; i++) {
      const off = rowAt(start + i) * d;
      const dst = i * d;
      for (let j = 0; j < d; j++) chunk[dst + j] = src[off + j]! - mean[j]!;
    }
    backend.dgemm(true, false, d, d, m, 1 / (n - 1), chunk, chunk, start === 0 ? 0 : 1, cov);
  }
  // Blocked GEMM may round (i, j) and (j, i) differently; the average is exactly symmetric.
  symmetrizeInPlace(cov, d);
  return { n, mean, cov: new Matrix(d, d, cov) };
}

function checkEps(eps: number): void {
  if (!Number.isFinite(eps) || eps < 0) throw new InvalidArgumentError(`eps must be a non-negative number, got ${eps}`);
}

function addDiagonal(m: Matrix, eps: number): Matrix {
  for (let i = 0; i < m.rows; i++) m.data[i * m.cols + i]! += eps;
  return m;
}

/**
 * The data Gaussian N(x̄, S + εI) of the rows of `x`.
 * @param eps added to the covariance diagonal (default 1e-6; see the module documentation)
 */
export function dataGaussian(x: Matrix32 | Matrix, eps = DEFAULT_COVARIANCE_EPS, backend?: LinAlgBackend): Gaussian {
  checkEps(eps);
  const { mean, cov } = sampleMoments(x, undefined, backend);
  return new Gaussian(mean, addDiagonal(cov, eps));
}

/**
 * The class-conditional Gaussian mixture Σ_c π_c N(x̄_c, S_c + εI): one component per class in
 * 0 … classes−1, weighted by its empirical prior π_c = n_c/n, with the class mean and unbiased class
 * covariance.
 *
 * @param labels class of each row, integers in [0, classes)
 * @throws ShapeError if labels and rows differ in number; InvalidArgumentError for a label out of range or
 *   a class with fewer than 2 samples (its covariance would be undefined)
 */
export function classConditionalMixture(
  x: Matrix32 | Matrix, labels: ArrayLike<number>, classes: number, eps = DEFAULT_COVARIANCE_EPS, backend?: LinAlgBackend,
): GaussianMixture {
  checkEps(eps);
  if (!Number.isInteger(classes) || classes < 1) throw new InvalidArgumentError(`classes must be a positive integer, got ${classes}`);
  if (labels.length !== x.rows) throw new ShapeError(`${labels.length} labels for ${x.rows} samples`);
  const members: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= classes) throw new InvalidArgumentError(`label ${i} is ${c}, outside [0, ${classes})`);
    members[c]!.push(i);
  }
  members.forEach((rows, c) => {
    if (rows.length < 2) throw new InvalidArgumentError(`class ${c} has ${rows.length} sample${rows.length === 1 ? '' : 's'}; its covariance needs at least 2`);
  });
  const n = labels.length;
  const weights = Float64Array.from(members, (rows) => rows.length / n);
  const components = members.map((rows) => {
    const { mean, cov } = sampleMoments(x, Int32Array.from(rows), backend);
    return new Gaussian(mean, addDiagonal(cov, eps));
  });
  return new GaussianMixture(weights, components);
}

/**
 * The tensors of the input-model file contract, all F64: `mean` [d] and `cov` [d, d] for a Gaussian;
 * `weights` [K], `means` [K, d] and `covs` [K, d, d] for a mixture.
 */
export function inputModelTensors(model: Gaussian | GaussianMixture): Map<string, WritableTensor> {
  const d = model.dim;
  if (model.kind === 'gaussian') {
    return new Map<string, WritableTensor>([
      ['mean', { dtype: 'F64', shape: [d], data: model.mean }],
      ['cov', { dtype: 'F64', shape: [d, d], data: model.covariance().data }],
    ]);
  }
  const K = model.components.length;
  const means = new Float64Array(K * d);
  const covs = new Float64Array(K * d * d);
  model.components.forEach((c, k) => {
    means.set(c.mean, k * d);
    covs.set(c.covariance().data, k * d * d);
  });
  return new Map<string, WritableTensor>([
    ['weights', { dtype: 'F64', shape: [K], data: model.weights }],
    ['means', { dtype: 'F64', shape: [K, d], data: means }],
    ['covs', { dtype: 'F64', shape: [K, d, d], data: covs }],
  ]);
}

/**
 * Writes an input-model file atomically: `.npz` (numpy.savez layout, no metadata) if `path` ends in
 * `.npz`, otherwise safetensors with `metadata` as `__metadata__` (plus `kind`).
 */
export function writeInputModelFile(path: string, model: Gaussian | GaussianMixture, metadata: Record<string, string> = {}): void {
  const tensors = inputModelTensors(model);
  if (path.toLowerCase().endsWith('.npz')) writeFileAtomic(path, writeNpz(tensors));
  else writeSafetensorsFile(path, tensors, { ...metadata, kind: model.kind });
}
