/**
 * Globally adaptive Gauss–Kronrod quadrature (G10–K21, QUADPACK's error estimate) on finite and infinite
 * ranges, and Gaussian expectations E[h(u)], u ~ N(m, s²), built on it.
 *
 * Algorithm: the range is cut at the breakpoints; every piece gets a 21-point Kronrod estimate with an error
 * estimate (QUADPACK qk21: |K21 − G10| rescaled by min(1, (200·|K21 − G10|/resasc)^1.5)); the interval with the
 * largest reducible error is bisected until the total error meets the tolerance. Infinite pieces [A, ∞) and
 * (−∞, B] are mapped to t ∈ [0, 1) by x = A + t/(1 − t) (resp. x = B − t/(1 − t)), dx = dt/(1 − t)².
 *
 * Rounding floor: an interval's error estimate is never below 50·ε·∫|f| over it (what summing 21 rounded
 * products can guarantee). When an integral cancels (value ≪ ∫|f|, e.g. an odd moment), the requested
 * tolerance may lie below this floor; the result is then accepted once all error above the floor is within
 * tolerance, and `error` reports the floor-inclusive estimate (so `error` can exceed the tolerance with
 * `converged` true — the answer is as accurate as double precision allows).
 */
import { ConvergenceError, InvalidArgumentError, NonFiniteError } from '../errors.js';

/** Options of the adaptive integrators. */
export interface QuadratureOptions {
  /** Absolute error tolerance (default 1e-13). */
  absTol?: number;
  /** Relative error tolerance, relative to |value| (default 1e-12). */
  relTol?: number;
  /** Maximum number of bisections (default 2000). */
  maxSubdivisions?: number;
  /** Points where the integrand is not smooth (kinks, jumps); the range is cut there. */
  breakpoints?: number[];
}

/** Result of a scalar adaptive integration. */
export interface QuadratureResult {
  value: number;
  /** Estimated absolute error (QUADPACK-style estimate, including the rounding floor). */
  error: number;
  /** Number of integrand evaluations. */
  evaluations: number;
  /** Whether max(absTol, relTol·|value|) was met (or only the rounding floor remains above it). */
  converged: boolean;
}

/** Result of a vector-valued adaptive integration (component-wise value and error). */
export interface QuadratureVecResult {
  value: Float64Array;
  error: Float64Array;
  evaluations: number;
  converged: boolean;
}

// Gauss–Kronrod 21-point rule on [−1, 1] (QUADPACK qk21, computed by L. W. Fullerton to 80 digits):
// XGK[0..9] positive abscissae in decreasing order, XGK[10] = 0; the G10 abscissae are XGK[1], XGK[3], …, XGK[9].
const XGK = [
  0.995657163025808080735527280689003, 0.973906528517171720077964012084452, 0.930157491355708226001207180059508,
  0.865063366688984510732096688423493, 0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
  0.562757134668604683339000099272694, 0.433395394129247190799265943165784, 0.294392862701460198131126603103866,
  0.14887433898163121088482600112972, 0,
];
const WGK = [
  0.011694638867371874278064396062192, 0.03255816230796472747881897245939, 0.05475589657435199603138130024458,
  0.07503967481091995276704314091619, 0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
  0.123491976262065851077958109831074, 0.134709217311473325928054001771707, 0.142775938577060080797094273138717,
  0.147739104901338491374841515972068, 0.149445554002916905664936468389821,
];
const WG = [
  0.066671344308688137593568809893332, 0.149451349150580593145776339657697, 0.219086362515982043995534934228163,
  0.269266719309996355091226921569469, 0.295524224714752870173892994651338,
];

/** The K21/G10 nodes and weights on [−1, 1] (all 21 nodes, ascending), for tests and other fixed-rule uses. */
export function kronrod21Rule(): { nodes: Float64Array; kronrodWeights: Float64Array; gaussWeights: Float64Array } {
  const nodes = new Float64Array(21);
  const kw = new Float64Array(21);
  const gw = new Float64Array(21);
  for (let j = 0; j < 10; j++) {
    nodes[j] = -XGK[j]!;
    nodes[20 - j] = XGK[j]!;
    kw[j] = kw[20 - j] = WGK[j]!;
    if (j % 2 === 1) gw[j] = gw[20 - j] = WG[(j - 1) / 2]!;
  }
  kw[10] = WGK[10]!;
  return { nodes, kronrodWeights: kw, gaussWeights: gw };
}

