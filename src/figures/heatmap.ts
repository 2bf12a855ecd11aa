/**
 * Heatmaps of signed arrays (eigenvectors, β columns, Γ slices reshaped to images) in the PuOr diverging map of
 * `colormap.ts`, centred at 0 with a symmetric scale shared by all panels of a figure, so equal colours mean
 * equal values across panels.
 *
 * - {@link heatmapGrid}: an SVG figure with a title, a grid of labelled panels and a colour bar with tick values.
 *   Cells are SVG `<rect>`s (default) or, for large images, one embedded PNG per panel.
 * - {@link heatmapPng}: one raw image as PNG bytes (pngjs), each value a `pixelSize`×`pixelSize` block.
 *
 * Values are laid out row-major: value `r·width + c` is row r (top to bottom), column c (left to right).
 */
import { PNG } from 'pngjs';
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { PUOR_ANCHORS, checkScale, divergingColor, rgbToHex, sharedSymmetricScale } from './colormap.js';
import { escapeXml } from './render.js';

/** One panel: an image of `width`×`height` values (row-major) and its label. */
export interface HeatmapPanel {
  title: string;
  values: ArrayLike<number>;
  width: number;
  height: number;
}

/** Options of {@link heatmapGrid}. */
export interface HeatmapGridOptions {
  /** Figure title (optional). */
  title?: string;
  panels: readonly HeatmapPanel[];
  /** Panels per row. */
  columns: number;
  /**
   * Half-width of the shared symmetric colour scale [−scale, scale]; default the largest |value| over all panels
   * (1 if all are 0). Values beyond it are clipped to the end colours.
   */
  scale?: number;
  /** Draw the colour bar (the only supported choice: a heatmap without one cannot be read). */
  colorbar: true;
  /** Label of the colour bar (default "value"). */
  colorbarLabel?: string;
  /** Side of one cell in pixels (a positive integer); default ⌊168 / max(width, height)⌋, at least 1. */
  cellSize?: number;
  /** How cells are stored: one `<rect>` each, or one embedded PNG per panel. Default 'rects'. */
  cells?: 'rects' | 'png';
}

/** Fixed layout constants of {@link heatmapGrid} (pixels). */
export const HEATMAP_LAYOUT = Object.freeze({
  margin: 16,
  titleHeight: 28,
  panelTitleHeight: 18,
  gap: 12,
  /** Space between the panels and the colour bar. */
  colorbarGap: 20,
  colorbarWidth: 16,
  /** Room for tick labels and the rotated colour-bar label. */
  colorbarLabels: 64,
  fontFamily: 'sans-serif',
});

/** Geometry of a heatmap grid. */
export interface HeatmapGridGeometry {
  width: number;
  height: number;
  cellSize: number;
  rows: number;
  /** Width and height of a grid slot (the largest panel). */
  slotWidth: number;
  slotHeight: number;
  /** Top-left corner of panel i's image. */
  panelOrigin(i: number): { x: number; y: number };
  colorbar: { x: number; y: number; width: number; height: number };
}

function checkPanels(panels: readonly HeatmapPanel[]): void {
  if (panels.length === 0) throw new InvalidArgumentError('panels must contain at least one panel');
  panels.forEach((p, i) => {
    if (!Number.isInteger(p.width) || !Number.isInteger(p.height) || p.width < 1 || p.height < 1) {
      throw new InvalidArgumentError(`panels[${i}] width and height must be positive integers, got ${p.width}×${p.height}`);
    }
    if (p.values.length !== p.width * p.height) {
      throw new ShapeError(`panels[${i}] ("${p.title}") has ${p.values.length} values but ${p.width}×${p.height} = ${p.width * p.height} are needed`);
    }
    if (typeof p.title !== 'string') throw new InvalidArgumentError(`panels[${i}].title must be a string`);
  });
}

/**
 * The size and layout of {@link heatmapGrid}'s figure: margins, an optional title row, a grid of
 * `columns` × ⌈panels/columns⌉ slots (each a panel title row above the image) separated by `gap`, and the colour
 * bar to the right, as tall as the grid's images but between 60 and 320 px (the figure grows to hold it).
 */
