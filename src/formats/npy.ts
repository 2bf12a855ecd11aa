/**
 * NumPy's `.npy` format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 *
 *   6 bytes   magic `\x93NUMPY`
 *   2 bytes   format version (major, minor): 1.0, 2.0 or 3.0
 *   2 or 4    header length H, little-endian (u16 for 1.0, u32 for 2.0 and 3.0)
 *   H bytes   a Python dict literal `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }`,
 *             latin-1 (1.0, 2.0) or UTF-8 (3.0), padded with spaces and ending in a newline
 *   rest      the elements, in C order or (fortran_order) column-major order
 *
 * The header is parsed by a small literal parser, never evaluated. Supported element types: `<f8 <f4 <f2
 * <i8 <i4 <i2 |i1 |u1 |b1` and their big-endian (`>`) forms. Fortran-ordered arrays are transposed to
 * row-major on read.
 */
import { FormatError, InvalidArgumentError, ShapeError } from '../errors.js';
import { checkedNumel, decodeElements, DTYPE_ITEMSIZE, encodeElements, formatShape, type DType, type Tensor, type WritableTensor } from './tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** numpy type character + item size → dtype. */
const DESCR_TO_DTYPE: Readonly<Record<string, DType>> = {
  f8: 'F64',
  f4: 'F32',
  f2: 'F16',
  i8: 'I64',
  i4: 'I32',
  i2: 'I16',
  i1: 'I8',
  u1: 'U8',
  b1: 'BOOL',
};

const DTYPE_TO_DESCR: Readonly<Partial<Record<DType, string>>> = {
  F64: '<f8',
  F32: '<f4',
  F16: '<f2',
  I64: '<i8',
  I32: '<i4',
  I16: '<i2',
  I8: '|i1',
  U8: '|u1',
  BOOL: '|b1',
};

/** Whether `bytes` starts with the `.npy` magic string. */
export function isNpy(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && MAGIC.every((b, i) => bytes[i] === b);
}

// ---------------------------------------------------------------------------------------------------------
// Python literal parser for the header dict

const NAME_RE = /[A-Za-z_][A-Za-z_0-9]*/y;
const INT_RE = /[+-]?\d+L?/y;
/** numpy refuses headers above 10 kB by default; anything near this is certainly corrupt. */
const MAX_HEADER_BYTES = 1 << 20;

type PyLiteral = string | number | boolean | null | PyLiteral[] | Map<string, PyLiteral>;

/** Parses the restricted Python literal syntax numpy writes: dicts, tuples, lists, strings, ints, bools. */
class LiteralParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  private fail(what: string): never {
    throw new FormatError(`${this.source}: malformed .npy header (${what} at character ${this.pos}): ${JSON.stringify(this.text.slice(0, 200))}`);
  }

  /** The match of the sticky `re` at the current position (without consuming it). */
  private match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    return re.exec(this.text)?.[0];
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && ' \t\n\r\f\v'.includes(this.text[this.pos]!)) this.pos++;
  }

  parseTop(): PyLiteral {
    const v = this.parseValue(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('unexpected trailing text');
    return v;
  }

  private parseValue(depth: number): PyLiteral {
    if (depth > 16) this.fail('nesting too deep');
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) this.fail('unexpected end');
    if (c === '{') return this.parseDict(depth);
    if (c === '(' || c === '[') return this.parseSequence(c === '(' ? ')' : ']', depth);
    if (c === "'" || c === '"') return this.parseString();
    const word = this.match(NAME_RE);
    if (word !== undefined) {
      this.pos += word.length;
      if (word === 'True') return true;
      if (word === 'False') return false;
      if (word === 'None') return null;
      this.fail(`unexpected name ${word}`);
    }
    const num = this.match(INT_RE);
    if (num !== undefined) {
      this.pos += num.length;
      const v = Number(num.replace(/L$/, ''));
      if (!Number.isSafeInteger(v)) this.fail(`integer ${num} out of range`);
      return v;
    }
    this.fail(`unexpected character ${JSON.stringify(c)}`);
  }

  private parseString(): string {
    const quote = this.text[this.pos]!;
    this.pos++;
    let out = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === quote) {
        this.pos++;
        return out;
      }
      if (c === '\\') {
        const n = this.text[this.pos + 1];
        if (n === undefined) break;
        out += n === 'n' ? '\n' : n === 't' ? '\t' : n;
        this.pos += 2;
        continue;
      }
      out += c;
      this.pos++;
    }
    this.fail('unterminated string');
  }

  private parseSequence(close: string, depth: number): PyLiteral[] {
    this.pos++;
    const items: PyLiteral[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        return items;
      }
      items.push(this.parseValue(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== close) this.fail(`expected "," or "${close}"`);
    }
  }

  private parseDict(depth: number): Map<string, PyLiteral> {
    this.pos++;
    const map = new Map<string, PyLiteral>();
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return map;
      }
      const key = this.parseValue(depth + 1);
      if (typeof key !== 'string') this.fail('dict keys must be strings');
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      map.set(key, this.parseValue(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail('expected "," or "}"');
    }
  }
}

