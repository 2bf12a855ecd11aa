import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { FormatError, InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { readSafetensors, readSafetensorsFile, writeSafetensors, writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { bfloat16BitsToNumber, DTYPE_ITEMSIZE, float16BitsToNumber, type DType, type WritableTensor } from '../../src/formats/tensor.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/formats/${p}`, import.meta.url));
const num = (s: string): number => (s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));

interface Expected {
  dtype: string;
  shape: number[];
  values: string[];
}

function assertTensorEquals(actual: { dtype: string; shape: number[]; data: Float64Array }, expected: Expected, what: string): void {
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(actual.data.length, expected.values.length, `${what}: length`);
  expected.values.forEach((s, i) => {
    const want = num(s);
    assert.ok(Object.is(actual.data[i], want) || (Number.isNaN(want) && Number.isNaN(actual.data[i]!)), `${what}[${i}]: ${actual.data[i]} vs ${s}`);
  });
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A safetensors file with the given header object and data bytes (header padded to 8 like the writer). */
function build(header: unknown, data: Uint8Array): Uint8Array {
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  return concat(u64(text.length), Buffer.from(text, 'latin1'), data);
}

describe('golden files (written by Python)', () => {
  const checks = JSON.parse(readFileSync(fixture('golden/checks.json'), 'utf8')) as Record<
    string,
    { metadata: Record<string, string>; tensors: Record<string, { shape: number[]; sum: string; sumsq: string; first: string; last: string; middle_index: number; middle: string }> }
  >;

  test('there are golden files to check', () => {
    assert.ok(Object.keys(checks).length >= 24);
  });

  for (const [file, want] of Object.entries(checks)) {
    test(file, () => {
      const { tensors, metadata } = readSafetensorsFile(fixture(`golden/${file}`));
      assert.deepEqual(metadata, want.metadata);
      assert.deepEqual([...tensors.keys()].sort(), Object.keys(want.tensors).sort());
      for (const [name, w] of Object.entries(want.tensors)) {
        const t = tensors.get(name)!;
        assert.equal(t.dtype, 'F64');
        assert.deepEqual(t.shape, w.shape);
        assert.equal(t.data[0], num(w.first));
        assert.equal(t.data[t.data.length - 1], num(w.last));
        assert.equal(t.data[w.middle_index], num(w.middle));
        let sum = 0;
        let sumsq = 0;
        let scale = 0;
        for (const v of t.data) {
          sum += v;
          sumsq += v * v;
          scale += Math.abs(v);
        }
        // numpy sums pairwise, we sum left to right: both are within n·eps·Σ|v| of the exact sum.
        const tol = 4 * t.data.length * 2 ** -52 * scale;
        assert.ok(Math.abs(sum - num(w.sum)) <= tol, `${name} sum ${sum} vs ${w.sum}`);
        assert.ok(Math.abs(sumsq - num(w.sumsq)) <= 4 * t.data.length * 2 ** -52 * sumsq, `${name} sumsq`);
      }
    });
  }
});

describe('reading every dtype', () => {
  test('all_dtypes.safetensors: values, dtypes, shapes, unaligned data and UTF-8 metadata', () => {
    const expected = JSON.parse(readFileSync(fixture('safetensors/expected.json'), 'utf8')).all_dtypes as Record<string, Expected>;
    const { tensors, metadata } = readSafetensorsFile(fixture('safetensors/all_dtypes.safetensors'));
    assert.deepEqual(metadata, { producer: 'formats_make.py', note: 'ünïcode ✓' });
    assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected).sort());
    for (const [name, want] of Object.entries(expected)) assertTensorEquals(tensors.get(name)!, want, name);
  });

  test('aligned F64 tensors are zero-copy views of the input', () => {
    const bytes = writeSafetensors({ a: { dtype: 'F64', shape: [3], data: Float64Array.from([1, 2, 3]) } });
    const t = readSafetensors(bytes).tensors.get('a')!;
    assert.equal(t.data.buffer, bytes.buffer);
  });
});

