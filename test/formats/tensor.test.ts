import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { Matrix } from '../../src/linalg/matrix.js';
import { readNpz } from '../../src/formats/npz.js';
import {
  bfloat16BitsToNumber,
  checkedNumel,
  decodeElements,
  DTYPE_ITEMSIZE,
  encodeElements,
  float16BitsToNumber,
  matrixToTensor,
  numberToBFloat16Bits,
  numberToFloat16Bits,
  numberToFloat32Bits,
  numel,
  tensorToMatrix,
  tensorToVector,
  vectorToTensor,
  type DType,
} from '../../src/formats/tensor.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/formats/${p}`, import.meta.url));

/** Same value, with NaN equal to NaN and +0 distinct from -0. */
function sameValue(a: number, b: number): boolean {
  return Object.is(a, b);
}

describe('numel', () => {
  test('products, scalars and zero dimensions', () => {
    assert.equal(numel([]), 1);
    assert.equal(numel([3, 4, 5]), 60);
    assert.equal(numel([0, 2 ** 50]), 0);
    assert.equal(checkedNumel([0, 2 ** 60]), undefined);
    assert.equal(checkedNumel([2 ** 30, 2 ** 30]), undefined);
    assert.equal(checkedNumel([1.5]), undefined);
    assert.equal(checkedNumel([-1]), undefined);
    assert.throws(() => numel([2 ** 40, 2 ** 40]), ShapeError);
  });
});

describe('float16', () => {
  test('decoding all 65536 bit patterns matches numpy', () => {
    const oracle = readNpz(readFileSync(fixture('npz/half_all.npz'))).get('values')!;
    assert.equal(oracle.data.length, 65536);
    let checked = 0;
    for (let b = 0; b < 65536; b++) {
      const mine = float16BitsToNumber(b);
      const ref = oracle.data[b]!;
      if (Number.isNaN(ref)) assert.ok(Number.isNaN(mine), `bits 0x${b.toString(16)}`);
      else assert.ok(sameValue(mine, ref), `bits 0x${b.toString(16)}: ${mine} vs ${ref}`);
      checked++;
    }
    assert.equal(checked, 65536);
  });

  test('decodeElements(F16) agrees with the scalar decoder for every pattern, both byte orders', () => {
    const le = new Uint8Array(2 * 65536);
    const be = new Uint8Array(2 * 65536);
    for (let b = 0; b < 65536; b++) {
      le[2 * b] = b & 0xff;
      le[2 * b + 1] = b >>> 8;
      be[2 * b] = b >>> 8;
      be[2 * b + 1] = b & 0xff;
    }
    const a = decodeElements(le, 0, 65536, 'F16', true);
    const c = decodeElements(be, 0, 65536, 'F16', false);
    for (let b = 0; b < 65536; b++) {
      const want = float16BitsToNumber(b);
      assert.ok(sameValue(a[b]!, want) || (Number.isNaN(want) && Number.isNaN(a[b]!)));
      assert.ok(sameValue(c[b]!, want) || (Number.isNaN(want) && Number.isNaN(c[b]!)));
    }
  });

  test('encoding from float64 rounds like numpy (halfway cases, overflow, subnormals)', () => {
    const npz = readNpz(readFileSync(fixture('npz/half_encode.npz')));
    const x = npz.get('x')!.data;
    const bits = npz.get('bits')!.data;
    assert.ok(x.length > 5000);
    for (let i = 0; i < x.length; i++) {
      const got = numberToFloat16Bits(x[i]!);
      assert.equal(got, bits[i], `x = ${x[i]} (index ${i}): got 0x${got.toString(16)}, numpy 0x${bits[i]!.toString(16)}`);
    }
  });

  test('every finite half round-trips through float64', () => {
    for (let b = 0; b < 65536; b++) {
      const v = float16BitsToNumber(b);
      if (Number.isNaN(v)) continue;
      assert.equal(numberToFloat16Bits(v), b);
    }
  });
});

describe('bfloat16', () => {
  test('decoding all 65536 bit patterns equals the upper half of a binary32', () => {
    const dv = new DataView(new ArrayBuffer(4));
    for (let b = 0; b < 65536; b++) {
      dv.setUint32(0, b << 16 >>> 0);
      const ref = dv.getFloat32(0);
      const mine = bfloat16BitsToNumber(b);
      if (Number.isNaN(ref)) assert.ok(Number.isNaN(mine));
      else assert.ok(sameValue(mine, ref), `bits 0x${b.toString(16)}`);
    }
  });

  test('encoding: exact values round-trip; midpoints round to even; just above rounds up', () => {
    for (let b = 0; b < 0x7f80; b++) {
      const v = bfloat16BitsToNumber(b);
      assert.equal(numberToBFloat16Bits(v), b);
      assert.equal(numberToBFloat16Bits(-v), b | 0x8000);
      const next = bfloat16BitsToNumber(b + 1);
      if (!Number.isFinite(next)) continue;
      const mid = (v + next) / 2; // exact in float64
      const even = b % 2 === 0 ? b : b + 1;
      assert.equal(numberToBFloat16Bits(mid), even, `midpoint above 0x${b.toString(16)}`);
      const above = mid + Math.abs(mid) * 2 ** -40 + 2 ** -1074;
      assert.equal(numberToBFloat16Bits(above), b + 1);
    }
    assert.equal(numberToBFloat16Bits(Infinity), 0x7f80);
    assert.equal(numberToBFloat16Bits(1e39), 0x7f80);
    assert.equal(numberToBFloat16Bits(NaN) & 0x7fc0, 0x7fc0);
  });
});

