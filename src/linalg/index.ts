/**
 * Dense linear algebra for polyapprox: the {@link Matrix} types, the operations of `ops.ts`, and the choice of
 * the backend they run on.
 *
 * Two backends implement {@link LinAlgBackend}: `native` (an N-API addon over the system OpenBLAS/LAPACKE,
 * built by `npm run build:native`) and `js` (portable JavaScript, 30–70× slower on large problems).
 * The process-wide backend is chosen lazily, on the first call of {@link getBackend} (every operation calls
 * it unless given `opts.backend`); importing this module never loads the addon.
 *
 * Environment:
 * - `POLYAPPROX_BACKEND=native|js|auto` (default `auto`) overrides the automatic choice. `native` makes the
 *   first use fail with `BackendError` if the addon cannot be loaded; `auto` uses native when it loads and
 *   otherwise falls back to JS, printing one notice line on stderr (once per process).
 * - `POLYAPPROX_NATIVE_PATH=/path/to/polyapprox_blas.node` loads the addon from a non-default location.
 */
import { BackendError, InvalidArgumentError } from '../errors.js';
import type { LinAlgBackend } from './backend.js';
import { createJsBackend } from './js.js';
import { loadNativeBackend } from './native.js';

export { Matrix, Matrix32, assertFinite, assertSquare, symmetrizeInPlace } from './matrix.js';
export type { BackendName, LinAlgBackend } from './backend.js';
export { createJsBackend } from './js.js';
export * from './ops.js';

/** What {@link setBackend} and `POLYAPPROX_BACKEND` accept. */
export type BackendChoice = 'native' | 'js' | 'auto';

const BACKEND_CHOICES: readonly BackendChoice[] = ['native', 'js', 'auto'];

type NativeAttempt = { ok: true; backend: LinAlgBackend } | { ok: false; error: BackendError };

let jsBackend: LinAlgBackend | undefined;
let nativeAttempt: NativeAttempt | undefined;
let selected: LinAlgBackend | undefined;
let fallbackNoticePrinted = false;
let requestedThreads: number | undefined;

function environmentVariable(name: string): string | undefined {
  // `process` is absent in a browser, where only the JS backend exists anyway.
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.[name]?.trim();
  return value === '' ? undefined : value;
}

function getJsBackend(): LinAlgBackend {
  if (!jsBackend) jsBackend = createJsBackend();
  return jsBackend;
}

/** Loads the native backend once per process and remembers the outcome, success or failure. */
function attemptNative(): NativeAttempt {
  if (nativeAttempt) return nativeAttempt;
  try {
    const backend = loadNativeBackend(environmentVariable('POLYAPPROX_NATIVE_PATH'));
    if (requestedThreads !== undefined) backend.setThreads(requestedThreads);
    nativeAttempt = { ok: true, backend };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    nativeAttempt = { ok: false, error: error instanceof BackendError ? error : new BackendError(message) };
  }
  return nativeAttempt;
}

function printFallbackNotice(reason: string): void {
  if (fallbackNoticePrinted) return;
  fallbackNoticePrinted = true;
  const oneLine = reason.replace(/\s+/g, ' ').trim();
  const line =
    `polyapprox: native OpenBLAS backend unavailable (${oneLine}); using the slower JS backend. ` +
    `See README "Native backend".\n`;
  const stderr = (globalThis as { process?: { stderr?: { write(s: string): unknown } } }).process?.stderr;
  if (stderr) stderr.write(line);
  else console.warn(line.trimEnd());
}

function parseChoice(value: string, source: string): BackendChoice {
  const choice = value.toLowerCase();
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new InvalidArgumentError(`${source} must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return choice as BackendChoice;
}

function resolveChoice(choice: BackendChoice, source: string): LinAlgBackend {
  if (choice === 'js') return getJsBackend();
  const attempt = attemptNative();
  if (attempt.ok) return attempt.backend;
  if (choice === 'native') {
    throw new BackendError(`${source} asked for the native backend, but it cannot be loaded: ${attempt.error.message}`);
  }
  printFallbackNotice(attempt.error.message);
  return getJsBackend();
}

/**
 * The backend every operation uses unless given `opts.backend`. Chosen on first call from
 * `POLYAPPROX_BACKEND` (default `auto`: native if it loads, else JS with a one-time notice on stderr),
 * unless {@link setBackend} chose one before.
 *
 * @throws BackendError if `POLYAPPROX_BACKEND=native` and the addon cannot be loaded;
 *   InvalidArgumentError if `POLYAPPROX_BACKEND` has another value than native, js or auto.
 */
export function getBackend(): LinAlgBackend {
  if (!selected) {
    const fromEnv = environmentVariable('POLYAPPROX_BACKEND');
    const choice = fromEnv === undefined ? 'auto' : parseChoice(fromEnv, 'POLYAPPROX_BACKEND');
    selected = resolveChoice(choice, `POLYAPPROX_BACKEND=${choice}`);
  }
  return selected;
}

/**
 * Selects the process-wide backend, overriding `POLYAPPROX_BACKEND`.
 *
 * @param name - `native` (must load), `js`, or `auto` (native if it loads, else JS with the one-time notice).
 * @returns the backend now in use.
 * @throws BackendError if `native` is requested and cannot be loaded (the previous selection stays);
 *   InvalidArgumentError for another name.
 */
export function setBackend(name: BackendChoice): LinAlgBackend {
  const choice = parseChoice(String(name), 'setBackend: name');
  selected = resolveChoice(choice, `setBackend('${choice}')`);
  return selected;
}

/** The backends that work in this process: the native one first if it loads, then the JS one. */
export function availableBackends(): LinAlgBackend[] {
  const attempt = attemptNative();
  return attempt.ok ? [attempt.backend, getJsBackend()] : [getJsBackend()];
}

/**
 * Sets the number of BLAS threads of the native backend (now if it is loaded, otherwise when it loads);
 * the JS backend is single-threaded and ignores it.
 *
 * @param n - a positive integer.
 * @throws InvalidArgumentError for a bad `n`; BackendError if the native backend is busy with a call.
 */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`setThreads: n must be a positive integer, got ${n}`);
  requestedThreads = n;
  if (nativeAttempt?.ok) nativeAttempt.backend.setThreads(n);
}