const EPS = Number.EPSILON;
const UFLOW = 2.2250738585072014e-308;

/** How a piece's parameter t maps to x. */
const enum MapKind {
  /** x = t on a finite piece. */
  Identity = 0,
  /** x = anchor + t/(1 − t), t ∈ [0, 1): the piece [anchor, ∞). */
  RightInfinite = 1,
  /** x = anchor − t/(1 − t), t ∈ [0, 1): the piece (−∞, anchor]. */
  LeftInfinite = 2,
}

interface Piece {
  kind: MapKind;
  anchor: number;
  t0: number;
  t1: number;
}

interface ResolvedOptions {
  absTol: number;
  relTol: number;
  maxSubdivisions: number;
}

function resolveOptions(opts: QuadratureOptions | undefined, fn: string): ResolvedOptions {
  const absTol = opts?.absTol ?? 1e-13;
  const relTol = opts?.relTol ?? 1e-12;
  const maxSubdivisions = opts?.maxSubdivisions ?? 2000;
  if (!(absTol >= 0) || !Number.isFinite(absTol)) {
    throw new InvalidArgumentError(`${fn}: opts.absTol must be a finite number ≥ 0, got ${absTol}`);
  }
  if (!(relTol >= 0) || !Number.isFinite(relTol)) {
    throw new InvalidArgumentError(`${fn}: opts.relTol must be a finite number ≥ 0, got ${relTol}`);
  }
  if (!Number.isInteger(maxSubdivisions) || maxSubdivisions < 0) {
    throw new InvalidArgumentError(`${fn}: opts.maxSubdivisions must be an integer ≥ 0, got ${maxSubdivisions}`);
  }
  if (opts?.breakpoints !== undefined) {
    for (const p of opts.breakpoints) {
      if (typeof p !== 'number' || Number.isNaN(p)) {
        throw new InvalidArgumentError(`${fn}: opts.breakpoints contains ${String(p)}, expected numbers`);
      }
    }
  }
  return { absTol, relTol, maxSubdivisions };
}

/** Cuts [lo, hi] (lo < hi, either may be infinite) at the finite breakpoints strictly inside it. */
function buildPieces(lo: number, hi: number, breakpoints: number[] | undefined): Piece[] {
  const cuts = (breakpoints ?? []).filter((p) => Number.isFinite(p) && p > lo && p < hi);
  if (lo === -Infinity && hi === Infinity && cuts.length === 0) cuts.push(0);
  cuts.sort((x, y) => x - y);
  const pts = [lo];
  for (const c of cuts) if (c !== pts[pts.length - 1]) pts.push(c);
  pts.push(hi);
  const pieces: Piece[] = [];
  for (let i = 0; i + 1 < pts.length; i++) {
    const a = pts[i]!;
    const b = pts[i + 1]!;
    if (a === -Infinity) pieces.push({ kind: MapKind.LeftInfinite, anchor: b, t0: 0, t1: 1 });
    else if (b === Infinity) pieces.push({ kind: MapKind.RightInfinite, anchor: a, t0: 0, t1: 1 });
    else pieces.push({ kind: MapKind.Identity, anchor: 0, t0: a, t1: b });
  }
  return pieces;
}

/** QUADPACK's error rescaling of |K − G| for one component. */
function rescaleError(diff: number, resabs: number, resasc: number): number {
  let err = Math.abs(diff);
  if (resasc !== 0 && err !== 0) err = resasc * Math.min(1, Math.pow((200 * err) / resasc, 1.5));
  return err;
}

function roundoffFloor(resabs: number): number {
  return resabs > UFLOW / (50 * EPS) ? 50 * EPS * resabs : 0;
}

