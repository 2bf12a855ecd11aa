import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../src/errors.js';
import { writeAllSync, writeFileAtomic } from '../../src/formats/atomic.js';

const root = mkdtempSync(join(tmpdir(), 'polyapprox-atomic-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const freshDir = (): string => {
  const d = join(root, `case-${n++}`);
  mkdirSync(d);
  return d;
};

describe('writeFileAtomic', () => {
  test('writes bytes, replaces an existing file, leaves only the target', () => {
    const d = freshDir();
    const p = join(d, 'out.bin');
    writeFileSync(p, 'old contents');
    writeFileAtomic(p, Uint8Array.from([1, 2, 3]));
    assert.deepEqual(Array.from(readFileSync(p)), [1, 2, 3]);
    assert.deepEqual(readdirSync(d), ['out.bin']);
  });

  test('a writer callback receives the descriptor', () => {
    const d = freshDir();
    const p = join(d, 'big.bin');
    writeFileAtomic(p, (fd) => {
      writeAllSync(fd, new Uint8Array(100_000).fill(7));
      writeSync(fd, Buffer.from('end'));
    });
    const back = readFileSync(p);
    assert.equal(back.length, 100_003);
    assert.equal(back.subarray(100_000).toString(), 'end');
    assert.deepEqual(readdirSync(d), ['big.bin']);
  });

  test('a throwing callback: the error propagates unchanged, no temp file, the old file is intact', () => {
    const d = freshDir();
    const p = join(d, 'keep.bin');
    writeFileSync(p, 'precious');
    const boom = new RangeError('callback failed');
    assert.throws(
      () =>
        writeFileAtomic(p, (fd) => {
          writeSync(fd, Buffer.from('partial'));
          throw boom;
        }),
      (e: unknown) => e === boom,
    );
    assert.equal(readFileSync(p, 'utf8'), 'precious');
    assert.deepEqual(readdirSync(d), ['keep.bin']);
  });

  test('a missing directory is an InvalidArgumentError naming the path, and leaves nothing behind', () => {
    const d = freshDir();
    const p = join(d, 'no', 'such', 'dir', 'x.safetensors');
    assert.throws(() => writeFileAtomic(p, new Uint8Array(4)), (e: Error) => e instanceof InvalidArgumentError && e.message.includes(p) && /ENOENT/.test(e.message));
    assert.deepEqual(readdirSync(d), []);
  });

  test('a target that is a directory: the rename fails and the temp file is removed', () => {
    const d = freshDir();
    const p = join(d, 'taken');
    mkdirSync(p);
    writeFileSync(join(p, 'inside'), 'x');
    assert.throws(() => writeFileAtomic(p, new Uint8Array(4)), InvalidArgumentError);
    assert.deepEqual(readdirSync(d), ['taken']);
  });

  test('temporary names follow <path>.tmp-<pid>-<hex> and are unique', () => {
    const d = freshDir();
    const p = join(d, 'f');
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      writeFileAtomic(p, () => {
        seen.push(...readdirSync(d).filter((f) => f.startsWith('f.tmp-')));
      });
    }
    assert.equal(seen.length, 3);
    for (const s of seen) assert.match(s, new RegExp(`^f\\.tmp-${process.pid}-[0-9a-f]{12}$`));
    assert.equal(new Set(seen).size, 3);
    assert.deepEqual(readdirSync(d), ['f']);
  });
});
