/**
 * Small hand-written SVG charts of the viewer page (training curves, eigenvalue spectrum, logit bars), built as
 * strings by pure functions so that Node tests can check their geometry. Colours are given by the caller; text
 * is escaped; no `style` attributes are emitted (the page's Content-Security-Policy forbids inline styles), only
 * presentation attributes and CSS classes.
 */
import { formatNumber, MINUS } from './format.js';

/** Okabe & Ito's colour-blind-safe qualitative palette (Color Universal Design). */
export const OKABE_ITO = Object.freeze({
  black: '#000000', orange: '#E69F00', skyBlue: '#56B4E9', bluishGreen: '#009E73',
  yellow: '#F0E442', blue: '#0072B2', vermillion: '#D55E00', reddishPurple: '#CC79A7', grey: '#999999',
});

/** Escapes text for use in SVG/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Rounds to 12 significant digits, so tick values print without binary noise (0.30000000000000004 → 0.3). */
function clean(v: number): number {
  return v === 0 ? 0 : Number(v.toPrecision(12));
}

/**
 * About `count` round tick values (1, 2 or 5 × 10^k apart) covering [lo, hi].
 * @returns ascending ticks inside [lo, hi]
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [clean(lo)];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  const step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let i = first; i * step <= hi + step * 1e-9; i++) ticks.push(clean(i * step));
  return ticks;
}

/** The powers of ten inside [lo, hi] (lo > 0). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.ceil(Math.log10(lo) - 1e-9); e <= Math.floor(Math.log10(hi) + 1e-9); e++) out.push(10 ** e);
  return out;
}

/** A tick label: plain for 0.01 ≤ |v| < 10⁴ (and 0), `1e5`-style otherwise. */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  let s: string;
  if (v === 0) s = '0';
  else if (a >= 0.01 && a < 1e4) s = String(clean(a));
  else {
    const e = Math.floor(Math.log10(a) + 1e-12);
    const m = clean(a / 10 ** e);
    s = m === 1 ? `1e${e}` : `${m}e${e}`;
  }
  return v < 0 ? `${MINUS}${s}` : s;
}

/** A map from data to pixels along one axis. */
export interface Scale {
  (v: number): number;
  domain: [number, number];
  log: boolean;
}

/**
 * A linear or base-10 logarithmic scale from [d0, d1] to [r0, r1]. A degenerate domain maps everything to the
 * middle of the range.
 */
export function makeScale(d0: number, d1: number, r0: number, r1: number, log: boolean): Scale {
  const t = (v: number): number => (log ? Math.log10(v) : v);
  const a = t(d0);
  const b = t(d1);
  const f = ((v: number) => (b === a ? (r0 + r1) / 2 : r0 + ((t(v) - a) / (b - a)) * (r1 - r0))) as Scale;
  f.domain = [d0, d1];
  f.log = log;
  return f;
}

function fmt(v: number): string {
  return v.toFixed(1);
}

/** One line of {@link lineChartSvg}. */
export interface LineChartSeries {
  name: string;
  points: readonly (readonly [number, number])[];
  color: string;
  dashed: boolean;
}

/** Options of {@link lineChartSvg}. */
export interface LineChartOptions {
  /** Prefix of element ids (unique on the page). */
  id: string;
  title: string;
  width: number;
  height: number;
  xLabel: string;
  yLabel: string;
  logX: boolean;
  logY: boolean;
  /** Fixed y domain (e.g. [0, 1] for accuracy); default the data's extent (powers of ten on a log axis). */
  yDomain?: [number, number];
  series: readonly LineChartSeries[];
  /** A vertical rule at x (the current checkpoint), with a dot on every series that has a point there. */
  marker: { x: number; label: string } | null;
}

/** Chart margins: room for tick labels on the left and below, the title above. */
export const CHART_MARGIN = Object.freeze({ left: 50, right: 12, top: 24, bottom: 36 });

