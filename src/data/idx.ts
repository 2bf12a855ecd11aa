/**
 * The IDX format of the MNIST distribution (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"):
 *
 *   bytes 0–1   0x00 0x00
 *   byte  2     element type: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32,
 *               0x0D float32, 0x0E float64
 *   byte  3     number of dimensions r (≥ 1)
 *   4·r bytes   the dimensions, unsigned big-endian 32-bit, outermost first
 *   rest        the elements, big-endian, row-major; exactly ∏ dims of them
 *
 * So the magic number, read as a big-endian int32, is 2051 (0x00000803) for the image files and 2049
 * (0x00000801) for the label files. Files compressed with gzip (magic 1f 8b, as Fashion-MNIST and the
 * original downloads ship) are inflated first.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { FormatError, InvalidArgumentError, ShapeError } from '../errors.js';

/** Element types of the IDX format. */
export type IdxDType = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';

/** The typed array holding elements of each {@link IdxDType}. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX file. */
export interface IdxArray {
  dtype: IdxDType;
  /** Dimensions, outermost first (e.g. [60000, 28, 28]). */
  dims: number[];
  /**
   * The ∏ dims elements in row-major order. For `u8` and `i8` this is a view into the (inflated) input
   * bytes, not a copy.
   */
  data: IdxData;
}

const CODE_TO_DTYPE: ReadonlyMap<number, IdxDType> = new Map([
  [0x08, 'u8'],
  [0x09, 'i8'],
  [0x0b, 'i16'],
  [0x0c, 'i32'],
  [0x0d, 'f32'],
  [0x0e, 'f64'],
]);

const DTYPE_TO_CODE: Readonly<Record<IdxDType, number>> = { u8: 0x08, i8: 0x09, i16: 0x0b, i32: 0x0c, f32: 0x0d, f64: 0x0e };
const ITEMSIZE: Readonly<Record<IdxDType, number>> = { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 };

/** Whether `bytes` start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function inflate(bytes: Uint8Array, source: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw new FormatError(`${source}: corrupt gzip data (${(e as Error).message})`);
  }
}

function decode(bytes: Uint8Array, offset: number, count: number, dtype: IdxDType): IdxData {
  switch (dtype) {
    case 'u8':
      // A plain Uint8Array view, also when `bytes` is a Node Buffer (whose slice() does not copy).
      return new Uint8Array(bytes.buffer, bytes.byteOffset + offset, count);
    case 'i8':
      return new Int8Array(bytes.buffer, bytes.byteOffset + offset, count);
    default: {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, count * ITEMSIZE[dtype]);
      if (dtype === 'i16') {
        const out = new Int16Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getInt16(2 * i, false);
        return out;
      }
      if (dtype === 'i32') {
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, false);
        return out;
      }
      if (dtype === 'f32') {
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, false);
        return out;
      }
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, false);
      return out;
    }
  }
}

/**
 * Parses an IDX file held in memory (gzip-compressed or not).
 *
 * @param bytes the file's contents
 * @param source names the file in error messages
 * @throws FormatError for corrupt gzip data, fewer than 4 bytes, a magic number whose first two bytes are
 *   not zero, an unknown element-type code, zero dimensions, a header cut short, or a data section whose
 *   length is not exactly ∏ dims × element size (truncated or trailing bytes)
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  const raw = isGzip(bytes) ? inflate(bytes, source) : bytes;
  if (raw.length < 4) throw new FormatError(`${source}: ${raw.length} bytes is too short for an IDX file (needs a 4-byte magic number)`);
  if (raw[0] !== 0 || raw[1] !== 0) {
    const magic = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, false);
    throw new FormatError(`${source}: not an IDX file: magic number 0x${magic.toString(16).padStart(8, '0')} does not start with two zero bytes`);
  }
  const dtype = CODE_TO_DTYPE.get(raw[2]!);
  if (dtype === undefined) {
    throw new FormatError(`${source}: unknown IDX element type code 0x${raw[2]!.toString(16).padStart(2, '0')} (known: 08 u8, 09 i8, 0b i16, 0c i32, 0d f32, 0e f64)`);
  }
  const rank = raw[3]!;
  if (rank === 0) throw new FormatError(`${source}: IDX header declares 0 dimensions`);
  const headerBytes = 4 + 4 * rank;
  if (raw.length < headerBytes) {
    throw new FormatError(`${source}: truncated IDX header: ${rank} dimensions need ${headerBytes} header bytes, the file has ${raw.length}`);
  }
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const n = dv.getUint32(4 + 4 * i, false);
    dims.push(n);
    count *= n;
  }
  const need = count * ITEMSIZE[dtype];
  if (!Number.isSafeInteger(need)) throw new FormatError(`${source}: IDX dimensions [${dims.join(', ')}] are too large`);
  const have = raw.length - headerBytes;
  if (have !== need) {
    const what = have < need ? 'truncated' : 'has trailing bytes';
    throw new FormatError(
      `${source}: IDX data ${what}: dimensions [${dims.join(', ')}] of ${dtype} need ${need} data bytes, the file has ${have}`,
    );
  }
  return { dtype, dims, data: decode(raw, headerBytes, count, dtype) };
}

/**
 * Serializes an array as an IDX file (big-endian, as the MNIST files are).
 *
 * @param dims dimensions, outermost first; 1 to 255 of them, each < 2³²
 * @param data ∏ dims elements
 * @param opts.gzip compress the result with gzip
 * @throws InvalidArgumentError for an invalid dimension list; ShapeError if `data.length` ≠ ∏ dims
 */
export function encodeIdx(dims: readonly number[], data: IdxData, opts: { gzip?: boolean } = {}): Uint8Array {
  if (dims.length < 1 || dims.length > 255) throw new InvalidArgumentError(`encodeIdx: dims must have 1 to 255 entries, got ${dims.length}`);
  let count = 1;
  for (const n of dims) {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError(`encodeIdx: dimension ${n} is not an unsigned 32-bit integer`);
    count *= n;
  }
  if (data.length !== count) throw new ShapeError(`encodeIdx: data has ${data.length} elements but dims [${dims.join(', ')}] need ${count}`);
  const dtype: IdxDType =
    data instanceof Uint8Array ? 'u8'
      : data instanceof Int8Array ? 'i8'
        : data instanceof Int16Array ? 'i16'
          : data instanceof Int32Array ? 'i32'
            : data instanceof Float32Array ? 'f32'
              : 'f64';
  const size = ITEMSIZE[dtype];
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + count * size);
  const dv = new DataView(out.buffer);
  out[2] = DTYPE_TO_CODE[dtype];
  out[3] = dims.length;
  dims.forEach((n, i) => dv.setUint32(4 + 4 * i, n, false));
  for (let i = 0; i < count; i++) {
    const at = header + i * size;
    const v = data[i]!;
    switch (dtype) {
      case 'u8': out[at] = v; break;
      case 'i8': dv.setInt8(at, v); break;
      case 'i16': dv.setInt16(at, v, false); break;
      case 'i32': dv.setInt32(at, v, false); break;
      case 'f32': dv.setFloat32(at, v, false); break;
      case 'f64': dv.setFloat64(at, v, false); break;
    }
  }
  return opts.gzip ? new Uint8Array(gzipSync(out)) : out;
}
