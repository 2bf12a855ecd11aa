/**
 * Multi-layer perceptrons for training: `Linear → act → Linear → … → Linear` (PyTorch `nn.Sequential` of
 * `nn.Linear` layers with an activation between consecutive ones), forward and backward passes on
 * row-major batches.
 *
 * Weights use `nn.Linear`'s layout, [out_features, in_features], so a batch X [B, in] maps to
 * X Wᵀ + b. Both precisions run the same code: float32 (training) and float64 (gradient checks). The
 * matrix products go through the linear-algebra backend's GEMM (native OpenBLAS when available); the
 * JavaScript loops are O(batch · width) per layer (bias, activation, column sums).
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import type { LinAlgBackend } from '../linalg/backend.js';
import { normCdf, normPdf } from '../numerics/special.js';
import type { Rng } from '../numerics/random.js';
import { softmaxCrossEntropy, type FloatArray, type LossResult } from './loss.js';

export type { FloatArray } from './loss.js';

/** Element precision of parameters and activations. */
export type Precision = 'f32' | 'f64';

/** Activations the trainer implements (names as the activation registry of `fit` spells them). */
export type TrainActivation = 'relu' | 'gelu' | 'silu' | 'sigmoid' | 'tanh';

export const TRAIN_ACTIVATIONS: readonly TrainActivation[] = ['relu', 'gelu', 'silu', 'sigmoid', 'tanh'];

/** One `nn.Linear` layer. */
export interface LinearLayer<T extends FloatArray = FloatArray> {
  inFeatures: number;
  outFeatures: number;
  /** [outFeatures, inFeatures], row-major. */
  weight: T;
  /** [outFeatures]. */
  bias: T;
}

/** An MLP: layers[0] maps the input, the last layer produces the logits; `activation` follows every other layer. */
export interface Mlp<T extends FloatArray = FloatArray> {
  layers: LinearLayer<T>[];
  activation: TrainActivation;
}

/** Per-layer parameter gradients, shaped like the parameters. */
export interface MlpGradients<T extends FloatArray = FloatArray> {
  weight: T[];
  bias: T[];
}

function allocate(precision: Precision, n: number): FloatArray {
  return precision === 'f32' ? new Float32Array(n) : new Float64Array(n);
}

/** The precision of an MLP's parameters. */
export function precisionOf(mlp: Mlp): Precision {
  return mlp.layers[0]!.weight instanceof Float32Array ? 'f32' : 'f64';
}

/**
 * The widths of an MLP with `depth` hidden layers of width `hidden`: [input, hidden × depth, output].
 * @throws InvalidArgumentError unless every size is a positive integer
 */
export function mlpSizes(input: number, hidden: number, depth: number, output: number): number[] {
  for (const [name, v] of [['input', input], ['hidden', hidden], ['depth', depth], ['output', output]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`mlpSizes: ${name} must be a positive integer, got ${v}`);
  }
  return [input, ...Array.from({ length: depth }, () => hidden), output];
}

/**
 * A freshly initialised MLP, layer by layer in construction order, each with PyTorch's default
 * `nn.Linear` initialisation: weight (Kaiming-uniform with a = √5) and bias both ~ U(−1/√fan_in, 1/√fan_in),
 * weight entries first (row-major), then the bias. The random stream is this library's `Rng`, not torch's,
 * so the same seed gives a different (identically distributed) network than PyTorch.
 *
 * @param sizes layer widths [input, hidden..., output], at least two entries
 * @throws InvalidArgumentError for fewer than two sizes, a non-positive size or an unknown activation
 */
export function initMlp(sizes: readonly number[], activation: TrainActivation, rng: Rng, precision: Precision = 'f32'): Mlp {
  if (sizes.length < 2) throw new InvalidArgumentError(`initMlp: need at least input and output sizes, got [${sizes.join(', ')}]`);
  for (const s of sizes) if (!Number.isInteger(s) || s < 1) throw new InvalidArgumentError(`initMlp: sizes must be positive integers, got [${sizes.join(', ')}]`);
  if (!TRAIN_ACTIVATIONS.includes(activation)) {
    throw new InvalidArgumentError(`initMlp: unknown activation "${activation}" (known: ${TRAIN_ACTIVATIONS.join(', ')})`);
  }
  const layers: LinearLayer[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inFeatures = sizes[l]!;
    const outFeatures = sizes[l + 1]!;
    const bound = 1 / Math.sqrt(inFeatures);
    const weight = allocate(precision, outFeatures * inFeatures);
    for (let i = 0; i < weight.length; i++) weight[i] = (2 * rng.uniform() - 1) * bound;
    const bias = allocate(precision, outFeatures);
    for (let i = 0; i < bias.length; i++) bias[i] = (2 * rng.uniform() - 1) * bound;
    layers.push({ inFeatures, outFeatures, weight, bias });
  }
  return { layers, activation };
}

