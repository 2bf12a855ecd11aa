/**
 * Charts as SVG strings, drawn by vega-lite 6.4 (compiled to a vega 6.4 dataflow and rendered headless with
 * `View.toSVG()`, no canvas needed).
 *
 * Every chart has a title, labelled axes and a fixed total size (default 640×400 px including title, axes and
 * legend: vega's `autosize: fit` shrinks the plot area instead of growing the figure), so callers and tests can
 * rely on the root `width`/`height`. Series colours are the Okabe–Ito palette (distinguishable with the common
 * colour-vision deficiencies); a series may additionally be dashed.
 *
 * On a logarithmic axis, points with a non-positive coordinate cannot be placed and are left out; every other
 * non-finite coordinate is an error.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { InvalidArgumentError, NonFiniteError } from '../errors.js';

/** Okabe & Ito's colour-blind-safe qualitative palette (black moved last). */
export const SERIES_COLORS: readonly string[] = Object.freeze([
  '#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000',
]);

/** Default total chart size in pixels. */
export const DEFAULT_CHART_WIDTH = 640;
export const DEFAULT_CHART_HEIGHT = 400;

/** An axis: its label, and whether it is logarithmic. */
export interface ChartAxis {
  label: string;
  /** Logarithmic (base 10) scale. Default false. */
  log?: boolean;
  /** Fixed [min, max]; default: fitted to the data. */
  domain?: readonly [number, number];
  /** Integer ticks only (e.g. ranks). Default false. */
  integer?: boolean;
}

/** Fixed total size of a chart in pixels. */
export interface ChartSize {
  width?: number;
  height?: number;
}

/** One line: a name for the legend and its (x, y) points, drawn in the given order. */
export interface LineSeries {
  name: string;
  points: readonly (readonly [number, number])[];
  /** Draw dashed. Default false. */
  dashed?: boolean;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions extends ChartSize {
  title: string;
  x: ChartAxis;
  y: ChartAxis;
  series: readonly LineSeries[];
  /** A vertical rule at `x` labelled `label` (e.g. a checkpoint singled out in the text). */
  marker?: { x: number; label: string };
  /** Horizontal reference rules, e.g. FVU = 1. */
  referenceLines?: readonly { y: number; label: string }[];
}

/** Options of {@link barChart}: grouped bars, one group per category and one bar per group member. */
export interface BarChartOptions extends ChartSize {
  title: string;
  x: { label: string };
  y: { label: string };
  /** The categories along x, in order (e.g. the classes "0" … "9"). */
  categories: readonly string[];
  /** The bars of every category: `values[i]` belongs to `categories[i]`. */
  groups: readonly { name: string; values: ArrayLike<number> }[];
}

/** Options of {@link spectrumChart}. */
export interface SpectrumChartOptions extends ChartSize {
  title: string;
  /** Eigenvalue sets, e.g. Γ_c for several checkpoints. */
  series: readonly { name: string; values: ArrayLike<number> }[];
  /** y-axis label (default "eigenvalue"). */
  yLabel?: string;
  /**
   * Plot |λ| sorted by magnitude on a log axis instead of λ sorted in decreasing order on a linear one.
   * Default false.
   */
  logMagnitude?: boolean;
  /** Plot only the first `maxRank` ranks. Default all. */
  maxRank?: number;
}

function checkSize(opts: ChartSize): { width: number; height: number } {
  const width = opts.width ?? DEFAULT_CHART_WIDTH;
  const height = opts.height ?? DEFAULT_CHART_HEIGHT;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 120 || v > 8000) throw new InvalidArgumentError(`${name} must be an integer in [120, 8000], got ${v}`);
  }
  return { width, height };
}

function checkText(text: unknown, what: string): string {
  if (typeof text !== 'string' || text.trim() === '') throw new InvalidArgumentError(`${what} must be a non-empty string`);
  return text;
}

function checkDomain(axis: ChartAxis, what: string): void {
  if (axis.domain === undefined) return;
  const [lo, hi] = axis.domain;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) throw new InvalidArgumentError(`${what}.domain must be finite with min < max, got [${lo}, ${hi}]`);
  if (axis.log && lo <= 0) throw new InvalidArgumentError(`${what}.domain must be positive on a log axis, got [${lo}, ${hi}]`);
}

function axisOf(axis: ChartAxis): Record<string, unknown> {
  return axis.integer ? { tickMinStep: 1, format: 'd' } : {};
}

