/**
 * Progress reporting for long CLI steps: a bar on stderr when stderr is a terminal, nothing otherwise (CI logs and
 * pipes stay clean). stdout is never touched, so `--json` output stays a single object.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Starts a bar of `total` steps labelled `label`. */
  start(label: string, total: number): void;
  update(done: number, extra?: string): void;
  stop(): void;
  /** A one-line status message (only on a terminal, or always with `force`). */
  note(message: string, force?: boolean): void;
}

export function createProgress(enabled = Boolean(process.stderr.isTTY)): Progress {
  let bar: cliProgress.SingleBar | null = null;
  return {
    start(label, total) {
      if (!enabled) return;
      bar = new cliProgress.SingleBar(
        { format: `${label.padEnd(24)} [{bar}] {percentage}% | {value}/{total} {extra}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { extra: '' });
    },
    update(done, extra = '') {
      bar?.update(done, { extra });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
    note(message, force = false) {
      if (enabled || force) process.stderr.write(`${message}\n`);
    },
  };
}
