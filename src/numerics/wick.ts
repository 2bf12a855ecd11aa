/**
 * Gaussian product moments: Isserlis' (Wick's) theorem for centred vectors and its noncentral extension.
 *
 * Both are evaluated by Gaussian integration by parts (Stein's identity) on the multiset of indices,
 *   E[Y_i·F(Y)] = μ_i·E[F(Y)] + Σ_j Cov(Y_i, Y_j)·E[∂_j F(Y)],
 * applied to F = the product of the remaining factors, memoised on the vector of remaining multiplicities.
 * For a centred vector this is the hafnian recursion Haf(T) = Σ_j R_{i j}·Haf(T ∖ {i, j}). The number of
 * states is at most Π_k (c_k + 1) for multiplicities c_k, instead of the (2k − 1)!! perfect matchings.
 */
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { Matrix, assertSquare } from '../linalg/matrix.js';

/**
 * All perfect matchings of a list: each is a list of pairs [a, b] covering every position exactly once, where a
 * is the earliest unmatched element. An empty list yields one empty matching; an odd-length list yields none.
 * There are (n − 1)!! matchings of n elements (n = 10: 945; n = 16: 2 027 025), so use this only for brute force.
 */
export function* pairPartitions(elements: number[]): Generator<[number, number][]> {
  if (elements.length === 0) {
    yield [];
    return;
  }
  if (elements.length % 2 === 1) return;
  const first = elements[0]!;
  for (let j = 1; j < elements.length; j++) {
    const rest = elements.filter((_, k) => k !== 0 && k !== j);
    for (const sub of pairPartitions(rest)) yield [[first, elements[j]!], ...sub];
  }
}

/** The distinct indices of a multiset with their multiplicities (in order of first appearance). */
interface Multiset {
  distinct: number[];
  counts: number[];
}

function toMultiset(indices: number[], fn: string, size?: number): Multiset {
  const pos = new Map<number, number>();
  const distinct: number[] = [];
  const counts: number[] = [];
  for (const t of indices) {
    if (!Number.isInteger(t)) throw new InvalidArgumentError(`${fn}: indices must be integers, got ${t}`);
    if (size !== undefined && (t < 0 || t >= size)) {
      throw new ShapeError(`${fn}: index ${t} is out of range for a ${size}×${size} covariance`);
    }
    const k = pos.get(t);
    if (k === undefined) {
      pos.set(t, distinct.length);
      distinct.push(t);
      counts.push(1);
    } else counts[k]!++;
  }
  return { distinct, counts };
}

/**
 * E[Π_k Y_k^{c_k}] for Y ~ N(mean, R) by the integration-by-parts recursion, memoised on multiplicity vectors.
 * `mean === null` means a centred vector (odd total degree ⇒ 0, which the recursion reaches by itself but is
 * short-circuited here). `r` is the k×k covariance of the distinct variables, row-major.
 */
function gaussianProductMoment(mean: Float64Array | null, r: Float64Array, counts: number[]): number {
  const k = counts.length;
  // Mixed-radix encoding of a multiplicity vector; falls back to strings when it would exceed 2^53.
  const radix: number[] = [];
  let span = 1;
  for (let i = 0; i < k; i++) {
    radix.push(span);
    span *= counts[i]! + 1;
  }
  const numericKeys = span <= Number.MAX_SAFE_INTEGER;
  const memo = new Map<number | string, number>();
  const c = counts.slice();

  const recurse = (total: number, code: number): number => {
    if (total === 0) return 1;
    if (mean === null && total % 2 === 1) return 0;
    const memoKey = numericKeys ? code : c.join(',');
    const hit = memo.get(memoKey);
    if (hit !== undefined) return hit;
    let i = 0;
    while (c[i] === 0) i++;
    // Take one factor Y_i out: E[Y_i·F] = μ_i E[F] + Σ_j R_ij·(remaining multiplicity of j)·E[F without one Y_j].
    c[i]!--;
    let acc = 0;
    const codeI = code - radix[i]!;
    if (mean !== null && mean[i] !== 0) acc += mean[i]! * recurse(total - 1, codeI);
    for (let j = i; j < k; j++) {
      const mult = c[j]!;
      if (mult === 0) continue;
      const rij = r[i * k + j]!;
      if (rij === 0) continue;
      c[j]!--;
      acc += mult * rij * recurse(total - 2, codeI - radix[j]!);
      c[j]!++;
    }
    c[i]!++;
    memo.set(memoKey, acc);
    return acc;
  };

  let total = 0;
  let code = 0;
  for (let i = 0; i < k; i++) {
    total += counts[i]!;
    code += counts[i]! * radix[i]!;
  }
  return recurse(total, code);
}