/** A deep copy. */
export function cloneMlp<T extends FloatArray>(mlp: Mlp<T>): Mlp<T> {
  return {
    activation: mlp.activation,
    layers: mlp.layers.map((l) => ({ ...l, weight: l.weight.slice() as T, bias: l.bias.slice() as T })),
  };
}

/** Total number of trainable parameters. */
export function parameterCount(mlp: Mlp): number {
  return mlp.layers.reduce((s, l) => s + l.weight.length + l.bias.length, 0);
}

/** The input width. */
export function inputWidth(mlp: Mlp): number {
  return mlp.layers[0]!.inFeatures;
}

/** The output width (number of classes). */
export function outputWidth(mlp: Mlp): number {
  return mlp.layers[mlp.layers.length - 1]!.outFeatures;
}

/**
 * C = alpha·op(A)·op(B) + beta·C in the precision of C.
 */
function gemm(
  be: LinAlgBackend, transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray,
): void {
  if (c instanceof Float32Array) be.sgemm(transA, transB, m, n, k, alpha, a as Float32Array, b as Float32Array, beta, c);
  else be.dgemm(transA, transB, m, n, k, alpha, a as Float64Array, b as Float64Array, beta, c);
}

/** act(x) in place over the first n entries. */
function applyActivation(act: TrainActivation, pre: FloatArray, post: FloatArray, n: number): void {
  switch (act) {
    case 'relu':
      for (let i = 0; i < n; i++) {
        const z = pre[i]!;
        post[i] = z > 0 ? z : 0;
      }
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) post[i] = pre[i]! * normCdf(pre[i]!);
      return;
    case 'silu':
      for (let i = 0; i < n; i++) post[i] = pre[i]! / (1 + Math.exp(-pre[i]!));
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) post[i] = 1 / (1 + Math.exp(-pre[i]!));
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) post[i] = Math.tanh(pre[i]!);
      return;
  }
}

/** delta ← delta ⊙ act′(pre) over the first n entries. */
function multiplyDerivative(act: TrainActivation, pre: FloatArray, delta: FloatArray, n: number): void {
  switch (act) {
    case 'relu':
      // The subgradient at 0 is 0, as in PyTorch.
      for (let i = 0; i < n; i++) if (!(pre[i]! > 0)) delta[i] = 0;
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) {
        const z = pre[i]!;
        delta[i]! *= normCdf(z) + z * normPdf(z);
      }
      return;
    case 'silu':
      for (let i = 0; i < n; i++) {
        const z = pre[i]!;
        const s = 1 / (1 + Math.exp(-z));
        delta[i]! *= s * (1 + z * (1 - s));
      }
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) {
        const s = 1 / (1 + Math.exp(-pre[i]!));
        delta[i]! *= s * (1 - s);
      }
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) {
        const t = Math.tanh(pre[i]!);
        delta[i]! *= 1 - t * t;
      }
      return;
  }
}

/**
 * Buffers for forward and backward passes on batches of up to `maxBatch` rows, allocated once and reused
 * every step (no per-step allocation).
 */
export class MlpWorkspace {
  readonly maxBatch: number;
  readonly backend: LinAlgBackend;
  /** Pre-activations of each layer, [maxBatch, out_l] (the last one holds the logits). */
  readonly pre: FloatArray[];
  /** Activations of each hidden layer, [maxBatch, out_l]. */
  readonly post: FloatArray[];
  /** Backpropagated errors ∂loss/∂pre of each layer, [maxBatch, out_l]. */
  readonly delta: FloatArray[];
  readonly grads: MlpGradients;

  constructor(mlp: Mlp, maxBatch: number, backend: LinAlgBackend) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new InvalidArgumentError(`MlpWorkspace: maxBatch must be a positive integer, got ${maxBatch}`);
    const p = precisionOf(mlp);
    this.maxBatch = maxBatch;
    this.backend = backend;
    this.pre = mlp.layers.map((l) => allocate(p, maxBatch * l.outFeatures));
    this.post = mlp.layers.slice(0, -1).map((l) => allocate(p, maxBatch * l.outFeatures));
    this.delta = mlp.layers.map((l) => allocate(p, maxBatch * l.outFeatures));
    this.grads = {
      weight: mlp.layers.map((l) => allocate(p, l.weight.length)),
      bias: mlp.layers.map((l) => allocate(p, l.bias.length)),
    };
  }
}

