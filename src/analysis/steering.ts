/**
 * Eigenvector steering (method.md §2.12, "eigenvector attack"; exploratory, not in the paper): push every input
 * along a direction built from the quadratic approximant's eigen-features and see whether the network follows.
 *
 * Construction: the top-k positive eigenvectors (oriented, positive mass dominant) of Γ_c for every class c are
 * stacked as the rows of E (C·k × d), class c's block at rows c·k … c·k + k − 1, and Pinv = pinv(E) (d × C·k).
 * Column c·k of Pinv is the minimum-norm x with E x = e_{c·k} (when E has full row rank): a unit projection on
 * class c's top eigenvector and none on any other selected eigenvector. The steering direction for class c is that
 * column normalised to unit length, u_c = p / ‖p‖, so E u_c = e_{c·k} / ‖p‖; the intervention at magnitude m adds
 * m·u_c to every input.
 *
 * Control: isotropic Gaussian noise of the same norm — for every input an independent N(0, I) draw rescaled to
 * norm exactly m (the same unit noise directions at every magnitude, so the curves differ by magnitude only) — and
 * no intervention. Reported per magnitude and condition: accuracy against the labels, the mean logit of the target
 * class, and the fraction of inputs classified as the target.
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import { Matrix, assertFinite } from '../linalg/matrix.js';
import { pinv } from '../linalg/ops.js';
import { Rng } from '../numerics/random.js';
import type { PolynomialApproximant } from '../approx/result.js';
import { lineChart } from '../figures/charts.js';
import { eigenFeatures, type EigenRoute, type Orientation } from './eigen.js';
import { accuracy, argmaxRows } from './metrics.js';

/** Result of {@link stackTopEigenvectors}. */
export interface StackedEigenvectors {
  /** [classes.length · k, d]: row c·k + j is the (j+1)-th top positive eigenvector of Γ_{classes[c]}. */
  E: Matrix;
  /** The eigenvalue of each row. */
  values: Float64Array;
  classes: number[];
  k: number;
}

/**
 * Stacks the top-k positive eigenvectors of Γ_c for each class c (default all outputs).
 *
 * @throws InvalidArgumentError if some Γ_c has fewer than k positive eigenvalues, for k < 1 or a bad class list
 */
export function stackTopEigenvectors(
  approx: PolynomialApproximant, k: number,
  opts: { classes?: readonly number[]; orientation?: Orientation; route?: EigenRoute } = {},
): StackedEigenvectors {
  if (!Number.isInteger(k) || k < 1) throw new InvalidArgumentError(`k must be a positive integer, got ${k}`);
  const classes = opts.classes === undefined ? Array.from({ length: approx.outputDim }, (_, c) => c) : [...opts.classes];
  if (classes.length === 0) throw new InvalidArgumentError('classes must not be empty');
  if (new Set(classes).size !== classes.length) throw new InvalidArgumentError(`classes must be distinct, got ${classes.join(', ')}`);
  const d = approx.inputDim;
  const E = new Matrix(classes.length * k, d);
  const values = new Float64Array(classes.length * k);
  classes.forEach((c, ci) => {
    const f = eigenFeatures(approx, { class: c }, { top: k, orientation: opts.orientation ?? 1, route: opts.route });
    if (f.positive.length < k) {
      throw new InvalidArgumentError(`Γ for class ${c} has only ${f.positive.length} positive eigenvalues; cannot take the top ${k}`);
    }
    f.positive.forEach((feat, j) => {
      E.data.set(feat.vector, (ci * k + j) * d);
      values[ci * k + j] = feat.value;
    });
  });
  return { E, values, classes, k };
}

/** Result of {@link steeringDirection}. */
export interface SteeringDirection {
  /** Unit vector u [d]. */
  unit: Float64Array;
  /** 1/‖Pinv[:, row]‖: E·u = gain · e_row (exactly, when E has full row rank). */
  gain: number;
  /** Which row of E it targets. */
  row: number;
}

/**
 * The unit steering direction u = p/‖p‖ for one row of E, with p = pinv(E)[:, row].
 *
 * @throws InvalidArgumentError for a row outside E or a zero column of the pseudo-inverse (a zero row of E)
 */
export function steeringDirection(E: Matrix, row: number): SteeringDirection {
  if (!Number.isInteger(row) || row < 0 || row >= E.rows) throw new InvalidArgumentError(`row must be an integer in [0, ${E.rows}), got ${row}`);
  const P = pinv(E);
  const d = E.cols;
  const m = E.rows;
  const u = new Float64Array(d);
  let norm2 = 0;
  for (let i = 0; i < d; i++) {
    const v = P.data[i * m + row]!;
    u[i] = v;
    norm2 += v * v;
  }
  const norm = Math.sqrt(norm2);
  if (!(norm > 0)) throw new InvalidArgumentError(`column ${row} of pinv(E) is zero: row ${row} of E is zero or dependent on the others`);
  for (let i = 0; i < d; i++) u[i] = u[i]! / norm;
  return { unit: u, gain: 1 / norm, row };
}

/** Scores of one condition at one magnitude. */
export interface SteeringScores {
  accuracy: number;
  /** Mean over inputs of the target class's logit. */
  meanTargetLogit: number;
  /** Fraction of inputs whose argmax is the target class. */
  targetRate: number;
}

/** One magnitude of {@link steeringExperiment}. */
export interface SteeringStep {
  magnitude: number;
  none: SteeringScores;
  steering: SteeringScores;
  noise: SteeringScores;
}

