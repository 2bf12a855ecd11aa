/**
 * Test-only oracle, deliberately independent of src/numerics/quadrature: Gaussian expectations
 * E[f(u)], u = m + s·z, z ~ N(0, 1), as ∫ f(m + s z) φ(z) dz over z ∈ [−40, 40] (the mass outside is
 * < 1e-340) by tanh-sinh (double-exponential) quadrature on pieces. The pieces are cut at every integer
 * in [−12, 12], at the images of the activation's kinks and of u = 0, and graded geometrically around them (ratio 4, from 0.25/s or
 * 0.25/|z| up to 8) so that every piece is analytic with a margin comparable to its length: near a
 * transition g(m + s z) varies on the scale 1/s, beyond a kink in the tail φ varies on the scale 1/|z|.
 * Tanh-sinh tolerates the kinks at the piece ends. Also returns ∫|f|φ, the scale of rounding errors.
 */

const Z_MAX = 40;
const STEP = 1 / 16;
const T_MAX = 4; // beyond, the tanh-sinh weights are < 1e-35 of the piece length
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

interface Node {
  /** Offset of the node from the nearer end of [−1, 1], in (0, 1]: exact even where 1 − |x| underflows. */
  offset: number;
  sign: number;
  weight: number;
}

function tanhSinhNodes(): Node[] {
  const nodes: Node[] = [];
  const n = Math.round(T_MAX / STEP);
  for (let i = -n; i <= n; i++) {
    const t = i * STEP;
    const y = (Math.PI / 2) * Math.sinh(t);
    // x = tanh(y); distance to the nearer endpoint = 1 − |tanh y| = 2/(1 + e^{2|y|}).
    const offset = 2 / (1 + Math.exp(2 * Math.abs(y)));
    const c = Math.cosh(y);
    const weight = (STEP * (Math.PI / 2) * Math.cosh(t)) / (c * c);
    nodes.push({ offset, sign: t < 0 ? -1 : t > 0 ? 1 : 0, weight });
  }
  return nodes;
}

const NODES = tanhSinhNodes();

/** Cut points in z for an integrand with non-smooth or fast-varying points `specialU` (u units). */
export function oraclePieces(m: number, s: number, specialU: readonly number[]): number[] {
  // Unit pieces over |z| ≤ 12 keep each piece within a few oscillations of He_k(z)φ(z) for k ≤ 64.
  const pts = new Set<number>([-Z_MAX, -30, -20, -16, 16, 20, 30, Z_MAX]);
  for (let z = -12; z <= 12; z++) pts.add(z);
  for (const c of specialU) {
    const zc = (c - m) / s;
    if (!(zc > -Z_MAX && zc < Z_MAX)) continue;
    pts.add(zc);
    for (let w = Math.min(0.25 / s, 0.25 / Math.max(1, Math.abs(zc))); w < 8; w *= 4) {
      pts.add(zc - w);
      pts.add(zc + w);
    }
  }
  return [...pts].filter((p) => p >= -Z_MAX && p <= Z_MAX).sort((a, b) => a - b);
}

/**
 * E[f(u)] componentwise for u ~ N(m, s²), s > 0, and E[|f(u)|].
 * @param f writes the `dim` components of the integrand at u into `out`.
 */
export function oracleExpectation(
  f: (u: number, out: Float64Array) => void,
  dim: number,
  m: number,
  s: number,
  specialU: readonly number[],
): { value: Float64Array; scale: Float64Array } {
  const value = new Float64Array(dim);
  const scale = new Float64Array(dim);
  const buf = new Float64Array(dim);
  const pts = oraclePieces(m, s, specialU);
  for (let p = 0; p + 1 < pts.length; p++) {
    const a = pts[p]!;
    const b = pts[p + 1]!;
    const half = (b - a) / 2;
    for (const node of NODES) {
      const z = node.sign < 0 ? a + half * node.offset : node.sign > 0 ? b - half * node.offset : (a + b) / 2;
      const w = node.weight * half * INV_SQRT_2PI * Math.exp(-0.5 * z * z);
      if (w === 0) continue;
      buf.fill(0);
      f(m + s * z, buf);
      for (let c = 0; c < dim; c++) {
        value[c] += w * buf[c]!;
        scale[c] += w * Math.abs(buf[c]!);
      }
    }
  }
  return { value, scale };
}

/** He_k(z)/√(k!) for k = 0..K by the normalized recurrence (independent of src/numerics/hermite). */
export function orthonormalHermite(K: number, z: number, out: Float64Array, offset = 0): void {
  let prev = 0;
  let cur = 1;
  out[offset] = 1;
  for (let k = 0; k < K; k++) {
    const next = (z * cur - Math.sqrt(k) * prev) / Math.sqrt(k + 1);
    prev = cur;
    cur = next;
    out[offset + k + 1] = cur;
  }
}
