/**
 * `polyapprox eig`: eigen-features of a quadratic approximant's Γ for a class or an output direction
 * (src/analysis/eigen.ts): top positive and negative eigenvectors (positive mass dominant) and the spectrum.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors.js';
import { PolynomialApproximant } from '../../approx/result.js';
import { loadApproximant } from '../../formats/approximantFile.js';
import { writeFileAtomic } from '../../formats/atomic.js';
import { heatmapGrid, type HeatmapPanel } from '../../figures/heatmap.js';
import { spectrumChart } from '../../figures/charts.js';
import { writeFigure } from '../../figures/render.js';
import { eigenFeatures, type EigenFeatures, type EigenRoute, type EigenTarget } from '../../analysis/eigen.js';
import { UsageError, action } from '../errors.js';
import { parseChoice, parseInteger, parseNumber } from '../options.js';
import { imageShapeFor } from './attack.js';

interface EigFlags {
  approx: string;
  class?: string;
  direction?: string;
  top: string;
  route: string;
  orientation: string;
  out?: string;
  json?: boolean;
}

/** Inputs with at most this many components get their eigenvectors printed in the text output. */
const PRINT_VECTORS_UP_TO = 32;

/** Parses `--direction 1,0,-0.5,…` into numbers. */
export function parseDirection(text: string, o: number): Float64Array {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length !== o) throw new UsageError(`--direction needs ${o} comma-separated numbers (one per output), got ${parts.length}`);
  return Float64Array.from(parts.map((p) => parseNumber(p, '--direction')));
}

/** A plain-JSON view of eigen-features. */
export function eigenFeaturesToJson(f: EigenFeatures): Record<string, unknown> {
  const feat = (x: { value: number; vector: Float64Array }) => ({ value: x.value, vector: Array.from(x.vector) });
  return {
    direction: Array.from(f.direction),
    route: f.route,
    orientation: f.orientation,
    nonzero_eigenvalues: f.spectrum.length,
    zero_eigenvalues: f.zeros,
    positive: f.positive.map(feat),
    negative: f.negative.map(feat),
    spectrum: Array.from(f.spectrum),
  };
}

/** The top positive eigenvectors in one row and the top negative ones in the next, on one colour scale. */
export function eigenvectorGrid(f: EigenFeatures, shape: readonly [number, number], title: string): string {
  const panels: HeatmapPanel[] = [
    ...f.positive.map((x, i) => ({ title: `+${i + 1}: λ = ${x.value.toPrecision(3)}`, values: x.vector, width: shape[1], height: shape[0] })),
    ...f.negative.map((x, i) => ({ title: `−${i + 1}: λ = ${x.value.toPrecision(3)}`, values: x.vector, width: shape[1], height: shape[0] })),
  ];
  if (panels.length === 0) throw new InvalidArgumentError('Γ is zero in this direction: there are no eigenvectors to draw');
  return heatmapGrid({
    title, panels, columns: Math.max(f.positive.length, f.negative.length, 1), colorbar: true, colorbarLabel: 'component', cells: 'png',
  });
}

export function registerEig(program: Command): void {
  program
    .command('eig')
    .description('eigendecomposition of a quadratic approximant\'s Γ for a class or output direction: top positive/negative eigenvectors (sign: positive mass dominant) and the eigenvalue spectrum')
    .requiredOption('--approx <file>', 'degree-2 approximant written by `polyapprox fit`')
    .option('--class <c>', 'output (class) index; default 0 unless --direction is given')
    .option('--direction <list>', 'output direction, comma-separated (one number per output)')
    .option('--top <k>', 'how many positive and negative eigenvectors', '3')
    .option('--route <r>', 'eigen-solver: auto, hidden (r×r problem in the hidden space) or dense (d×d)', 'auto')
    .option('--orientation <s>', 'sign convention: 1 = positive mass dominant, -1 = negative mass dominant', '1')
    .option('--out <dir>', 'write eig.json, the spectrum chart and (for 784-d inputs) eigenvector images here')
    .option('--json', 'print the eigen-features as one JSON object on stdout')
    .addHelpText('after', `
Examples:
  polyapprox eig --approx quad.safetensors --class 3 --top 3 --out eig3
  polyapprox eig --approx quad.safetensors --direction 1,-1,0,0,0,0,0,0,0,0 --json`)
    .action(action(async (flags: EigFlags) => {
      if (flags.class !== undefined && flags.direction !== undefined) throw new UsageError('give either --class or --direction, not both');
      const top = parseInteger(flags.top, '--top', 1);
      const route = parseChoice(flags.route, '--route', ['auto', 'hidden', 'dense'] as const) as EigenRoute;
      const orientation = parseChoice(flags.orientation, '--orientation', ['1', '-1'] as const) === '1' ? 1 : -1;
      const approx = loadApproximant(flags.approx);
      if (!(approx instanceof PolynomialApproximant) || approx.degree !== 2) {
        throw new InvalidArgumentError(`${flags.approx} holds a degree-${approx.degree} approximant; eigen-features need a degree-2 approximant (α, β, Γ)`);
      }
      const o = approx.outputDim;
      const target: EigenTarget = flags.direction !== undefined
        ? { direction: parseDirection(flags.direction, o) }
        : { class: parseInteger(flags.class ?? '0', '--class', 0, o - 1) };
      const label = 'class' in target ? `class ${target.class}` : `direction [${flags.direction}]`;
      const t0 = performance.now();
      const f = eigenFeatures(approx, target, { top, route, orientation });
      const seconds = (performance.now() - t0) / 1000;
      const files: string[] = [];
      if (flags.out !== undefined) {
        const json = join(flags.out, 'eig.json');
        mkdirSync(flags.out, { recursive: true });
        writeFileAtomic(json, new TextEncoder().encode(`${JSON.stringify({ approximant: flags.approx, target: label, ...eigenFeaturesToJson(f) })}\n`));
        files.push(json);
        if (f.spectrum.length > 0) {
          const spec = writeFigure(join(flags.out, 'spectrum'), await spectrumChart({ title: `Eigenvalues of Γ for ${label}`, series: [{ name: label, values: f.spectrum }] }));
          files.push(spec.svg, spec.png);
        }
        const shape = imageShapeFor(approx.inputDim);
        if (shape !== null && f.positive.length + f.negative.length > 0) {
          const grid = writeFigure(join(flags.out, 'eigenvectors'), eigenvectorGrid(f, shape, `Top eigenvectors of Γ for ${label} (+: positive, −: negative eigenvalues)`));
          files.push(grid.svg, grid.png);
        }
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ target: label, dim: approx.inputDim, ...eigenFeaturesToJson(f), files, seconds })}\n`);
        return;
      }
      const lines = [
        `Γ for ${label}: d = ${approx.inputDim}, ${f.spectrum.length} nonzero eigenvalues (${f.zeros} zero), ${f.route} route, ${seconds.toFixed(2)} s`,
      ];
      const show = (sign: string, xs: EigenFeatures['positive']): void => {
        xs.forEach((x, i) => {
          lines.push(`  ${sign}${i + 1}  λ = ${x.value.toPrecision(6)}`);
          if (approx.inputDim <= PRINT_VECTORS_UP_TO) lines.push(`      v = [${Array.from(x.vector, (v) => v.toPrecision(4)).join(', ')}]`);
        });
      };
      lines.push(`top positive (orientation ${orientation === 1 ? 'positive' : 'negative'} mass dominant):`);
      show('+', f.positive);
      lines.push('top negative:');
      show('−', f.negative);
      if (files.length > 0) lines.push(`wrote ${files.join(', ')}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }));
}