function scaleOf(axis: ChartAxis, tight: boolean): Record<string, unknown> {
  const scale: Record<string, unknown> = axis.log ? { type: 'log' } : { zero: false };
  // Decade rounding would stretch a step axis 1…9370 to 1…10⁴ and waste width; values on y keep nice bounds.
  if (tight) scale.nice = false;
  if (axis.domain !== undefined) {
    scale.domain = [...axis.domain];
    scale.clamp = true;
  }
  return scale;
}

/** The common frame: size, padding, fonts, legend placement. */
function frame(title: string, size: { width: number; height: number }): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, fontSize: 14 },
    width: size.width,
    height: size.height,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 8,
    background: 'white',
    config: {
      font: 'sans-serif',
      legend: { labelLimit: 260, titleLimit: 260, orient: 'bottom', direction: 'horizontal', columns: 2, columnPadding: 24, symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 300 },
      axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#e6e6e6' },
    },
  };
}

/**
 * Compiles a vega-lite specification and renders it to an SVG string headless.
 * @throws InvalidArgumentError if vega-lite rejects the specification
 */
export async function renderVegaLite(spec: Record<string, unknown>): Promise<string> {
  let compiled: vega.Spec;
  try {
    compiled = vl.compile(spec as unknown as TopLevelSpec).spec;
  } catch (e) {
    throw new InvalidArgumentError(`invalid chart specification: ${(e as Error).message}`);
  }
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * A line chart (with point markers) of several series, e.g. a training curve over log-scaled steps.
 *
 * @returns an SVG document of exactly `width`×`height` pixels (default 640×400)
 * @throws InvalidArgumentError for an empty title/label, no series, duplicate series names, a bad size or
 *   domain; NonFiniteError for NaN/infinite coordinates
 */
export async function lineChart(opts: LineChartOptions): Promise<string> {
  const size = checkSize(opts);
  checkText(opts.title, 'title');
  checkText(opts.x.label, 'x.label');
  checkText(opts.y.label, 'y.label');
  checkDomain(opts.x, 'x');
  checkDomain(opts.y, 'y');
  if (opts.series.length === 0) throw new InvalidArgumentError('series must contain at least one series');
  const names = opts.series.map((s, i) => checkText(s.name, `series[${i}].name`));
  if (new Set(names).size !== names.length) throw new InvalidArgumentError(`series names must be unique, got ${names.join(', ')}`);
  const rows: { x: number; y: number; series: string; order: number }[] = [];
  opts.series.forEach((s, k) => {
    s.points.forEach(([x, y], i) => {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        throw new NonFiniteError(`series "${s.name}" has a non-finite point (${x}, ${y}) at index ${i}`);
      }
      if ((opts.x.log && x <= 0) || (opts.y.log && y <= 0)) return;
      rows.push({ x, y, series: s.name, order: k * 1e6 + i });
    });
  });
  const colorRange = names.map((_, k) => SERIES_COLORS[k % SERIES_COLORS.length]!);
  const dashRange = opts.series.map((s) => (s.dashed ? [6, 4] : [1, 0]));
  const layers: Record<string, unknown>[] = [
    {
      data: { values: rows },
      mark: { type: 'line', point: { size: 28, filled: true }, strokeWidth: 2, clip: true },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: opts.x.label, scale: scaleOf(opts.x, true), axis: axisOf(opts.x) },
        y: { field: 'y', type: 'quantitative', title: opts.y.label, scale: scaleOf(opts.y, false), axis: axisOf(opts.y) },
        color: { field: 'series', type: 'nominal', title: null, scale: { domain: names, range: colorRange } },
        strokeDash: { field: 'series', type: 'nominal', title: null, scale: { domain: names, range: dashRange } },
        order: { field: 'order', type: 'quantitative' },
      },
    },
  ];
  for (const ref of opts.referenceLines ?? []) {
    if (!Number.isFinite(ref.y)) throw new NonFiniteError(`reference line "${ref.label}" is at a non-finite y (${ref.y})`);
    if (opts.y.log && ref.y <= 0) continue;
    const values = [{ y: ref.y, label: ref.label }];
    layers.push(
      { data: { values }, mark: { type: 'rule', color: '#b2182b', strokeDash: [3, 3] }, encoding: { y: { field: 'y', type: 'quantitative' } } },
      {
        data: { values },
        mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -2, color: '#b2182b', fontSize: 10 },
        encoding: { y: { field: 'y', type: 'quantitative' }, x: { value: { expr: 'width' } }, text: { field: 'label' } },
      },
    );
  }
  if (opts.marker !== undefined) {
    const { x, label } = opts.marker;
    if (!Number.isFinite(x)) throw new NonFiniteError(`marker is at a non-finite x (${x})`);
    checkText(label, 'marker.label');
    if (!(opts.x.log && x <= 0)) {
      const values = [{ x, label }];
      layers.push(
        { data: { values }, mark: { type: 'rule', color: '#555555', strokeDash: [4, 4] }, encoding: { x: { field: 'x', type: 'quantitative' } } },
        {
          data: { values },
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 2, color: '#333333', fontSize: 11 },
          encoding: { x: { field: 'x', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
        },
      );
    }
  }
  return renderVegaLite({ ...frame(opts.title, size), layer: layers });
}

