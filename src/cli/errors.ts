/**
 * How the CLI fails: one clear line on stderr and a non-zero exit for anything the user can fix; a stack trace only
 * for genuine internal errors (or with POLYAPPROX_DEBUG=1).
 */
import { PolyapproxError } from '../errors.js';

/** A usage error detected by the CLI itself (bad flag combination, missing option). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes: 1 = the input could not be processed, 2 = usage, 70 = internal error. */
export function reportError(e: unknown): number {
  const debug = process.env.POLYAPPROX_DEBUG === '1';
  if (e instanceof UsageError) {
    process.stderr.write(`polyapprox: ${e.message}\n`);
    return 2;
  }
  if (e instanceof PolyapproxError) {
    process.stderr.write(`polyapprox: error: ${e.message}\n`);
    if (debug) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && typeof err.syscall === 'string') {
    // File-system errors (ENOENT, EACCES, ...) are user errors too.
    process.stderr.write(`polyapprox: error: ${err.message}\n`);
    return 1;
  }
  if (err instanceof RangeError && /Array buffer allocation failed|Invalid typed array length|Invalid array length/.test(err.message)) {
    process.stderr.write(`polyapprox: error: out of memory (${err.message}); try a smaller problem or the factored form\n`);
    return 1;
  }
  process.stderr.write(`polyapprox: internal error: ${err?.message ?? String(e)}\n`);
  process.stderr.write(debug ? `${err?.stack}\n` : 'Run with POLYAPPROX_DEBUG=1 for a stack trace, and please report it.\n');
  return 70;
}

/** Wraps a command action so errors become exit codes instead of crashes. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}
