/**
 * How well an approximant reproduces a network on a batch of inputs, from the two [n, o] output (logit) matrices:
 * accuracy, KL divergence of the softmax distributions, and the fraction of variance unexplained (method.md §2.11).
 *
 * Standard errors treat the n rows as independent draws (true for Monte Carlo samples; for a fixed test set they
 * describe sampling variability of the test set itself) and come from the delta method for ratios of means.
 * Degenerate inputs (zero output variance, fewer than 2 rows) throw instead of returning NaN.
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import { assertFinite, Matrix } from '../linalg/matrix.js';
import { ratioFvu } from '../approx/monteCarlo.js';

/** A sample estimate and its standard error (null where none is meaningful, e.g. with a single row). */
export interface Estimate {
  value: number;
  se: number | null;
}

function checkLogits(m: Matrix, what: string): void {
  if (m.rows < 1 || m.cols < 1) throw new ShapeError(`${what} must have at least one row and one column, got ${m.rows}×${m.cols}`);
  assertFinite(m.data, what);
}

function checkSameShape(a: Matrix, b: Matrix, whatA: string, whatB: string): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new ShapeError(`${whatA} is ${a.rows}×${a.cols} but ${whatB} is ${b.rows}×${b.cols}; they must match`);
  }
}

/** Index of the largest entry of every row (the first one on ties, like `torch.argmax`). */
export function argmaxRows(logits: Matrix): Int32Array {
  checkLogits(logits, 'logits');
  const { rows, cols, data } = logits;
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    let best = 0;
    for (let c = 1; c < cols; c++) if (data[off + c]! > data[off + best]!) best = c;
    out[i] = best;
  }
  return out;
}

/**
 * Fraction of rows whose argmax equals the label, with the binomial standard error √(p(1−p)/n).
 *
 * @param logits [n, classes]
 * @param labels n integers in [0, classes)
 * @throws ShapeError if the counts differ; InvalidArgumentError for a label out of range; NonFiniteError for
 *   NaN/infinite logits
 */
export function accuracyEstimate(logits: Matrix, labels: ArrayLike<number>): Estimate {
  const pred = argmaxRows(logits);
  const n = logits.rows;
  if (labels.length !== n) throw new ShapeError(`labels has ${labels.length} entries for ${n} rows of logits`);
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= logits.cols) throw new InvalidArgumentError(`labels[${i}] = ${y} is not a class index in [0, ${logits.cols})`);
    if (pred[i] === y) hits++;
  }
  const p = hits / n;
  return { value: p, se: n > 1 ? Math.sqrt((p * (1 - p)) / n) : null };
}

/** `mean(argmax(logits) == labels)`; see {@link accuracyEstimate}. */
export function accuracy(logits: Matrix, labels: ArrayLike<number>): number {
  return accuracyEstimate(logits, labels).value;
}

/**
 * How often the approximant's argmax agrees with the network's: the accuracy of `approxLogits` against the
 * network's own predictions (what "accuracy" means on synthetic inputs, which have no labels).
 */
export function agreementEstimate(netLogits: Matrix, approxLogits: Matrix): Estimate {
  checkSameShape(netLogits, approxLogits, 'netLogits', 'approxLogits');
  return accuracyEstimate(approxLogits, argmaxRows(netLogits));
}

/** Row-wise log-softmax, computed as (z − max) − log Σ exp(z − max) so large logits neither overflow nor lose digits. */
export function logSoftmaxRows(logits: Matrix): Matrix {
  checkLogits(logits, 'logits');
  const { rows, cols, data } = logits;
  const out = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, data[off + c]!);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(data[off + c]! - m);
    // (z − max) first: it is exact for nearby logits, whereas z − (max + log s) would round at the scale of z.
    const logS = Math.log(s);
    for (let c = 0; c < cols; c++) out.data[off + c] = data[off + c]! - m - logS;
  }
  return out;
}

/**
 * KL(softmax pᵢ ‖ softmax qᵢ) = Σ_c p_c (log p_c − log q_c) for every row i, in nats. Each term is ≥ 0 up to
 * rounding; tiny negative rounding results are clamped to 0.
 *
 * @param pLogits [n, o], e.g. the network's logits
 * @param qLogits [n, o], e.g. the approximant's logits
 */
export function klPerSample(pLogits: Matrix, qLogits: Matrix): Float64Array {
  checkSameShape(pLogits, qLogits, 'pLogits', 'qLogits');
  const lp = logSoftmaxRows(pLogits);
  const lq = logSoftmaxRows(qLogits);
  const { rows, cols } = lp;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let kl = 0;
    for (let c = 0; c < cols; c++) {
      const a = lp.data[i * cols + c]!;
      kl += Math.exp(a) * (a - lq.data[i * cols + c]!);
    }
    out[i] = Math.max(0, kl);
  }
  return out;
}

/** Mean of `values` and its standard error s/√n (null for a single value). */
export function meanEstimate(values: ArrayLike<number>): Estimate {
  const n = values.length;
  if (n < 1) throw new InvalidArgumentError('cannot average an empty set of values');
  let m = 0;
  for (let i = 0; i < n; i++) m += values[i]!;
  m /= n;
  if (n === 1) return { value: m, se: null };
  let v = 0;
  for (let i = 0; i < n; i++) v += (values[i]! - m) ** 2;
  return { value: m, se: Math.sqrt(v / (n - 1) / n) };
}

