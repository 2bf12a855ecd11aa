/**
 * `polyapprox input`: estimates an input model (data Gaussian or class-conditional mixture) from a dataset
 * and writes it in the input-model file contract that `polyapprox fit --input` reads.
 */
import type { Command } from 'commander';
import { describeScaling, loadDataset } from '../../data/datasets.js';
import { classConditionalMixture, dataGaussian, writeInputModelFile } from '../../data/inputModels.js';
import { UsageError, action } from '../errors.js';
import { parseChoice, parseNumber } from '../options.js';
import { createProgress } from '../progress.js';

interface InputFlags {
  data: string;
  kind: string;
  out: string;
  eps: string;
  labels?: string;
  standardize?: boolean;
  json?: boolean;
}

/** `mnist` and `fashion` mean their training splits; everything else is passed to `loadDataset`. */
function datasetName(data: string): string {
  if (data === 'mnist' || data === 'fashion') return `${data}-train`;
  return data;
}

export function registerInput(program: Command): void {
  program
    .command('input')
    .description('estimate a Gaussian or class-conditional Gaussian-mixture input model from data, for `polyapprox fit --input`')
    .option('--data <name|file>', 'mnist-train, mnist-test, fashion-train, fashion-test (mnist/fashion = the training split), or a data file', 'mnist-train')
    .option('--kind <kind>', 'gaussian: N(mean, cov + eps·I); mixture: one component per class, weighted by class frequency', 'gaussian')
    .requiredOption('--out <file>', 'where to write the input model (.safetensors, or .npz)')
    .option('--eps <x>', 'added to every covariance diagonal (data covariances of images are singular)', '1e-6')
    .option('--labels <file>', 'labels for a .npy or IDX data file')
    .option('--standardize', 'standardize pixels by a global mean and std exactly as `train --standardize` does (a built-in split: its training split\'s; a file: its own)')
    .option('--json', 'print one JSON summary object on stdout')
    .addHelpText('after', `
Examples:
  polyapprox input --data mnist-train --kind gaussian --out mnist-gauss.safetensors
  polyapprox input --data mnist-train --kind mixture --out mnist-mix.safetensors
  polyapprox fit --model runs/quick/step-64.safetensors --input mnist-gauss.safetensors --degree 1 --out lin.safetensors`)
    .action(action(async (flags: InputFlags) => {
      const t0 = performance.now();
      const kind = parseChoice(flags.kind, '--kind', ['gaussian', 'mixture'] as const);
      const eps = parseNumber(flags.eps, '--eps');
      if (!(eps >= 0)) throw new UsageError(`--eps must be a non-negative number, got "${flags.eps}"`);
      const name = datasetName(flags.data);
      const opts: Parameters<typeof loadDataset>[1] = { standardize: Boolean(flags.standardize) };
      if (flags.labels !== undefined) opts.labels = flags.labels;
      const progress = createProgress();
      progress.note(`polyapprox: loading ${name}`);
      const ds = loadDataset(name, opts);
      progress.note(`polyapprox: estimating a ${kind} input model from ${ds.x.rows} samples of dimension ${ds.x.cols}`);
      const model = kind === 'gaussian' ? dataGaussian(ds.x, eps) : classConditionalMixture(ds.x, ds.labels, ds.classes, eps);
      writeInputModelFile(flags.out, model, {
        source: ds.name,
        samples: String(ds.x.rows),
        eps: String(eps),
        covariance: 'unbiased (n-1) + eps*I',
        input_scaling: describeScaling(ds.scaling),
        ...(kind === 'mixture' ? { weights: 'class priors n_c/n' } : {}),
      });
      const seconds = (performance.now() - t0) / 1000;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ out: flags.out, kind, dim: ds.x.cols, samples: ds.x.rows, components: kind === 'mixture' ? ds.classes : 1, eps, seconds })}\n`);
      } else {
        const what = kind === 'gaussian' ? 'a Gaussian' : `a ${ds.classes}-component class-conditional mixture`;
        process.stdout.write(`wrote ${what} input model (dimension ${ds.x.cols}, ${ds.x.rows} samples of ${ds.name}, eps ${eps}) to ${flags.out} in ${seconds.toFixed(1)} s\n`);
      }
    }));
}