/** Binary max-heap of interval ids keyed by an external Float64Array. */
class IntervalHeap {
  private readonly ids: Int32Array;
  private n = 0;
  constructor(
    capacity: number,
    private readonly key: Float64Array,
  ) {
    this.ids = new Int32Array(capacity);
  }
  get size(): number {
    return this.n;
  }
  push(id: number): void {
    const { ids, key } = this;
    let i = this.n++;
    const k = key[id]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (key[ids[parent]!]! >= k) break;
      ids[i] = ids[parent]!;
      i = parent;
    }
    ids[i] = id;
  }
  pop(): number {
    const { ids, key } = this;
    const top = ids[0]!;
    const last = ids[--this.n]!;
    const k = key[last]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.n) break;
      if (child + 1 < this.n && key[ids[child + 1]!]! > key[ids[child]!]!) child++;
      if (key[ids[child]!]! <= k) break;
      ids[i] = ids[child]!;
      i = child;
    }
    if (this.n > 0) ids[i] = last;
    return top;
  }
  /** Re-establishes the heap order after keys changed. */
  rebuild(): void {
    const members = Array.from(this.ids.subarray(0, this.n));
    this.n = 0;
    for (const id of members) this.push(id);
  }
}

function checkedValue(v: number, x: number, fn: string): number {
  if (!Number.isFinite(v)) throw new NonFiniteError(`${fn}: the integrand returned ${v} at x = ${x}`);
  return v;
}

/** Whether [t0, t1] can still be bisected into two intervals with distinct, interior Kronrod nodes. */
function splittable(t0: number, t1: number): boolean {
  const mid = 0.5 * (t0 + t1);
  return mid > t0 && mid < t1 && t1 - t0 > 1e3 * EPS * Math.max(Math.abs(t0), Math.abs(t1), UFLOW);
}

// ------------------------------------------------------------------------------------------------------------
// Scalar core
// ------------------------------------------------------------------------------------------------------------

interface ScalarCoreResult extends QuadratureResult {
  subdivisions: number;
}

