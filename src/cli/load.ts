/**
 * From files to engine objects: model files → `Network`, input-model files → `InputModel`, batches → `Matrix`.
 */
import { extname } from 'node:path';
import { FormatError, InvalidArgumentError } from '../errors.js';
import { Matrix } from '../linalg/matrix.js';
import { createGLU, createMLP, type Network } from '../approx/network.js';
import { Gaussian, GaussianMixture, type InputModel } from '../approx/inputModel.js';
import { readInputModelFile, readModelFile } from '../formats/layouts.js';
import { readSafetensorsFile, readFileBytes } from '../formats/safetensors.js';
import { readNpy } from '../formats/npy.js';
import { readNpz } from '../formats/npz.js';
import type { Tensor } from '../formats/tensor.js';

export interface LoadModelOptions {
  layer?: number;
  keys?: string;
  arch?: 'mlp' | 'glu';
  act?: string;
}

export interface LoadedModel {
  net: Network;
  /** One line saying which tensors were used and how. */
  mapping: string;
  /** Where the activation came from. */
  activationSource: string;
}

/** Reads a model file in any supported format and builds the network. */
export function loadNetwork(path: string, opts: LoadModelOptions = {}): LoadedModel {
  const m = readModelFile(path, { layer: opts.layer, keys: opts.keys, arch: opts.arch });
  let activation = opts.act;
  let activationSource = '--act';
  if (!activation) {
    activation = m.activation;
    activationSource = 'the file';
  }
  if (!activation) {
    throw new InvalidArgumentError(`${path} does not say which activation the network uses; pass --act (e.g. --act relu)`);
  }
  const w = m.weights;
  const net = w.arch === 'mlp'
    ? createMLP({ W1: w.W1, b1: w.b1, W2: w.W2, b2: w.b2, activation })
    : createGLU({ W_gate: w.W_gate, b_gate: w.b_gate, W_up: w.W_up, b_up: w.b_up, W_out: w.W_out, b_out: w.b_out, activation });
  return { net, mapping: m.mapping, activationSource };
}

/** Reads an input-model file; no file means N(0, I_d). */
export function loadInputModel(path: string | undefined, d: number): InputModel {
  if (path === undefined) return Gaussian.standard(d);
  const m = readInputModelFile(path);
  if (m.kind === 'gaussian') return new Gaussian(m.mean, m.cov);
  const comps = m.covs.map((cov, k) => new Gaussian(m.means.row(k), cov));
  return new GaussianMixture(m.weights, comps);
}

/** Reads a batch of inputs [n, d]: tensor `x` of a safetensors/npz file (or its only tensor), or an .npy array. */
export function loadBatch(path: string, name = 'x'): Matrix {
  const ext = extname(path).toLowerCase();
  let t: Tensor | undefined;
  if (ext === '.npy') t = readNpy(readFileBytes(path), path);
  else {
    const tensors = ext === '.npz' ? readNpz(readFileBytes(path), path) : readSafetensorsFile(path).tensors;
    t = tensors.get(name) ?? (tensors.size === 1 ? [...tensors.values()][0] : undefined);
    if (!t) throw new FormatError(`${path} has no tensor "${name}" (found: ${[...tensors.keys()].join(', ') || 'none'})`);
  }
  if (t.shape.length === 1) return new Matrix(1, t.shape[0]!, t.data);
  if (t.shape.length !== 2) throw new FormatError(`${path}: inputs must be a matrix [n, d], got shape [${t.shape}]`);
  return new Matrix(t.shape[0]!, t.shape[1]!, t.data);
}
