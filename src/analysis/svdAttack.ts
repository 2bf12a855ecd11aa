/**
 * The SVD attack (method.md §2.12, paper Figs. 4–5): how much of a network's decision rests on the few input
 * directions its linear approximant reads?
 *
 * With the thin SVD β = U S Vᵀ of the linear coefficients β [d, o] (by default from the N(0, I) approximant), the
 * left singular vectors u_1, …, u_rank (input space, descending singular value) are the only input directions the
 * linear approximant responds to. For k = 0 … k_max every input is replaced by
 *
 *     P_k x,   P_k = I − Σ_{i<k} u_i u_iᵀ       (no re-centering, as in the reference)
 *
 * and the network, the linear and the quadratic approximants are scored on the attacked inputs: accuracy against
 * the labels, KL(softmax network ‖ softmax approximant) and the FVU of the approximant's outputs relative to the
 * network's (the `standard` definition of `metrics.ts`). At k = rank, βᵀ P_k = 0: the linear approximant outputs
 * its constant α for every input (≈ chance accuracy), while the network and the quadratic approximant still see
 * the rest of the image.
 *
 * Which linear approximant: the library's default is the degree-1 least-squares fit. The reference scored the
 * quadratic fit with Γ dropped (`to_linear`, same β, intercept α − tr Γ under N(0, I)); callers pass whichever
 * approximant they want as `linear` (`PolynomialApproximant.toLinear()` gives the reference's).
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import { Matrix, assertFinite } from '../linalg/matrix.js';
import { matmul, svd } from '../linalg/ops.js';
import { forward, inputDim, outputDim, type Network } from '../approx/network.js';
import type { Approximant } from '../approx/result.js';
import { heatmapGrid, type HeatmapPanel } from '../figures/heatmap.js';
import { lineChart } from '../figures/charts.js';
import { accuracyEstimate, argmaxRows, fvu, klEstimate, type Estimate } from './metrics.js';

/** The input-space singular directions of β. */
export interface SingularDirections {
  /** [p, d]: row i is the unit left singular vector u_i of β (p = min(d, o)). */
  directions: Matrix;
  /** The p singular values, descending. */
  values: Float64Array;
  /** [p, o]: row i is the right singular vector v_i (output space). */
  outputDirections: Matrix;
  /** Numerical rank: the number of singular values > rcond · s_max. */
  rank: number;
}

/**
 * The thin SVD β = U S Vᵀ, with the left singular vectors stored as rows.
 *
 * @param beta β [d, o]
 * @param opts.rcond relative cutoff for the rank; default max(d, o)·ε
 * @throws NonFiniteError for NaN/infinite entries; InvalidArgumentError for a bad rcond
 */
export function singularDirections(beta: Matrix, opts: { rcond?: number } = {}): SingularDirections {
  assertFinite(beta.data, 'beta');
  const rcond = opts.rcond ?? Math.max(beta.rows, beta.cols) * Number.EPSILON;
  if (!Number.isFinite(rcond) || rcond < 0) throw new InvalidArgumentError(`rcond must be a non-negative finite number, got ${rcond}`);
  const { U, S, Vt } = svd(beta);
  let rank = 0;
  const cutoff = rcond * (S.length > 0 ? S[0]! : 0);
  while (rank < S.length && S[rank]! > cutoff) rank++;
  return { directions: U.transpose(), values: S, outputDirections: Vt, rank };
}

function checkK(directions: Matrix, k: number): void {
  if (!Number.isInteger(k) || k < 0 || k > directions.rows) {
    throw new InvalidArgumentError(`k must be an integer in [0, ${directions.rows}], got ${k}`);
  }
}

/**
 * The orthogonal projector P_k = I − Σ_{i<k} u_i u_iᵀ (d × d) removing the first k directions.
 *
 * @param directions [p, d], orthonormal rows u_i
 * @param k how many to remove, 0 ≤ k ≤ p
 */
export function removalProjector(directions: Matrix, k: number): Matrix {
  checkK(directions, k);
  const d = directions.cols;
  const P = Matrix.identity(d);
  if (k === 0) return P;
  const Uk = new Matrix(k, d, directions.data.slice(0, k * d));
  const UUt = matmul(Uk, Uk, { transA: true });
  for (let i = 0; i < d * d; i++) P.data[i] = P.data[i]! - UUt.data[i]!;
  return P;
}

/**
 * P_k x for every row x of X, computed as X − (X U_kᵀ) U_k without forming the d × d projector.
 *
 * @param X inputs [n, d]
 * @param directions [p, d], orthonormal rows u_i
 * @param k how many to remove, 0 ≤ k ≤ p
 * @throws ShapeError if X has another width than the directions
 */
