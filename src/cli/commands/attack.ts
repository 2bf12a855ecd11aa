/**
 * `polyapprox attack`: the SVD attack (src/analysis/svdAttack.ts, paper Figs. 4–5) on a user's model and data.
 *
 * Also home of the small helpers the other interpretability commands (`steer`, `logits`) share: loading the
 * evaluation data with the model's own input scaling, and fitting or loading the approximants.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError, ShapeError } from '../../errors.js';
import { Matrix } from '../../linalg/matrix.js';
import { fitLinear, fitQuadratic } from '../../approx/fit/index.js';
import { Gaussian } from '../../approx/inputModel.js';
import { inputDim, outputDim, type Network } from '../../approx/network.js';
import { PolynomialApproximant } from '../../approx/result.js';
import { loadDataset, standardizeDataset, subsetDataset, type Dataset } from '../../data/datasets.js';
import { loadApproximant } from '../../formats/approximantFile.js';
import { readTensorFile } from '../../formats/layouts.js';
import { readFileBytes } from '../../formats/safetensors.js';
import { writeFileAtomic } from '../../formats/atomic.js';
import { writeFigure } from '../../figures/render.js';
import { parseInputScaling } from '../../analysis/study.js';
import {
  attackAccuracyChart, attackAgreementChart, attackedImageGrid, attackedImages, singularVectorGrid, svdAttack,
  svdAttackToJson, type SvdAttackResult,
} from '../../analysis/svdAttack.js';
import { UsageError, action } from '../errors.js';
import { loadNetwork } from '../load.js';
import { parseChoice, parseInteger } from '../options.js';
import { createProgress, type Progress } from '../progress.js';

/** Side of the square images drawn for 784-dimensional inputs. */
export const IMAGE_SIDE = 28;

/** [28, 28] when inputs are 784-dimensional (MNIST-like images), else null: plain numbers only. */
export function imageShapeFor(d: number): [number, number] | null {
  return d === IMAGE_SIDE * IMAGE_SIDE ? [IMAGE_SIDE, IMAGE_SIDE] : null;
}

/** A network loaded from a model file, with the input scaling its metadata records (trainer checkpoints). */
export interface LoadedModelWithScaling {
  net: Network;
  mapping: string;
  /** Standardisation the network was trained with, or null for raw inputs. */
  scaling: { mean: number; std: number } | null;
}

/** Loads a model file and reads `input_scaling` from its metadata (safetensors only; other formats: none). */
export function loadModelWithScaling(path: string): LoadedModelWithScaling {
  const { net, mapping } = loadNetwork(path);
  const metadata = readTensorFile(readFileBytes(path), path).metadata;
  return { net, mapping, scaling: parseInputScaling(metadata['input_scaling']) };
}

/**
 * The evaluation data as the network expects it: a built-in dataset name or a file, standardised as the model's
 * metadata says, optionally the first `limit` samples.
 *
 * @throws ShapeError if the samples' dimension differs from the network's input dimension
 */
export function loadEvaluationData(
  data: string, d: number, opts: { labels?: string; limit?: number | null; scaling: { mean: number; std: number } | null },
): { ds: Dataset; X: Matrix } {
  let ds = loadDataset(data, opts.labels === undefined ? {} : { labels: opts.labels });
  if (ds.x.cols !== d) throw new ShapeError(`${data} has samples of dimension ${ds.x.cols} but the network takes ${d}`);
  if (opts.limit != null && opts.limit < ds.x.rows) ds = subsetDataset(ds, Array.from({ length: opts.limit }, (_, i) => i));
  if (opts.scaling !== null) ds = standardizeDataset(ds, opts.scaling);
  return { ds, X: ds.x.toFloat64() };
}

/**
 * A polynomial approximant from a file, checked against the network and the accepted degrees.
 *
 * @throws InvalidArgumentError if the file holds another degree or a Hermite-form approximant; ShapeError if its
 *   dimensions differ from the network's
 */
export function loadPolynomialApproximant(net: Network, file: string, degrees: readonly (1 | 2)[]): PolynomialApproximant {
  const a = loadApproximant(file);
  if (!(a instanceof PolynomialApproximant) || !(degrees as readonly number[]).includes(a.degree)) {
    const wanted = degrees.map((k) => `degree-${k}`).join(' or ');
    throw new InvalidArgumentError(`${file} holds a degree-${a.degree} approximant${a instanceof PolynomialApproximant ? '' : ' in Hermite form'}; a ${wanted} approximant in monomial form (α, β, Γ) is needed`);
  }
  const d = inputDim(net);
  const o = outputDim(net);
  if (a.inputDim !== d || a.outputDim !== o) throw new ShapeError(`${file} maps ${a.inputDim} → ${a.outputDim} but the network maps ${d} → ${o}`);
  return a;
}

