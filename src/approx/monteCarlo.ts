/**
 * Monte Carlo estimates of an approximant's fraction of variance unexplained, with standard errors — the
 * cross-check for the exact variance accounting.
 */
import { InvalidArgumentError } from '../errors.js';
import type { Matrix } from '../linalg/matrix.js';
import { Rng } from '../numerics/random.js';
import type { InputModel } from './inputModel.js';
import { forward, type Network } from './network.js';
import type { Approximant } from './result.js';

export interface MonteCarloFvu {
  /** Σ|f − f̂|² / Σ|f − f̄|² over the samples (the standard FVU, per-output means removed). */
  fvu: number;
  /** Standard error of `fvu` (delta method for a ratio of means). */
  se: number;
  samples: number;
}

/**
 * FVU of `approx` against `net` on `n` samples of `input`, drawn in batches.
 * The standard error treats the estimate as a ratio of two sample means, a/b, with
 * Var(a/b) ≈ (Var a − 2r Cov(a,b) + r² Var b)/(n b²), r = a/b.
 */
export function monteCarloFvu(
  net: Network, approx: Approximant, input: InputModel, n: number, opts: { seed?: number; batch?: number } = {},
): MonteCarloFvu {
  if (!Number.isInteger(n) || n < 2) throw new InvalidArgumentError(`need at least 2 samples, got ${n}`);
  const rng = new Rng(opts.seed ?? 0);
  const batch = opts.batch ?? 4096;
  const o = approx.outputDim;
  // Per-sample error e_i = |f − f̂|² and the outputs f_i (for the centred denominator).
  const err = new Float64Array(n);
  const fs = new Float64Array(n * o);
  for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start);
    const X = input.sample(m, rng);
    const F = forward(net, X);
    const Fh = approx.predict(X);
    for (let i = 0; i < m; i++) {
      let e = 0;
      for (let c = 0; c < o; c++) {
        const v = F.data[i * o + c]!;
        e += (v - Fh.data[i * o + c]!) ** 2;
        fs[(start + i) * o + c] = v;
      }
      err[start + i] = e;
    }
  }
  return ratioFvu(err, fs, n, o);
}

/** FVU and its standard error from per-sample squared errors and outputs. */
export function ratioFvu(err: Float64Array, fs: Float64Array, n: number, o: number): MonteCarloFvu {
  const mean = new Float64Array(o);
  for (let i = 0; i < n; i++) for (let c = 0; c < o; c++) mean[c]! += fs[i * o + c]! / n;
  const dev = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < o; c++) s += (fs[i * o + c]! - mean[c]!) ** 2;
    dev[i] = s;
  }
  let a = 0, b = 0;
  for (let i = 0; i < n; i++) {
    a += err[i]!;
    b += dev[i]!;
  }
  a /= n;
  b /= n;
  let va = 0, vb = 0, cab = 0;
  for (let i = 0; i < n; i++) {
    va += (err[i]! - a) ** 2;
    vb += (dev[i]! - b) ** 2;
    cab += (err[i]! - a) * (dev[i]! - b);
  }
  va /= n - 1;
  vb /= n - 1;
  cab /= n - 1;
  const r = a / b;
  const se = Math.sqrt(Math.max(0, (va - 2 * r * cab + r * r * vb) / n)) / b;
  return { fvu: r, se, samples: n };
}

/** Convenience: the outputs of both on a fixed batch, e.g. to compare on a dataset. */
export function evaluateBoth(net: Network, approx: Approximant, X: Matrix): { net: Matrix; approx: Matrix } {
  return { net: forward(net, X), approx: approx.predict(X) };
}