export function heatmapGridGeometry(opts: Pick<HeatmapGridOptions, 'title' | 'panels' | 'columns' | 'cellSize'>): HeatmapGridGeometry {
  checkPanels(opts.panels);
  const n = opts.panels.length;
  if (!Number.isInteger(opts.columns) || opts.columns < 1) throw new InvalidArgumentError(`columns must be a positive integer, got ${opts.columns}`);
  const columns = Math.min(opts.columns, n);
  const rows = Math.ceil(n / columns);
  const maxW = Math.max(...opts.panels.map((p) => p.width));
  const maxH = Math.max(...opts.panels.map((p) => p.height));
  const cellSize = opts.cellSize ?? Math.max(1, Math.floor(168 / Math.max(maxW, maxH)));
  if (!Number.isInteger(cellSize) || cellSize < 1 || cellSize > 256) throw new InvalidArgumentError(`cellSize must be an integer in [1, 256], got ${cellSize}`);
  const L = HEATMAP_LAYOUT;
  const slotWidth = maxW * cellSize;
  const slotHeight = maxH * cellSize;
  const top = L.margin + (opts.title ? L.titleHeight : 0);
  const gridWidth = columns * slotWidth + (columns - 1) * L.gap;
  const gridHeight = rows * (L.panelTitleHeight + slotHeight) + (rows - 1) * L.gap;
  const barHeight = Math.max(60, Math.min(gridHeight - L.panelTitleHeight, 320));
  const width = L.margin + gridWidth + L.colorbarGap + L.colorbarWidth + L.colorbarLabels + L.margin;
  const height = top + Math.max(gridHeight, L.panelTitleHeight + barHeight) + L.margin;
  return {
    width,
    height,
    cellSize,
    rows,
    slotWidth,
    slotHeight,
    panelOrigin(i: number) {
      const r = Math.floor(i / columns);
      const c = i % columns;
      return { x: L.margin + c * (slotWidth + L.gap), y: top + r * (L.panelTitleHeight + slotHeight + L.gap) + L.panelTitleHeight };
    },
    colorbar: { x: L.margin + gridWidth + L.colorbarGap, y: top + L.panelTitleHeight, width: L.colorbarWidth, height: barHeight },
  };
}

/** A tick label with at most 3 significant digits and no trailing zeros. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const s = Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? Number(v.toPrecision(3)).toString() : v.toExponential(2).replace(/\.?0+e/, 'e');
  return s.replace('-', '−');
}

/**
 * A figure of heatmap panels sharing one symmetric diverging colour scale, with a colour bar.
 *
 * @returns an SVG document whose root `width`/`height` are those of {@link heatmapGridGeometry}
 * @throws InvalidArgumentError for no panels, bad columns/cellSize/scale, `colorbar` not true; ShapeError when a
 *   panel's values do not match its width×height; NonFiniteError for NaN/infinite values
 */
export function heatmapGrid(opts: HeatmapGridOptions): string {
  if (opts.colorbar !== true) throw new InvalidArgumentError('colorbar must be true: a heatmap needs its colour scale');
  const geo = heatmapGridGeometry(opts);
  const scale = opts.scale ?? sharedSymmetricScale(opts.panels.map((p) => p.values));
  checkScale(scale, 'scale');
  const cells = opts.cells ?? 'rects';
  if (cells !== 'rects' && cells !== 'png') throw new InvalidArgumentError(`cells must be "rects" or "png", got "${String(cells)}"`);
  const L = HEATMAP_LAYOUT;
  const cs = geo.cellSize;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" width="${geo.width}" height="${geo.height}" viewBox="0 0 ${geo.width} ${geo.height}" font-family="${L.fontFamily}">`,
    `<rect width="${geo.width}" height="${geo.height}" fill="white"/>`,
  );
  if (opts.title) {
    out.push(`<text class="title" x="${geo.width / 2}" y="${L.margin + 16}" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(opts.title)}</text>`);
  }
  opts.panels.forEach((p, i) => {
    const { x, y } = geo.panelOrigin(i);
    const pw = p.width * cs;
    const ph = p.height * cs;
    out.push(`<text class="panel-title" x="${x + pw / 2}" y="${y - 5}" text-anchor="middle" font-size="12">${escapeXml(p.title)}</text>`);
    out.push(`<g class="panel" data-index="${i}" transform="translate(${x},${y})" shape-rendering="crispEdges">`);
    if (cells === 'rects') {
      for (let r = 0; r < p.height; r++) {
        for (let c = 0; c < p.width; c++) {
          const v = p.values[r * p.width + c]!;
          if (!Number.isFinite(v)) throw new NonFiniteError(`panels[${i}] ("${p.title}") has a non-finite value (${v}) at row ${r}, column ${c}`);
          out.push(`<rect x="${c * cs}" y="${r * cs}" width="${cs}" height="${cs}" fill="${rgbToHex(divergingColor(v, scale))}"/>`);
        }
      }
    } else {
      const png = heatmapPng(p.values, p.width, p.height, { scale, pixelSize: cs });
      out.push(`<image x="0" y="0" width="${pw}" height="${ph}" style="image-rendering:pixelated" xlink:href="data:image/png;base64,${Buffer.from(png).toString('base64')}"/>`);
    }
    out.push(`<rect x="0" y="0" width="${pw}" height="${ph}" fill="none" stroke="#888888" stroke-width="1"/>`, '</g>');
  });
  out.push(colorbarSvg(geo.colorbar, scale, opts.colorbarLabel ?? 'value'));
  out.push('</svg>');
  return out.join('\n');
}

