/**
 * `polyapprox train`: trains an MLP classifier and writes checkpoints that `polyapprox fit` reads.
 */
import type { Command } from 'commander';
import { loadDataset, pixelStatistics, splitHoldout, standardizeDataset, type Dataset } from '../../data/datasets.js';
import { TRAIN_ACTIVATIONS, type TrainActivation } from '../../train/mlp.js';
import { getPreset, PRESETS } from '../../train/presets.js';
import { SCHEDULES } from '../../train/schedule.js';
import { planRun, resolveCheckpointSteps, train, type CheckpointSpec, type TrainConfig } from '../../train/trainer.js';
import { UsageError, action } from '../errors.js';
import { parseChoice, parseInteger, parseNumber } from '../options.js';
import { createProgress } from '../progress.js';

interface TrainFlags {
  out: string;
  preset: string;
  data: string;
  testData?: string;
  labels?: string;
  testLabels?: string;
  holdout: string;
  hidden?: string;
  depth?: string;
  act?: string;
  epochs?: string;
  maxSteps?: string;
  lr?: string;
  wd?: string;
  batch?: string;
  optim?: string;
  momentum?: string;
  schedule?: string;
  noiseStd?: string;
  noiseP: string;
  checkpoints?: string;
  seed: string;
  standardize?: boolean;
  json?: boolean;
}

/**
 * Parses `--checkpoints`: `pow2` or a comma-separated list of positive step counts.
 * @throws UsageError for anything else
 */
export function parseCheckpointSpec(value: string): CheckpointSpec {
  const v = value.trim().toLowerCase();
  if (v === 'pow2') return 'pow2';
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new UsageError(`--checkpoints must be pow2 or a list of steps like 1,2,8,100, got "${value}"`);
  return parts.map((p) => parseInteger(p, '--checkpoints', 1));
}

function positiveNumber(value: string, flag: string): number {
  const x = parseNumber(value, flag);
  if (!(x > 0)) throw new UsageError(`${flag} must be a positive number, got "${value}"`);
  return x;
}

function nonNegativeNumber(value: string, flag: string): number {
  const x = parseNumber(value, flag);
  if (!(x >= 0)) throw new UsageError(`${flag} must be a non-negative number, got "${value}"`);
  return x;
}

/** Training and test sets for `--data` (mnist, fashion, or a file), `--test-data` and `--holdout`. */
function loadData(flags: TrainFlags, seed: number, holdout: number): { train: Dataset; test: Dataset; note?: string } {
  const standardize = Boolean(flags.standardize);
  const builtin = flags.data === 'mnist' || flags.data === 'fashion';
  if (builtin) {
    if (flags.testData !== undefined || flags.labels !== undefined) throw new UsageError(`--test-data and --labels apply to data files, not to --data ${flags.data}`);
    return {
      train: loadDataset(`${flags.data}-train`, { standardize }),
      test: loadDataset(`${flags.data}-test`, { standardize }),
    };
  }
  // Standardisation uses the statistics of the --data file as given (before any hold-out split), exactly as
  // `polyapprox input --data <file> --standardize` does, so trained networks and input models agree.
  const loaded = loadDataset(flags.data, flags.labels === undefined ? {} : { labels: flags.labels });
  const stats = standardize ? pixelStatistics(loaded.x) : null;
  const scale = (ds: Dataset): Dataset => (stats === null ? ds : standardizeDataset(ds, stats));
  const raw = scale(loaded);
  let trainSet: Dataset;
  let testSet: Dataset;
  let note: string | undefined;
  if (flags.testData !== undefined) {
    trainSet = raw;
    testSet = scale(loadDataset(flags.testData, flags.testLabels === undefined ? {} : { labels: flags.testLabels }));
  } else {
    ({ train: trainSet, test: testSet } = splitHoldout(raw, holdout, seed));
    note = `no --test-data: holding out ${testSet.x.rows} of ${raw.x.rows} samples (--holdout ${holdout}) as the test set`;
  }
  return note === undefined ? { train: trainSet, test: testSet } : { train: trainSet, test: testSet, note };
}

/** The training configuration without its data, from the flags (preset values unless overridden). */
type Hyperparameters = Omit<TrainConfig, 'train' | 'test'>;

/**
 * Resolves every flag against the preset, so bad values are reported before any data is loaded.
 * @throws UsageError naming the flag
 */