describe('writing exactly what the reference library writes', () => {
  test('matches the bytes of the reference writer (dtype-rank then name order, compact JSON, padding)', () => {
    const ref = readFileSync(fixture('safetensors/reference_writer.safetensors'));
    const { tensors, metadata } = readSafetensors(ref, 'reference_writer');
    const mine = writeSafetensors(tensors, metadata);
    assert.deepEqual(Buffer.from(mine), Buffer.from(ref));
    assert.deepEqual(Buffer.from(writeSafetensors({})), readFileSync(fixture('safetensors/reference_empty.safetensors')));
  });

  // Byte layouts from the upstream safetensors test suite (header lengths 64, 72, 8 and 40).
  const f32 = (xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);
  test('upstream vector: one F32 tensor "attn.0" [1,2,3]', () => {
    const data = [0, 1, 2, 3, 4, 5];
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    const expected = concat(u64(64), Buffer.from(header.padEnd(64, ' ')), f32(data));
    assert.deepEqual(writeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: Float32Array.from(data) } }), expected);
  });
  test('upstream vector: forced alignment padding for "attn0" [1,1,2,3]', () => {
    const data = [0, 1, 2, 3, 4, 5];
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    const expected = concat(u64(72), Buffer.from(header.padEnd(72, ' ')), f32(data));
    assert.deepEqual(writeSafetensors(new Map([['attn0', { dtype: 'F32' as const, shape: [1, 1, 2, 3], data: Float64Array.from(data) }]])), expected);
  });
  test('upstream vectors: empty file, with and without metadata', () => {
    assert.deepEqual(writeSafetensors({}), concat(u64(8), Buffer.from('{}      ')));
    assert.deepEqual(writeSafetensors({}, { framework: 'pt' }), concat(u64(40), Buffer.from('{"__metadata__":{"framework":"pt"}}     ')));
  });
});