/** The vertical colour bar: +scale at the top, −scale at the bottom, five ticks. */
function colorbarSvg(bar: { x: number; y: number; width: number; height: number }, scale: number, label: string): string {
  const { x, y, width, height } = bar;
  // The gradient's stops are the map's anchors, and SVG interpolates linearly in sRGB like divergingColor does.
  const stops = PUOR_ANCHORS.map((c, k) => `<stop offset="${(1 - k / 10).toFixed(2)}" stop-color="${c}"/>`).reverse().join('');
  const parts = [
    `<g class="colorbar">`,
    `<defs><linearGradient id="puor-colorbar" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`,
    `<rect x="${x}" y="${y}" width="${width}" height="${height}" fill="url(#puor-colorbar)" stroke="#888888" stroke-width="1"/>`,
  ];
  for (const t of [1, 0.5, 0, -0.5, -1]) {
    const ty = y + ((1 - t) / 2) * height;
    parts.push(
      `<line x1="${x + width}" y1="${ty}" x2="${x + width + 4}" y2="${ty}" stroke="#333333" stroke-width="1"/>`,
      `<text class="tick" x="${x + width + 6}" y="${ty + 4}" font-size="10">${escapeXml(formatTick(t * scale))}</text>`,
    );
  }
  const lx = x + width + HEATMAP_LAYOUT.colorbarLabels - 6;
  const ly = y + height / 2;
  parts.push(`<text class="colorbar-label" x="${lx}" y="${ly}" text-anchor="middle" font-size="11" transform="rotate(-90 ${lx} ${ly})">${escapeXml(label)}</text>`, '</g>');
  return parts.join('\n');
}

/** Options of {@link heatmapPng}. */
export interface HeatmapPngOptions {
  /** Half-width of the symmetric scale; default the largest |value| (1 if all are 0). */
  scale?: number;
  /** Each value becomes a pixelSize×pixelSize block (a positive integer, default 1). */
  pixelSize?: number;
}

/**
 * One heatmap as PNG bytes (8-bit RGBA, opaque), `width·pixelSize` × `height·pixelSize` pixels.
 *
 * @throws ShapeError if `values.length ≠ width·height`; InvalidArgumentError for bad sizes or scale;
 *   NonFiniteError for NaN/infinite values
 */
export function heatmapPng(values: ArrayLike<number>, width: number, height: number, opts: HeatmapPngOptions = {}): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InvalidArgumentError(`width and height must be positive integers, got ${width}×${height}`);
  }
  if (values.length !== width * height) throw new ShapeError(`values has ${values.length} entries but ${width}×${height} = ${width * height} are needed`);
  const px = opts.pixelSize ?? 1;
  if (!Number.isInteger(px) || px < 1 || px > 256) throw new InvalidArgumentError(`pixelSize must be an integer in [1, 256], got ${px}`);
  const scale = opts.scale ?? sharedSymmetricScale([values]);
  checkScale(scale, 'scale');
  const W = width * px;
  const H = height * px;
  const png = new PNG({ width: W, height: H });
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const v = values[r * width + c]!;
      if (!Number.isFinite(v)) throw new NonFiniteError(`values has a non-finite entry (${v}) at row ${r}, column ${c}`);
      const [R, G, B] = divergingColor(v, scale);
      for (let dy = 0; dy < px; dy++) {
        let off = ((r * px + dy) * W + c * px) * 4;
        for (let dx = 0; dx < px; dx++) {
          png.data[off] = R;
          png.data[off + 1] = G;
          png.data[off + 2] = B;
          png.data[off + 3] = 255;
          off += 4;
        }
      }
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}