/** Mean over rows of KL(softmax p ‖ softmax q) in nats, with its standard error; see {@link klPerSample}. */
export function klEstimate(pLogits: Matrix, qLogits: Matrix): Estimate {
  return meanEstimate(klPerSample(pLogits, qLogits));
}

/** Mean over rows of KL(softmax p ‖ softmax q) in nats (method.md §2.11: `log_softmax`, natural log, `.mean()`). */
export function klDivergence(pLogits: Matrix, qLogits: Matrix): number {
  return klEstimate(pLogits, qLogits).value;
}

/**
 * The two FVU definitions of method.md §2.11 (f = network outputs, f̂ = approximant outputs, n rows, o outputs):
 *
 * - `standard`: Σᵢ‖fᵢ − f̂ᵢ‖² / Σᵢ‖fᵢ − f̄‖² with f̄ the per-output means — the sample version of
 *   E‖f − f̂‖² / Σ_o Var f_o, directly comparable with the exact variance report.
 * - `pooled`: the reference experiments' `var(P − Q) / var(P)` over all n·o entries flattened, each with one
 *   scalar mean and the biased (1/N) variance. A constant added to every entry of Q does not count as error, but
 *   per-output offsets do; and the denominator also contains the spread between the outputs' means. (The
 *   reference's `fvu_between_models` adds 1e-8 to the denominator; here a zero denominator is an error.)
 */
export type FvuVariant = 'standard' | 'pooled';

/**
 * a/b for the means a = mean(num), b = mean(den) of paired per-row quantities, with the delta-method standard
 * error √((Var num − 2r Cov + r² Var den)/n)/b.
 */
export function ratioOfMeans(num: Float64Array, den: Float64Array): Estimate {
  const n = num.length;
  if (den.length !== n) throw new ShapeError(`numerator has ${n} entries but denominator ${den.length}`);
  if (n < 1) throw new InvalidArgumentError('a ratio of means needs at least one row');
  let a = 0, b = 0;
  for (let i = 0; i < n; i++) {
    a += num[i]!;
    b += den[i]!;
  }
  a /= n;
  b /= n;
  if (!(b > 0)) throw new InvalidArgumentError(`the denominator of the ratio is ${b}; the reference outputs have no variance`);
  const r = a / b;
  if (n === 1) return { value: r, se: null };
  let va = 0, vb = 0, cab = 0;
  for (let i = 0; i < n; i++) {
    va += (num[i]! - a) ** 2;
    vb += (den[i]! - b) ** 2;
    cab += (num[i]! - a) * (den[i]! - b);
  }
  const s2 = (va - 2 * r * cab + r * r * vb) / (n - 1) / n;
  return { value: r, se: Math.sqrt(Math.max(0, s2)) / b };
}

/**
 * Fraction of variance of `netOutputs` left unexplained by `approxOutputs`, in the `variant` of
 * {@link FvuVariant} (default `standard`), with a delta-method standard error over rows. Sample means in
 * the denominators do not add first-order terms (a variance is stationary in its mean), so both variants reduce to
 * a ratio of per-row means.
 *
 * @param netOutputs f [n, o]
 * @param approxOutputs f̂ [n, o]
 * @throws ShapeError if the shapes differ; InvalidArgumentError for fewer than 2 rows or network outputs without
 *   variance; NonFiniteError for NaN/infinite entries
 */
export function fvu(netOutputs: Matrix, approxOutputs: Matrix, variant: FvuVariant = 'standard'): Estimate {
  checkSameShape(netOutputs, approxOutputs, 'netOutputs', 'approxOutputs');
  checkLogits(netOutputs, 'netOutputs');
  checkLogits(approxOutputs, 'approxOutputs');
  const { rows: n, cols: o } = netOutputs;
  if (n < 2) throw new InvalidArgumentError(`FVU needs at least 2 rows, got ${n}`);
  const f = netOutputs.data;
  const g = approxOutputs.data;
  if (variant === 'standard') {
    const err = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let e = 0;
      for (let c = 0; c < o; c++) e += (f[i * o + c]! - g[i * o + c]!) ** 2;
      err[i] = e;
    }
    const mean = new Float64Array(o);
    for (let i = 0; i < n; i++) for (let c = 0; c < o; c++) mean[c]! += f[i * o + c]! / n;
    let total = 0;
    for (let i = 0; i < n; i++) for (let c = 0; c < o; c++) total += (f[i * o + c]! - mean[c]!) ** 2;
    if (!(total > 0)) throw new InvalidArgumentError('netOutputs have zero variance in every output; the FVU is undefined');
    const r = ratioFvu(err, f, n, o);
    return { value: r.fvu, se: r.se };
  }
  if (variant !== 'pooled') throw new InvalidArgumentError(`variant must be "standard" or "pooled", got "${String(variant)}"`);
  const N = n * o;
  let md = 0, mp = 0;
  for (let k = 0; k < N; k++) {
    md += f[k]! - g[k]!;
    mp += f[k]!;
  }
  md /= N;
  mp /= N;
  const num = new Float64Array(n);
  const den = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let a = 0, b = 0;
    for (let c = 0; c < o; c++) {
      const k = i * o + c;
      a += (f[k]! - g[k]! - md) ** 2;
      b += (f[k]! - mp) ** 2;
    }
    num[i] = a;
    den[i] = b;
  }
  return ratioOfMeans(num, den);
}
