/**
 * `polyapprox view`: precompute the viewer's files for a folder of checkpoints (or a study / reproduce output
 * folder, or a single model or approximant file) and serve the interactive page on a loopback address until
 * Ctrl-C. See src/viewer/.
 */
import type { Command } from 'commander';
import { precomputeViewer, type PrecomputeResult } from '../../viewer/precompute.js';
import { LOOPBACK_HOSTS, startViewerServer } from '../../viewer/server.js';
import { UsageError, action } from '../errors.js';
import { parseChoice, parseInteger } from '../options.js';
import { createProgress } from '../progress.js';

/** Test images scored by the attack unless `--test-limit` says otherwise. */
export const DEFAULT_VIEW_TEST_LIMIT = 2000;

interface ViewFlags {
  port: string;
  host: string;
  cache?: string;
  checkpoints?: string;
  model?: string;
  data?: string;
  labels?: string;
  testLimit: string;
  digitsPerClass: string;
  top: string;
  kMax: string;
  refresh?: boolean;
  serve: boolean;
  json?: boolean;
}

function summary(r: PrecomputeResult): Record<string, unknown> {
  return {
    cache: r.cacheDir,
    title: r.index.title,
    checkpoints: r.index.checkpoints.length,
    computed: r.computed,
    cached: r.cached,
    curves: r.index.curves?.source ?? null,
    attack: r.index.attack === null ? null : { samples: r.index.attack.samples, kMax: r.index.attack.kMax, data: r.index.attack.data },
    notes: r.index.notes,
    seconds: r.seconds,
  };
}

export function registerView(program: Command): void {
  program
    .command('view')
    .description('interactive viewer in the browser: eigenvectors of Γ, spectrum, β, training curves, SVD attack and logit decompositions, per checkpoint and class')
    .argument('<path>', 'a folder of step-<s>.safetensors checkpoints, a study or reproduce output folder, or one model or approximant file')
    .option('--port <n>', 'port to listen on (0 = a free one)', '0')
    .option('--host <addr>', `loopback address to listen on (${LOOPBACK_HOSTS.join(', ')})`, '127.0.0.1')
    .option('--cache <dir>', 'where the precomputed files go (default: <folder>/viewer, or <file>.viewer)')
    .option('--checkpoints <dir>', 'the checkpoints, when a study folder does not contain them')
    .option('--model <file>', 'for an approximant file: the network it approximates (enables the attack and the digits)')
    .option('--data <name|file>', 'test data: mnist-test, fashion-test or a file (default: from the checkpoints\' metadata)')
    .option('--labels <file>', 'labels file for data given as IDX images or .npy')
    .option('--test-limit <n|all>', 'score the attack on the first n test images', String(DEFAULT_VIEW_TEST_LIMIT))
    .option('--digits-per-class <n>', 'test digits shown per class', '2')
    .option('--top <k>', 'positive and negative eigenvectors shown per class', '4')
    .option('--k-max <k>', 'largest number of singular directions the attack removes (at most the rank of β)', '10')
    .option('--refresh', 'recompute everything instead of reusing the cache')
    .option('--no-serve', 'only precompute (and print where the files are)')
    .option('--json', 'with --no-serve: print one JSON summary on stdout')
    .addHelpText('after', `
The page is served on a loopback address only and loads nothing from elsewhere; its URL is printed on stdout.
The first run precomputes (about 5 s per MNIST checkpoint); later runs reuse the cache and start at once.
Examples:
  polyapprox view runs/quick
  polyapprox view runs/quick-study --checkpoints runs/quick --port 8080
  polyapprox view quad.safetensors --model net.safetensors --data mnist-test
  polyapprox view runs/quick --no-serve --json`)
    .action(action(async (path: string, flags: ViewFlags) => {
      const port = parseInteger(flags.port, '--port', 0, 65535);
      const host = parseChoice(flags.host, '--host', LOOPBACK_HOSTS);
      const testLimit = flags.testLimit === 'all' ? null : parseInteger(flags.testLimit, '--test-limit', 2);
      const digitsPerClass = parseInteger(flags.digitsPerClass, '--digits-per-class', 0, 100);
      const top = parseInteger(flags.top, '--top', 1, 64);
      const kMax = parseInteger(flags.kMax, '--k-max', 0, 1000);
      if (flags.json && flags.serve) throw new UsageError('--json needs --no-serve (a running viewer prints its URL instead)');
      const progress = createProgress();
      let result: PrecomputeResult;
      try {
        result = await precomputeViewer({
          source: path, testLimit, digitsPerClass, top, kMax, refresh: Boolean(flags.refresh),
          ...(flags.cache === undefined ? {} : { cacheDir: flags.cache }),
          ...(flags.checkpoints === undefined ? {} : { checkpoints: flags.checkpoints }),
          ...(flags.model === undefined ? {} : { model: flags.model }),
          ...(flags.data === undefined ? {} : { data: flags.data }),
          ...(flags.labels === undefined ? {} : { labels: flags.labels }),
          hooks: {
            onStart: (total) => {
              if (total > 0) progress.start('viewer precompute', total);
            },
            onCheckpoint: (done, label, cached) => progress.update(done, `${label}${cached ? ' (cached)' : ''}`),
            onNote: (m) => progress.note(`polyapprox view: ${m}`, true),
          },
        });
      } finally {
        progress.stop();
      }
      if (!flags.serve) {
        if (flags.json) process.stdout.write(`${JSON.stringify(summary(result))}\n`);
        else process.stdout.write(`${result.index.checkpoints.length} checkpoint(s), ${result.computed} computed, ${result.cached} from the cache, in ${result.seconds.toFixed(1)} s\nwrote ${result.cacheDir}\n`);
        return;
      }
      const server = await startViewerServer({ cacheDir: result.cacheDir, port, host });
      process.stdout.write(`polyapprox view: ${result.index.title}\n${server.url}\n(Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    }));
}