function checkBatch(mlp: Mlp, x: FloatArray, batch: number, ws: MlpWorkspace): void {
  if (!Number.isInteger(batch) || batch < 1 || batch > ws.maxBatch) {
    throw new InvalidArgumentError(`batch must be an integer in [1, ${ws.maxBatch}] (the workspace size), got ${batch}`);
  }
  const d = inputWidth(mlp);
  if (x.length < batch * d) throw new ShapeError(`input has ${x.length} entries, a batch of ${batch}×${d} needs ${batch * d}`);
  if ((x instanceof Float32Array) !== (mlp.layers[0]!.weight instanceof Float32Array)) {
    throw new InvalidArgumentError(`input is ${x.constructor.name} but the network's parameters are ${precisionOf(mlp) === 'f32' ? 'Float32Array' : 'Float64Array'}`);
  }
}

/**
 * The logits of a batch.
 * @param x [batch, input] row-major (only the first batch·input entries are read)
 * @returns a view of the workspace, [batch, output]; overwritten by the next pass
 */
export function mlpForward(mlp: Mlp, x: FloatArray, batch: number, ws: MlpWorkspace): FloatArray {
  checkBatch(mlp, x, batch, ws);
  let input = x;
  const L = mlp.layers.length;
  for (let l = 0; l < L; l++) {
    const { inFeatures, outFeatures, weight, bias } = mlp.layers[l]!;
    const pre = ws.pre[l]!;
    gemm(ws.backend, false, true, batch, outFeatures, inFeatures, 1, input, weight, 0, pre);
    for (let i = 0; i < batch; i++) {
      const off = i * outFeatures;
      for (let j = 0; j < outFeatures; j++) pre[off + j]! += bias[j]!;
    }
    if (l + 1 < L) {
      applyActivation(mlp.activation, pre, ws.post[l]!, batch * outFeatures);
      input = ws.post[l]!;
    }
  }
  return ws.pre[L - 1]!.subarray(0, batch * outputWidth(mlp));
}

/**
 * Backpropagates `ws.delta[last]` (∂loss/∂logits of the batch, set by the caller) through the network
 * after a {@link mlpForward} pass on the same `x`, filling `ws.grads`.
 */
export function mlpBackward(mlp: Mlp, x: FloatArray, batch: number, ws: MlpWorkspace): void {
  checkBatch(mlp, x, batch, ws);
  for (let l = mlp.layers.length - 1; l >= 0; l--) {
    const { inFeatures, outFeatures, weight } = mlp.layers[l]!;
    const delta = ws.delta[l]!;
    const input = l === 0 ? x : ws.post[l - 1]!;
    gemm(ws.backend, true, false, outFeatures, inFeatures, batch, 1, delta, input, 0, ws.grads.weight[l]!);
    const gb = ws.grads.bias[l]!;
    gb.fill(0);
    for (let i = 0; i < batch; i++) {
      const off = i * outFeatures;
      for (let j = 0; j < outFeatures; j++) gb[j]! += delta[off + j]!;
    }
    if (l > 0) {
      const prev = ws.delta[l - 1]!;
      gemm(ws.backend, false, false, batch, inFeatures, outFeatures, 1, delta, weight, 0, prev);
      multiplyDerivative(mlp.activation, ws.pre[l - 1]!, prev, batch * inFeatures);
    }
  }
}

/**
 * Forward pass, mean softmax cross-entropy and backward pass on one batch; the gradients of the mean loss
 * are left in `ws.grads`.
 * @param labels class of each row of the batch
 */
export function lossAndGradients(mlp: Mlp, x: FloatArray, labels: ArrayLike<number>, batch: number, ws: MlpWorkspace): LossResult {
  const logits = mlpForward(mlp, x, batch, ws);
  const result = softmaxCrossEntropy(logits, labels, batch, outputWidth(mlp), ws.delta[mlp.layers.length - 1]!);
  mlpBackward(mlp, x, batch, ws);
  return result;
}

/**
 * Mean loss and accuracy over a whole dataset, evaluated in chunks of `ws.maxBatch` rows.
 * @param x [n, input] row-major
 */
export function evaluateMlp(mlp: Mlp, x: FloatArray, labels: Uint8Array, n: number, ws: MlpWorkspace): { loss: number; accuracy: number } {
  if (n < 1) throw new InvalidArgumentError(`evaluateMlp: need at least one sample, got ${n}`);
  const d = inputWidth(mlp);
  const o = outputWidth(mlp);
  if (x.length < n * d) throw new ShapeError(`evaluateMlp: input has ${x.length} entries, ${n}×${d} needed`);
  if (labels.length < n) throw new ShapeError(`evaluateMlp: ${labels.length} labels for ${n} samples`);
  let loss = 0;
  let correct = 0;
  for (let start = 0; start < n; start += ws.maxBatch) {
    const b = Math.min(ws.maxBatch, n - start);
    const logits = mlpForward(mlp, x.subarray(start * d, (start + b) * d), b, ws);
    const r = softmaxCrossEntropy(logits, labels.subarray(start, start + b), b, o);
    loss += r.loss * b;
    correct += r.correct;
  }
  return { loss: loss / n, accuracy: correct / n };
}