/** Parsed `.npy` header. */
interface NpyHeader {
  dtype: DType;
  littleEndian: boolean;
  fortranOrder: boolean;
  shape: number[];
  /** Offset of the first data byte. */
  dataOffset: number;
}

function parseHeader(bytes: Uint8Array, source: string): NpyHeader {
  if (!isNpy(bytes)) throw new FormatError(`${source}: not a .npy file (missing the \\x93NUMPY magic string)`);
  if (bytes.length < 10) throw new FormatError(`${source}: truncated .npy header`);
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (![1, 2, 3].includes(major) || minor !== 0) throw new FormatError(`${source}: unsupported .npy format version ${major}.${minor}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = dv.getUint16(8, true);
    headerStart = 10;
  } else {
    if (bytes.length < 12) throw new FormatError(`${source}: truncated .npy header`);
    headerLength = dv.getUint32(8, true);
    headerStart = 12;
  }
  if (headerLength > MAX_HEADER_BYTES) throw new FormatError(`${source}: .npy header length ${headerLength} is implausibly large`);
  if (headerStart + headerLength > bytes.length) {
    throw new FormatError(`${source}: .npy header length ${headerLength} runs past the end of the data (${bytes.length} bytes)`);
  }
  const raw = bytes.subarray(headerStart, headerStart + headerLength);
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(raw);
  } catch {
    throw new FormatError(`${source}: .npy header is not valid ${major === 3 ? 'UTF-8' : 'latin-1'}`);
  }
  const dict = new LiteralParser(text, source).parseTop();
  if (!(dict instanceof Map)) throw new FormatError(`${source}: .npy header must be a dict, got ${JSON.stringify(text.slice(0, 200))}`);
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (typeof descr !== 'string') {
    throw new FormatError(`${source}: .npy arrays with structured dtypes are not supported (descr ${JSON.stringify(descr)})`);
  }
  if (typeof fortran !== 'boolean') throw new FormatError(`${source}: .npy header "fortran_order" must be True or False`);
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new FormatError(`${source}: .npy header "shape" must be a tuple of non-negative integers`);
  }
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  const dtype = m ? DESCR_TO_DTYPE[`${m[2]}${m[3]}`] : undefined;
  if (m === null || dtype === undefined) {
    const why = descr.includes('O') ? ' (object arrays hold pickled Python objects and are never unpickled)' : '';
    throw new FormatError(`${source}: unsupported .npy dtype ${JSON.stringify(descr)}${why}`);
  }
  const order = m[1]!;
  if (order === '|' && DTYPE_ITEMSIZE[dtype] > 1) throw new FormatError(`${source}: .npy dtype ${descr} needs a byte order`);
  return { dtype, littleEndian: order !== '>', fortranOrder: fortran, shape: shape as number[], dataOffset: headerStart + headerLength };
}

/** Row-major copy of column-major `data` with the given shape. */
function fortranToC(data: Float64Array, shape: readonly number[]): Float64Array {
  const rank = shape.length;
  const out = new Float64Array(data.length);
  if (rank < 2 || data.length === 0) {
    out.set(data);
    return out;
  }
  // Column-major strides, and an odometer over row-major indices.
  const stride: number[] = new Array<number>(rank);
  let s = 1;
  for (let j = 0; j < rank; j++) {
    stride[j] = s;
    s *= shape[j]!;
  }
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let k = 0; k < out.length; k++) {
    out[k] = data[src]!;
    for (let j = rank - 1; j >= 0; j--) {
      index[j]!++;
      src += stride[j]!;
      if (index[j]! < shape[j]!) break;
      src -= stride[j]! * shape[j]!;
      index[j] = 0;
    }
  }
  return out;
}

/**
 * Parses a `.npy` array held in memory (format versions 1.0–3.0).
 * @param source names the data in error messages
 * @throws FormatError for a bad magic string, version or header, an unsupported dtype (including object
 *   arrays, which are never unpickled) or a data section whose size does not match the shape
 */
export function readNpy(bytes: Uint8Array, source = 'npy data'): Tensor {
  const h = parseHeader(bytes, source);
  const count = checkedNumel(h.shape);
  const nbytes = count === undefined ? undefined : count * DTYPE_ITEMSIZE[h.dtype];
  if (count === undefined || nbytes === undefined || !Number.isSafeInteger(nbytes)) {
    throw new FormatError(`${source}: .npy shape ${formatShape(h.shape)} is too large`);
  }
  const available = bytes.length - h.dataOffset;
  if (available !== nbytes) {
    throw new FormatError(`${source}: .npy data has ${available} bytes but dtype ${h.dtype} × shape ${formatShape(h.shape)} needs ${nbytes}`);
  }
  let data = decodeElements(bytes, h.dataOffset, count, h.dtype, h.littleEndian, source);
  if (h.fortranOrder) data = fortranToC(data, h.shape);
  return { dtype: h.dtype, shape: h.shape, data };
}

/** numpy's `repr` of a shape tuple. */
function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** numpy pads the header so the array-growth axis has room for this many digits. */
const GROWTH_AXIS_MAX_DIGITS = 21;
const ARRAY_ALIGN = 64;

/**
 * Serializes a tensor as a C-ordered `.npy` file, byte-for-byte as `numpy.save` writes it (format 1.0,
 * or 2.0 if the header does not fit; 64-byte aligned data).
 * @param t encoded as `t.dtype` (every dtype except BF16, which numpy lacks)
 * @throws InvalidArgumentError for BF16 or a value the dtype cannot hold; ShapeError if the data length
 *   does not match the shape
 */
export function writeNpy(t: Tensor | WritableTensor): Uint8Array {
  const descr = DTYPE_TO_DESCR[t.dtype];
  if (descr === undefined) throw new InvalidArgumentError(`writeNpy: dtype ${t.dtype} has no .npy equivalent`);
  const n = checkedNumel(t.shape);
  if (n === undefined || n !== t.data.length) {
    throw new ShapeError(`writeNpy: ${t.data.length} values do not fill shape ${formatShape(t.shape)}`);
  }
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeRepr(t.shape)}, }`;
  if (t.shape.length > 0) header += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(t.shape[0]).length));
  const hlen = header.length + 1;
  let major = 1;
  let prefixLength = 10;
  let padlen = ARRAY_ALIGN - ((prefixLength + hlen) % ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    major = 2;
    prefixLength = 12;
    padlen = ARRAY_ALIGN - ((prefixLength + hlen) % ARRAY_ALIGN);
  }
  const payload = encodeElements(t.data, t.dtype, 'writeNpy');
  const out = new Uint8Array(prefixLength + hlen + padlen + payload.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, hlen + padlen, true);
  else dv.setUint32(8, hlen + padlen, true);
  out.set(Buffer.from(header, 'latin1'), prefixLength);
  out.fill(0x20, prefixLength + header.length, prefixLength + header.length + padlen);
  out[prefixLength + hlen + padlen - 1] = 0x0a;
  out.set(payload, prefixLength + hlen + padlen);
  return out;
}