function usable(v: number, log: boolean): boolean {
  return Number.isFinite(v) && (!log || v > 0);
}

/** The x and y scales {@link lineChartSvg} uses (exported for tests of the marker position). */
export function lineChartScales(opts: LineChartOptions): { x: Scale; y: Scale } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of opts.series) for (const [x, y] of s.points) {
    if (usable(x, opts.logX)) xs.push(x);
    if (usable(y, opts.logY)) ys.push(y);
  }
  if (opts.marker !== null && usable(opts.marker.x, opts.logX)) xs.push(opts.marker.x);
  let x0 = xs.length ? Math.min(...xs) : 1;
  let x1 = xs.length ? Math.max(...xs) : 10;
  if (x0 === x1) {
    x0 = opts.logX ? x0 / 2 : x0 - 1;
    x1 = opts.logX ? x1 * 2 : x1 + 1;
  }
  let [y0, y1] = opts.yDomain ?? [ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1];
  if (opts.yDomain === undefined) {
    if (opts.logY) {
      if (!(y0 > 0)) y0 = 1e-3;
      if (!(y1 > 0)) y1 = 1;
      y0 = 10 ** Math.floor(Math.log10(y0) + 1e-12);
      y1 = 10 ** Math.ceil(Math.log10(y1) - 1e-12);
      if (y0 === y1) y1 = y0 * 10;
    } else if (y0 === y1) {
      y0 -= 1;
      y1 += 1;
    }
  }
  const m = CHART_MARGIN;
  return {
    x: makeScale(x0, x1, m.left, opts.width - m.right, opts.logX),
    y: makeScale(y0, y1, opts.height - m.bottom, m.top, opts.logY),
  };
}

function axisTicks(s: Scale): number[] {
  const [a, b] = s.domain;
  if (!s.log) return niceTicks(a, b, 4);
  const t = logTicks(a, b);
  // Too many decades crowd the axis: keep every other one.
  return t.length > 6 ? t.filter((_, i) => i % 2 === 0) : t;
}