function adaptiveScalar(f: (x: number) => number, pieces: Piece[], o: ResolvedOptions, fn: string): ScalarCoreResult {
  const capacity = pieces.length + 2 * o.maxSubdivisions;
  const kind = new Uint8Array(capacity);
  const anchor = new Float64Array(capacity);
  const t0s = new Float64Array(capacity);
  const t1s = new Float64Array(capacity);
  const res = new Float64Array(capacity);
  const err = new Float64Array(capacity);
  const floor = new Float64Array(capacity);
  const key = new Float64Array(capacity);
  const heap = new IntervalHeap(capacity, key);
  const fv = new Float64Array(21);
  let count = 0;
  let evaluations = 0;

  const evalAt = (k: MapKind, anc: number, t: number): number => {
    if (k === MapKind.Identity) return checkedValue(f(t), t, fn);
    const u = 1 - t;
    const x = k === MapKind.RightInfinite ? anc + t / u : anc - t / u;
    const v = checkedValue(f(x), x, fn);
    return v === 0 ? 0 : v / (u * u);
  };

  const evaluate = (id: number): void => {
    const k = kind[id] as MapKind;
    const anc = anchor[id]!;
    const a = t0s[id]!;
    const b = t1s[id]!;
    const c = 0.5 * (a + b);
    const h = 0.5 * (b - a);
    for (let j = 0; j < 10; j++) {
      const dx = h * XGK[j]!;
      fv[j] = evalAt(k, anc, c - dx);
      fv[20 - j] = evalAt(k, anc, c + dx);
    }
    fv[10] = evalAt(k, anc, c);
    evaluations += 21;
    let resk = WGK[10]! * fv[10]!;
    let resabs = Math.abs(resk);
    let resg = 0;
    for (let j = 0; j < 10; j++) {
      const pair = fv[j]! + fv[20 - j]!;
      resk += WGK[j]! * pair;
      resabs += WGK[j]! * (Math.abs(fv[j]!) + Math.abs(fv[20 - j]!));
      if (j % 2 === 1) resg += WG[(j - 1) >> 1]! * pair;
    }
    const mean = 0.5 * resk;
    let resasc = WGK[10]! * Math.abs(fv[10]! - mean);
    for (let j = 0; j < 10; j++) resasc += WGK[j]! * (Math.abs(fv[j]! - mean) + Math.abs(fv[20 - j]! - mean));
    const ah = Math.abs(h);
    resabs *= ah;
    resasc *= ah;
    const e0 = rescaleError((resk - resg) * h, resabs, resasc);
    const fl = roundoffFloor(resabs);
    res[id] = resk * h;
    err[id] = Math.max(e0, fl);
    floor[id] = fl;
    key[id] = err[id]! - fl;
  };

  const add = (k: MapKind, anc: number, a: number, b: number): number => {
    const id = count++;
    kind[id] = k;
    anchor[id] = anc;
    t0s[id] = a;
    t1s[id] = b;
    evaluate(id);
    return id;
  };

  for (const p of pieces) heap.push(add(p.kind, p.anchor, p.t0, p.t1));

  // Running sums are refreshed exactly from time to time so that add/subtract drift cannot fake convergence.
  const totals = (): [number, number, number] => {
    let v = 0;
    let comp = 0;
    let e = 0;
    let fsum = 0;
    for (let i = 0; i < count; i++) {
      if (t0s[i]! !== t0s[i]! /* retired */) continue;
      const r = res[i]!;
      const s = v + r;
      comp += Math.abs(v) >= Math.abs(r) ? v - s + r : r - s + v; // Neumaier
      v = s;
      e += err[i]!;
      fsum += floor[i]!;
    }
    return [v + comp, e, fsum];
  };

  let [value, errSum, floorSum] = totals();
  let subdivisions = 0;
  let converged = false;
  for (;;) {
    const tol = Math.max(o.absTol, o.relTol * Math.abs(value));
    if (errSum - floorSum <= tol) {
      [value, errSum, floorSum] = totals();
      if (errSum - floorSum <= Math.max(o.absTol, o.relTol * Math.abs(value))) {
        converged = true;
        break;
      }
    }
    if (subdivisions >= o.maxSubdivisions || heap.size === 0) break;
    const id = heap.pop();
    if (key[id]! <= 0) {
      heap.push(id);
      break;
    }
    const a = t0s[id]!;
    const b = t1s[id]!;
    if (!splittable(a, b)) continue; // at machine resolution: leave it out of the heap, its error stays counted
    const mid = 0.5 * (a + b);
    const k = kind[id] as MapKind;
    const anc = anchor[id]!;
    const left = add(k, anc, a, mid);
    const right = add(k, anc, mid, b);
    value += res[left]! + res[right]! - res[id]!;
    errSum += err[left]! + err[right]! - err[id]!;
    floorSum += floor[left]! + floor[right]! - floor[id]!;
    t0s[id] = NaN; // retired: replaced by its halves
    heap.push(left);
    heap.push(right);
    subdivisions++;
    if ((subdivisions & 63) === 0) [value, errSum, floorSum] = totals();
  }
  [value, errSum, floorSum] = totals();
  if (!converged) converged = errSum - floorSum <= Math.max(o.absTol, o.relTol * Math.abs(value));
  return { value, error: errSum, evaluations, converged, subdivisions };
}

// ------------------------------------------------------------------------------------------------------------
// Vector core
// ------------------------------------------------------------------------------------------------------------

