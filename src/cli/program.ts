/**
 * The `polyapprox` command tree, without running it (main.ts runs it; tests build it in-process).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { setBackend, setThreads } from '../linalg/index.js';
import { parseInteger } from './options.js';
import { registerFit } from './commands/fit.js';
import { registerPredict } from './commands/predict.js';
import { registerInspect } from './commands/inspect.js';
import { registerTrain } from './commands/train.js';
import { registerInput } from './commands/input.js';
import { registerStudy } from './commands/study.js';
import { registerReproduce } from './commands/reproduce.js';
import { registerEig } from './commands/eig.js';
import { registerAttack } from './commands/attack.js';
import { registerSteer } from './commands/steer.js';
import { registerLogits } from './commands/logits.js';
import { registerView } from './commands/view.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(opts: { exitOverride?: boolean } = {}): Command {
  const program = new Command('polyapprox');
  // Tests turn commander's process.exit into exceptions; set before the subcommands copy the setting.
  if (opts.exitOverride) program.exitOverride();
  program
    .description('Closed-form polynomial approximants of MLPs and GLUs under Gaussian and Gaussian-mixture input models')
    .version(pkg.version)
    .addOption(new Option('--backend <name>', 'linear-algebra backend').choices(['auto', 'native', 'js']).env('POLYAPPROX_BACKEND'))
    .option('--threads <n>', 'BLAS threads for the native backend')
    .showHelpAfterError()
    .hook('preAction', (cmd: Command) => {
      // Errors here reject parseAsync and are reported by main().
      const o = cmd.opts<{ backend?: 'auto' | 'native' | 'js'; threads?: string }>();
      if (o.backend) setBackend(o.backend);
      if (o.threads !== undefined) setThreads(parseInteger(o.threads, '--threads', 1, 1024));
    });
  registerFit(program);
  registerPredict(program);
  registerInspect(program);
  registerTrain(program);
  registerInput(program);
  registerStudy(program);
  registerReproduce(program);
  registerEig(program);
  registerAttack(program);
  registerSteer(program);
  registerLogits(program);
  registerView(program);
  return program;
}

