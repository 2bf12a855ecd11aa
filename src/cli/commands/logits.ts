/**
 * `polyapprox logits`: one input's logits split into the approximant's constant, linear and quadratic parts, next to
 * the network's logits (src/analysis/logits.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Matrix } from '../../linalg/matrix.js';
import { forward } from '../../approx/network.js';
import { writeFileAtomic } from '../../formats/atomic.js';
import { heatmapGrid } from '../../figures/heatmap.js';
import { writeFigure } from '../../figures/render.js';
import { decomposeLogits, logitDecompositionChart, logitDecompositionToJson } from '../../analysis/logits.js';
import { action } from '../errors.js';
import { parseInteger } from '../options.js';
import { createProgress } from '../progress.js';
import { approximantFor, imageShapeFor, loadEvaluationData, loadModelWithScaling, loadPolynomialApproximant } from './attack.js';

interface LogitsFlags {
  model: string;
  approx?: string;
  data: string;
  labels?: string;
  index: string;
  out?: string;
  json?: boolean;
}

export function registerLogits(program: Command): void {
  program
    .command('logits')
    .description('split one input\'s approximant logits into constant α, linear xᵀβ and quadratic xᵀΓx parts, next to the network\'s logits')
    .requiredOption('--model <file>', 'model weights (.safetensors, .pt/.pth/.bin, .npz)')
    .option('--approx <file>', 'degree-2 (or degree-1) approximant (default: the quadratic fitted under N(0, I))')
    .option('--data <name|file>', 'data: mnist-test, fashion-test, or a file (.safetensors/.npz with x and y, IDX, .npy with --labels)', 'mnist-test')
    .option('--labels <file>', 'labels file for data given as IDX images or .npy')
    .option('--index <i>', 'which sample', '0')
    .option('--out <dir>', 'write logits.json, the bar chart and (for 784-d inputs) the input image here')
    .option('--json', 'print the decomposition as one JSON object on stdout')
    .addHelpText('after', `
Example:
  polyapprox logits --model runs/quick/step-9370.safetensors --approx quad.safetensors --index 18 --out /tmp/logits`)
    .action(action(async (flags: LogitsFlags) => {
      const progress = createProgress();
      const { net, mapping, scaling } = loadModelWithScaling(flags.model);
      progress.note(`polyapprox: ${mapping}`);
      const approx = flags.approx === undefined ? approximantFor(net, 2, undefined, progress) : loadPolynomialApproximant(net, flags.approx, [2, 1]);
      const d = approx.inputDim;
      const { ds, X } = loadEvaluationData(flags.data, d, { labels: flags.labels, scaling });
      const index = parseInteger(flags.index, '--index', 0, X.rows - 1);
      const x = X.row(index);
      const netLogits = forward(net, new Matrix(1, d, x)).data;
      const dec = decomposeLogits(approx, x, netLogits);
      const label = ds.labels[index]!;
      const payload = { model: flags.model, data: ds.name, index, label, degree: approx.degree, ...logitDecompositionToJson(dec) };
      const files: string[] = [];
      if (flags.out !== undefined) {
        const json = join(flags.out, 'logits.json');
        mkdirSync(flags.out, { recursive: true });
        writeFileAtomic(json, new TextEncoder().encode(`${JSON.stringify(payload, null, 2)}\n`));
        files.push(json);
        const chart = writeFigure(join(flags.out, 'logits'), await logitDecompositionChart(dec, { title: `Logits of sample ${index} (label ${label}): approximant parts and network` }));
        files.push(chart.svg, chart.png);
        const shape = imageShapeFor(d);
        if (shape !== null) {
          const img = writeFigure(join(flags.out, 'input'), heatmapGrid({
            title: `Sample ${index}`, panels: [{ title: `label ${label}`, values: x, width: shape[1], height: shape[0] }],
            columns: 1, colorbar: true, colorbarLabel: 'pixel value', cells: 'png',
          }));
          files.push(img.svg, img.png);
        }
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...payload, files })}\n`);
        return;
      }
      const head = ['class', 'constant', 'linear', 'quadratic', 'approx', 'network'];
      const lines = [`sample ${index} of ${ds.name}, label ${label}`, head.map((h) => h.padStart(11)).join('')];
      for (let c = 0; c < dec.constant.length; c++) {
        lines.push([String(c).padStart(11), ...[dec.constant[c]!, dec.linear[c]!, dec.quadratic[c]!, dec.approximant[c]!, netLogits[c]!].map((v) => v.toPrecision(5).padStart(11))].join(''));
      }
      if (files.length > 0) lines.push(`wrote ${files.join(', ')}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }));
}