export function projectOut(X: Matrix, directions: Matrix, k: number): Matrix {
  checkK(directions, k);
  if (X.cols !== directions.cols) throw new ShapeError(`inputs have ${X.cols} columns but the directions have dimension ${directions.cols}`);
  const out = X.clone();
  if (k === 0 || X.rows === 0) return out;
  const d = directions.cols;
  const Uk = new Matrix(k, d, directions.data.slice(0, k * d));
  const coords = matmul(X, Uk, { transB: true });
  const removed = matmul(coords, Uk);
  for (let i = 0; i < out.data.length; i++) out.data[i] = out.data[i]! - removed.data[i]!;
  return out;
}

/** Scores of one attack strength. */
export interface SvdAttackStep {
  /** Number of singular directions removed. */
  k: number;
  accuracy: { network: Estimate; linear: Estimate; quadratic: Estimate };
  /** Mean KL(softmax network ‖ softmax approximant), nats. */
  kl: { linear: Estimate; quadratic: Estimate };
  /** Standard FVU of the approximant's outputs relative to the network's. */
  fvu: { linear: Estimate; quadratic: Estimate };
}

/** Result of {@link svdAttack}. */
export interface SvdAttackResult {
  singular: SingularDirections;
  /** One entry per k = 0 … kMax. */
  steps: SvdAttackStep[];
  /** Number of attacked inputs. */
  samples: number;
}

/** Inputs of {@link svdAttack}. */
export interface SvdAttackOptions {
  net: Network;
  linear: Approximant;
  quadratic: Approximant;
  /** β [d, o] whose singular directions are removed (usually `linear.beta` of the N(0, I) fit). */
  beta: Matrix;
  /** Test inputs [n, d] (n ≥ 2). */
  X: Matrix;
  /** n labels. */
  labels: ArrayLike<number>;
  /** Largest k; default the rank of β. Must not exceed it. */
  kMax?: number;
  rcond?: number;
  /** Called after each k (for progress bars). */
  onStep?: (k: number, kMax: number) => void;
}

/**
 * Runs the attack for k = 0 … kMax (see the module documentation).
 *
 * @throws ShapeError when the network, approximants, β and inputs disagree on dimensions or the labels' count
 *   differs from n; InvalidArgumentError for kMax outside [0, rank] or fewer than 2 inputs
 */
export function svdAttack(opts: SvdAttackOptions): SvdAttackResult {
  const { net, linear, quadratic, beta, X, labels } = opts;
  const d = inputDim(net);
  const o = outputDim(net);
  for (const [what, a] of [['linear', linear], ['quadratic', quadratic]] as const) {
    if (a.inputDim !== d || a.outputDim !== o) {
      throw new ShapeError(`the ${what} approximant maps ${a.inputDim} → ${a.outputDim} but the network maps ${d} → ${o}`);
    }
  }
  if (beta.rows !== d) throw new ShapeError(`beta is ${beta.rows}×${beta.cols} but the network takes ${d} inputs`);
  if (X.cols !== d) throw new ShapeError(`inputs have ${X.cols} columns but the network takes ${d}`);
  if (X.rows < 2) throw new InvalidArgumentError(`the attack needs at least 2 inputs, got ${X.rows}`);
  if (labels.length !== X.rows) throw new ShapeError(`labels has ${labels.length} entries for ${X.rows} inputs`);
  const singular = singularDirections(beta, { rcond: opts.rcond });
  const kMax = opts.kMax ?? singular.rank;
  if (!Number.isInteger(kMax) || kMax < 0 || kMax > singular.rank) {
    throw new InvalidArgumentError(`kMax must be an integer in [0, ${singular.rank}] (the rank of beta), got ${kMax}`);
  }
  const steps: SvdAttackStep[] = [];
  for (let k = 0; k <= kMax; k++) {
    const Xk = projectOut(X, singular.directions, k);
    const fNet = forward(net, Xk);
    const fLin = linear.predict(Xk);
    const fQuad = quadratic.predict(Xk);
    steps.push({
      k,
      accuracy: { network: accuracyEstimate(fNet, labels), linear: accuracyEstimate(fLin, labels), quadratic: accuracyEstimate(fQuad, labels) },
      kl: { linear: klEstimate(fNet, fLin), quadratic: klEstimate(fNet, fQuad) },
      fvu: { linear: fvu(fNet, fLin), quadratic: fvu(fNet, fQuad) },
    });
    opts.onStep?.(k, kMax);
  }
  return { singular, steps, samples: X.rows };
}

/** A plain-JSON view of an attack result (no typed arrays). */
export function svdAttackToJson(result: SvdAttackResult): Record<string, unknown> {
  const est = (e: Estimate): { value: number; se: number | null } => ({ value: e.value, se: e.se });
  return {
    samples: result.samples,
    rank: result.singular.rank,
    singular_values: Array.from(result.singular.values),
    steps: result.steps.map((s) => ({
      k: s.k,
      accuracy: { network: est(s.accuracy.network), linear: est(s.accuracy.linear), quadratic: est(s.accuracy.quadratic) },
      kl: { linear: est(s.kl.linear), quadratic: est(s.kl.quadratic) },
      fvu: { linear: est(s.fvu.linear), quadratic: est(s.fvu.quadratic) },
    })),
  };
}