function covarianceBlock(
  cov: Matrix | ((i: number, j: number) => number),
  distinct: number[],
  fn: string,
): Float64Array {
  const k = distinct.length;
  const r = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      const i = distinct[a]!;
      const j = distinct[b]!;
      const v = typeof cov === 'function' ? cov(Math.min(i, j), Math.max(i, j)) : cov.get(i, j);
      if (!Number.isFinite(v)) throw new NonFiniteError(`${fn}: covariance entry (${i}, ${j}) is ${v}`);
      r[a * k + b] = v;
      r[b * k + a] = v;
    }
  }
  return r;
}

/**
 * Isserlis' theorem: E[Π_{t ∈ indices} ε_t] for a centred Gaussian vector ε with covariance `cov`, i.e. the
 * hafnian Σ_{perfect matchings π} Π_{(a,b) ∈ π} cov(a, b) of the index multiset. Indices may repeat
 * (E[ε_0⁴] = 3·cov(0,0)²). Empty list → 1, odd count → 0. Cost ≤ Π_k (c_k + 1)·(#distinct) for multiplicities
 * c_k (12 distinct indices: ≤ 4096 states; 16 copies of one index: 17 states).
 * @param cov a symmetric matrix (only its upper triangle at the used indices is read, entry (i, j) with i ≤ j
 *   taken as the value of the pair), or a function (i, j) ↦ Cov(ε_i, ε_j), called with i ≤ j.
 * @param indices integer indices (in range of the matrix).
 * @throws ShapeError for a non-square matrix or an out-of-range index; InvalidArgumentError for non-integer
 *   indices; NonFiniteError for a non-finite covariance entry that is used.
 */
export function isserlis(cov: Matrix | ((i: number, j: number) => number), indices: number[]): number {
  if (typeof cov !== 'function') assertSquare(cov, 'isserlis: cov');
  const { distinct, counts } = toMultiset(indices, 'isserlis', typeof cov === 'function' ? undefined : cov.rows);
  if (indices.length === 0) return 1;
  if (indices.length % 2 === 1) return 0;
  // Read the upper triangle so that a slightly asymmetric matrix is used consistently.
  const block = covarianceBlock(
    typeof cov === 'function' ? cov : (i: number, j: number): number => cov.get(i, j),
    distinct,
    'isserlis',
  );
  return gaussianProductMoment(null, block, counts);
}

/**
 * E[Π_{t ∈ indices} Y_t] for Y ~ N(mean, cov) (noncentral Isserlis):
 * Σ_{S ⊆ positions, |S| even} (Π_{t ∉ S} mean_t)·Haf(cov_S), evaluated by the same memoised recursion.
 * Empty list → 1; repeated indices allowed (E[Y_0²] = mean_0² + cov(0,0)).
 * @param mean the mean vector (length d).
 * @param cov the d×d covariance (upper triangle read, as in {@link isserlis}).
 * @param indices integer indices in [0, d).
 * @throws ShapeError for mismatched shapes or an out-of-range index; InvalidArgumentError for non-integer
 *   indices; NonFiniteError for a non-finite entry that is used.
 */
export function noncentralIsserlis(mean: Float64Array, cov: Matrix, indices: number[]): number {
  assertSquare(cov, 'noncentralIsserlis: cov');
  if (mean.length !== cov.rows) {
    throw new ShapeError(`noncentralIsserlis: mean has length ${mean.length} but cov is ${cov.rows}×${cov.cols}`);
  }
  const { distinct, counts } = toMultiset(indices, 'noncentralIsserlis', cov.rows);
  if (indices.length === 0) return 1;
  const block = covarianceBlock((i, j) => cov.get(i, j), distinct, 'noncentralIsserlis');
  const mu = new Float64Array(distinct.length);
  for (let a = 0; a < distinct.length; a++) {
    const v = mean[distinct[a]!]!;
    if (!Number.isFinite(v)) throw new NonFiniteError(`noncentralIsserlis: mean[${distinct[a]}] is ${v}`);
    mu[a] = v;
  }
  return gaussianProductMoment(mu, block, counts);
}
