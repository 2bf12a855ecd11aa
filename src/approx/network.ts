/**
 * Feedforward networks the approximation engine understands, in PyTorch `nn.Linear` layout
 * (a weight matrix is [out, in]):
 *
 * - MLP: f(x) = W2 · g(W1 x + b1) + b2
 * - GLU: f(x) = W_out · (g(W_gate x + b_gate) ⊙ (W_up x + b_up)) + b_out
 *   (gate g: sigmoid = GLU, identity = bilinear, relu = ReGLU, gelu = GEGLU, silu = SwiGLU).
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import { Matrix, assertFinite } from '../linalg/matrix.js';
import { matmul } from '../linalg/ops.js';
import type { Activation } from './activations/types.js';
import { getActivation } from './activations/registry.js';

/** A one-hidden-layer MLP f(x) = W2 · g(W1 x + b1) + b2. */
export interface MLP {
  readonly arch: 'mlp';
  /** [h, d] */
  readonly W1: Matrix;
  /** [h] */
  readonly b1: Float64Array;
  /** [o, h] */
  readonly W2: Matrix;
  /** [o] */
  readonly b2: Float64Array;
  readonly activation: Activation;
}

/** A gated linear unit f(x) = W_out · (g(W_gate x + b_gate) ⊙ (W_up x + b_up)) + b_out. */
export interface GLU {
  readonly arch: 'glu';
  /** [h, d] */
  readonly W_gate: Matrix;
  /** [h] */
  readonly b_gate: Float64Array;
  /** [h, d] */
  readonly W_up: Matrix;
  /** [h] */
  readonly b_up: Float64Array;
  /** [o, h] */
  readonly W_out: Matrix;
  /** [o] */
  readonly b_out: Float64Array;
  /** The gate's activation. */
  readonly activation: Activation;
}

export type Network = MLP | GLU;

function resolveActivation(a: Activation | string): Activation {
  if (typeof a === 'string') return getActivation(a);
  if (a === null || typeof a !== 'object' || typeof a.mean !== 'function') {
    throw new InvalidArgumentError('activation must be an Activation object or a name such as "relu"');
  }
  return a;
}

function vectorOrZeros(v: Float64Array | undefined, n: number, name: string): Float64Array {
  if (v === undefined) return new Float64Array(n);
  if (v.length !== n) throw new ShapeError(`${name} has length ${v.length}, expected ${n}`);
  assertFinite(v, name);
  return v;
}

/**
 * Builds and validates an MLP. Biases default to zero.
 * @throws ShapeError if the shapes do not chain; NonFiniteError for NaN/Inf weights.
 */
export function createMLP(p: {
  W1: Matrix; b1?: Float64Array; W2: Matrix; b2?: Float64Array; activation: Activation | string;
}): MLP {
  const { W1, W2 } = p;
  if (W2.cols !== W1.rows) {
    throw new ShapeError(`W2 is ${W2.rows}×${W2.cols} but W1 is ${W1.rows}×${W1.cols}: W2 needs ${W1.rows} columns (one per hidden unit)`);
  }
  assertFinite(W1.data, 'W1');
  assertFinite(W2.data, 'W2');
  return {
    arch: 'mlp',
    W1,
    b1: vectorOrZeros(p.b1, W1.rows, 'b1'),
    W2,
    b2: vectorOrZeros(p.b2, W2.rows, 'b2'),
    activation: resolveActivation(p.activation),
  };
}

/**
 * Builds and validates a GLU. Biases default to zero.
 * @throws ShapeError if the shapes do not chain; NonFiniteError for NaN/Inf weights.
 */
export function createGLU(p: {
  W_gate: Matrix; b_gate?: Float64Array; W_up: Matrix; b_up?: Float64Array;
  W_out: Matrix; b_out?: Float64Array; activation: Activation | string;
}): GLU {
  const { W_gate, W_up, W_out } = p;
  if (W_up.rows !== W_gate.rows || W_up.cols !== W_gate.cols) {
    throw new ShapeError(`W_up is ${W_up.rows}×${W_up.cols} but W_gate is ${W_gate.rows}×${W_gate.cols}; they must match`);
  }
  if (W_out.cols !== W_gate.rows) {
    throw new ShapeError(`W_out is ${W_out.rows}×${W_out.cols} but there are ${W_gate.rows} hidden units (rows of W_gate)`);
  }
  assertFinite(W_gate.data, 'W_gate');
  assertFinite(W_up.data, 'W_up');
  assertFinite(W_out.data, 'W_out');
  const h = W_gate.rows;
  return {
    arch: 'glu',
    W_gate,
    b_gate: vectorOrZeros(p.b_gate, h, 'b_gate'),
    W_up,
    b_up: vectorOrZeros(p.b_up, h, 'b_up'),
    W_out,
    b_out: vectorOrZeros(p.b_out, W_out.rows, 'b_out'),
    activation: resolveActivation(p.activation),
  };
}

/** Input dimension d. */
export function inputDim(net: Network): number {
  return net.arch === 'mlp' ? net.W1.cols : net.W_gate.cols;
}

/** Hidden width h. */
export function hiddenDim(net: Network): number {
  return net.arch === 'mlp' ? net.W1.rows : net.W_gate.rows;
}

/** Output dimension o. */
export function outputDim(net: Network): number {
  return net.arch === 'mlp' ? net.W2.rows : net.W_out.rows;
}

/** Computes X·Wᵀ + b for a batch X [n, d] and W [h, d]: the preactivations [n, h]. */
export function affine(X: Matrix, W: Matrix, b: Float64Array): Matrix {
  const U = matmul(X, W, { transB: true });
  const { rows, cols, data } = U;
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    for (let j = 0; j < cols; j++) data[off + j]! += b[j]!;
  }
  return U;
}

/**
 * Runs the network on a batch.
 * @param X inputs [n, d]
 * @returns outputs [n, o]
 */
export function forward(net: Network, X: Matrix): Matrix {
  const d = inputDim(net);
  if (X.cols !== d) throw new ShapeError(`inputs have ${X.cols} columns but the network takes ${d}`);
  const g = net.activation;
  if (net.arch === 'mlp') {
    const H = affine(X, net.W1, net.b1);
    const hd = H.data;
    for (let i = 0; i < hd.length; i++) hd[i] = g.value(hd[i]!);
    return affine(H, net.W2, net.b2);
  }
  const Y = affine(X, net.W_gate, net.b_gate);
  const Z = affine(X, net.W_up, net.b_up);
  const yd = Y.data;
  const zd = Z.data;
  for (let i = 0; i < yd.length; i++) yd[i] = g.value(yd[i]!) * zd[i]!;
  return affine(Y, net.W_out, net.b_out);
}
