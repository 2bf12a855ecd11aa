import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { unzipSync, zipSync } from 'fflate';
import { FormatError, InvalidArgumentError } from '../../src/errors.js';
import { readNpy, writeNpy } from '../../src/formats/npy.js';
import { readNpz, writeNpz } from '../../src/formats/npz.js';
import { bfloat16BitsToNumber, float16BitsToNumber, type DType, type Tensor } from '../../src/formats/tensor.js';
import { crc32, crc32Portable, openZip, writeZip } from '../../src/formats/zip.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/formats/${p}`, import.meta.url));
const num = (s: string): number => (s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));

interface Expected {
  dtype: string;
  shape: number[];
  values: string[];
}

function assertTensorEquals(actual: Tensor, expected: Expected, what: string): void {
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(actual.data.length, expected.values.length, `${what}: length`);
  expected.values.forEach((s, i) => {
    const want = num(s);
    assert.ok(Object.is(actual.data[i], want) || (Number.isNaN(want) && Number.isNaN(actual.data[i]!)), `${what}[${i}]: ${actual.data[i]} vs ${s}`);
  });
}

describe('.npy files written by numpy', () => {
  const expected = JSON.parse(readFileSync(fixture('npy/expected.json'), 'utf8')) as Record<string, Expected>;
  for (const [name, want] of Object.entries(expected)) {
    test(`${name}: values (C order, row-major after Fortran transposition, byte order)`, () => {
      assertTensorEquals(readNpy(readFileSync(fixture(`npy/${name}`)), name), want, name);
    });
  }

  const cOrderLittleEndian = ['c_f8.npy', 'f16.npy', 'i8.npy', 'i4.npy', 'i2.npy', 'i1.npy', 'u1.npy', 'b1.npy', 'scalar.npy', 'empty.npy'];
  for (const name of cOrderLittleEndian) {
    test(`${name}: writeNpy reproduces numpy.save byte for byte`, () => {
      const bytes = readFileSync(fixture(`npy/${name}`));
      assert.deepEqual(Buffer.from(writeNpy(readNpy(bytes))), bytes);
    });
  }
});

function exactValue(dtype: DType): fc.Arbitrary<number> {
  switch (dtype) {
    case 'F64':
      return fc.double();
    case 'F32':
      return fc.float();
    case 'F16':
      return fc.integer({ min: 0, max: 0xffff }).map(float16BitsToNumber);
    case 'BF16':
      return fc.integer({ min: 0, max: 0xffff }).map(bfloat16BitsToNumber);
    case 'I64':
      return fc.integer({ min: -(2 ** 53), max: 2 ** 53 });
    case 'I32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'I16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'I8':
      return fc.integer({ min: -128, max: 127 });
    case 'U8':
      return fc.integer({ min: 0, max: 255 });
    case 'BOOL':
      return fc.integer({ min: 0, max: 1 });
  }
}

const NPY_DTYPES: DType[] = ['F64', 'F32', 'F16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];
const tensorArb = fc
  .tuple(fc.constantFrom(...NPY_DTYPES), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }))
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.array(exactValue(dtype), { minLength: n, maxLength: n }).map((v): Tensor => ({ dtype, shape, data: Float64Array.from(v) }));
  });

function sameTensor(a: Tensor, b: Tensor): void {
  assert.equal(a.dtype, b.dtype);
  assert.deepEqual(a.shape, b.shape);
  assert.equal(a.data.length, b.data.length);
  for (let i = 0; i < a.data.length; i++) assert.ok(Object.is(a.data[i], b.data[i]) || (Number.isNaN(a.data[i]!) && Number.isNaN(b.data[i]!)));
}

