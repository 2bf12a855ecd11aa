/**
 * In-memory tensors read from model files, and the element codecs every reader and writer shares.
 *
 * Whatever the stored element type, a {@link Tensor}'s data is widened to float64 on read (exactly: every
 * float16, bfloat16, float32 and every integer up to 2^53 in magnitude is a float64), while `dtype` keeps
 * the stored type. Data is row-major (C order).
 */
import { FormatError, InvalidArgumentError, ShapeError } from '../errors.js';
import { Matrix } from '../linalg/matrix.js';

/** Element types a tensor file may store (names as in the safetensors header). */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** A dense row-major tensor, widened to float64. */
export interface Tensor {
  /** The element type as stored in the file. */
  dtype: DType;
  /** Dimensions, outermost first; `[]` is a scalar. */
  shape: number[];
  /** `numel(shape)` elements in row-major order. May be a view into the bytes the tensor was read from. */
  data: Float64Array;
}

/** A tensor handed to a writer: data in float64 or float32, encoded on write as `dtype`. */
export interface WritableTensor {
  dtype: DType;
  shape: readonly number[];
  data: Float64Array | Float32Array;
}

/**
 * A tensor whose data is decoded on first access (then kept). Readers validate everything up front and
 * defer only the decoding, which cannot fail, so that reading one block of a large checkpoint does not
 * widen every other tensor to float64.
 */
export function lazyTensor(dtype: DType, shape: number[], decode: () => Float64Array): Tensor {
  let cached: Float64Array | undefined;
  const t = { dtype, shape } as Tensor;
  Object.defineProperty(t, 'data', {
    enumerable: true,
    configurable: true,
    get(): Float64Array {
      if (cached === undefined) cached = decode();
      return cached;
    },
    set(v: Float64Array) {
      cached = v;
    },
  });
  return t;
}

/** Bytes per element of each dtype. */
export const DTYPE_ITEMSIZE: Readonly<Record<DType, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/** Whether `s` names a supported {@link DType}. */
export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_ITEMSIZE, s);
}

/** Whether the dtype is a floating-point type (the only types model weights may have). */
export function isFloatDType(dtype: DType): boolean {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/** `[3, 4]` style rendering of a shape, for messages. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Number of elements of `shape`, or `undefined` when a dimension is not a non-negative safe integer or
 * the product exceeds 2^53 − 1. Readers use this to turn bad headers into `FormatError`s.
 */
export function checkedNumel(shape: readonly unknown[]): number | undefined {
  let n = 1;
  let hasZero = false;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    if (d === 0) hasZero = true;
  }
  if (hasZero) return 0;
  for (const d of shape as number[]) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return n;
}

/**
 * Number of elements of a tensor with this shape (1 for a scalar).
 * @throws ShapeError if a dimension is not a non-negative integer or the product overflows 2^53 − 1.
 */
