/**
 * Approximant files: safetensors, float64, row-major (docs/file-formats.md is the contract).
 *
 * Monomial form (degree ≤ 2): `alpha` [o], `beta` [d, o] and, for degree 2, either dense `gamma` [o, d, d]
 * (symmetric; f̂(x)_o = α_o + Σ_i x_i β_io + Σ_ij x_i γ_oij x_j) or, where dense γ would be too large, the factored
 * form `gamma_directions` [r, d], `gamma_term_a` [T], `gamma_term_b` [T] (I64 row indices into the directions) and
 * `gamma_coef` [o, T], meaning γ_o = Σ_t coef[o,t]·½(D_a D_bᵀ + D_b D_aᵀ).
 * Hermite form (any degree): the tensors of `MlpHermiteParams` / `GluHermiteParams`.
 * `__metadata__` records what was fitted (format, architecture, activation, degree, input model, method, form,
 * gamma_form) and, when computed, the exact variance accounting (fvu, r2, total_variance,
 * explained_variance_by_degree as a JSON array indexed by degree).
 */
import { FormatError } from '../errors.js';
import { Matrix } from '../linalg/matrix.js';
import {
  HermiteApproximant, PolynomialApproximant, type Approximant, type FitInfo, type GammaRepresentation,
  type GluHermiteParams, type MlpHermiteParams, type VarianceReport,
} from '../approx/result.js';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors.js';
import type { Tensor, WritableTensor } from './tensor.js';

export const APPROXIMANT_FORMAT = 'polyapprox.approximant';
export const APPROXIMANT_FORMAT_VERSION = '1';

/** Dense γ is written when it takes at most this many bytes (and `gamma: 'auto'`). */
export const DEFAULT_DENSE_GAMMA_LIMIT = 512 * 2 ** 20;

export interface SaveOptions {
  /** 'dense', 'factored', or 'auto' (dense up to `denseLimitBytes`). Default 'auto'. */
  gamma?: 'dense' | 'factored' | 'auto';
  denseLimitBytes?: number;
  /** Extra metadata strings to record. */
  metadata?: Record<string, string>;
}

const f64 = (data: Float64Array, shape: number[]): WritableTensor => ({ dtype: 'F64', shape, data });
const mat = (m: Matrix): WritableTensor => f64(m.data, [m.rows, m.cols]);
const vec = (v: Float64Array): WritableTensor => f64(v, [v.length]);

function varianceMetadata(v: VarianceReport | undefined): Record<string, string> {
  if (!v) return {};
  return {
    fvu: String(v.fvu),
    r2: String(v.r2),
    total_variance: String(v.total),
    explained_variance_by_degree: JSON.stringify(Array.from(v.byDegree)),
  };
}

/** The tensors and metadata describing an approximant. */
export function approximantTensors(approx: Approximant, opts: SaveOptions = {}): { tensors: Map<string, WritableTensor>; metadata: Record<string, string> } {
  const tensors = new Map<string, WritableTensor>();
  const info = approx.info;
  const metadata: Record<string, string> = {
    format: APPROXIMANT_FORMAT,
    format_version: APPROXIMANT_FORMAT_VERSION,
    architecture: info.arch,
    activation: info.activation,
    degree: String(approx.degree),
    input_model: info.inputModel,
    method: info.method,
    ...varianceMetadata(info.variance),
    ...(opts.metadata ?? {}),
  };
  if (approx instanceof PolynomialApproximant) {
    metadata.form = 'monomial';
    tensors.set('alpha', vec(approx.alpha));
    tensors.set('beta', mat(approx.beta));
    const g = approx.gamma;
    if (g === null) {
      metadata.gamma_form = 'none';
    } else {
      const mode = opts.gamma ?? 'auto';
      const limit = opts.denseLimitBytes ?? DEFAULT_DENSE_GAMMA_LIMIT;
      const dense = g.kind === 'dense' || mode === 'dense' || (mode === 'auto' && approx.denseGammaBytes() <= limit);
      if (dense) {
        metadata.gamma_form = 'dense';
        const { outputDim: o, inputDim: d } = approx;
        const all = new Float64Array(o * d * d);
        for (let c = 0; c < o; c++) all.set(approx.gammaMatrix(c).data, c * d * d);
        tensors.set('gamma', f64(all, [o, d, d]));
      } else {
        metadata.gamma_form = 'factored';
        tensors.set('gamma_directions', mat(g.directions));
        tensors.set('gamma_term_a', { dtype: 'I64', shape: [g.termA.length], data: Float64Array.from(g.termA) });
        tensors.set('gamma_term_b', { dtype: 'I64', shape: [g.termB.length], data: Float64Array.from(g.termB) });
        tensors.set('gamma_coef', mat(g.coef));
      }
    }
  } else if (approx instanceof HermiteApproximant) {
    metadata.form = 'hermite';
    metadata.gamma_form = 'none';
    const p = approx.params;
    const entries: [string, Matrix | Float64Array][] = p.arch === 'mlp'
      ? [['W1', p.W1], ['b1', p.b1], ['m', p.m], ['s', p.s], ['coeffs', p.coeffs], ['W2', p.W2], ['b2', p.b2]]
      : [['W_gate', p.W_gate], ['b_gate', p.b_gate], ['W_up', p.W_up], ['b_up', p.b_up], ['my', p.my], ['sy', p.sy],
        ['mz', p.mz], ['sz_rho', p.szRho], ['r', p.r], ['q', p.q], ['W_out', p.W_out], ['b_out', p.b_out]];
    for (const [name, v] of entries) tensors.set(name, v instanceof Matrix ? mat(v) : vec(v));
  } else {
    throw new FormatError('unknown approximant type');
  }
  return { tensors, metadata };
}