function adaptiveVector(
  f: (x: number, out: Float64Array) => void,
  dim: number,
  pieces: Piece[],
  o: ResolvedOptions,
  fn: string,
): QuadratureVecResult {
  const capacity = pieces.length + 2 * o.maxSubdivisions;
  const kind = new Uint8Array(capacity);
  const anchor = new Float64Array(capacity);
  const t0s = new Float64Array(capacity);
  const t1s = new Float64Array(capacity);
  const res = new Float64Array(capacity * dim);
  const err = new Float64Array(capacity * dim);
  const floor = new Float64Array(capacity * dim);
  const key = new Float64Array(capacity);
  const heap = new IntervalHeap(capacity, key);
  const fv = new Float64Array(21 * dim);
  const buf = new Float64Array(dim);
  let count = 0;
  let evaluations = 0;

  const value = new Float64Array(dim);
  const errSum = new Float64Array(dim);
  const floorSum = new Float64Array(dim);
  const scale = new Float64Array(dim);

  const evalInto = (k: MapKind, anc: number, t: number, row: number): void => {
    let x = t;
    let jac = 1;
    if (k !== MapKind.Identity) {
      const u = 1 - t;
      x = k === MapKind.RightInfinite ? anc + t / u : anc - t / u;
      jac = 1 / (u * u);
    }
    buf.fill(0);
    f(x, buf);
    const off = row * dim;
    for (let c = 0; c < dim; c++) {
      const v = buf[c]!;
      if (!Number.isFinite(v)) throw new NonFiniteError(`${fn}: component ${c} of the integrand is ${v} at x = ${x}`);
      fv[off + c] = v === 0 ? 0 : v * jac;
    }
  };

  const computeKey = (id: number): void => {
    let worst = 0;
    for (let c = 0; c < dim; c++) {
      const excess = err[id * dim + c]! - floor[id * dim + c]!;
      if (excess <= 0) continue;
      const ratio = scale[c]! > 0 ? excess / scale[c]! : Infinity;
      if (ratio > worst) worst = ratio;
    }
    key[id] = worst;
  };

  const evaluate = (id: number): void => {
    const k = kind[id] as MapKind;
    const anc = anchor[id]!;
    const a = t0s[id]!;
    const b = t1s[id]!;
    const cen = 0.5 * (a + b);
    const h = 0.5 * (b - a);
    for (let j = 0; j < 10; j++) {
      const dx = h * XGK[j]!;
      evalInto(k, anc, cen - dx, j);
      evalInto(k, anc, cen + dx, 20 - j);
    }
    evalInto(k, anc, cen, 10);
    evaluations += 21;
    const ah = Math.abs(h);
    for (let c = 0; c < dim; c++) {
      const f10 = fv[10 * dim + c]!;
      let resk = WGK[10]! * f10;
      let resabs = Math.abs(resk);
      let resg = 0;
      for (let j = 0; j < 10; j++) {
        const lo = fv[j * dim + c]!;
        const hi = fv[(20 - j) * dim + c]!;
        resk += WGK[j]! * (lo + hi);
        resabs += WGK[j]! * (Math.abs(lo) + Math.abs(hi));
        if (j % 2 === 1) resg += WG[(j - 1) >> 1]! * (lo + hi);
      }
      const mean = 0.5 * resk;
      let resasc = WGK[10]! * Math.abs(f10 - mean);
      for (let j = 0; j < 10; j++) {
        resasc += WGK[j]! * (Math.abs(fv[j * dim + c]! - mean) + Math.abs(fv[(20 - j) * dim + c]! - mean));
      }
      resabs *= ah;
      resasc *= ah;
      const fl = roundoffFloor(resabs);
      res[id * dim + c] = resk * h;
      err[id * dim + c] = Math.max(rescaleError((resk - resg) * h, resabs, resasc), fl);
      floor[id * dim + c] = fl;
    }
  };

  const add = (k: MapKind, anc: number, a: number, b: number): number => {
    const id = count++;
    kind[id] = k;
    anchor[id] = anc;
    t0s[id] = a;
    t1s[id] = b;
    evaluate(id);
    return id;
  };

  const refreshTotals = (): void => {
    const comp = new Float64Array(dim);
    value.fill(0);
    errSum.fill(0);
    floorSum.fill(0);
    for (let i = 0; i < count; i++) {
      if (t0s[i]! !== t0s[i]!) continue; // retired
      for (let c = 0; c < dim; c++) {
        const r = res[i * dim + c]!;
        const v = value[c]!;
        const s = v + r;
        comp[c] = comp[c]! + (Math.abs(v) >= Math.abs(r) ? v - s + r : r - s + v);
        value[c] = s;
        errSum[c] = errSum[c]! + err[i * dim + c]!;
        floorSum[c] = floorSum[c]! + floor[i * dim + c]!;
      }
    }
    for (let c = 0; c < dim; c++) value[c] = value[c]! + comp[c]!;
    for (let c = 0; c < dim; c++) scale[c] = Math.max(o.absTol, o.relTol * Math.abs(value[c]!));
  };

  const allWithinTolerance = (): boolean => {
    for (let c = 0; c < dim; c++) if (errSum[c]! - floorSum[c]! > scale[c]!) return false;
    return true;
  };

  const ids: number[] = [];
  for (const p of pieces) ids.push(add(p.kind, p.anchor, p.t0, p.t1));
  refreshTotals();
  for (const id of ids) {
    computeKey(id);
    heap.push(id);
  }

  let subdivisions = 0;
  let converged = false;
  for (;;) {
    if (allWithinTolerance()) {
      refreshTotals();
      if (allWithinTolerance()) {
        converged = true;
        break;
      }
    }
    if (subdivisions >= o.maxSubdivisions || heap.size === 0) break;
    const id = heap.pop();
    if (key[id]! <= 0) {
      heap.push(id);
      break;
    }
    const a = t0s[id]!;
    const b = t1s[id]!;
    if (!splittable(a, b)) continue;
    const mid = 0.5 * (a + b);
    const k = kind[id] as MapKind;
    const anc = anchor[id]!;
    const left = add(k, anc, a, mid);
    const right = add(k, anc, mid, b);
    for (let c = 0; c < dim; c++) {
      value[c] = value[c]! + res[left * dim + c]! + res[right * dim + c]! - res[id * dim + c]!;
      errSum[c] = errSum[c]! + err[left * dim + c]! + err[right * dim + c]! - err[id * dim + c]!;
      floorSum[c] = floorSum[c]! + floor[left * dim + c]! + floor[right * dim + c]! - floor[id * dim + c]!;
      scale[c] = Math.max(o.absTol, o.relTol * Math.abs(value[c]!));
    }
    t0s[id] = NaN;
    computeKey(left);
    computeKey(right);
    heap.push(left);
    heap.push(right);
    subdivisions++;
    if ((subdivisions & 63) === 0) {
      // The keys are relative to the per-component tolerance, which moves with the running values.
      refreshTotals();
      for (let i = 0; i < count; i++) if (t0s[i]! === t0s[i]!) computeKey(i);
      heap.rebuild();
    }
  }
  refreshTotals();
  if (!converged) converged = allWithinTolerance();
  return { value: value.slice(), error: errSum.slice(), evaluations, converged };
}