/** Inputs of {@link steeringExperiment}. */
export interface SteeringExperimentOptions {
  /** The model under test: inputs [n, d] → logits [n, o] (e.g. `X => forward(net, X)`). */
  logits: (X: Matrix) => Matrix;
  X: Matrix;
  labels: ArrayLike<number>;
  /** Unit steering direction [d]. */
  direction: Float64Array;
  targetClass: number;
  /** Non-negative magnitudes (norms of the added vectors). */
  magnitudes: readonly number[];
  /** Seed of the noise directions (default 0). */
  seed?: number;
  onStep?: (done: number, total: number) => void;
}

function scores(L: Matrix, labels: ArrayLike<number>, target: number): SteeringScores {
  if (target >= L.cols) throw new InvalidArgumentError(`target class ${target} is out of range [0, ${L.cols})`);
  const pred = argmaxRows(L);
  let logit = 0;
  let hits = 0;
  for (let i = 0; i < L.rows; i++) {
    logit += L.data[i * L.cols + target]!;
    if (pred[i] === target) hits++;
  }
  return { accuracy: accuracy(L, labels), meanTargetLogit: logit / L.rows, targetRate: hits / L.rows };
}

/** X + m·v for one vector v shared by all rows. */
function shifted(X: Matrix, v: Float64Array, m: number): Matrix {
  const out = X.clone();
  const d = X.cols;
  for (let i = 0; i < X.rows; i++) for (let j = 0; j < d; j++) out.data[i * d + j]! += m * v[j]!;
  return out;
}

/** X + m·N with N's rows unit vectors. */
function shiftedRows(X: Matrix, N: Matrix, m: number): Matrix {
  const out = X.clone();
  for (let i = 0; i < out.data.length; i++) out.data[i]! += m * N.data[i]!;
  return out;
}

/** n independent uniformly random unit vectors in R^d (normalised N(0, I) draws). */
export function randomUnitRows(n: number, d: number, seed: number): Matrix {
  const rng = new Rng(seed);
  const N = new Matrix(n, d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const z = rng.normal();
      N.data[i * d + j] = z;
      s += z * z;
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < d; j++) N.data[i * d + j]! *= inv;
  }
  return N;
}

/**
 * Adds the steering vector m·u, or isotropic noise of norm m, or nothing, to every input, for every magnitude m.
 *
 * @throws ShapeError for mismatched sizes; InvalidArgumentError for a direction that is not a unit vector,
 *   negative/non-finite magnitudes, an empty magnitude list or fewer than 1 input
 */
export function steeringExperiment(opts: SteeringExperimentOptions): SteeringStep[] {
  const { X, labels, direction, targetClass, magnitudes } = opts;
  const d = X.cols;
  if (X.rows < 1) throw new InvalidArgumentError('the experiment needs at least one input');
  if (labels.length !== X.rows) throw new ShapeError(`labels has ${labels.length} entries for ${X.rows} inputs`);
  if (direction.length !== d) throw new ShapeError(`direction has ${direction.length} components but inputs have ${d}`);
  assertFinite(direction, 'direction');
  let n2 = 0;
  for (let j = 0; j < d; j++) n2 += direction[j]! ** 2;
  if (Math.abs(Math.sqrt(n2) - 1) > 1e-9) throw new InvalidArgumentError(`direction must be a unit vector, its norm is ${Math.sqrt(n2)}`);
  if (magnitudes.length === 0) throw new InvalidArgumentError('magnitudes must not be empty');
  magnitudes.forEach((m, i) => {
    if (!Number.isFinite(m) || m < 0) throw new InvalidArgumentError(`magnitudes[${i}] must be a non-negative finite number, got ${m}`);
  });
  if (!Number.isInteger(targetClass) || targetClass < 0) throw new InvalidArgumentError(`targetClass must be a non-negative integer, got ${targetClass}`);
  const none = scores(opts.logits(X), labels, targetClass);
  const noiseRows = randomUnitRows(X.rows, d, opts.seed ?? 0);
  const steps: SteeringStep[] = [];
  magnitudes.forEach((m, i) => {
    steps.push({
      magnitude: m,
      none,
      steering: scores(opts.logits(shifted(X, direction, m)), labels, targetClass),
      noise: scores(opts.logits(shiftedRows(X, noiseRows, m)), labels, targetClass),
    });
    opts.onStep?.(i + 1, magnitudes.length);
  });
  return steps;
}

/**
 * A chart of one score against the magnitude for the three conditions.
 *
 * @param metric which score to plot
 */
export function steeringChart(steps: readonly SteeringStep[], metric: keyof SteeringScores, targetClass: number): Promise<string> {
  const label = { accuracy: 'accuracy', meanTargetLogit: `mean logit of class ${targetClass}`, targetRate: `fraction classified as ${targetClass}` }[metric];
  const line = (name: string, pick: (s: SteeringStep) => SteeringScores, dashed = false) => ({
    name, dashed, points: steps.map((s) => [s.magnitude, pick(s)[metric]] as const),
  });
  return lineChart({
    title: `Eigenvector steering towards class ${targetClass}: ${label}`,
    x: { label: 'norm of the added vector' },
    y: { label, ...(metric === 'meanTargetLogit' ? {} : { domain: [0, 1] as const }) },
    series: [
      line('eigenvector steering', (s) => s.steering),
      line('isotropic noise, same norm', (s) => s.noise),
      line('no intervention', (s) => s.none, true),
    ],
  });
}
