/**
 * Logit decomposition (method.md §2.12, exploratory): for one input x, the approximant's output per class split
 * into its constant α_c, linear xᵀβ_c and quadratic xᵀΓ_c x parts (they sum to `predict(x)`), next to the
 * network's own logits.
 */
import { ShapeError } from '../errors.js';
import { Matrix, assertFinite } from '../linalg/matrix.js';
import type { PolynomialApproximant } from '../approx/result.js';
import { barChart } from '../figures/charts.js';

/** Per-class parts of one input's logits. */
export interface LogitDecomposition {
  constant: Float64Array;
  linear: Float64Array;
  /** Zeros for a degree-1 approximant. */
  quadratic: Float64Array;
  /** constant + linear + quadratic: the approximant's logits. */
  approximant: Float64Array;
  /** The network's logits, when given. */
  network: Float64Array | null;
}

/**
 * Splits the approximant's logits at x into constant, linear and quadratic parts.
 *
 * @param x one input [d]
 * @param networkLogits the network's logits at x [o] (optional; shown alongside)
 * @throws ShapeError for a wrong-length x or network logits; NonFiniteError for NaN/infinite entries
 */
export function decomposeLogits(approx: PolynomialApproximant, x: ArrayLike<number>, networkLogits?: ArrayLike<number>): LogitDecomposition {
  if (x.length !== approx.inputDim) throw new ShapeError(`x has ${x.length} entries but the approximant takes ${approx.inputDim}`);
  assertFinite(x, 'x');
  const o = approx.outputDim;
  let network: Float64Array | null = null;
  if (networkLogits !== undefined) {
    if (networkLogits.length !== o) throw new ShapeError(`networkLogits has ${networkLogits.length} entries but the approximant has ${o} outputs`);
    assertFinite(networkLogits, 'networkLogits');
    network = Float64Array.from(networkLogits);
  }
  const parts = approx.split(new Matrix(1, x.length, Float64Array.from(x)));
  const constant = parts.constant.data.slice();
  const linear = parts.linear.data.slice();
  const quadratic = parts.quadratic.data.slice();
  const total = new Float64Array(o);
  for (let c = 0; c < o; c++) total[c] = constant[c]! + linear[c]! + quadratic[c]!;
  return { constant, linear, quadratic, approximant: total, network };
}

/** Grouped bars per class: the three parts, the approximant's sum and (if known) the network's logit. */
export function logitDecompositionChart(dec: LogitDecomposition, opts: { title?: string; classNames?: readonly string[] } = {}): Promise<string> {
  const o = dec.constant.length;
  const categories = opts.classNames ? [...opts.classNames] : Array.from({ length: o }, (_, c) => String(c));
  const groups = [
    { name: 'constant α', values: dec.constant },
    { name: 'linear xᵀβ', values: dec.linear },
    { name: 'quadratic xᵀΓx', values: dec.quadratic },
    { name: 'approximant (sum)', values: dec.approximant },
    ...(dec.network ? [{ name: 'network', values: dec.network }] : []),
  ];
  return barChart({
    title: opts.title ?? 'Logit decomposition of one input',
    x: { label: 'class' },
    y: { label: 'logit' },
    categories,
    groups,
  });
}

/** A plain-JSON view of a decomposition. */
export function logitDecompositionToJson(dec: LogitDecomposition): Record<string, number[] | null> {
  return {
    constant: Array.from(dec.constant),
    linear: Array.from(dec.linear),
    quadratic: Array.from(dec.quadratic),
    approximant: Array.from(dec.approximant),
    network: dec.network ? Array.from(dec.network) : null,
  };
}
