/**
 * `polyapprox steer`: eigenvector steering of a network towards a class (src/analysis/steering.ts), compared with
 * isotropic noise of the same norm and with no intervention.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { forward, outputDim } from '../../approx/network.js';
import { writeFileAtomic } from '../../formats/atomic.js';
import { heatmapGrid } from '../../figures/heatmap.js';
import { writeFigure } from '../../figures/render.js';
import { stackTopEigenvectors, steeringChart, steeringDirection, steeringExperiment, type SteeringStep } from '../../analysis/steering.js';
import { UsageError, action } from '../errors.js';
import { parseChoice, parseInteger, parseNumber } from '../options.js';
import { createProgress } from '../progress.js';
import { approximantFor, imageShapeFor, loadEvaluationData, loadModelWithScaling } from './attack.js';

interface SteerFlags {
  model: string;
  approx?: string;
  class: string;
  top: string;
  magnitudes?: string;
  maxMagnitude: string;
  steps: string;
  data: string;
  labels?: string;
  limit?: string;
  seed: string;
  orientation: string;
  evaluate: string;
  out?: string;
  json?: boolean;
}

/** `steps` evenly spaced values from 0 to `max` inclusive. */
export function linspaceFromZero(max: number, steps: number): number[] {
  if (steps === 1) return [max];
  return Array.from({ length: steps }, (_, i) => (max * i) / (steps - 1));
}

/** Parses `--magnitudes 0,1,2.5`. */
export function parseMagnitudes(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new UsageError(`--magnitudes must be a comma-separated list of numbers, got "${text}"`);
  return parts.map((p) => {
    const m = parseNumber(p, '--magnitudes');
    if (m < 0) throw new UsageError(`--magnitudes must be non-negative, got ${m}`);
    return m;
  });
}

