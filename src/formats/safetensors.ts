/**
 * The safetensors format (https://github.com/huggingface/safetensors):
 *
 *   8 bytes   N, unsigned little-endian 64-bit: the header length
 *   N bytes   UTF-8 JSON object: `{"__metadata__": {str: str}?, "<name>": {"dtype": "F32", "shape": [..],
 *             "data_offsets": [begin, end]}, ...}`, possibly padded with trailing spaces
 *   rest      the data section; each tensor occupies [begin, end) of it, little-endian, row-major
 *
 * Reading follows the reference implementation's validation: the header must be at most 100 MB, the
 * tensors' byte ranges (sorted by offset) must tile the data section exactly — no gaps, no overlaps, nothing
 * after the last tensor — and every range must have the byte size dtype × shape implies.
 */
import { readFileSync } from 'node:fs';
import { FormatError, InvalidArgumentError, ShapeError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import {
  checkedNumel,
  decodeElements,
  DTYPE_ITEMSIZE,
  encodeElements,
  formatShape,
  isDType,
  lazyTensor,
  type DType,
  type Tensor,
  type WritableTensor,
} from './tensor.js';

/** What a safetensors file holds. */
export interface SafetensorsContents {
  /** Tensors by name, in the header's order. */
  tensors: Map<string, Tensor>;
  /** The `__metadata__` string map (empty if absent). */
  metadata: Record<string, string>;
}

/** Tensors to write, by name. */
export type TensorCollection = Map<string, WritableTensor> | Record<string, WritableTensor>;

/** The reference implementation refuses headers above this size. */
export const MAX_HEADER_BYTES = 100_000_000;

/** dtypes the format defines that this library does not read. */
const KNOWN_UNSUPPORTED_DTYPES = new Set(['U16', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);

/**
 * Rank of each dtype in the reference writer's ordering (its `Dtype` enum order); tensors are written by
 * descending rank, then by name, which keeps every tensor aligned to its element size.
 */
const DTYPE_RANK: Readonly<Record<DType, number>> = { BOOL: 0, U8: 1, I8: 2, I16: 5, F16: 7, BF16: 8, I32: 9, F32: 11, F64: 12, I64: 13 };

interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseEntry(name: string, value: unknown, source: string): HeaderEntry {
  const where = `${source}: tensor "${name}"`;
  if (!isPlainObject(value)) throw new FormatError(`${where}: header entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw new FormatError(`${where}: "dtype" must be a string`);
  if (!isDType(dtype)) {
    if (KNOWN_UNSUPPORTED_DTYPES.has(dtype)) throw new FormatError(`${where}: dtype ${dtype} is not supported`);
    throw new FormatError(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new FormatError(`${where}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw new FormatError(`${where}: "data_offsets" must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  }
  return { name, dtype, shape: shape as number[], begin: offsets[0] as number, end: offsets[1] as number };
}

/**
 * Parses a safetensors file held in memory.
 *
 * The header and every offset are validated immediately; each tensor's data is decoded on first access of
 * `data` (so picking one block out of a large file is cheap). Float64 tensors whose data is 8-byte aligned
 * are views into `bytes` (zero-copy: they alias it); all other tensors are decoded into fresh arrays.
 *
 * @param source names the file in error messages
 * @throws FormatError for anything malformed: truncated data, a header length past the end or above
 *   100 MB, a header that is not UTF-8 JSON or not an object, non-string metadata, an unknown or
 *   unsupported dtype, offsets out of range, overlapping, leaving gaps or not matching dtype × shape
 */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContents {
  if (bytes.length < 8) throw new FormatError(`${source}: ${bytes.length} bytes is too short for a safetensors file (needs an 8-byte header length)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const headerLength = hi * 2 ** 32 + lo;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new FormatError(`${source}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`);
  }
  if (8 + headerLength > bytes.length) {
    throw new FormatError(`${source}: header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    throw new FormatError(`${source}: header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) throw new FormatError(`${source}: header must be a JSON object`);

  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (value === null) continue;
      if (!isPlainObject(value)) throw new FormatError(`${source}: "__metadata__" must be an object of strings`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new FormatError(`${source}: metadata value for key "${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, value, source));
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  let previous: HeaderEntry | undefined;
  for (const e of byOffset) {
    const where = `${source}: tensor "${e.name}"`;
    if (e.end > dataLength) {
      throw new FormatError(`${where}: data_offsets [${e.begin}, ${e.end}] are out of range (the data section has ${dataLength} bytes)`);
    }
    if (e.begin < expectedBegin) {
      throw new FormatError(`${where}: data_offsets [${e.begin}, ${e.end}] overlap tensor "${previous!.name}" [${previous!.begin}, ${previous!.end}]`);
    }
    if (e.begin > expectedBegin) {
      throw new FormatError(`${where}: data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${expectedBegin} (tensor data must be contiguous)`);
    }
    const n = checkedNumel(e.shape);
    const needed = n === undefined ? undefined : n * DTYPE_ITEMSIZE[e.dtype];
    if (needed === undefined || !Number.isSafeInteger(needed)) {
      throw new FormatError(`${where}: shape ${formatShape(e.shape)} is too large`);
    }
    if (needed !== e.end - e.begin) {
      throw new FormatError(
        `${where}: data_offsets [${e.begin}, ${e.end}] span ${e.end - e.begin} bytes but dtype ${e.dtype} × shape ${formatShape(e.shape)} needs ${needed}`,
      );
    }
    expectedBegin = e.end;
    previous = e;
  }
  if (expectedBegin !== dataLength) {
    throw new FormatError(`${source}: the tensors cover ${expectedBegin} bytes of the ${dataLength}-byte data section (trailing bytes or missing tensors)`);
  }

  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const count = (e.end - e.begin) / DTYPE_ITEMSIZE[e.dtype];
    const decode = (): Float64Array => decodeElements(bytes, dataStart + e.begin, count, e.dtype, true, `${source}: tensor "${e.name}"`);
    tensors.set(e.name, lazyTensor(e.dtype, e.shape.slice(), decode));
  }
  return { tensors, metadata };
}

/**
 * Reads and parses a safetensors file.
 * @throws FormatError if the file cannot be read or is malformed (see {@link readSafetensors})
 */
export function readSafetensorsFile(path: string): SafetensorsContents {
  return readSafetensors(readFileBytes(path), path);
}

/**
 * The whole file as bytes.
 * @throws FormatError naming `path` if it cannot be read
 */
export function readFileBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FormatError(`cannot read "${path}": ${(e as Error).message}`);
  }
}

/** Code-unit comparison of the UTF-8 encodings, which is the byte order the reference writer sorts by. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function entriesOf(tensors: TensorCollection): [string, WritableTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/**
 * Serializes tensors to safetensors bytes exactly as the reference (Python/Rust) library does: compact
 * JSON header with `__metadata__` first (when given; its keys sorted), tensors ordered by descending dtype
 * rank then by name (for files with one dtype: sorted by name), contiguous offsets, the header padded with
 * spaces to a multiple of 8 bytes.
 *
 * @param tensors by name; each is encoded as its `dtype` (F64/F32 typical; every {@link DType} works)
 * @param metadata string-to-string map stored as `__metadata__`
 * @throws InvalidArgumentError for a reserved or duplicate name, non-string metadata, or a value the dtype
 *   cannot hold; ShapeError if a tensor's data length does not match its shape
 */
export function writeSafetensors(tensors: TensorCollection, metadata?: Record<string, string>): Uint8Array {
  const list = entriesOf(tensors);
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new InvalidArgumentError('writeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    if (!isDType(t.dtype)) throw new InvalidArgumentError(`writeSafetensors: tensor "${name}" has unknown dtype ${JSON.stringify(t.dtype)}`);
    const n = checkedNumel(t.shape);
    if (n === undefined) throw new ShapeError(`writeSafetensors: tensor "${name}" has invalid shape ${formatShape(t.shape)}`);
    if (n !== t.data.length) {
      throw new ShapeError(`writeSafetensors: tensor "${name}" has ${t.data.length} values but shape ${formatShape(t.shape)} needs ${n}`);
    }
  }
  list.sort(([an, a], [bn, b]) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareUtf8(an, bn));

  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    const items = keys.map((k) => {
      const v = metadata[k];
      if (typeof v !== 'string') throw new InvalidArgumentError(`writeSafetensors: metadata value for key "${k}" must be a string`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${items.join(',')}}`);
  }
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of list) {
    const payload = encodeElements(t.data, t.dtype, `writeSafetensors: tensor "${name}"`);
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + payload.length}]}`,
    );
    payloads.push(payload);
    offset += payload.length;
  }
  const headerText = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = headerText.length + ((8 - (headerText.length % 8)) % 8);
  const out = new Uint8Array(8 + padded + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, padded % 2 ** 32, true);
  dv.setUint32(4, Math.floor(padded / 2 ** 32), true);
  out.set(headerText, 8);
  out.fill(0x20, 8 + headerText.length, 8 + padded);
  let at = 8 + padded;
  for (const p of payloads) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes a safetensors file atomically (see {@link writeFileAtomic}); the bytes are those of
 * {@link writeSafetensors}.
 */
export function writeSafetensorsFile(path: string, tensors: TensorCollection, metadata?: Record<string, string>): void {
  writeFileAtomic(path, writeSafetensors(tensors, metadata));
}
