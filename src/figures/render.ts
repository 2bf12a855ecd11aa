/**
 * From SVG strings to files: rasterising with resvg (`@resvg/resvg-js`, a Rust SVG renderer shipped as a prebuilt
 * binary) and writing figures as an .svg/.png pair.
 *
 * Text needs fonts: resvg does not ship any. The system fonts are loaded and the generic `sans-serif` family
 * (which the charts use) is mapped to DejaVu Sans (Debian's `fonts-dejavu-core`, installed by `.ci/run`); its
 * files are also passed explicitly when present, so rendering does not depend on fontconfig.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { InvalidArgumentError } from '../errors.js';
import { writeFileAtomic } from '../formats/atomic.js';

/** Where Debian installs DejaVu Sans. */
const DEJAVU_FILES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
];

/** Escapes text for use in XML character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Options of {@link svgToPng}. */
export interface PngOptions {
  /** Output width in pixels (height follows the aspect ratio). */
  width?: number;
  /** Zoom factor relative to the SVG's own size (default 1). Ignored when `width` is given. */
  scale?: number;
}

/**
 * Rasterises an SVG document to PNG bytes.
 *
 * @param svg a complete SVG document with width and height
 * @throws InvalidArgumentError for a bad width/scale or an SVG resvg cannot parse
 */
export function svgToPng(svg: string, opts: PngOptions = {}): Uint8Array {
  let fitTo: ResvgRenderOptions['fitTo'] = { mode: 'original' };
  if (opts.width !== undefined) {
    if (!Number.isInteger(opts.width) || opts.width < 1) throw new InvalidArgumentError(`width must be a positive integer, got ${opts.width}`);
    fitTo = { mode: 'width', value: opts.width };
  } else if (opts.scale !== undefined) {
    if (!Number.isFinite(opts.scale) || opts.scale <= 0) throw new InvalidArgumentError(`scale must be a positive number, got ${opts.scale}`);
    fitTo = { mode: 'zoom', value: opts.scale };
  }
  let resvg: Resvg;
  try {
    resvg = new Resvg(svg, {
      fitTo,
      background: 'white',
      font: {
        loadSystemFonts: true,
        fontFiles: DEJAVU_FILES.filter((f) => existsSync(f)),
        defaultFontFamily: 'DejaVu Sans',
        sansSerifFamily: 'DejaVu Sans',
      },
    });
  } catch (e) {
    throw new InvalidArgumentError(`svg could not be rendered: ${(e as Error).message}`);
  }
  return resvg.render().asPng();
}

/** The files {@link writeFigure} wrote. */
export interface FigureFiles {
  svg: string;
  png: string;
}

/**
 * Writes `<pathWithoutExt>.svg` and `<pathWithoutExt>.png` (rendered by {@link svgToPng}), each atomically;
 * creates the parent directory if needed.
 */
export function writeFigure(pathWithoutExt: string, svg: string, png: PngOptions = {}): FigureFiles {
  if (pathWithoutExt === '') throw new InvalidArgumentError('pathWithoutExt must not be empty');
  mkdirSync(dirname(pathWithoutExt), { recursive: true });
  const files = { svg: `${pathWithoutExt}.svg`, png: `${pathWithoutExt}.png` };
  const pngBytes = svgToPng(svg, png);
  writeFileAtomic(files.svg, new TextEncoder().encode(svg));
  writeFileAtomic(files.png, pngBytes);
  return files;
}