export function registerSteer(program: Command): void {
  program
    .command('steer')
    .description('eigenvector steering: add the pseudo-inverse direction of the stacked top eigenvectors of Γ (all classes) for one class to every input; compare with isotropic noise of the same norm')
    .requiredOption('--model <file>', 'model weights (.safetensors, .pt/.pth/.bin, .npz)')
    .option('--approx <file>', 'quadratic approximant (default: fitted under N(0, I))')
    .option('--class <c>', 'target class', '3')
    .option('--top <k>', 'top positive eigenvectors per class stacked into E', '10')
    .option('--magnitudes <list>', 'norms of the added vectors, comma-separated (overrides --max-magnitude/--steps)')
    .option('--max-magnitude <m>', 'largest norm (magnitudes evenly spaced from 0)', '10')
    .option('--steps <n>', 'number of magnitudes', '11')
    .option('--data <name|file>', 'test data: mnist-test, fashion-test, or a file (.safetensors/.npz with x and y, IDX, .npy with --labels)', 'mnist-test')
    .option('--labels <file>', 'labels file for data given as IDX images or .npy')
    .option('--limit <n>', 'use the first n samples only')
    .option('--seed <n>', 'seed of the noise directions', '0')
    .option('--orientation <s>', 'sign of the eigenvectors: 1 = positive mass dominant, -1 = negative mass dominant', '1')
    .option('--evaluate <what>', 'whose logits are scored: network or quadratic (the approximant)', 'network')
    .option('--out <dir>', 'write steer.json, the charts and (for 784-d inputs) the steering vector image here')
    .option('--json', 'print the results as one JSON object on stdout')
    .addHelpText('after', `
Example:
  polyapprox steer --model runs/quick/step-9370.safetensors --class 3 --top 10 --max-magnitude 20 --out /tmp/steer`)
    .action(action(async (flags: SteerFlags) => {
      const t0 = performance.now();
      const progress = createProgress();
      const { net, mapping, scaling } = loadModelWithScaling(flags.model);
      progress.note(`polyapprox: ${mapping}`);
      const o = outputDim(net);
      const target = parseInteger(flags.class, '--class', 0, o - 1);
      const k = parseInteger(flags.top, '--top', 1);
      const magnitudes = flags.magnitudes !== undefined
        ? parseMagnitudes(flags.magnitudes)
        : linspaceFromZero(parseNumber(flags.maxMagnitude, '--max-magnitude'), parseInteger(flags.steps, '--steps', 1, 10000));
      if (magnitudes.some((m) => m < 0)) throw new UsageError(`--max-magnitude must be non-negative, got "${flags.maxMagnitude}"`);
      const limit = flags.limit === undefined ? null : parseInteger(flags.limit, '--limit', 1);
      const seed = parseInteger(flags.seed, '--seed', -(2 ** 31), 2 ** 31 - 1);
      const orientation = parseChoice(flags.orientation, '--orientation', ['1', '-1'] as const) === '1' ? 1 : -1;
      const evaluate = parseChoice(flags.evaluate, '--evaluate', ['network', 'quadratic'] as const);
      const quadratic = approximantFor(net, 2, flags.approx, progress);
      const d = quadratic.inputDim;
      const { ds, X } = loadEvaluationData(flags.data, d, { labels: flags.labels, limit, scaling });
      const stacked = stackTopEigenvectors(quadratic, k, { orientation });
      const dir = steeringDirection(stacked.E, target * k);
      progress.start('steering', magnitudes.length);
      let steps: SteeringStep[];
      try {
        steps = steeringExperiment({
          logits: evaluate === 'network' ? (A) => forward(net, A) : (A) => quadratic.predict(A), X, labels: ds.labels, direction: dir.unit, targetClass: target, magnitudes, seed,
          onStep: (done) => progress.update(done),
        });
      } finally {
        progress.stop();
      }
      const payload = {
        model: flags.model,
        data: ds.name,
        samples: X.rows,
        target_class: target,
        top: k,
        orientation,
        evaluated: evaluate,
        eigenvalues: Array.from(stacked.values),
        gain: dir.gain,
        seed,
        steps,
      };
      const files: string[] = [];
      if (flags.out !== undefined) {
        const json = join(flags.out, 'steer.json');
        mkdirSync(flags.out, { recursive: true });
        writeFileAtomic(json, new TextEncoder().encode(`${JSON.stringify({ ...payload, direction: Array.from(dir.unit) })}\n`));
        files.push(json);
        const figs = join(flags.out, 'figures');
        for (const [name, metric] of [['steer_accuracy', 'accuracy'], ['steer_target_logit', 'meanTargetLogit'], ['steer_target_rate', 'targetRate']] as const) {
          const f = writeFigure(join(figs, name), await steeringChart(steps, metric, target));
          files.push(f.svg, f.png);
        }
        const shape = imageShapeFor(d);
        if (shape !== null) {
          const top = stacked.E.row(target * k);
          const svg = heatmapGrid({
            title: `Steering direction for class ${target} (top ${k})`,
            panels: [
              { title: `steering direction u`, values: dir.unit, width: shape[1], height: shape[0] },
              { title: `top eigenvector of Γ${target}, λ = ${stacked.values[target * k]!.toPrecision(3)}`, values: top, width: shape[1], height: shape[0] },
            ],
            columns: 2, colorbar: true, colorbarLabel: 'component', cells: 'png',
          });
          const f = writeFigure(join(figs, 'steering_direction'), svg);
          files.push(f.svg, f.png);
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...payload, files, seconds })}\n`);
        return;
      }
      const head = ['norm', 'acc steer', 'acc noise', `logit${target} st`, `logit${target} nz`, `→${target} steer`, `→${target} noise`];
      const lines = [head.map((h) => h.padStart(12)).join('')];
      for (const s of steps) {
        lines.push([s.magnitude, s.steering.accuracy, s.noise.accuracy, s.steering.meanTargetLogit, s.noise.meanTargetLogit, s.steering.targetRate, s.noise.targetRate]
          .map((v) => v.toPrecision(4).padStart(12)).join(''));
      }
      lines.push(`no intervention: accuracy ${steps[0]!.none.accuracy.toPrecision(4)}, mean logit of ${target} ${steps[0]!.none.meanTargetLogit.toPrecision(4)}; ${X.rows} inputs, ${seconds.toFixed(1)} s`);
      if (files.length > 0) lines.push(`wrote ${files.join(', ')}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }));
}
