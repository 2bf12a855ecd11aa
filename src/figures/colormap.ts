/**
 * The diverging colour map of every heatmap: ColorBrewer's 11-class **PuOr** (Cynthia Brewer, colorbrewer2.org;
 * listed there as colour-blind safe), centred at 0 on a symmetric scale [−s, s]:
 *
 *   −s → #7f3b08 (dark orange-brown) … 0 → #f7f7f7 (neutral light grey) … +s → #2d004b (dark purple)
 *
 * i.e. negative values are orange, positive values purple. Between the 11 anchors the map interpolates linearly
 * in sRGB, exactly as an SVG `linearGradient` with the same stops does, so the colour bar drawn as a gradient
 * matches the cells. Values beyond ±s are clipped to the end colours.
 */
import { InvalidArgumentError, NonFiniteError } from '../errors.js';

/** The 11 PuOr anchors from −s (index 0) through 0 (index 5) to +s (index 10). */
export const PUOR_ANCHORS: readonly string[] = Object.freeze([
  '#7f3b08', '#b35806', '#e08214', '#fdb863', '#fee0b6', '#f7f7f7', '#d8daeb', '#b2abd2', '#8073ac', '#542788', '#2d004b',
]);

/** The colour of 0. */
export const NEUTRAL_COLOR = PUOR_ANCHORS[5]!;

/** An sRGB colour, each channel an integer in [0, 255]. */
export type Rgb = readonly [number, number, number];

/** Parses `#rrggbb`. */
export function hexToRgb(hex: string): Rgb {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (m === null) throw new InvalidArgumentError(`colour "${hex}" is not of the form #rrggbb`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}

/** Formats an sRGB colour as lower-case `#rrggbb`. */
export function rgbToHex(c: Rgb): string {
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

const ANCHOR_RGB: readonly Rgb[] = PUOR_ANCHORS.map(hexToRgb);

/**
 * Checks a colour scale: a positive finite number.
 * @throws InvalidArgumentError naming `what` otherwise
 */
export function checkScale(scale: number, what = 'scale'): void {
  if (!Number.isFinite(scale) || scale <= 0) throw new InvalidArgumentError(`${what} must be a positive finite number, got ${scale}`);
}

/**
 * The PuOr colour of `value` on the symmetric scale [−scale, scale].
 *
 * @param value a finite number (clipped to ±scale)
 * @param scale the half-width of the scale, > 0
 * @throws NonFiniteError for a NaN or infinite value; InvalidArgumentError for a bad scale
 */
export function divergingColor(value: number, scale: number): Rgb {
  if (!Number.isFinite(value)) throw new NonFiniteError(`cannot colour the non-finite value ${value}`);
  checkScale(scale);
  const t = Math.max(-1, Math.min(1, value / scale));
  const u = (t + 1) * 5;
  const i = Math.min(9, Math.floor(u));
  const f = u - i;
  const a = ANCHOR_RGB[i]!;
  const b = ANCHOR_RGB[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + f * (b[k]! - a[k]!))) as unknown as Rgb;
}

/**
 * The symmetric scale shared by several arrays: the largest |value| over all of them, or 1 if every value is 0
 * (an all-zero image is then drawn in the neutral colour instead of failing).
 * @throws NonFiniteError if any value is NaN or infinite
 */
export function sharedSymmetricScale(arrays: readonly ArrayLike<number>[]): number {
  let m = 0;
  arrays.forEach((a, k) => {
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (!Number.isFinite(v)) throw new NonFiniteError(`array ${k} contains a non-finite value (${v}) at index ${i}`);
      m = Math.max(m, Math.abs(v));
    }
  });
  return m > 0 ? m : 1;
}