const DTYPES: DType[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

function exactValue(dtype: DType): fc.Arbitrary<number> {
  switch (dtype) {
    case 'F64':
      return fc.double({ noNaN: true });
    case 'F32':
      return fc.float({ noNaN: true });
    case 'F16':
      return fc.integer({ min: 0, max: 0x7bff }).map(float16BitsToNumber);
    case 'BF16':
      return fc.integer({ min: 0, max: 0x7f7f }).map((b) => -bfloat16BitsToNumber(b));
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

const tensorArb: fc.Arbitrary<WritableTensor> = fc
  .tuple(fc.constantFrom(...DTYPES), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.array(exactValue(dtype), { minLength: n, maxLength: n }).map((values) => ({ dtype, shape, data: Float64Array.from(values) }));
  });

describe('round trips', () => {
  test('write → read preserves names, dtypes, shapes, values and metadata; layout invariants hold', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__' && s !== '__proto__'), tensorArb, { maxKeys: 6 }),
        fc.option(fc.dictionary(fc.string({ maxLength: 8 }).filter((s) => s !== '__proto__'), fc.string({ maxLength: 12 }), { maxKeys: 3 }), { nil: undefined }),
        (tensors, metadata) => {
          const bytes = writeSafetensors(tensors, metadata);
          const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
          assert.equal(headerLength % 8, 0);
          const back = readSafetensors(bytes);
          assert.deepEqual({ ...back.metadata }, { ...(metadata ?? {}) });
          assert.equal(back.tensors.size, Object.keys(tensors).length);
          for (const [name, t] of Object.entries(tensors)) {
            const r = back.tensors.get(name)!;
            assert.equal(r.dtype, t.dtype);
            assert.deepEqual(r.shape, t.shape);
            assert.deepEqual(Array.from(r.data), Array.from(t.data));
          }
          // Each tensor's data starts at a multiple of its element size (the reference ordering guarantees it).
          const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
          for (const [name, info] of Object.entries(header) as [string, { dtype: DType; data_offsets: [number, number] }][]) {
            if (name === '__metadata__') continue;
            assert.equal(info.data_offsets[0] % DTYPE_ITEMSIZE[info.dtype], 0, `${name} aligned`);
          }
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  test('file round trip through the atomic writer leaves no temporary files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyapprox-st-'));
    try {
      const path = join(dir, 'approx.safetensors');
      const alpha = Float64Array.from([0.5, -1]);
      writeSafetensorsFile(path, { alpha: { dtype: 'F64', shape: [2], data: alpha } }, { degree: '2' });
      writeSafetensorsFile(path, { alpha: { dtype: 'F64', shape: [2], data: alpha.map((x) => 2 * x) } }, { degree: '1' });
      const back = readSafetensorsFile(path);
      assert.deepEqual(Array.from(back.tensors.get('alpha')!.data), [1, -2]);
      assert.deepEqual(back.metadata, { degree: '1' });
      assert.deepEqual(readdirSync(dir), ['approx.safetensors']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('validation', () => {
  const good = writeSafetensors({ a: { dtype: 'F64', shape: [2], data: Float64Array.from([1, 2]) }, b: { dtype: 'F32', shape: [1], data: Float64Array.from([3]) } });
  const data = good.subarray(8 + Number(new DataView(good.buffer).getBigUint64(0, true)));
  const expectFormatError = (bytes: Uint8Array, pattern: RegExp): void => {
    assert.throws(
      () => readSafetensors(bytes, 'bad.safetensors'),
      (e: Error) => e instanceof FormatError && e.message.startsWith('bad.safetensors:') && pattern.test(e.message),
    );
  };

  test('too short, absurd or overlong header length', () => {
    expectFormatError(new Uint8Array(5), /too short/);
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(4, 1, true);
    expectFormatError(huge, /exceeds/);
    const big = good.slice();
    new DataView(big.buffer).setUint32(0, 100_000_001, true);
    expectFormatError(big, /exceeds/);
    const past = good.slice();
    new DataView(past.buffer).setUint32(0, good.length, true);
    expectFormatError(past, /runs past the end/);
  });

  test('header that is not UTF-8, not JSON, or not an object', () => {
    expectFormatError(concat(u64(2), Uint8Array.from([0xc3, 0x28])), /UTF-8/);
    expectFormatError(concat(u64(8), Buffer.from('{"a": 1,')), /not valid JSON/);
    expectFormatError(concat(u64(8), Buffer.from('[1,2,3] ')), /JSON object/);
  });

  test('metadata must map strings to strings', () => {
    expectFormatError(build({ __metadata__: { k: 1 } }, new Uint8Array(0)), /metadata value for key "k"/);
    expectFormatError(build({ __metadata__: ['x'] }, new Uint8Array(0)), /__metadata__/);
  });

  test('entries: dtype, shape and offsets', () => {
    const entry = (o: object) => build({ t: { dtype: 'F64', shape: [2], data_offsets: [0, 16], ...o } }, data.subarray(0, 16));
    expectFormatError(entry({ dtype: 'F128' }), /unknown dtype "F128"/);
    expectFormatError(entry({ dtype: 'U16' }), /dtype U16 is not supported/);
    expectFormatError(entry({ shape: [-2] }), /"shape"/);
    expectFormatError(entry({ shape: [1.5] }), /"shape"/);
    expectFormatError(entry({ shape: 'x' }), /"shape"/);
    expectFormatError(entry({ data_offsets: [16, 0] }), /data_offsets/);
    expectFormatError(entry({ data_offsets: [0] }), /data_offsets/);
    expectFormatError(entry({ data_offsets: [0, 24] }), /out of range/);
    expectFormatError(entry({ shape: [3] }), /needs 24/);
    expectFormatError(build({ t: 5 }, new Uint8Array(0)), /must be an object/);
  });

  test('overlaps, gaps and trailing bytes', () => {
    const two = (a: [number, number], b: [number, number], n: number) =>
      build({ a: { dtype: 'F64', shape: [1], data_offsets: a }, b: { dtype: 'F64', shape: [1], data_offsets: b } }, new Uint8Array(n));
    expectFormatError(two([0, 8], [4, 12], 16), /overlap/);
    expectFormatError(two([0, 8], [0, 8], 8), /overlap/);
    expectFormatError(two([0, 8], [16, 24], 24), /gap/);
    expectFormatError(two([8, 16], [16, 24], 24), /gap/);
    expectFormatError(two([0, 8], [8, 16], 24), /trailing bytes/);
    // The same two tensors in either header order are fine.
    assert.equal(readSafetensors(two([8, 16], [0, 8], 16)).tensors.size, 2);
  });

  test('reading a missing file names it', () => {
    assert.throws(() => readSafetensorsFile('/nonexistent/model.safetensors'), (e: Error) => e instanceof FormatError && /\/nonexistent\/model\.safetensors/.test(e.message));
  });

  test('writer argument checks', () => {
    assert.throws(() => writeSafetensors({ __metadata__: { dtype: 'F64', shape: [], data: new Float64Array(1) } }), InvalidArgumentError);
    assert.throws(() => writeSafetensors({ a: { dtype: 'F64', shape: [3], data: new Float64Array(2) } }), ShapeError);
    assert.throws(() => writeSafetensors({}, { k: 5 as unknown as string }), InvalidArgumentError);
    assert.throws(() => writeSafetensors({ a: { dtype: 'I8', shape: [1], data: Float64Array.from([300]) } }), InvalidArgumentError);
  });
});