// ------------------------------------------------------------------------------------------------------------
// Public integrators
// ------------------------------------------------------------------------------------------------------------

function checkLimits(a: number, b: number, fn: string): void {
  if (Number.isNaN(a)) throw new InvalidArgumentError(`${fn}: lower limit a is NaN`);
  if (Number.isNaN(b)) throw new InvalidArgumentError(`${fn}: upper limit b is NaN`);
}

/**
 * ∫_a^b f(x) dx by globally adaptive G10–K21 quadrature.
 * @param f the integrand; must return finite values on (a, b) (endpoints are never evaluated).
 * @param a lower limit, may be −Infinity.
 * @param b upper limit, may be +Infinity; a > b gives −∫_b^a.
 * @param opts tolerances (met when the estimated error ≤ max(absTol, relTol·|value|)), subdivision budget,
 *   breakpoints (points where f is not smooth; those outside (a, b) are ignored). A doubly infinite range
 *   without breakpoints is cut at 0.
 * @returns value, error estimate, evaluation count and whether the tolerance was met (does not throw on
 *   non-convergence; check `converged`).
 * @throws InvalidArgumentError for NaN limits or bad options; NonFiniteError if f returns NaN or ±Infinity.
 */
export function integrate(
  f: (x: number) => number,
  a: number,
  b: number,
  opts?: QuadratureOptions,
): QuadratureResult {
  checkLimits(a, b, 'integrate');
  const o = resolveOptions(opts, 'integrate');
  if (a === b) return { value: 0, error: 0, evaluations: 0, converged: true };
  const sign = a < b ? 1 : -1;
  const r = adaptiveScalar(f, buildPieces(Math.min(a, b), Math.max(a, b), opts?.breakpoints), o, 'integrate');
  return { value: sign * r.value, error: r.error, evaluations: r.evaluations, converged: r.converged };
}

/**
 * ∫_a^b f(x) dx for a vector-valued integrand whose components share the nodes (one call of f per node).
 * Tolerance is per component: component c is done when its estimated error ≤ max(absTol, relTol·|value_c|)
 * (so small components are not swamped by large ones); bisection always targets the interval with the worst
 * error relative to those tolerances.
 * @param f writes the integrand's `dim` components at x into `out` (zero-filled before each call).
 * @param dim number of components, an integer ≥ 1.
 * @throws InvalidArgumentError for bad dim, limits or options; NonFiniteError on a non-finite component.
 */
