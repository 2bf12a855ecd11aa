/**
 * Loading the golden cases copied from the project's shared fixtures into fixtures/golden/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Matrix } from '../../src/linalg/matrix.js';
import { readSafetensorsFile } from '../../src/formats/safetensors.js';
import type { Tensor } from '../../src/formats/tensor.js';
import { Gaussian, GaussianMixture, type InputModel } from '../../src/approx/inputModel.js';
import { createGLU, createMLP, type Network } from '../../src/approx/network.js';

export const GOLDEN_DIR = fileURLToPath(new URL('../../fixtures/golden/', import.meta.url));

export interface GoldenCase {
  name: string;
  net: Network;
  input: InputModel;
  points: Matrix;
  expected: Map<number, { alpha: Float64Array; beta: Matrix; gamma: Matrix[] }>;
  predictions: Map<number, Matrix>;
  fvu: Map<number, { fvu: number; se: number | null }>;
}

function mat(t: Tensor | undefined, what: string): Matrix {
  if (!t) throw new Error(`missing ${what}`);
  if (t.shape.length !== 2) throw new Error(`${what} is not 2-D`);
  return new Matrix(t.shape[0]!, t.shape[1]!, t.data);
}

function vec(t: Tensor | undefined, what: string): Float64Array {
  if (!t) throw new Error(`missing ${what}`);
  return t.data;
}

export function goldenNames(): string[] {
  return JSON.parse(readFileSync(join(GOLDEN_DIR, 'index.json'), 'utf8')) as string[];
}

export function loadGolden(name: string): GoldenCase {
  const dir = join(GOLDEN_DIR, name);
  const json = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {
    arch: string; act: string; degrees: Record<string, { fvu: number; fvu_se: number | null }>;
  };
  const model = readSafetensorsFile(join(dir, 'model.safetensors'));
  const t = model.tensors;
  const net: Network = json.arch === 'mlp'
    ? createMLP({ W1: mat(t.get('W1'), 'W1'), b1: vec(t.get('b1'), 'b1'), W2: mat(t.get('W2'), 'W2'), b2: vec(t.get('b2'), 'b2'), activation: json.act })
    : createGLU({
      W_gate: mat(t.get('W_gate'), 'W_gate'), b_gate: vec(t.get('b_gate'), 'b_gate'),
      W_up: mat(t.get('W_up'), 'W_up'), b_up: vec(t.get('b_up'), 'b_up'),
      W_out: mat(t.get('W_out'), 'W_out'), b_out: vec(t.get('b_out'), 'b_out'), activation: json.act,
    });
  const d = net.arch === 'mlp' ? net.W1.cols : net.W_gate.cols;
  let input: InputModel = Gaussian.standard(d);
  if (existsSync(join(dir, 'input.safetensors'))) {
    const it = readSafetensorsFile(join(dir, 'input.safetensors')).tensors;
    if (it.has('mean')) {
      input = new Gaussian(vec(it.get('mean'), 'mean'), mat(it.get('cov'), 'cov'));
    } else {
      const weights = vec(it.get('weights'), 'weights');
      const means = mat(it.get('means'), 'means');
      const covs = it.get('covs')!;
      const K = weights.length;
      const comps: Gaussian[] = [];
      for (let k = 0; k < K; k++) {
        comps.push(new Gaussian(means.row(k), new Matrix(d, d, covs.data.slice(k * d * d, (k + 1) * d * d))));
      }
      input = new GaussianMixture(weights, comps);
    }
  }
  const points = mat(readSafetensorsFile(join(dir, 'points.safetensors')).tensors.get('x'), 'x');
  const expected = new Map<number, { alpha: Float64Array; beta: Matrix; gamma: Matrix[] }>();
  const predictions = new Map<number, Matrix>();
  const fvu = new Map<number, { fvu: number; se: number | null }>();
  for (const [k, v] of Object.entries(json.degrees)) fvu.set(Number(k), { fvu: v.fvu, se: v.fvu_se });
  for (let K = 1; K <= 4; K++) {
    const f = join(dir, `expected_deg${K}.safetensors`);
    if (existsSync(f)) {
      const e = readSafetensorsFile(f).tensors;
      const g = e.get('gamma')!;
      const o = g.shape[0]!;
      const gamma: Matrix[] = [];
      for (let c = 0; c < o; c++) gamma.push(new Matrix(d, d, g.data.slice(c * d * d, (c + 1) * d * d)));
      expected.set(K, { alpha: vec(e.get('alpha'), 'alpha'), beta: mat(e.get('beta'), 'beta'), gamma });
    }
    const p = join(dir, `expected_pred_deg${K}.safetensors`);
    if (existsSync(p)) predictions.set(K, mat(readSafetensorsFile(p).tensors.get('y'), 'y'));
  }
  return { name, net, input, points, expected, predictions, fvu };
}

/** max |a − b| / max(|b|_∞, tiny) */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-300);
}