export function numel(shape: readonly number[]): number {
  const n = checkedNumel(shape);
  if (n === undefined) {
    throw new ShapeError(`invalid shape ${formatShape(shape)}: dimensions must be non-negative integers with a product below 2^53`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Half-precision codecs

/**
 * The float64 value of an IEEE 754 binary16 bit pattern (exact, including subnormals, ±0, ±∞ and NaN).
 * @param bits an integer in [0, 65535]
 */
export function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/**
 * The float64 value of a bfloat16 bit pattern (the upper half of a binary32), exact, including
 * subnormals, ±0, ±∞ and NaN.
 * @param bits an integer in [0, 65535]
 */
export function bfloat16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 7) & 0xff;
  const mantissa = bits & 0x7f;
  if (exponent === 0) return sign * mantissa * 2 ** -133;
  if (exponent === 0xff) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (128 + mantissa) * 2 ** (exponent - 134);
}

const scratch = new DataView(new ArrayBuffer(8));

/** Rounds a non-negative float64 to the nearest integer, ties to even (exact: no intermediate rounding). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Bit pattern of the binary floating-point format with `exponentBits`/`mantissaBits` nearest to `x`,
 * rounding half to even directly from float64 (no double rounding). Values at or beyond the rounding
 * threshold of the largest finite value become ±∞; NaN becomes the canonical quiet NaN.
 */
function encodeBinaryFloat(x: number, exponentBits: number, mantissaBits: number): number {
  const signBit = 1 << (exponentBits + mantissaBits);
  const expAll = (1 << exponentBits) - 1;
  if (Number.isNaN(x)) return (expAll << mantissaBits) | (1 << (mantissaBits - 1));
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  const bias = (1 << (exponentBits - 1)) - 1;
  const emin = 1 - bias;
  // Halfway between the largest finite value (2 − 2^−m)·2^bias and 2^(bias+1).
  const overflow = (2 - 2 ** -(mantissaBits + 1)) * 2 ** bias;
  if (a >= overflow) return sign | (expAll << mantissaBits);
  if (a < 2 ** emin) {
    // Subnormal (or zero): multiples of 2^(emin − m); scaling by a power of two is exact here.
    return sign | roundHalfEven(a * 2 ** (mantissaBits - emin));
  }
  scratch.setFloat64(0, a);
  const e = ((scratch.getUint32(0) >>> 20) & 0x7ff) - 1023;
  let m = roundHalfEven((a * 2 ** -e - 1) * 2 ** mantissaBits);
  let biased = e + bias;
  if (m === 1 << mantissaBits) {
    m = 0;
    biased += 1;
  }
  return sign | (biased << mantissaBits) | m;
}

/** The binary16 bit pattern nearest to `x` (round half to even; overflow to ±∞; NaN → 0x7e00). */
export function numberToFloat16Bits(x: number): number {
  return encodeBinaryFloat(x, 5, 10);
}

/** The bfloat16 bit pattern nearest to `x` (round half to even from float64; overflow to ±∞; NaN → 0x7fc0). */
export function numberToBFloat16Bits(x: number): number {
  return encodeBinaryFloat(x, 8, 7);
}

/** The binary32 bit pattern nearest to `x`; exported for tests of the shared rounding routine. */
export function numberToFloat32Bits(x: number): number {
  return encodeBinaryFloat(x, 8, 23) >>> 0;
}

let float16Table: Float64Array | undefined;
/** All 65536 binary16 values, built on first use. */
function float16Lookup(): Float64Array {
  if (float16Table === undefined) {
    float16Table = new Float64Array(65536);
    for (let b = 0; b < 65536; b++) float16Table[b] = float16BitsToNumber(b);
  }
  return float16Table;
}

/**
 * A fresh copy of `length` bytes at `offset`, in its own exactly sized ArrayBuffer. (`Buffer#slice` does
 * not copy and Buffers may sit inside a larger pooled ArrayBuffer, so `.slice().buffer` is not safe.)
 */
function copyBytes(bytes: Uint8Array, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(offset, offset + length));
  return out;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------------------
// Element decoding / encoding

/**
 * Decodes `count` elements of `dtype` starting at `bytes[offset]` into float64.
 *
 * Little-endian float64 data on a little-endian host whose absolute address is 8-byte aligned is returned
 * as a view into `bytes` (zero-copy; it aliases the input). Everything else is copied, so unaligned data is
 * read correctly.
 *
 * @param what names the data in the error message
 * @throws FormatError if the range runs past the end of `bytes`
 */
export function decodeElements(
  bytes: Uint8Array,
  offset: number,
  count: number,
  dtype: DType,
  littleEndian = true,
  what = 'tensor data',
): Float64Array {
  const size = DTYPE_ITEMSIZE[dtype];
  const nbytes = count * size;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(nbytes) || offset + nbytes > bytes.length) {
    throw new FormatError(`${what}: needs ${nbytes} bytes at offset ${offset}, but only ${bytes.length} bytes are available`);
  }
  const abs = bytes.byteOffset + offset;
  const native = littleEndian === HOST_LITTLE_ENDIAN;
  if (count === 0) return new Float64Array(0);
  if (dtype === 'F64' && native) {
    if (abs % 8 === 0) return new Float64Array(bytes.buffer, abs, count);
    return new Float64Array(copyBytes(bytes, offset, nbytes).buffer);
  }
  if (dtype === 'F32' && native) {
    const f32 = abs % 4 === 0 ? new Float32Array(bytes.buffer, abs, count) : new Float32Array(copyBytes(bytes, offset, nbytes).buffer);
    return new Float64Array(f32);
  }
  const out = new Float64Array(count);
  const view = new DataView(bytes.buffer, abs, nbytes);
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, littleEndian);
      break;
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, littleEndian);
      break;
    case 'F16': {
      const table = float16Lookup();
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(2 * i, littleEndian)]!;
      break;
    }
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bfloat16BitsToNumber(view.getUint16(2 * i, littleEndian));
      break;
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(8 * i, littleEndian));
      break;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, littleEndian);
      break;
    case 'I16':
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, littleEndian);
      break;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    case 'U8':
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
      break;
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i) !== 0 ? 1 : 0;
      break;
  }
  return out;
}

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  I64: [-(2 ** 63), 2 ** 63],
  I32: [-(2 ** 31), 2 ** 31],
  I16: [-(2 ** 15), 2 ** 15],
  I8: [-(2 ** 7), 2 ** 7],
  U8: [0, 2 ** 8],
  BOOL: [0, 2],
};