/**
 * Grouped bars: for each category along x, one bar per group (e.g. per class: the constant, linear and quadratic
 * parts of an approximant's logit next to the network's logit).
 *
 * @returns an SVG document of exactly `width`×`height` pixels (default 640×400)
 * @throws InvalidArgumentError for empty labels/categories/groups, duplicate names or a group whose length
 *   differs from the categories; NonFiniteError for NaN/infinite values
 */
export async function barChart(opts: BarChartOptions): Promise<string> {
  const size = checkSize(opts);
  checkText(opts.title, 'title');
  checkText(opts.x.label, 'x.label');
  checkText(opts.y.label, 'y.label');
  if (opts.categories.length === 0) throw new InvalidArgumentError('categories must not be empty');
  if (opts.groups.length === 0) throw new InvalidArgumentError('groups must contain at least one group');
  const cats = opts.categories.map((c, i) => checkText(c, `categories[${i}]`));
  if (new Set(cats).size !== cats.length) throw new InvalidArgumentError('categories must be unique');
  const names = opts.groups.map((g, i) => checkText(g.name, `groups[${i}].name`));
  if (new Set(names).size !== names.length) throw new InvalidArgumentError(`group names must be unique, got ${names.join(', ')}`);
  const rows: { category: string; group: string; value: number }[] = [];
  opts.groups.forEach((g) => {
    if (g.values.length !== cats.length) {
      throw new InvalidArgumentError(`group "${g.name}" has ${g.values.length} values for ${cats.length} categories`);
    }
    for (let i = 0; i < cats.length; i++) {
      const v = g.values[i]!;
      if (!Number.isFinite(v)) throw new NonFiniteError(`group "${g.name}" has a non-finite value (${v}) for category "${cats[i]}"`);
      rows.push({ category: cats[i]!, group: g.name, value: v });
    }
  });
  const colorRange = names.map((_, k) => SERIES_COLORS[k % SERIES_COLORS.length]!);
  const spec = {
    ...frame(opts.title, size),
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'category', type: 'nominal', title: opts.x.label, sort: cats, axis: { labelAngle: 0 } },
      xOffset: { field: 'group', type: 'nominal', sort: names },
      y: { field: 'value', type: 'quantitative', title: opts.y.label },
      color: { field: 'group', type: 'nominal', title: null, scale: { domain: names, range: colorRange }, legend: { symbolType: 'square' } },
    },
  };
  return renderVegaLite(spec);
}

/**
 * Eigenvalue spectra: eigenvalue against rank (1 = largest), one line per set; with `logMagnitude`, |λ| sorted
 * by magnitude on a log axis (zeros left out).
 *
 * @returns an SVG document of exactly `width`×`height` pixels (default 640×400)
 * @throws as {@link lineChart}; InvalidArgumentError for a bad maxRank
 */
export async function spectrumChart(opts: SpectrumChartOptions): Promise<string> {
  if (opts.maxRank !== undefined && (!Number.isInteger(opts.maxRank) || opts.maxRank < 1)) {
    throw new InvalidArgumentError(`maxRank must be a positive integer, got ${opts.maxRank}`);
  }
  const series: LineSeries[] = opts.series.map((s) => {
    const vals = Array.from(s.values, (v, i) => {
      if (!Number.isFinite(v)) throw new NonFiniteError(`spectrum "${s.name}" has a non-finite eigenvalue (${v}) at index ${i}`);
      return opts.logMagnitude ? Math.abs(v) : v;
    }).sort((a, b) => b - a);
    const kept = opts.maxRank === undefined ? vals : vals.slice(0, opts.maxRank);
    return { name: s.name, points: kept.map((v, i) => [i + 1, v] as const) };
  });
  const label = opts.yLabel ?? (opts.logMagnitude ? '|eigenvalue|' : 'eigenvalue');
  return lineChart({
    title: opts.title,
    x: { label: 'rank', integer: true },
    y: { label, log: Boolean(opts.logMagnitude) },
    series,
    ...(opts.width === undefined ? {} : { width: opts.width }),
    ...(opts.height === undefined ? {} : { height: opts.height }),
    ...(opts.logMagnitude ? {} : { referenceLines: [{ y: 0, label: '0' }] }),
  });
}