/** The SVG frame: title, axes with ticks and grid lines, axis labels. */
function frame(id: string, title: string, width: number, height: number, x: Scale, y: Scale, xLabel: string, yLabel: string, xTicks: number[] | null): string[] {
  const m = CHART_MARGIN;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${id}-title" class="chart">`,
    `<title id="${id}-title">${escapeXml(title)}</title>`,
    `<text x="${m.left}" y="15" class="chart-title">${escapeXml(title)}</text>`,
  ];
  for (const t of axisTicks(y)) {
    const py = fmt(y(t));
    parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${py}" y2="${py}" class="grid"/>`);
    parts.push(`<text x="${m.left - 5}" y="${py}" class="tick" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`);
  }
  for (const t of xTicks ?? axisTicks(x)) {
    const px = fmt(x(t));
    parts.push(`<line x1="${px}" x2="${px}" y1="${height - m.bottom}" y2="${height - m.bottom + 4}" class="axis"/>`);
    parts.push(`<text x="${px}" y="${height - m.bottom + 15}" class="tick" text-anchor="middle">${formatTick(t)}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${height - m.bottom}" y2="${height - m.bottom}" class="axis"/>`);
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${height - m.bottom}" class="axis"/>`);
  parts.push(`<text x="${fmt((m.left + width - m.right) / 2)}" y="${height - 4}" class="axis-label" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  parts.push(`<text transform="translate(12 ${fmt((m.top + height - m.bottom) / 2)}) rotate(-90)" class="axis-label" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  return parts;
}

/**
 * A line chart of several series with an optional vertical marker (the current checkpoint). Points that cannot
 * be drawn (non-finite, or ≤ 0 on a log axis) are left out and break the line.
 */
export function lineChartSvg(opts: LineChartOptions): string {
  const { x, y } = lineChartScales(opts);
  const parts = frame(opts.id, opts.title, opts.width, opts.height, x, y, opts.xLabel, opts.yLabel, null);
  const [y0, y1] = y.domain;
  const clampY = (v: number): number => Math.min(Math.max(v, Math.min(y0, y1)), Math.max(y0, y1));
  for (const s of opts.series) {
    let d = '';
    let pen = false;
    const dots: string[] = [];
    for (const [px, py] of s.points) {
      if (!usable(px, opts.logX) || !usable(py, opts.logY)) {
        pen = false;
        continue;
      }
      const X = fmt(x(px));
      const Y = fmt(y(clampY(py)));
      d += `${pen ? 'L' : 'M'}${X} ${Y}`;
      pen = true;
      dots.push(`<circle cx="${X}" cy="${Y}" r="2" fill="${s.color}"/>`);
    }
    if (d !== '') {
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''} class="series"><title>${escapeXml(s.name)}</title></path>`);
      parts.push(...dots);
    }
  }
  if (opts.marker !== null && usable(opts.marker.x, opts.logX)) {
    const X = fmt(x(opts.marker.x));
    const m = CHART_MARGIN;
    parts.push(`<line x1="${X}" x2="${X}" y1="${m.top}" y2="${opts.height - m.bottom}" class="marker" data-x="${opts.marker.x}"/>`);
    // In the title row, right-aligned: inside the plot it would cross the curves somewhere.
    parts.push(`<text x="${opts.width - m.right}" y="15" class="marker-label" text-anchor="end">${escapeXml(opts.marker.label)}</text>`);
    for (const s of opts.series) {
      const p = s.points.find(([px]) => px === opts.marker!.x);
      if (p !== undefined && usable(p[1], opts.logY)) {
        parts.push(`<circle cx="${X}" cy="${fmt(y(clampY(p[1])))}" r="4.5" fill="${s.color}" stroke="#ffffff" stroke-width="1.5" class="marker-dot"><title>${escapeXml(`${s.name}: ${formatNumber(p[1])}`)}</title></circle>`);
      }
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Options of {@link spectrumSvg}. */
export interface SpectrumOptions {
  id: string;
  title: string;
  width: number;
  height: number;
  /** Nonzero eigenvalues, descending. */
  values: readonly number[];
  /** How many at each end are drawn emphasised (the eigenvectors shown). */
  top: number;
  positiveColor: string;
  negativeColor: string;
}

/**
 * The eigenvalue spectrum as a stem plot over rank (1 = largest): stems from 0, positive values in one colour,
 * negative in the other, the `top` largest and `top` most negative marked with dots.
 */
export function spectrumSvg(opts: SpectrumOptions): string {
  const v = opts.values;
  const n = v.length;
  const lo = Math.min(0, ...v);
  const hi = Math.max(0, ...v);
  const pad = (hi - lo) * 0.05 || 1;
  const m = CHART_MARGIN;
  const x = makeScale(1, Math.max(2, n), m.left + 4, opts.width - m.right - 4, false);
  const y = makeScale(lo - (lo < 0 ? pad : 0), hi + (hi > 0 ? pad : 0), opts.height - m.bottom, m.top, false);
  // Inner ticks too close to the ends would overprint the labels 1 and n.
  const xTicks = n <= 1 ? [1] : [1, ...niceTicks(1, n, 4).filter((t) => t > 1 + 0.1 * n && t < 0.9 * n && Number.isInteger(t)), n];
  const parts = frame(opts.id, opts.title, opts.width, opts.height, x, y, 'rank (largest first)', 'eigenvalue λ', xTicks);
  const zero = fmt(y(0));
  parts.push(`<line x1="${m.left}" x2="${opts.width - m.right}" y1="${zero}" y2="${zero}" class="zero"/>`);
  const stemWidth = Math.max(0.6, Math.min(2, (opts.width - m.left - m.right) / Math.max(1, n) * 0.6));
  for (let i = 0; i < n; i++) {
    const val = v[i]!;
    const X = fmt(x(i + 1));
    const color = val >= 0 ? opts.positiveColor : opts.negativeColor;
    parts.push(`<line x1="${X}" x2="${X}" y1="${zero}" y2="${fmt(y(val))}" stroke="${color}" stroke-width="${stemWidth.toFixed(2)}"/>`);
  }
  for (let i = 0; i < n; i++) {
    const val = v[i]!;
    const emphasised = (val > 0 && i < opts.top) || (val < 0 && i >= n - opts.top);
    if (!emphasised) continue;
    const color = val >= 0 ? opts.positiveColor : opts.negativeColor;
    parts.push(`<circle cx="${fmt(x(i + 1))}" cy="${fmt(y(val))}" r="3.5" fill="${color}" stroke="#ffffff" stroke-width="1" class="top-eig"><title>λ = ${escapeXml(formatNumber(val))}</title></circle>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

/** One group of bars of {@link groupedBarsSvg} (one bar per category). */
export interface BarGroup {
  name: string;
  values: readonly number[];
  color: string;
}

/** Options of {@link groupedBarsSvg}. */
export interface GroupedBarsOptions {
  id: string;
  title: string;
  width: number;
  height: number;
  categories: readonly string[];
  /** A category drawn emphasised (e.g. the digit's true class), or −1. */
  highlight: number;
  groups: readonly BarGroup[];
  yLabel: string;
}

/** Grouped bars per category (e.g. per class: constant, linear, quadratic, sum, network), from a zero line. */
export function groupedBarsSvg(opts: GroupedBarsOptions): string {
  const all = opts.groups.flatMap((g) => g.values.filter(Number.isFinite));
  const lo = Math.min(0, ...all);
  const hi = Math.max(0, ...all);
  const ticks = niceTicks(lo, hi, 5);
  const y0 = Math.min(lo, ticks[0] ?? lo);
  const y1 = Math.max(hi, ticks[ticks.length - 1] ?? hi);
  const m = CHART_MARGIN;
  const nc = opts.categories.length;
  const x = makeScale(0, nc, m.left, opts.width - m.right, false);
  const y = makeScale(y0, y1 === y0 ? y0 + 1 : y1, opts.height - m.bottom, m.top, false);
  const parts = frame(opts.id, opts.title, opts.width, opts.height, x, y, 'class', opts.yLabel, []);
  const slot = (opts.width - m.left - m.right) / Math.max(1, nc);
  const ng = opts.groups.length;
  const barW = (slot * 0.8) / Math.max(1, ng);
  const zero = y(0);
  for (let c = 0; c < nc; c++) {
    const left = x(c) + slot * 0.1;
    if (c === opts.highlight) {
      parts.push(`<rect x="${fmt(x(c))}" y="${m.top}" width="${fmt(slot)}" height="${fmt(opts.height - m.bottom - m.top)}" class="highlight"/>`);
    }
    opts.groups.forEach((g, k) => {
      const v = g.values[c]!;
      if (!Number.isFinite(v)) return;
      const top = Math.min(zero, y(v));
      const h = Math.abs(y(v) - zero);
      parts.push(`<rect x="${fmt(left + k * barW)}" y="${fmt(top)}" width="${fmt(Math.max(0.5, barW - 1))}" height="${fmt(Math.max(0.5, h))}" fill="${g.color}"><title>${escapeXml(`class ${opts.categories[c]}, ${g.name}: ${formatNumber(v)}`)}</title></rect>`);
    });
    parts.push(`<text x="${fmt(x(c) + slot / 2)}" y="${opts.height - m.bottom + 15}" class="tick${c === opts.highlight ? ' tick-strong' : ''}" text-anchor="middle">${escapeXml(opts.categories[c]!)}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${opts.width - m.right}" y1="${fmt(zero)}" y2="${fmt(zero)}" class="zero"/>`);
  parts.push('</svg>');
  return parts.join('');
}