describe('the shared rounding routine', () => {
  test('matches Math.fround bit for bit when configured as binary32', () => {
    const dv = new DataView(new ArrayBuffer(4));
    const bitsOfFround = (x: number): number => {
      dv.setFloat32(0, Math.fround(x));
      return dv.getUint32(0);
    };
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (x) => numberToFloat32Bits(x) === bitsOfFround(x)),
      { numRuns: 20000, seed: 7 },
    );
    // Midpoints between adjacent binary32 values, including subnormals and the overflow threshold.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7f7ffffe }), (b) => {
        dv.setUint32(0, b);
        const lo = dv.getFloat32(0);
        dv.setUint32(0, b + 1);
        const hi = dv.getFloat32(0);
        const mid = (lo + hi) / 2;
        return numberToFloat32Bits(mid) === bitsOfFround(mid);
      }),
      { numRuns: 20000, seed: 11 },
    );
    assert.equal(numberToFloat32Bits(3.4028235677973366e38), bitsOfFround(3.4028235677973366e38));
  });
});

const ALL_DTYPES: DType[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

/** Values each dtype holds exactly. */
function exactValues(dtype: DType): fc.Arbitrary<number> {
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
      return fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
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

describe('element codecs', () => {
  for (const dtype of ALL_DTYPES) {
    test(`${dtype}: encode then decode is the identity on exactly representable values, at any alignment`, () => {
      fc.assert(
        fc.property(fc.array(exactValues(dtype), { maxLength: 40 }), fc.integer({ min: 0, max: 7 }), fc.boolean(), (values, shift, little) => {
          const bytes = encodeElements(values, dtype, 'test', little);
          assert.equal(bytes.length, values.length * DTYPE_ITEMSIZE[dtype]);
          const padded = new Uint8Array(bytes.length + shift);
          padded.set(bytes, shift);
          const back = decodeElements(padded, shift, values.length, dtype, little);
          for (let i = 0; i < values.length; i++) {
            const v = values[i]!;
            if (Number.isNaN(v)) assert.ok(Number.isNaN(back[i]!));
            else assert.ok(sameValue(back[i]!, v), `${dtype} ${v} → ${back[i]}`);
          }
        }),
        { numRuns: 200, seed: 3 },
      );
    });
  }

  test('aligned little-endian F64 is decoded zero-copy; unaligned F64 is copied', () => {
    const bytes = encodeElements([1.5, -2, 3], 'F64', 'test');
    const aligned = decodeElements(bytes, 0, 3, 'F64');
    assert.equal(aligned.buffer, bytes.buffer);
    const shifted = new Uint8Array(25);
    shifted.set(bytes, 1);
    const copy = decodeElements(shifted, 1, 3, 'F64');
    assert.notEqual(copy.buffer, shifted.buffer);
    assert.deepEqual(Array.from(copy), [1.5, -2, 3]);
  });

  test('integer and overflow checks on encode', () => {
    assert.throws(() => encodeElements([1.5], 'I32', 'W'), InvalidArgumentError);
    assert.throws(() => encodeElements([2 ** 31], 'I32', 'W'), InvalidArgumentError);
    assert.throws(() => encodeElements([2], 'BOOL', 'W'), InvalidArgumentError);
    assert.throws(() => encodeElements([NaN], 'U8', 'W'), InvalidArgumentError);
    assert.throws(() => encodeElements([1e39], 'F32', 'W'), /overflows F32/);
    assert.throws(() => encodeElements([70000], 'F16', 'W'), /overflows F16/);
    assert.deepEqual(Array.from(decodeElements(encodeElements([Infinity, NaN], 'F16', 'W'), 0, 2, 'F16')).map(String), ['Infinity', 'NaN']);
  });

  test('decoding past the end is a FormatError', () => {
    assert.throws(() => decodeElements(new Uint8Array(7), 0, 1, 'F64'), { name: 'FormatError' });
  });
});

describe('matrix and vector conversions', () => {
  test('shapes are checked and data is shared', () => {
    const t = { dtype: 'F64' as const, shape: [2, 3], data: Float64Array.from([1, 2, 3, 4, 5, 6]) };
    const m = tensorToMatrix(t, 'W1');
    assert.equal(m.get(1, 0), 4);
    assert.equal(m.data, t.data);
    assert.throws(() => tensorToMatrix({ ...t, shape: [6] }, 'W1'), (e: Error) => e instanceof ShapeError && /"W1"/.test(e.message));
    assert.throws(() => tensorToVector(t, 'b1'), (e: Error) => e instanceof ShapeError && /"b1"/.test(e.message));
    const back = matrixToTensor(new Matrix(2, 3, t.data));
    assert.deepEqual(back.shape, [2, 3]);
    assert.deepEqual(vectorToTensor([1, 2]).shape, [2]);
  });
});