/** Accuracy of the network and both approximants against k (paper Fig. 5), with chance level 1/o as a rule. */
export function attackAccuracyChart(result: SvdAttackResult, classes: number): Promise<string> {
  const series = (name: string, pick: (s: SvdAttackStep) => Estimate, dashed = false) => ({
    name, dashed, points: result.steps.map((s) => [s.k, pick(s).value] as const),
  });
  return lineChart({
    title: `SVD attack: accuracy (n = ${result.samples})`,
    x: { label: 'k (singular directions removed)', integer: true },
    y: { label: 'accuracy', domain: [0, 1] },
    series: [
      series('network', (s) => s.accuracy.network),
      series('linear approximant', (s) => s.accuracy.linear),
      series('quadratic approximant', (s) => s.accuracy.quadratic, true),
    ],
    referenceLines: [{ y: 1 / classes, label: 'chance' }],
  });
}

/** KL(network ‖ approximant) and FVU of both approximants against k, on a log axis. */
export function attackAgreementChart(result: SvdAttackResult, metric: 'kl' | 'fvu'): Promise<string> {
  const label = metric === 'kl' ? 'KL(network ‖ approximant), nats' : 'FVU (standard)';
  return lineChart({
    title: `SVD attack: ${metric === 'kl' ? 'KL divergence' : 'FVU'} of the approximants`,
    x: { label: 'k (singular directions removed)', integer: true },
    y: { label, log: true },
    series: [
      { name: 'linear approximant', points: result.steps.map((s) => [s.k, s[metric].linear.value] as const) },
      { name: 'quadratic approximant', points: result.steps.map((s) => [s.k, s[metric].quadratic.value] as const), dashed: true },
    ],
    ...(metric === 'fvu' ? { referenceLines: [{ y: 1, label: 'FVU = 1' }] } : {}),
  });
}

function checkImageShape(shape: readonly [number, number], d: number): void {
  const [h, w] = shape;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1 || h * w !== d) {
    throw new ShapeError(`image shape ${h}×${w} does not match the input dimension ${d}`);
  }
}

/**
 * The singular vectors u_1 … u_count as images on one shared symmetric colour scale (paper Fig. 4, top), titled
 * with their singular values.
 */
export function singularVectorGrid(singular: SingularDirections, shape: readonly [number, number], opts: { count?: number; scale?: number } = {}): string {
  const d = singular.directions.cols;
  checkImageShape(shape, d);
  const count = opts.count ?? singular.rank;
  if (!Number.isInteger(count) || count < 1 || count > singular.directions.rows) {
    throw new InvalidArgumentError(`count must be an integer in [1, ${singular.directions.rows}], got ${count}`);
  }
  const panels: HeatmapPanel[] = [];
  for (let i = 0; i < count; i++) {
    panels.push({ title: `u${i + 1}, σ = ${singular.values[i]!.toPrecision(3)}`, values: singular.directions.row(i), width: shape[1], height: shape[0] });
  }
  return heatmapGrid({
    title: 'Left singular vectors of β (input directions the linear approximant reads)',
    panels, columns: 5, colorbar: true, colorbarLabel: 'component', cells: 'png',
    ...(opts.scale === undefined ? {} : { scale: opts.scale }),
  });
}

/** One input image per panel, with a caption; all panels share one symmetric colour scale. */
export interface AttackedImage {
  title: string;
  values: Float64Array;
}

/**
 * Attacked inputs: `x` with the first k directions removed for each k in `ks` (paper Fig. 4, bottom), each panel
 * captioned with k and the classes the network and the approximants predict.
 */
export function attackedImages(
  x: Float64Array, singular: SingularDirections, ks: readonly number[],
  models: { net: Network; linear: Approximant; quadratic: Approximant },
): AttackedImage[] {
  const d = singular.directions.cols;
  if (x.length !== d) throw new ShapeError(`the example has ${x.length} entries but the directions have dimension ${d}`);
  const X = new Matrix(1, d, Float64Array.from(x));
  return ks.map((k) => {
    const xk = projectOut(X, singular.directions, k);
    const [pn, pl, pq] = [forward(models.net, xk), models.linear.predict(xk), models.quadratic.predict(xk)].map((m) => argmaxRows(m)[0]!);
    return { title: `k=${k}: net ${pn}, lin ${pl}, quad ${pq}`, values: xk.data };
  });
}

/** A heatmap grid of {@link AttackedImage}s. */
export function attackedImageGrid(images: readonly AttackedImage[], shape: readonly [number, number], title: string, columns = 6): string {
  if (images.length === 0) throw new InvalidArgumentError('images must not be empty');
  for (const im of images) checkImageShape(shape, im.values.length);
  return heatmapGrid({
    title,
    panels: images.map((im) => ({ title: im.title, values: im.values, width: shape[1], height: shape[0] })),
    columns, colorbar: true, colorbarLabel: 'pixel value', cells: 'png',
  });
}