/**
 * Encodes float64/float32 values as `dtype` bytes (little-endian unless stated).
 *
 * Floating-point targets round to nearest, ties to even; NaN and ±∞ are stored as such.
 * @param what names the data in error messages
 * @throws InvalidArgumentError if a finite value overflows a float target, or an integer/bool target
 *   receives a value that is not an integer in its range (bool: 0 or 1)
 */
export function encodeElements(data: ArrayLike<number>, dtype: DType, what: string, littleEndian = true): Uint8Array {
  const n = data.length;
  const size = DTYPE_ITEMSIZE[dtype];
  const out = new Uint8Array(n * size);
  const view = new DataView(out.buffer);
  const native = littleEndian === HOST_LITTLE_ENDIAN;
  if (dtype === 'F64') {
    if (native) new Float64Array(out.buffer).set(data);
    else for (let i = 0; i < n; i++) view.setFloat64(8 * i, data[i]!, littleEndian);
    return out;
  }
  if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') {
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      let overflow: boolean;
      if (dtype === 'F32') {
        const r = Math.fround(v);
        overflow = Number.isFinite(v) && !Number.isFinite(r);
        view.setFloat32(4 * i, r, littleEndian);
      } else {
        const bits = dtype === 'F16' ? numberToFloat16Bits(v) : numberToBFloat16Bits(v);
        const exponentAllOnes = dtype === 'F16' ? (bits & 0x7c00) === 0x7c00 : (bits & 0x7f80) === 0x7f80;
        overflow = Number.isFinite(v) && exponentAllOnes;
        view.setUint16(2 * i, bits, littleEndian);
      }
      if (overflow) throw new InvalidArgumentError(`${what}: value ${v} at flat index ${i} overflows ${dtype}`);
    }
    return out;
  }
  const [lo, hi] = INT_RANGE[dtype]!;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (!Number.isInteger(v) || v < lo || v >= hi) {
      const range = dtype === 'BOOL' ? '0 or 1' : `an integer in [${lo}, ${hi})`;
      throw new InvalidArgumentError(`${what}: value ${v} at flat index ${i} cannot be stored as ${dtype} (needs ${range})`);
    }
    switch (dtype) {
      case 'I64':
        view.setBigInt64(8 * i, BigInt(v), littleEndian);
        break;
      case 'I32':
        view.setInt32(4 * i, v, littleEndian);
        break;
      case 'I16':
        view.setInt16(2 * i, v, littleEndian);
        break;
      default:
        out[i] = v & 0xff;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Conversions to and from the linear-algebra types

/**
 * The 2-D tensor `t` as a row-major {@link Matrix} sharing its data.
 * @param name names the tensor in the error message
 * @throws ShapeError unless `t` is 2-D
 */
export function tensorToMatrix(t: Tensor, name: string): Matrix {
  if (t.shape.length !== 2) {
    throw new ShapeError(`tensor "${name}" must be 2-D, got shape ${formatShape(t.shape)}`);
  }
  return new Matrix(t.shape[0]!, t.shape[1]!, t.data);
}

/**
 * The 1-D tensor `t`'s data (shared, not copied).
 * @param name names the tensor in the error message
 * @throws ShapeError unless `t` is 1-D
 */
export function tensorToVector(t: Tensor, name: string): Float64Array {
  if (t.shape.length !== 1) {
    throw new ShapeError(`tensor "${name}" must be 1-D, got shape ${formatShape(t.shape)}`);
  }
  return t.data;
}

/** An F64 tensor of shape [rows, cols] sharing the matrix's data. */
export function matrixToTensor(m: Matrix): Tensor {
  return { dtype: 'F64', shape: [m.rows, m.cols], data: m.data };
}

/** An F64 tensor of shape [n] holding `v` (shared when `v` is a Float64Array, copied otherwise). */
export function vectorToTensor(v: ArrayLike<number>): Tensor {
  const data = v instanceof Float64Array ? v : Float64Array.from(v);
  return { dtype: 'F64', shape: [data.length], data };
}