function parseHyperparameters(flags: TrainFlags, seed: number): Hyperparameters {
  const preset = getPreset(parseChoice(flags.preset, '--preset', Object.keys(PRESETS) as ('paper' | 'quick')[]));
  const optimizer = flags.optim === undefined ? preset.optimizer : parseChoice(flags.optim, '--optim', ['adamw', 'sgd'] as const);
  const epochs = flags.epochs === undefined ? preset.epochs : parseInteger(flags.epochs, '--epochs', 1);
  let maxSteps = flags.maxSteps === undefined ? preset.maxSteps : parseInteger(flags.maxSteps, '--max-steps', 1);
  // A preset's step cap belongs to its own epoch count; --epochs alone means "run these epochs".
  if (flags.epochs !== undefined && flags.maxSteps === undefined) maxSteps = undefined;
  const noiseStd = flags.noiseStd === undefined ? preset.noise?.std ?? 0 : nonNegativeNumber(flags.noiseStd, '--noise-std');
  const noiseP = parseNumber(flags.noiseP, '--noise-p');
  if (!(noiseP >= 0 && noiseP <= 1)) throw new UsageError(`--noise-p must be in [0, 1], got "${flags.noiseP}"`);
  if (flags.momentum !== undefined && optimizer !== 'sgd') throw new UsageError('--momentum applies to --optim sgd only');
  const config: Hyperparameters = {
    hidden: flags.hidden === undefined ? preset.hidden : parseInteger(flags.hidden, '--hidden', 1, 1 << 20),
    depth: flags.depth === undefined ? preset.depth : parseInteger(flags.depth, '--depth', 1, 64),
    activation: flags.act === undefined ? preset.activation : parseChoice(flags.act.toLowerCase(), '--act', TRAIN_ACTIVATIONS) as TrainActivation,
    epochs,
    batchSize: flags.batch === undefined ? preset.batchSize : parseInteger(flags.batch, '--batch', 1),
    optimizer,
    lr: flags.lr === undefined ? preset.lr : positiveNumber(flags.lr, '--lr'),
    weightDecay: flags.wd === undefined ? preset.weightDecay : nonNegativeNumber(flags.wd, '--wd'),
    schedule: flags.schedule === undefined ? preset.schedule : parseChoice(flags.schedule, '--schedule', SCHEDULES),
    noise: noiseStd > 0 ? { std: noiseStd, p: noiseP } : null,
    checkpoints: flags.checkpoints === undefined ? preset.checkpoints : parseCheckpointSpec(flags.checkpoints),
    checkpointLast: preset.checkpointLast,
    seed,
    outDir: flags.out,
    preset: preset.name,
  };
  if (maxSteps !== undefined) config.maxSteps = maxSteps;
  if (optimizer === 'sgd') config.momentum = flags.momentum === undefined ? preset.momentum ?? 0 : nonNegativeNumber(flags.momentum, '--momentum');
  return config;
}

