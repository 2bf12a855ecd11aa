/**
 * Concurrent "lanes" of BLAS work: several asynchronous tasks run at once, each on an equal share of the backend's
 * threads. Worth it where one call does not use the threads well: the mixture solver's operator (one lane's copies
 * and JavaScript run while the other's products do) and Gram matrices of a few long rows (OpenBLAS's kernel for
 * 10 × 10 outputs over 600 000 terms ran at ≈ 20 ms with one thread and ≈ 23 ms with two; two such products at once,
 * one thread each, took 19 ms against 41 ms in turn).
 */
import { BackendError } from '../errors.js';
import type { LinAlgBackend } from './backend.js';

/**
 * Runs `tasks` concurrently, each on ⌊threads / tasks⌋ BLAS threads, and restores the thread count afterwards. With
 * fewer threads than tasks, or if the count cannot be lowered (another BLAS call of the process is running), the
 * tasks run in turn on all threads, and a failing task stops the ones after it. Run concurrently, every task has
 * settled before the count is restored or an error propagates (the first rejection, in task order), so that none is
 * still writing. The tasks must not depend on each other's progress.
 */
export async function runInLanes(backend: LinAlgBackend, tasks: readonly (() => Promise<void>)[]): Promise<void> {
  const threads = backend.getThreads();
  let lowered = false;
  if (tasks.length >= 2 && threads >= tasks.length) {
    try {
      backend.setThreads(Math.floor(threads / tasks.length));
      lowered = true;
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
    }
  }
  if (!lowered) {
    for (const task of tasks) await task();
    return;
  }
  let settled: PromiseSettledResult<void>[];
  try {
    settled = await Promise.allSettled(tasks.map((task) => task()));
  } finally {
    restoreThreads(backend, threads);
  }
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
}

/**
 * Sets the BLAS thread count back to n after lanes. The count is process-wide and cannot change while another
 * caller's BLAS call is running (two solves at once in one process): then the restore is retried on a timer until
 * nothing is in flight, instead of failing the caller. The other caller's calls meanwhile run on fewer threads,
 * which only slows them; a later lane split reads the lowered count and runs its lanes in turn.
 */
function restoreThreads(backend: LinAlgBackend, n: number): void {
  const attempt = (): boolean => {
    try {
      backend.setThreads(n);
      return true;
    } catch (e) {
      if (e instanceof BackendError) return false;
      throw e;
    }
  };
  if (attempt()) return;
  const retry = (): void => {
    if (!attempt()) setTimeout(retry, 1).unref();
  };
  setTimeout(retry, 1).unref();
}