export function integrateVec(
  f: (x: number, out: Float64Array) => void,
  dim: number,
  a: number,
  b: number,
  opts?: QuadratureOptions,
): QuadratureVecResult {
  if (!Number.isInteger(dim) || dim < 1) throw new InvalidArgumentError(`integrateVec: dim must be an integer ≥ 1, got ${dim}`);
  checkLimits(a, b, 'integrateVec');
  const o = resolveOptions(opts, 'integrateVec');
  if (a === b) return { value: new Float64Array(dim), error: new Float64Array(dim), evaluations: 0, converged: true };
  const r = adaptiveVector(f, dim, buildPieces(Math.min(a, b), Math.max(a, b), opts?.breakpoints), o, 'integrateVec');
  if (a > b) for (let c = 0; c < dim; c++) r.value[c] = -r.value[c]!;
  return r;
}

// ------------------------------------------------------------------------------------------------------------
// Gaussian expectations
// ------------------------------------------------------------------------------------------------------------

const INV_SQRT_2PI = 0.3989422804014327;
/**
 * The z-range of Gaussian expectations. φ(z) underflows to exactly 0 for |z| > 38.6, so nothing representable
 * lies beyond ±40 for integrands of polynomial (indeed sub-exponential-in-z²) growth.
 */
const Z_MAX = 40;
/**
 * Fixed cuts of the z-range besides 0 and the kinks: they keep every initial interval short enough that a 21-point
 * rule cannot miss the bulk of the Gaussian mass or of |u|^p·φ tails (the mass always lies next to a cut).
 */
const Z_CUTS = [-Z_MAX, -16, -8, -4, 0, 4, 8, 16, Z_MAX];

function checkNormalParams(m: number, s: number, fn: string): void {
  if (!Number.isFinite(m)) throw new InvalidArgumentError(`${fn}: mean m must be finite, got ${m}`);
  if (!Number.isFinite(s)) throw new InvalidArgumentError(`${fn}: standard deviation s must be finite, got ${s}`);
  if (s < 0) throw new InvalidArgumentError(`${fn}: standard deviation s must be ≥ 0, got ${s}`);
}

/** The z-pieces for u = m + s·z: Z_CUTS plus the images of the u-breakpoints inside (−Z_MAX, Z_MAX). */
function gaussianPieces(m: number, s: number, breakpoints: number[] | undefined): Piece[] {
  const pts = Z_CUTS.slice();
  for (const bu of breakpoints ?? []) {
    const z = (bu - m) / s;
    if (Number.isFinite(z) && z > -Z_MAX && z < Z_MAX) pts.push(z);
  }
  pts.sort((x, y) => x - y);
  const pieces: Piece[] = [];
  for (let i = 0; i + 1 < pts.length; i++) {
    if (pts[i + 1]! > pts[i]!) pieces.push({ kind: MapKind.Identity, anchor: 0, t0: pts[i]!, t1: pts[i + 1]! });
  }
  return pieces;
}

function describe(m: number, s: number): string {
  return `m = ${m}, s = ${s}`;
}

/**
 * E[h(u)] for u ~ N(m, s²), with its error estimate, as ∫ h(m + s·z)·φ(z) dz over |z| ≤ 40 by adaptive
 * G10–K21. The z-range is cut at 0, ±4, ±8, ±16 and at the images (b − m)/s of the u-breakpoints; near-steps
 * (e.g. a sigmoid at s = 50, width 1/50 in z) are found by the adaptive bisection. h is never called where
 * φ(z) underflows to 0 (|z| > 38.6), so h must grow slower than e^{z²/2} (any polynomial growth is fine).
 * s = 0 returns h(m) exactly (error 0). Does not throw on non-convergence (check `converged`).
 * @param h the function of u; must return finite values.
 * @param m mean (finite).
 * @param s standard deviation (finite, ≥ 0).
 * @param opts tolerances on E[h] (absolute 1e-13 / relative 1e-12 by default), subdivision budget, and
 *   breakpoints in u-units (kinks of h, e.g. 0 for ReLU).
 * @throws InvalidArgumentError for bad m, s or options; NonFiniteError if h returns a non-finite value.
 */
