/**
 * A tiny synthetic "training run" for the viewer tests: checkpoints of random 784→16→10 ReLU MLPs in the
 * trainer's model-file layout, and a small labelled test set whose labels mostly follow the last network (so that
 * accuracies are far from chance and change under the attack).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Matrix } from '../../src/linalg/matrix.js';
import { createMLP, forward, type MLP } from '../../src/approx/network.js';
import { argmaxRows } from '../../src/analysis/metrics.js';
import { writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { Rng } from '../../src/numerics/random.js';

export const SYN_D = 784;
export const SYN_H = 16;
export const SYN_O = 10;

/** A random MLP: W1 rows of norm ≈ 3 (so ReLU preactivations spread over both signs), biases small. */
export function randomMlp(seed: number, hidden = SYN_H): MLP {
  const rng = new Rng(seed);
  const W1 = new Matrix(hidden, SYN_D, rng.fillNormal(new Float64Array(hidden * SYN_D)).map((v) => (3 * v) / Math.sqrt(SYN_D)));
  const b1 = rng.fillNormal(new Float64Array(hidden)).map((v) => 0.1 * v);
  const W2 = new Matrix(SYN_O, hidden, rng.fillNormal(new Float64Array(SYN_O * hidden)).map((v) => v / Math.sqrt(hidden)));
  const b2 = rng.fillNormal(new Float64Array(SYN_O)).map((v) => 0.1 * v);
  return createMLP({ W1, b1, W2, b2, activation: 'relu' });
}

/** Writes `net` as a trainer checkpoint (float32 tensors W1, b1, W2, b2 and the trainer's metadata). */
export function writeCheckpoint(path: string, net: MLP, step: number): void {
  const f32 = (m: Float64Array) => Float32Array.from(m);
  writeSafetensorsFile(path, {
    W1: { dtype: 'F32', shape: [net.W1.rows, net.W1.cols], data: f32(net.W1.data) },
    b1: { dtype: 'F32', shape: [net.b1.length], data: f32(net.b1) },
    W2: { dtype: 'F32', shape: [net.W2.rows, net.W2.cols], data: f32(net.W2.data) },
    b2: { dtype: 'F32', shape: [net.b2.length], data: f32(net.b2) },
  }, { architecture: 'mlp', activation: 'relu', depth: '1', hidden: String(net.W1.rows), layout: 'canonical', step: String(step) });
}

/** Rounds a network's weights to float32, as reading its checkpoint back does. */
export function asStored(net: MLP): MLP {
  const r = (a: Float64Array) => Float64Array.from(Float32Array.from(a));
  return createMLP({ W1: new Matrix(net.W1.rows, net.W1.cols, r(net.W1.data)), b1: r(net.b1), W2: new Matrix(net.W2.rows, net.W2.cols, r(net.W2.data)), b2: r(net.b2), activation: 'relu' });
}

export interface SyntheticRun {
  dir: string;
  steps: number[];
  /** The networks as stored (float32-rounded), by checkpoint. */
  nets: MLP[];
  /** Test data file (`x` F32 [n, 784], `y` I32 [n]) and its contents. */
  dataFile: string;
  X: Matrix;
  labels: Uint8Array;
}

/**
 * Writes checkpoints `step-<s>.safetensors` into `dir/checkpoints` (or `dir` itself with `flat`) and the test set
 * `dir/test.safetensors`.
 */
export function makeSyntheticRun(dir: string, opts: { steps?: number[]; n?: number; seed?: number; flat?: boolean } = {}): SyntheticRun {
  const steps = opts.steps ?? [10, 200];
  const n = opts.n ?? 300;
  const seed = opts.seed ?? 7;
  const ckDir = opts.flat ? dir : join(dir, 'checkpoints');
  mkdirSync(ckDir, { recursive: true });
  // Like a training run: the last network is the "trained" one, earlier ones are it plus shrinking noise.
  const last = randomMlp(seed * 100);
  const nets = steps.map((s, i) => {
    const noise = randomMlp(seed * 100 + i + 1);
    const t = steps.length === 1 ? 0 : 0.8 * (1 - i / (steps.length - 1));
    const mix = (a: Float64Array, b: Float64Array) => a.map((v, j) => v + t * b[j]!);
    const net = asStored(createMLP({
      W1: new Matrix(SYN_H, SYN_D, mix(last.W1.data, noise.W1.data)), b1: mix(last.b1, noise.b1),
      W2: new Matrix(SYN_O, SYN_H, mix(last.W2.data, noise.W2.data)), b2: mix(last.b2, noise.b2), activation: 'relu',
    }));
    writeCheckpoint(join(ckDir, `step-${s}.safetensors`), net, s);
    return net;
  });
  const rng = new Rng(seed + 1);
  // Pixel-like inputs in [0, 1]: a smooth blob plus noise, so the images are not pure noise.
  const X = new Matrix(n, SYN_D);
  for (let i = 0; i < n; i++) {
    const cx = 8 + 12 * rng.uniform();
    const cy = 8 + 12 * rng.uniform();
    for (let p = 0; p < SYN_D; p++) {
      const r2 = ((p % 28) - cx) ** 2 + (Math.floor(p / 28) - cy) ** 2;
      X.data[i * SYN_D + p] = Math.fround(Math.min(1, Math.max(0, Math.exp(-r2 / 30) + 0.15 * rng.normal())));
    }
  }
  const pred = argmaxRows(forward(nets[nets.length - 1]!, X));
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.uniform() < 0.8 ? pred[i]! : rng.int(SYN_O);
  // Every class must occur for the digit picker; force the first ten labels to 0 … 9.
  for (let c = 0; c < SYN_O; c++) labels[c] = c;
  const dataFile = join(dir, 'test.safetensors');
  writeSafetensorsFile(dataFile, {
    x: { dtype: 'F32', shape: [n, SYN_D], data: Float32Array.from(X.data) },
    y: { dtype: 'I32', shape: [n], data: Float64Array.from(labels) },
  });
  return { dir, steps, nets, dataFile, X, labels };
}
