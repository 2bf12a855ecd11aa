/**
 * Model files written by the trainer, in the model-file contract that `polyapprox fit` reads
 * (src/formats/layouts.ts):
 *
 * - one hidden layer: tensors `W1` [h, d], `b1` [h], `W2` [o, h], `b2` [o] (the canonical MLP layout);
 * - deeper networks: PyTorch `nn.Sequential` names `0.weight`, `0.bias`, `2.weight`, `2.bias`, … (the
 *   Linear layers sit at even indices, the activations between them), with `__metadata__.layout =
 *   "nn.Sequential"` and `depth` saying so. `fit` approximates one-hidden-layer networks only and refuses
 *   these with a message naming the layer count.
 *
 * Weights are stored as F32 (the training precision) or F64 (networks trained in float64). `__metadata__`
 * holds `architecture: "mlp"`, `activation`, `depth`, `hidden`, `layout` and whatever the caller adds
 * (the trainer adds step, epoch, train_loss, test_accuracy, preset, seed, input_scaling, dataset).
 */
import { FormatError, ShapeError } from '../errors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../formats/safetensors.js';
import type { Tensor, WritableTensor } from '../formats/tensor.js';
import { TRAIN_ACTIVATIONS, type LinearLayer, type Mlp, type TrainActivation } from './mlp.js';

/** Tensor names of layer l's weight and bias in a network with `layerCount` Linear layers. */
export function layerTensorNames(l: number, layerCount: number): { weight: string; bias: string } {
  if (layerCount === 2) return l === 0 ? { weight: 'W1', bias: 'b1' } : { weight: 'W2', bias: 'b2' };
  return { weight: `${2 * l}.weight`, bias: `${2 * l}.bias` };
}

/** The network's parameters as named tensors (see the module documentation for the names). */
export function mlpTensors(mlp: Mlp): Map<string, WritableTensor> {
  const out = new Map<string, WritableTensor>();
  const L = mlp.layers.length;
  mlp.layers.forEach((layer, l) => {
    const names = layerTensorNames(l, L);
    const dtype = layer.weight instanceof Float32Array ? 'F32' : 'F64';
    out.set(names.weight, { dtype, shape: [layer.outFeatures, layer.inFeatures], data: layer.weight });
    out.set(names.bias, { dtype, shape: [layer.outFeatures], data: layer.bias });
  });
  return out;
}

/** The structural metadata every trainer model file carries. */
export function mlpMetadata(mlp: Mlp): Record<string, string> {
  const L = mlp.layers.length;
  return {
    architecture: 'mlp',
    activation: mlp.activation,
    depth: String(L - 1),
    hidden: mlp.layers.slice(0, -1).map((l) => l.outFeatures).join(','),
    layout: L === 2 ? 'canonical' : 'nn.Sequential',
  };
}

/**
 * Writes a model file atomically: the tensors of {@link mlpTensors}, `__metadata__` = {@link mlpMetadata}
 * plus `extra` (which may not override the structural keys).
 */
export function writeMlpCheckpoint(path: string, mlp: Mlp, extra: Record<string, string> = {}): void {
  const structural = mlpMetadata(mlp);
  writeSafetensorsFile(path, mlpTensors(mlp), { ...extra, ...structural });
}

/**
 * Reads a model file written by {@link writeMlpCheckpoint} back into an MLP (float32 unless stored as F64).
 * @throws FormatError if tensors are missing or the metadata is not a trainer MLP; ShapeError if shapes
 *   do not chain
 */
export function readMlpCheckpoint(path: string): { mlp: Mlp; metadata: Record<string, string> } {
  const { tensors, metadata } = readSafetensorsFile(path);
  const activation = metadata['activation'] as TrainActivation | undefined;
  if (metadata['architecture'] !== 'mlp' || activation === undefined || !TRAIN_ACTIVATIONS.includes(activation)) {
    throw new FormatError(`${path}: not a trainer MLP checkpoint (metadata architecture=${metadata['architecture']}, activation=${activation})`);
  }
  const depth = Number(metadata['depth'] ?? '1');
  if (!Number.isInteger(depth) || depth < 1) throw new FormatError(`${path}: metadata depth "${metadata['depth']}" is not a positive integer`);
  const L = depth + 1;
  const layers: LinearLayer[] = [];
  for (let l = 0; l < L; l++) {
    const names = layerTensorNames(l, L);
    const w = tensors.get(names.weight);
    const b = tensors.get(names.bias);
    if (w === undefined || b === undefined) throw new FormatError(`${path}: missing tensor "${w === undefined ? names.weight : names.bias}"`);
    if (w.shape.length !== 2 || b.shape.length !== 1 || b.shape[0] !== w.shape[0]) {
      throw new ShapeError(`${path}: "${names.weight}" ${JSON.stringify(w.shape)} and "${names.bias}" ${JSON.stringify(b.shape)} do not form a Linear layer`);
    }
    const prev = layers[l - 1];
    if (prev !== undefined && prev.outFeatures !== w.shape[1]) {
      throw new ShapeError(`${path}: "${names.weight}" takes ${w.shape[1]} inputs but the previous layer has ${prev.outFeatures} outputs`);
    }
    const cast = (t: Tensor): Float32Array | Float64Array => (t.dtype === 'F64' ? t.data.slice() : Float32Array.from(t.data));
    layers.push({ inFeatures: w.shape[1]!, outFeatures: w.shape[0]!, weight: cast(w), bias: cast(b) });
  }
  return { mlp: { layers, activation }, metadata };
}