/** Writes an approximant file atomically (a temporary file renamed into place). */
export function saveApproximant(path: string, approx: Approximant, opts: SaveOptions = {}): void {
  const { tensors, metadata } = approximantTensors(approx, opts);
  writeSafetensorsFile(path, tensors, metadata);
}

function need(t: Map<string, Tensor>, name: string, rank: number, source: string): Tensor {
  const x = t.get(name);
  if (!x) throw new FormatError(`${source}: missing tensor "${name}"`);
  if (x.shape.length !== rank) throw new FormatError(`${source}: tensor "${name}" has shape [${x.shape}], expected rank ${rank}`);
  return x;
}
const toMat = (t: Tensor): Matrix => new Matrix(t.shape[0]!, t.shape[1]!, t.data);

function parseVariance(meta: Record<string, string>): VarianceReport | undefined {
  if (meta.fvu === undefined || meta.explained_variance_by_degree === undefined) return undefined;
  const byDegree = Float64Array.from(JSON.parse(meta.explained_variance_by_degree) as number[]);
  const total = Number(meta.total_variance);
  let explained = 0;
  for (let k = 1; k < byDegree.length; k++) explained += byDegree[k]!;
  return { total, byDegree, explained, fvu: Number(meta.fvu), r2: Number(meta.r2) };
}

/**
 * Reads an approximant file written by {@link saveApproximant} — or any safetensors file with `alpha`, `beta` and
 * optionally dense `gamma` (e.g. from another tool). Shapes are validated (FormatError naming the tensor).
 */
