/**
 * Atomic file replacement: readers of `path` see either the old file or the complete new one, never a
 * partial write, and a failed write leaves nothing behind.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { InvalidArgumentError } from '../errors.js';

/** True for the `SystemError`s node's fs functions throw (they carry a string `code` like `ENOENT`). */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

/** Writes all of `bytes` to `fd`, looping over short writes. */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * Writes `content` to `path` atomically.
 *
 * The data goes to `<path>.tmp-<pid>-<random hex>` in the same directory (so the final `rename` stays on
 * one file system and is atomic), is flushed with `fsync`, and the temporary file is then renamed over
 * `path`. If anything fails, including `content` when it is a callback, the temporary file is removed and
 * the error is rethrown.
 *
 * @param content the bytes to write, or a callback that writes to the open file descriptor itself (for
 *   large outputs that should not be assembled in memory first; use {@link writeAllSync})
 * @throws InvalidArgumentError naming `path` when the file system refuses (missing directory, permissions,
 *   `path` is a directory, disk full, ...); errors thrown by the callback are rethrown unchanged
 */
export function writeFileAtomic(path: string, content: Uint8Array | ((fd: number) => void)): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx', 0o666);
    created = true;
    if (typeof content === 'function') content(fd);
    else writeAllSync(fd, content);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    created = false;
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // The descriptor is being abandoned anyway; the original error is the one to report.
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        // Nothing more can be done; the original error is the one to report.
      }
    }
    if (isSystemError(e)) {
      const err = new InvalidArgumentError(`cannot write "${path}": ${e.message}`);
      (err as Error & { cause?: unknown }).cause = e;
      throw err;
    }
    throw e;
  }
  syncDirectory(dirname(path));
}

/** Makes the rename durable where the platform allows fsync on a directory (best effort). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms and file systems do not support fsync on directories; the data itself is synced.
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // ignore: see above
      }
    }
  }
}