/** A degree-`degree` approximant from a file (see {@link loadPolynomialApproximant}), or fitted under N(0, I_d). */
export function approximantFor(net: Network, degree: 1 | 2, file: string | undefined, progress: Progress): PolynomialApproximant {
  if (file !== undefined) return loadPolynomialApproximant(net, file, [degree]);
  const d = inputDim(net);
  progress.note(`polyapprox: fitting the degree-${degree} approximant under N(0, I_${d})`);
  return degree === 1 ? fitLinear(net, Gaussian.standard(d)) : fitQuadratic(net, Gaussian.standard(d));
}

/** Indices of the first sample of each class (−1 where a class does not occur). */
export function firstOfEachClass(labels: ArrayLike<number>, classes: number): number[] {
  const out = new Array<number>(classes).fill(-1);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (c < classes && out[c] === -1) out[c] = i;
  }
  return out;
}

interface AttackFlags {
  model: string;
  approxLinear?: string;
  approxQuadratic?: string;
  linear: string;
  beta: string;
  data: string;
  labels?: string;
  limit?: string;
  kMax?: string;
  exampleClass?: string;
  out: string;
  figures: boolean;
  json?: boolean;
}

export function registerAttack(program: Command): void {
  program
    .command('attack')
    .description('SVD attack: remove the top-k singular directions of β from every input (k = 0 … rank) and score the network and its linear and quadratic approximants (accuracy, KL, FVU)')
    .requiredOption('--model <file>', 'model weights (.safetensors, .pt/.pth/.bin, .npz)')
    .option('--approx-linear <file>', 'linear approximant (default: fitted under N(0, I))')
    .option('--approx-quadratic <file>', 'quadratic approximant (default: fitted under N(0, I))')
    .option('--linear <kind>', 'linear approximant when none is given: fit (degree-1 least squares) or truncated (the quadratic with Γ dropped, as the reference)', 'fit')
    .option('--beta <which>', 'β whose singular directions are removed: linear or quadratic approximant\'s', 'linear')
    .option('--data <name|file>', 'test data: mnist-test, fashion-test, or a file (.safetensors/.npz with x and y, IDX, .npy with --labels)', 'mnist-test')
    .option('--labels <file>', 'labels file for data given as IDX images or .npy')
    .option('--limit <n>', 'use the first n samples only')
    .option('--k-max <k>', 'largest number of directions removed (default: the rank of β)')
    .option('--example-class <c>', 'class of the example shown attacked for every k (default 3, or 0 with fewer than 4 classes)')
    .requiredOption('--out <dir>', 'output directory: attack.json and figures')
    .option('--no-figures', 'skip the charts and images')
    .option('--json', 'print the results as one JSON object on stdout')
    .addHelpText('after', `
Images (singular vectors, attacked examples) are drawn when inputs are 784-dimensional (28×28).
Examples:
  polyapprox attack --model runs/quick/step-9370.safetensors --out /tmp/attack
  polyapprox attack --model net.safetensors --approx-quadratic quad.safetensors --data test.npz --k-max 5 --out attack --json`)
    .action(action(async (flags: AttackFlags) => {
      const t0 = performance.now();
      const linearKind = parseChoice(flags.linear, '--linear', ['fit', 'truncated'] as const);
      const betaFrom = parseChoice(flags.beta, '--beta', ['linear', 'quadratic'] as const);
      if (flags.approxLinear !== undefined && flags.linear !== 'fit') throw new UsageError('--linear applies only when --approx-linear is not given');
      const limit = flags.limit === undefined ? null : parseInteger(flags.limit, '--limit', 2);
      const progress = createProgress();
      const { net, mapping, scaling } = loadModelWithScaling(flags.model);
      progress.note(`polyapprox: ${mapping}`);
      const d = inputDim(net);
      const o = outputDim(net);
      const exampleClass = flags.exampleClass === undefined ? (o > 3 ? 3 : 0) : parseInteger(flags.exampleClass, '--example-class', 0, o - 1);
      const { ds, X } = loadEvaluationData(flags.data, d, { labels: flags.labels, limit, scaling });
      const quadratic = approximantFor(net, 2, flags.approxQuadratic, progress);
      const linear = flags.approxLinear === undefined && linearKind === 'truncated' ? quadratic.toLinear() : approximantFor(net, 1, flags.approxLinear, progress);
      const beta = betaFrom === 'linear' ? linear.beta : quadratic.beta;
      const kMax = flags.kMax === undefined ? undefined : parseInteger(flags.kMax, '--k-max', 0);
      progress.start('svd attack', (kMax ?? Math.min(d, o)) + 1);
      let result: SvdAttackResult;
      try {
        result = svdAttack({ net, linear, quadratic, beta, X, labels: ds.labels, kMax, onStep: (k) => progress.update(k + 1, `k = ${k}`) });
      } finally {
        progress.stop();
      }
      const files: string[] = [];
      const jsonPath = join(flags.out, 'attack.json');
      const payload = {
        model: flags.model,
        data: ds.name,
        linear: flags.approxLinear ?? (linearKind === 'fit' ? 'degree-1 least squares under N(0, I)' : 'quadratic under N(0, I) with Γ dropped'),
        quadratic: flags.approxQuadratic ?? 'degree-2 least squares under N(0, I)',
        beta_from: betaFrom,
        ...svdAttackToJson(result),
      };
      mkdirSync(flags.out, { recursive: true });
      writeFileAtomic(jsonPath, new TextEncoder().encode(`${JSON.stringify(payload, null, 2)}\n`));
      files.push(jsonPath);
      if (flags.figures) files.push(...(await writeAttackFigures(flags.out, result, ds, X, { net, linear, quadratic }, exampleClass, o)));
      const seconds = (performance.now() - t0) / 1000;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...payload, files, seconds })}\n`);
        return;
      }
      process.stdout.write(attackTable(result));
      process.stdout.write(`${result.samples} inputs, rank of β ${result.singular.rank}, ${seconds.toFixed(1)} s\nwrote ${files.join(', ')}\n`);
    }));
}

async function writeAttackFigures(
  out: string, result: SvdAttackResult, ds: Dataset, X: Matrix,
  models: Parameters<typeof attackedImages>[3], exampleClass: number, classes: number,
): Promise<string[]> {
  const figs = join(out, 'figures');
  const files: string[] = [];
  const write = (name: string, svg: string): void => {
    const f = writeFigure(join(figs, name), svg);
    files.push(f.svg, f.png);
  };
  write('attack_accuracy', await attackAccuracyChart(result, classes));
  write('attack_kl', await attackAgreementChart(result, 'kl'));
  write('attack_fvu', await attackAgreementChart(result, 'fvu'));
  const shape = imageShapeFor(X.cols);
  if (shape === null || result.singular.rank === 0) return files;
  const kMax = result.steps.length - 1;
  write('singular_vectors', singularVectorGrid(result.singular, shape));
  const first = firstOfEachClass(ds.labels, classes);
  const ex = first[exampleClass]!;
  if (ex >= 0) {
    const ks = Array.from({ length: kMax + 1 }, (_, k) => k);
    const images = attackedImages(X.row(ex), result.singular, ks, models);
    write('attacked_example', attackedImageGrid(images, shape, `Test image ${ex} (a ${exampleClass}) with the top-k singular directions of β removed`));
  }
  const perClass = first.flatMap((i, c) => (i < 0 ? [] : [{ i, c }]));
  if (perClass.length > 0) {
    const images = perClass.map(({ i, c }) => {
      const [im] = attackedImages(X.row(i), result.singular, [kMax], models);
      return { ...im!, title: `${c} → ${im!.title.replace(/^k=\d+: /, '')}` };
    });
    write('attacked_digits', attackedImageGrid(images, shape, `One example per class with all ${kMax} singular directions removed (true → predictions)`, 5));
  }
  return files;
}

function attackTable(result: SvdAttackResult): string {
  const head = ['k', 'acc net', 'acc lin', 'acc quad', 'KL lin', 'KL quad', 'FVU lin', 'FVU quad'];
  const lines = [head.map((h) => h.padStart(10)).join('')];
  for (const s of result.steps) {
    const cells = [
      s.accuracy.network.value, s.accuracy.linear.value, s.accuracy.quadratic.value,
      s.kl.linear.value, s.kl.quadratic.value, s.fvu.linear.value, s.fvu.quadratic.value,
    ].map((v) => v.toPrecision(4).padStart(10));
    lines.push([String(s.k).padStart(10), ...cells].join(''));
  }
  return `${lines.join('\n')}\n`;
}
