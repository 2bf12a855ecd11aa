/**
 * `polyapprox reproduce`: the paper's MNIST experiments in one command.
 */
import type { Command } from 'commander';
import { reproduce } from '../../analysis/reproduce.js';
import { MIXTURE_QUADRATIC_MODES } from '../../analysis/study.js';
import { UsageError, action } from '../errors.js';
import { parseChoice, parseInteger, parseNumber } from '../options.js';
import { createProgress } from '../progress.js';

export function registerReproduce(program: Command): void {
  program
    .command('reproduce')
    .description('train an MNIST MLP with checkpoints, run the training-dynamics study and the interpretability analyses, and write report.html and results.json')
    .option('--preset <name>', 'quick (minutes) or paper (hours: the reference run, 2^19 steps)', 'quick')
    .requiredOption('--out <dir>', 'output folder (re-running reuses finished stages)')
    .option('--seed <n>', 'random seed', '0')
    .option('--samples <n>', 'samples per synthetic evaluation set in the study', '10000')
    .option('--mixture-quadratic <which>', 'checkpoints that get the quadratic mixture fit in the study (conjugate gradients, minutes each): none, last or all', 'last')
    .option('--mixture-seconds <s>', 'wall-clock budget of each quadratic mixture solve in the study', '240')
    .option('--fresh', 'recompute every stage')
    .option('--json', 'print one JSON object with the output paths and timing')
    .addHelpText('after', `
Example:
  polyapprox reproduce --preset quick --out runs/quick-report     # then open runs/quick-report/report.html`)
    .action(action(async (flags: {
      preset: string; out: string; seed: string; samples: string; mixtureQuadratic: string; mixtureSeconds: string; fresh?: boolean; json?: boolean;
    }) => {
      const preset = parseChoice(flags.preset, '--preset', ['quick', 'paper'] as const);
      const seed = parseInteger(flags.seed, '--seed', 0);
      const samples = parseInteger(flags.samples, '--samples', 100);
      const mixtureQuadratic = parseChoice(flags.mixtureQuadratic, '--mixture-quadratic', MIXTURE_QUADRATIC_MODES);
      const mixtureQuadraticSeconds = parseNumber(flags.mixtureSeconds, '--mixture-seconds');
      if (!(mixtureQuadraticSeconds > 0)) throw new UsageError(`--mixture-seconds must be > 0, got "${flags.mixtureSeconds}"`);
      const progress = createProgress();
      const result = await reproduce({
        preset, out: flags.out, seed, samples, fresh: flags.fresh ?? false, mixtureQuadratic, mixtureQuadraticSeconds,
        hooks: {
          note: (m) => progress.note(`polyapprox: ${m}`, true),
          stageStart: (label, total) => progress.start(label, total),
          stageUpdate: (done, extra) => progress.update(done, extra),
          stageEnd: () => progress.stop(),
        },
      });
      if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`wrote ${result.report} and ${result.results} in ${result.seconds.toFixed(1)} s${result.reused.length ? ` (reused: ${result.reused.join(', ')})` : ''}\n`);
    }));
}