const pct = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train an MLP classifier (MNIST, Fashion-MNIST or your data) and write checkpoints that `polyapprox fit` reads')
    .requiredOption('--out <dir>', 'output directory for step-<s>.safetensors checkpoints and training.json')
    .option('--preset <name>', `hyperparameter preset: ${Object.keys(PRESETS).join(' or ')} (flags below override it)`, 'quick')
    .option('--data <name|file>', 'mnist, fashion (needs apt-get install dataset-fashion-mnist), or a data file (.npz/.safetensors with x, y; .npy or IDX with --labels)', 'mnist')
    .option('--test-data <file>', 'test set for a data file (default: hold out --holdout of it)')
    .option('--labels <file>', 'labels for a .npy or IDX data file')
    .option('--test-labels <file>', 'labels for a .npy or IDX --test-data file')
    .option('--holdout <fraction>', 'fraction of a data file held out as test set when --test-data is absent', '0.1')
    .option('--hidden <n>', 'width of each hidden layer')
    .option('--depth <n>', 'number of hidden layers (fit approximates depth 1 only)')
    .option('--act <name>', `activation: ${TRAIN_ACTIVATIONS.join(', ')}`)
    .option('--epochs <n>', 'epochs (also the cosine schedule length)')
    .option('--max-steps <n>', 'stop after this many optimizer updates')
    .option('--lr <x>', 'learning rate')
    .option('--wd <x>', 'weight decay (decoupled for AdamW, L2 for SGD)')
    .option('--batch <n>', 'mini-batch size')
    .option('--optim <name>', 'adamw or sgd')
    .option('--momentum <x>', 'SGD momentum (default 0)')
    .option('--schedule <name>', 'cosine (per epoch, T_max = epochs) or constant')
    .option('--noise-std <s>', 'Gaussian input-noise augmentation: std per pixel (0: off)')
    .option('--noise-p <p>', 'probability that a training sample gets noise', '0.5')
    .option('--checkpoints <list>', 'pow2 (steps 1, 2, 4, … and the last) or steps like 1,2,8,100')
    .option('--seed <n>', 'random seed (initialisation, batch order, noise)', '0')
    .option('--standardize', 'standardize inputs by a global pixel mean and std: the training split\'s for mnist/fashion, the whole --data file\'s for a file (default: raw [0, 1] pixels)')
    .option('--json', 'print one JSON summary object on stdout')
    .addHelpText('after', `
Presets:
  quick  ${PRESETS.quick.description}
  paper  ${PRESETS.paper.description}

Examples:
  polyapprox train --out runs/quick
  polyapprox train --preset paper --out runs/paper
  polyapprox train --data fashion --hidden 512 --epochs 20 --noise-std 0.1 --out runs/fashion
  polyapprox fit --model runs/quick/step-64.safetensors --degree 2 --out quad-64.safetensors`)
    .action(action(async (flags: TrainFlags) => {
      const seed = parseInteger(flags.seed, '--seed', 0, 2 ** 31 - 1);
      const hyper = parseHyperparameters(flags, seed);
      const holdout = parseNumber(flags.holdout, '--holdout');
      if (!(holdout > 0 && holdout < 1)) throw new UsageError(`--holdout must be in (0, 1), got "${flags.holdout}"`);
      const progress = createProgress();
      const data = loadData(flags, seed, holdout);
      if (data.note !== undefined) progress.note(`polyapprox: ${data.note}`, true);
      const config: TrainConfig = { ...hyper, train: data.train, test: data.test };
      const { totalSteps } = planRun(config);
      resolveCheckpointSteps(config.checkpoints, totalSteps, config.checkpointLast ?? true);
      let lastTest: number | null = null;
      let lastDraw = 0;
      let epochCount = 0;
      const result = await train(config, {
        onStart: (info) => {
          progress.note(
            `polyapprox: training ${[config.train.x.cols, ...Array(config.depth).fill(config.hidden), config.train.classes].join('→')} ${config.activation} MLP ` +
              `(${info.parameters} parameters) on ${config.train.name} for ${info.totalSteps} steps, ${info.checkpointSteps.length} checkpoints, ${info.backend} backend`,
          );
          progress.start('training', info.totalSteps);
        },
        onStep: (p) => {
          const now = performance.now();
          if (now - lastDraw < 100 && p.step !== p.totalSteps) return;
          lastDraw = now;
          progress.update(p.step, `| epoch ${p.epoch}/${config.epochs} loss ${p.epochLoss.toFixed(4)} acc ${pct(p.epochAccuracy)} | test ${pct(lastTest)}`);
        },
        onEpoch: (e) => {
          lastTest = e.testAccuracy;
          epochCount = e.epoch;
        },
        onCheckpoint: (c) => {
          if (c.testAccuracy !== null) lastTest = c.testAccuracy;
        },
      });
      progress.stop();
      const files = result.checkpoints.map((c) => c.file);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({
          out: flags.out, steps: result.totalSteps, epochs: epochCount, seconds: result.seconds,
          test_accuracy: result.testAccuracy, checkpoints: files, log: result.log,
        })}\n`);
      } else {
        process.stdout.write(
          `trained for ${result.totalSteps} steps (${epochCount} epoch${epochCount === 1 ? '' : 's'}) in ${result.seconds.toFixed(1)} s: ` +
            `test accuracy ${pct(result.testAccuracy)}; ${files.length} checkpoints in ${flags.out} ` +
            `(step-${result.checkpoints[0]?.step} … step-${result.checkpoints[result.checkpoints.length - 1]?.step}), log ${result.log}\n`,
        );
      }
    }));
}