export function expectNormalDetailed(
  h: (u: number) => number,
  m: number,
  s: number,
  opts?: QuadratureOptions,
): QuadratureResult {
  checkNormalParams(m, s, 'expectNormal');
  const o = resolveOptions(opts, 'expectNormal');
  if (s === 0) {
    const v = h(m);
    if (!Number.isFinite(v)) throw new NonFiniteError(`expectNormal: h returned ${v} at u = ${m}`);
    return { value: v, error: 0, evaluations: 1, converged: true };
  }
  const integrand = (z: number): number => {
    const w = INV_SQRT_2PI * Math.exp(-0.5 * z * z);
    if (w === 0) return 0;
    const u = m + s * z;
    const v = h(u);
    if (!Number.isFinite(v)) throw new NonFiniteError(`expectNormal: h returned ${v} at u = ${u} (${describe(m, s)})`);
    return v * w;
  };
  const r = adaptiveScalar(integrand, gaussianPieces(m, s, opts?.breakpoints), o, 'expectNormal');
  return { value: r.value, error: r.error, evaluations: r.evaluations, converged: r.converged };
}

/**
 * E[h(u)] for u ~ N(m, s²) to the requested accuracy; see {@link expectNormalDetailed} for the method.
 * @throws ConvergenceError (with the achieved error) if the tolerance is not met within opts.maxSubdivisions;
 *   InvalidArgumentError for bad m, s (s < 0, non-finite) or options; NonFiniteError if h returns a non-finite value.
 */
export function expectNormal(h: (u: number) => number, m: number, s: number, opts?: QuadratureOptions): number {
  const r = expectNormalDetailed(h, m, s, opts);
  if (!r.converged) {
    const o = resolveOptions(opts, 'expectNormal');
    throw new ConvergenceError(
      `expectNormal: requested accuracy max(absTol ${o.absTol}, relTol ${o.relTol}·|value|) not reached for ` +
        `${describe(m, s)}: value ${r.value}, estimated error ${r.error} after ${r.evaluations} evaluations ` +
        `(maxSubdivisions ${o.maxSubdivisions})`,
    );
  }
  return r.value;
}

/**
 * Component-wise E[h(u)] for a vector-valued h and u ~ N(m, s²), all components sharing the nodes; tolerance
 * per component as in {@link integrateVec}. s = 0 returns h(m).
 * @param h writes the `dim` components of h(u) into `out` (zero-filled before each call).
 * @param dim number of components, an integer ≥ 1.
 * @throws ConvergenceError if some component misses its tolerance; InvalidArgumentError for bad arguments;
 *   NonFiniteError for a non-finite component.
 */
export function expectNormalVec(
  h: (u: number, out: Float64Array) => void,
  dim: number,
  m: number,
  s: number,
  opts?: QuadratureOptions,
): Float64Array {
  if (!Number.isInteger(dim) || dim < 1) throw new InvalidArgumentError(`expectNormalVec: dim must be an integer ≥ 1, got ${dim}`);
  checkNormalParams(m, s, 'expectNormalVec');
  const o = resolveOptions(opts, 'expectNormalVec');
  const buf = new Float64Array(dim);
  if (s === 0) {
    h(m, buf);
    for (let c = 0; c < dim; c++) {
      if (!Number.isFinite(buf[c]!)) throw new NonFiniteError(`expectNormalVec: component ${c} of h is ${buf[c]} at u = ${m}`);
    }
    return buf;
  }
  const integrand = (z: number, out: Float64Array): void => {
    const w = INV_SQRT_2PI * Math.exp(-0.5 * z * z);
    if (w === 0) return; // out is already zero
    const u = m + s * z;
    h(u, out);
    for (let c = 0; c < dim; c++) {
      const v = out[c]!;
      if (!Number.isFinite(v)) {
        throw new NonFiniteError(`expectNormalVec: component ${c} of h is ${v} at u = ${u} (${describe(m, s)})`);
      }
      out[c] = v * w;
    }
  };
  const r = adaptiveVector(integrand, dim, gaussianPieces(m, s, opts?.breakpoints), o, 'expectNormalVec');
  if (!r.converged) {
    throw new ConvergenceError(
      `expectNormalVec: requested accuracy max(absTol ${o.absTol}, relTol ${o.relTol}·|value|) not reached for ` +
        `${describe(m, s)}: values [${Array.from(r.value).join(', ')}], estimated errors ` +
        `[${Array.from(r.error).join(', ')}] after ${r.evaluations} evaluations (maxSubdivisions ${o.maxSubdivisions})`,
    );
  }
  return r.value;
}
