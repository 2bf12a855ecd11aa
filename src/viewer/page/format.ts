/**
 * Pure helpers of the viewer page: number formatting, the diverging colour map, image scales and the SVD-attack
 * projection. No DOM and no Node APIs, so the browser module and the Node tests use the very same code.
 */

/** U+2212, the typographic minus sign used for negative numbers on the page. */
export const MINUS = '\u2212';

/**
 * A number as shown on the page: 4 significant digits, fixed notation for 1e-3 ≤ |x| < 1e5, otherwise
 * scientific (`1.234e-5`); negative numbers with a real minus sign (U+2212); exact zero as `0`.
 */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return 'n/a';
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : `${MINUS}∞`;
  const a = Math.abs(x);
  const body = a >= 1e-3 && a < 1e5 ? a.toPrecision(4) : a.toExponential(3);
  return x < 0 ? `${MINUS}${body}` : body;
}

/** A proportion in [0, 1] as a percentage with two decimals and a no-break space, e.g. `97.85 %`. */
export function formatPercent(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  return `${(100 * p).toFixed(2)}\u00a0%`;
}

/**
 * The number written by {@link formatNumber} or {@link formatPercent} (a percentage is returned as a proportion),
 * or NaN when the text holds none.
 */
export function parseDisplayedNumber(text: string): number {
  const t = text.replace(/\u2212/g, '-').trim();
  const m = /(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(%?)/i.exec(t);
  if (m === null) return NaN;
  const v = Number(m[1]);
  return m[2] === '%' ? v / 100 : v;
}

/** An sRGB colour, channels integers in [0, 255]. */
export type Rgb = [number, number, number];

/** Parses `#rrggbb`; throws an Error naming the text otherwise. */
export function hexToRgb(hex: string): Rgb {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (m === null) throw new Error(`colour "${hex}" is not of the form #rrggbb`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}

/**
 * The colour of `value` on the symmetric scale [−scale, scale] of a diverging map given by an odd number of
 * anchors (the middle one is the colour of 0), interpolated linearly in sRGB between neighbouring anchors;
 * values beyond ±scale take the end colours. Non-finite values get the middle colour.
 *
 * @param anchors at least 3 colours, odd count
 * @param scale > 0
 */
export function divergingRgb(value: number, scale: number, anchors: readonly Rgb[]): Rgb {
  const n = anchors.length - 1;
  const t = Number.isFinite(value) ? Math.max(-1, Math.min(1, value / scale)) : 0;
  const u = ((t + 1) * n) / 2;
  const i = Math.min(n - 1, Math.floor(u));
  const f = u - i;
  const a = anchors[i]!;
  const b = anchors[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + f * (b[k]! - a[k]!))) as Rgb;
}

/**
 * RGBA pixels (for an `ImageData`) of a row-major image drawn with {@link divergingRgb}.
 *
 * @param values height × width values, row-major
 */
export function imagePixels(values: ArrayLike<number>, scale: number, anchors: readonly Rgb[]): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const [r, g, b] = divergingRgb(values[i]!, scale, anchors);
    out[4 * i] = r;
    out[4 * i + 1] = g;
    out[4 * i + 2] = b;
    out[4 * i + 3] = 255;
  }
  return out;
}

/** The largest |value| over all arrays, or 1 when all are zero (an all-zero image is then drawn neutral). */
export function symmetricScale(arrays: readonly ArrayLike<number>[]): number {
  let m = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]!);
    if (v > m && Number.isFinite(v)) m = v;
  }
  return m > 0 ? m : 1;
}

/**
 * P_k x = x − Σ_{i<k} (u_i · x) u_i: the input x with the first k attack directions removed.
 *
 * @param x one input [d]
 * @param directions float32 rows u_0, u_1, … (each of length d), at least k of them
 * @param k how many to remove
 */
export function projectOut(x: ArrayLike<number>, directions: ArrayLike<number>, d: number, k: number): Float64Array {
  const out = Float64Array.from(x);
  for (let i = 0; i < k; i++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += directions[i * d + j]! * x[j]!;
    for (let j = 0; j < d; j++) out[j] = out[j]! - dot * directions[i * d + j]!;
  }
  return out;
}

/** Index of the largest entry (the first one on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