describe('.npy round trips and validation', () => {
  test('writeNpy → readNpy is the identity for every dtype numpy has', () => {
    fc.assert(
      fc.property(tensorArb, (t) => {
        const bytes = writeNpy(t);
        assert.equal((bytes[8]! | (bytes[9]! << 8)) + 10 === bytes.length - t.data.length * { F64: 8, F32: 4, F16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, BF16: 2 }[t.dtype], true);
        sameTensor(readNpy(bytes), t);
      }),
      { numRuns: 300, seed: 5 },
    );
  });

  test('headers too long for format 1.0 are written as 2.0', () => {
    const shape = new Array(25000).fill(1).concat([2]);
    const bytes = writeNpy({ dtype: 'F64', shape, data: Float64Array.from([1, 2]) });
    assert.equal(bytes[6], 2);
    const back = readNpy(bytes);
    assert.equal(back.shape.length, 25001);
    assert.deepEqual(Array.from(back.data), [1, 2]);
  });

  test('bfloat16 has no .npy form', () => {
    assert.throws(() => writeNpy({ dtype: 'BF16', shape: [1], data: new Float64Array(1) }), InvalidArgumentError);
  });

  const header = (dict: string, major = 1): Uint8Array => {
    const text = Buffer.from(dict + '\n', 'latin1');
    const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0, text.length & 0xff, text.length >> 8]);
    return Buffer.concat([prefix, text]);
  };
  const bad = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(() => readNpy(bytes, 'x.npy'), (e: Error) => e instanceof FormatError && e.message.startsWith('x.npy') && pattern.test(e.message));

  test('malformed files are FormatErrors', () => {
    bad(Buffer.from('NUMPY\x01\x00'), /magic/);
    bad(Buffer.concat([header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 4), Buffer.alloc(8)]), /version 4/);
    bad(header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }").subarray(0, 30), /runs past the end/);
    bad(header("[1, 2]"), /must be a dict/);
    bad(header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)"), /malformed/);
    bad(header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } extra"), /malformed/);
    bad(header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"), /never unpickled/);
    bad(header("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }"), /structured/);
    bad(header("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }"), /unsupported .npy dtype/);
    bad(header("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }"), /fortran_order/);
    bad(header("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }"), /shape/);
    bad(header("{'descr': '<f8', 'fortran_order': False, 'shape': (__import__,), }"), /unexpected name/);
    bad(Buffer.concat([header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"), Buffer.alloc(8)]), /needs 16/);
    bad(Buffer.concat([header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"), Buffer.alloc(9)]), /needs 8/);
  });

  test('Python 2 style long integers in the shape are accepted', () => {
    const t = readNpy(Buffer.concat([header("{'descr': '<i4', 'fortran_order': False, 'shape': (2L,), }"), Buffer.from([1, 0, 0, 0, 255, 255, 255, 255])]));
    assert.deepEqual(Array.from(t.data), [1, -1]);
  });
});

describe('.npz archives', () => {
  const expected = JSON.parse(readFileSync(fixture('npz/expected.json'), 'utf8')) as { arrays: Record<string, Expected> };
  for (const file of ['stored.npz', 'compressed.npz']) {
    test(`${file} (numpy ${file === 'stored.npz' ? 'savez' : 'savez_compressed'})`, () => {
      const arrays = readNpz(readFileSync(fixture(`npz/${file}`)), file);
      assert.deepEqual([...arrays.keys()].sort(), Object.keys(expected.arrays).sort());
      for (const [name, want] of Object.entries(expected.arrays)) assertTensorEquals(arrays.get(name)!, want, `${file}:${name}`);
    });
  }

  test('writeNpz → readNpz round trip, and an independent zip reader (fflate) sees the same entries', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_./]{0,10}$/), tensorArb, { maxKeys: 5 }), (arrays) => {
        const bytes = writeNpz(arrays);
        const back = readNpz(bytes);
        assert.equal(back.size, Object.keys(arrays).length);
        for (const [name, t] of Object.entries(arrays)) sameTensor(back.get(name)!, t);
        const other = unzipSync(bytes);
        assert.deepEqual(Object.keys(other).sort(), Object.keys(arrays).map((k) => `${k}.npy`).sort());
        for (const [name, t] of Object.entries(arrays)) sameTensor(readNpy(other[`${name}.npy`]!), t);
      }),
      { numRuns: 100, seed: 9 },
    );
  });
});

describe('zip reader', () => {
  test('crc32 check value; the portable (slicing-by-8) and zlib implementations agree', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32Portable(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 7 }), (data, shift) => {
        const v = data.subarray(Math.min(shift, data.length));
        return crc32Portable(v) === crc32(v);
      }),
      { numRuns: 500, seed: 13 },
    );
  });

  test('reads stored and deflated archives written by another implementation', () => {
    const files = { 'a.txt': Buffer.from('hello '.repeat(100)), 'dir/b.bin': new Uint8Array([1, 2, 3]), 'empty': new Uint8Array(0) };
    for (const level of [0, 6] as const) {
      const zip = openZip(zipSync(files, { level }));
      assert.deepEqual([...zip.names].sort(), Object.keys(files).sort());
      for (const [name, data] of Object.entries(files)) assert.deepEqual(Buffer.from(zip.read(name)), Buffer.from(data));
    }
  });

  test('a corrupted entry fails its CRC check', () => {
    const bytes = writeZip([['x.bin', new Uint8Array([9, 9, 9, 9])]]);
    const broken = bytes.slice();
    broken[30 + 'x.bin'.length] ^= 1;
    assert.throws(() => openZip(broken, 'z.zip').read('x.bin'), /z\.zip: zip entry "x\.bin" fails its CRC-32 check/);
  });

  test('declared sizes deflate cannot produce are refused before inflating', () => {
    const bytes = zipSync({ 'big.bin': new Uint8Array(5000) }, { level: 9 });
    // Patch the central directory's uncompressed size to 4 GB − 1.
    const cd = Buffer.from(bytes).lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const patched = bytes.slice();
    new DataView(patched.buffer).setUint32(cd + 24, 0xfffffffe, true);
    assert.throws(() => openZip(patched, 'bomb.zip'), /claims 4294967294 bytes/);
  });

  test('duplicate names and empty names are rejected by the writer', () => {
    assert.throws(() => writeZip([['a', new Uint8Array(0)], ['a', new Uint8Array(0)]]), InvalidArgumentError);
    assert.throws(() => writeZip([['', new Uint8Array(0)]]), InvalidArgumentError);
  });
});