export function loadApproximant(path: string): Approximant {
  const { tensors: t, metadata: meta } = readSafetensorsFile(path);
  const source = path;
  try {
    const form = meta.form ?? (t.has('alpha') ? 'monomial' : 'unknown');
    const variance = parseVariance(meta);
    const base = {
      arch: (meta.architecture === 'glu' ? 'glu' : 'mlp') as 'mlp' | 'glu',
      activation: meta.activation ?? 'unknown',
      inputModel: meta.input_model ?? 'unknown',
      method: meta.method ?? 'unknown',
      ...(variance ? { variance } : {}),
    };
    if (form === 'monomial') {
      const alpha = need(t, 'alpha', 1, source).data;
      const betaT = need(t, 'beta', 2, source);
      const o = alpha.length;
      const d = betaT.shape[0]!;
      if (betaT.shape[1] !== o) throw new FormatError(`${source}: beta has shape [${betaT.shape}] but alpha has ${o} outputs`);
      let gamma: GammaRepresentation | null = null;
      if (t.has('gamma')) {
        const g = need(t, 'gamma', 3, source);
        if (g.shape[0] !== o || g.shape[1] !== d || g.shape[2] !== d) {
          throw new FormatError(`${source}: gamma has shape [${g.shape}], expected [${o},${d},${d}]`);
        }
        const matrices: Matrix[] = [];
        for (let c = 0; c < o; c++) matrices.push(new Matrix(d, d, g.data.slice(c * d * d, (c + 1) * d * d)));
        gamma = { kind: 'dense', matrices };
      } else if (t.has('gamma_coef')) {
        const D = need(t, 'gamma_directions', 2, source);
        const a = need(t, 'gamma_term_a', 1, source);
        const b = need(t, 'gamma_term_b', 1, source);
        const C = need(t, 'gamma_coef', 2, source);
        const T = a.shape[0]!;
        const r = D.shape[0]!;
        if (D.shape[1] !== d || b.shape[0] !== T || C.shape[0] !== o || C.shape[1] !== T) {
          throw new FormatError(`${source}: factored gamma tensors have inconsistent shapes`);
        }
        const idx = (x: Tensor, name: string) => Int32Array.from(x.data, (v) => {
          if (!Number.isInteger(v) || v < 0 || v >= r) throw new FormatError(`${source}: ${name} holds ${v}, not a direction index in [0, ${r})`);
          return v;
        });
        gamma = { kind: 'factored', directions: toMat(D), termA: idx(a, 'gamma_term_a'), termB: idx(b, 'gamma_term_b'), coef: toMat(C) };
      }
      const degree = gamma === null ? 1 : 2;
      const info: FitInfo = { ...base, degree };
      return new PolynomialApproximant(alpha, toMat(betaT), gamma, info);
    }
    if (form === 'hermite') {
      const degree = Number(meta.degree);
      const info: FitInfo = { ...base, degree };
      if (base.arch === 'mlp') {
        const p: MlpHermiteParams = {
          arch: 'mlp', W1: toMat(need(t, 'W1', 2, source)), b1: need(t, 'b1', 1, source).data,
          m: need(t, 'm', 1, source).data, s: need(t, 's', 1, source).data, coeffs: toMat(need(t, 'coeffs', 2, source)),
          W2: toMat(need(t, 'W2', 2, source)), b2: need(t, 'b2', 1, source).data,
        };
        checkHermiteMlp(p, source);
        return new HermiteApproximant(p, info);
      }
      const p: GluHermiteParams = {
        arch: 'glu', W_gate: toMat(need(t, 'W_gate', 2, source)), b_gate: need(t, 'b_gate', 1, source).data,
        W_up: toMat(need(t, 'W_up', 2, source)), b_up: need(t, 'b_up', 1, source).data,
        my: need(t, 'my', 1, source).data, sy: need(t, 'sy', 1, source).data, mz: need(t, 'mz', 1, source).data,
        szRho: need(t, 'sz_rho', 1, source).data, r: toMat(need(t, 'r', 2, source)), q: toMat(need(t, 'q', 2, source)),
        W_out: toMat(need(t, 'W_out', 2, source)), b_out: need(t, 'b_out', 1, source).data,
      };
      checkHermiteGlu(p, source);
      return new HermiteApproximant(p, info);
    }
    throw new FormatError(`${source}: not an approximant file (no "alpha"/"beta" tensors and no form in the metadata)`);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`${source}: ${(e as Error).message}`);
  }
}

function checkHermiteMlp(p: MlpHermiteParams, source: string): void {
  const h = p.W1.rows;
  const ok = p.b1.length === h && p.m.length === h && p.s.length === h && p.coeffs.rows === h && p.W2.cols === h && p.b2.length === p.W2.rows;
  if (!ok) throw new FormatError(`${source}: Hermite MLP tensors have inconsistent shapes`);
}

function checkHermiteGlu(p: GluHermiteParams, source: string): void {
  const h = p.W_gate.rows;
  const K = p.r.cols - 1;
  const ok = p.W_up.rows === h && p.W_up.cols === p.W_gate.cols && [p.b_gate, p.b_up, p.my, p.sy, p.mz, p.szRho].every((v) => v.length === h)
    && p.r.rows === h && p.q.rows === h && p.q.cols === K && p.W_out.cols === h && p.b_out.length === p.W_out.rows;
  if (!ok) throw new FormatError(`${source}: Hermite GLU tensors have inconsistent shapes`);
}
