/**
 * A strict reader and a minimal writer for ZIP archives (PKWARE APPNOTE 6.3), as used by `.npz` files
 * and PyTorch checkpoints.
 *
 * Reading trusts the central directory for names, sizes and offsets (local headers are only used to find
 * where each entry's data starts), supports ZIP64, stored and deflated entries, and verifies every
 * entry's CRC-32 when it is extracted. Every offset and size is bounds-checked, declared sizes are checked
 * against what deflate can possibly produce, and inflation is capped at the declared size, so corrupt or
 * hostile archives fail with a `FormatError` instead of exhausting memory.
 */
import * as zlib from 'node:zlib';
import { FormatError, InvalidArgumentError } from '../errors.js';

let crcTables: Uint32Array[] | undefined;

/** The eight lookup tables of slicing-by-8 CRC-32 (table k advances the CRC over k further zero bytes). */
function crcLookup(): Uint32Array[] {
  if (crcTables === undefined) {
    const t0 = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t0[n] = c >>> 0;
    }
    crcTables = [t0];
    for (let k = 1; k < 8; k++) {
      const prev = crcTables[k - 1]!;
      const t = new Uint32Array(256);
      for (let n = 0; n < 256; n++) t[n] = (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!;
      crcTables.push(t);
    }
  }
  return crcTables;
}

/** CRC-32 (ISO-HDLC, as in zip and gzip) in JavaScript, slicing by 8 bytes. */
export function crc32Portable(bytes: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = crcLookup() as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let c = 0xffffffff;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const a = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[bytes[i + 4]!]! ^
      t2[bytes[i + 5]!]! ^
      t1[bytes[i + 6]!]! ^
      t0[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** zlib's native CRC-32 where node has it (20.15 and later), about twenty times faster. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (ISO-HDLC, as in zip and gzip) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  return typeof nativeCrc32 === 'function' ? nativeCrc32(bytes) >>> 0 : crc32Portable(bytes);
}

/** One entry of the central directory. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the entry's data (after its local header). */
  dataOffset: number;
}

/** An opened archive: the entry list, and extraction on demand. */
export interface ZipArchive {
  /** Entry names in central-directory order. */
  readonly names: readonly string[];
  has(name: string): boolean;
  /** The uncompressed bytes of an entry (a view into the archive for stored entries), CRC-checked. */
  read(name: string): Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
/** Deflate cannot expand data by more than about 1032:1; a larger declared ratio is corrupt. */
const MAX_DEFLATE_RATIO = 1032;

/** Whether `bytes` starts like a zip archive (a local file header, or the end record of an empty archive). */
export function isZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const sig = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

class Reader {
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly source: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.bytes.length) {
      throw new FormatError(`${this.source}: corrupt zip archive: ${what} at offset ${offset} runs past the end of the file`);
    }
  }
  u16(o: number): number {
    return this.dv.getUint16(o, true);
  }
  u32(o: number): number {
    return this.dv.getUint32(o, true);
  }
  u64(o: number, what: string): number {
    const v = this.dv.getUint32(o, true) + this.dv.getUint32(o + 4, true) * 2 ** 32;
    if (!Number.isSafeInteger(v)) throw new FormatError(`${this.source}: corrupt zip archive: ${what} ${v} is out of range`);
    return v;
  }
}

/** Locates the end-of-central-directory record: the last signature whose comment length fits the file. */
function findEndRecord(r: Reader): number {
  const n = r.bytes.length;
  const lowest = Math.max(0, n - 22 - 0xffff);
  for (let o = n - 22; o >= lowest; o--) {
    if (r.bytes[o] === 0x50 && r.u32(o) === SIG_EOCD && o + 22 + r.u16(o + 20) === n) return o;
  }
  throw new FormatError(`${r.source}: not a zip archive (no end-of-central-directory record)`);
}

/**
 * Opens a zip archive held in memory.
 * @param source names the file in error messages
 * @throws FormatError for anything malformed, multi-disk or encrypted archives, compression methods other
 *   than stored/deflate, duplicate names, or sizes and offsets that do not fit the file
 */
export function openZip(bytes: Uint8Array, source = 'zip data'): ZipArchive {
  const r = new Reader(bytes, source);
  if (bytes.length < 22) throw new FormatError(`${source}: ${bytes.length} bytes is too short for a zip archive`);
  const eocd = findEndRecord(r);
  let diskNumber = r.u16(eocd + 4);
  let cdDisk = r.u16(eocd + 6);
  let count = r.u16(eocd + 10);
  let cdSize = r.u32(eocd + 12);
  let cdOffset = r.u32(eocd + 16);
  let cdLimit = eocd;
  if (eocd >= 20 && r.u32(eocd - 20) === SIG_ZIP64_LOCATOR) {
    const z64 = r.u64(eocd - 20 + 8, 'ZIP64 end record offset');
    r.need(z64, 56, 'ZIP64 end record');
    if (r.u32(z64) !== SIG_ZIP64_EOCD) throw new FormatError(`${source}: corrupt zip archive: bad ZIP64 end record signature`);
    diskNumber = r.u32(z64 + 16);
    cdDisk = r.u32(z64 + 20);
    count = r.u64(z64 + 32, 'entry count');
    cdSize = r.u64(z64 + 40, 'central directory size');
    cdOffset = r.u64(z64 + 48, 'central directory offset');
    cdLimit = z64;
  }
  if (diskNumber !== 0 || cdDisk !== 0) throw new FormatError(`${source}: multi-disk zip archives are not supported`);
  if (cdOffset + cdSize > cdLimit) {
    throw new FormatError(`${source}: corrupt zip archive: central directory [${cdOffset}, ${cdOffset + cdSize}) overlaps the end record at ${cdLimit}`);
  }
  if (count * 46 > cdSize) throw new FormatError(`${source}: corrupt zip archive: ${count} entries cannot fit in a ${cdSize}-byte central directory`);

  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  let p = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdEnd) throw new FormatError(`${source}: corrupt zip archive: central directory entry ${i} runs past the directory`);
    if (r.u32(p) !== SIG_CENTRAL) throw new FormatError(`${source}: corrupt zip archive: bad central directory signature for entry ${i}`);
    const flags = r.u16(p + 8);
    const method = r.u16(p + 10);
    const crc = r.u32(p + 16);
    let compressedSize = r.u32(p + 20);
    let uncompressedSize = r.u32(p + 24);
    const nameLength = r.u16(p + 28);
    const extraLength = r.u16(p + 30);
    const commentLength = r.u16(p + 32);
    let localOffset = r.u32(p + 42);
    const next = p + 46 + nameLength + extraLength + commentLength;
    if (next > cdEnd) throw new FormatError(`${source}: corrupt zip archive: central directory entry ${i} runs past the directory`);
    let name: string;
    try {
      const raw = bytes.subarray(p + 46, p + 46 + nameLength);
      name = flags & 0x800 ? utf8.decode(raw) : latin1.decode(raw);
    } catch {
      throw new FormatError(`${source}: corrupt zip archive: entry ${i} has an invalid UTF-8 name`);
    }
    // ZIP64 extended information: 64-bit values replace the 32-bit fields that are all ones, in this order.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = r.u16(e);
      const size = r.u16(e + 2);
      if (e + 4 + size > extraEnd) break;
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + size) throw new FormatError(`${source}: corrupt zip archive: short ZIP64 field for "${name}"`);
          const v = r.u64(q, what);
          q += 8;
          return v;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = take('uncompressed size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localOffset === 0xffffffff) localOffset = take('local header offset');
      }
      e += 4 + size;
    }
    if (flags & 0x1) throw new FormatError(`${source}: zip entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8) throw new FormatError(`${source}: zip entry "${name}" uses unsupported compression method ${method}`);
    if (entries.has(name)) throw new FormatError(`${source}: zip archive has two entries named "${name}"`);
    r.need(localOffset, 30, `local header of "${name}"`);
    if (r.u32(localOffset) !== SIG_LOCAL) throw new FormatError(`${source}: corrupt zip archive: bad local header signature for "${name}"`);
    const dataOffset = localOffset + 30 + r.u16(localOffset + 26) + r.u16(localOffset + 28);
    if (dataOffset + compressedSize > cdOffset) {
      throw new FormatError(`${source}: corrupt zip archive: data of "${name}" (${compressedSize} bytes at ${dataOffset}) runs into the central directory`);
    }
    if (method === 0 && compressedSize !== uncompressedSize) {
      throw new FormatError(`${source}: corrupt zip archive: stored entry "${name}" has compressed size ${compressedSize} ≠ size ${uncompressedSize}`);
    }
    if (method === 8 && uncompressedSize > MAX_DEFLATE_RATIO * compressedSize + 1024) {
      throw new FormatError(`${source}: corrupt zip archive: entry "${name}" claims ${uncompressedSize} bytes from ${compressedSize} compressed bytes`);
    }
    entries.set(name, { name, method, crc, compressedSize, uncompressedSize, dataOffset });
    p = next;
  }

  const names = [...entries.keys()];
  return {
    names,
    has: (name) => entries.has(name),
    read(name: string): Uint8Array {
      const entry = entries.get(name);
      if (entry === undefined) throw new FormatError(`${source}: zip archive has no entry "${name}"`);
      return extract(bytes, entry, source);
    },
  };
}

function extract(bytes: Uint8Array, e: ZipEntry, source: string): Uint8Array {
  const raw = bytes.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
  let out: Uint8Array;
  if (e.method === 0) {
    out = raw;
  } else {
    try {
      // maxOutputLength caps the work at the declared size (it must be at least 1).
      out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.uncompressedSize) });
    } catch (err) {
      throw new FormatError(`${source}: zip entry "${e.name}" cannot be inflated: ${(err as Error).message}`);
    }
    if (out.length !== e.uncompressedSize) {
      throw new FormatError(`${source}: zip entry "${e.name}" inflates to ${out.length} bytes, but its header says ${e.uncompressedSize}`);
    }
  }
  if (crc32(out) !== e.crc) throw new FormatError(`${source}: zip entry "${e.name}" fails its CRC-32 check (corrupt data)`);
  return out;
}

/**
 * Builds a zip archive of stored (uncompressed) entries, with fixed timestamps so equal input gives equal
 * bytes.
 * @throws InvalidArgumentError for duplicate or empty names, or an archive beyond 4 GiB (ZIP64 is not
 *   written)
 */
export function writeZip(files: ReadonlyArray<readonly [string, Uint8Array]>): Uint8Array {
  const seen = new Set<string>();
  const encoded = files.map(([name, data]) => {
    if (name.length === 0) throw new InvalidArgumentError('writeZip: entry names must not be empty');
    if (seen.has(name)) throw new InvalidArgumentError(`writeZip: duplicate entry name "${name}"`);
    seen.add(name);
    return { nameBytes: Buffer.from(name, 'utf8'), ascii: /^[\x20-\x7e]*$/.test(name), data, crc: crc32(data) };
  });
  const localSize = encoded.reduce((s, f) => s + 30 + f.nameBytes.length + f.data.length, 0);
  const centralSize = encoded.reduce((s, f) => s + 46 + f.nameBytes.length, 0);
  const total = localSize + centralSize + 22;
  if (localSize > 0xfffffffe || encoded.length > 0xfffe) throw new InvalidArgumentError('writeZip: archives beyond 4 GiB or 65534 entries are not supported');
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const DOS_DATE_1980_01_01 = 0x0021;
  let p = 0;
  const offsets: number[] = [];
  for (const f of encoded) {
    offsets.push(p);
    dv.setUint32(p, SIG_LOCAL, true);
    dv.setUint16(p + 4, 20, true);
    dv.setUint16(p + 6, f.ascii ? 0 : 0x800, true);
    dv.setUint16(p + 8, 0, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint16(p + 12, DOS_DATE_1980_01_01, true);
    dv.setUint32(p + 14, f.crc, true);
    dv.setUint32(p + 18, f.data.length, true);
    dv.setUint32(p + 22, f.data.length, true);
    dv.setUint16(p + 26, f.nameBytes.length, true);
    dv.setUint16(p + 28, 0, true);
    out.set(f.nameBytes, p + 30);
    out.set(f.data, p + 30 + f.nameBytes.length);
    p += 30 + f.nameBytes.length + f.data.length;
  }
  const cdOffset = p;
  encoded.forEach((f, i) => {
    dv.setUint32(p, SIG_CENTRAL, true);
    dv.setUint16(p + 4, 20, true);
    dv.setUint16(p + 6, 20, true);
    dv.setUint16(p + 8, f.ascii ? 0 : 0x800, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint16(p + 12, 0, true);
    dv.setUint16(p + 14, DOS_DATE_1980_01_01, true);
    dv.setUint32(p + 16, f.crc, true);
    dv.setUint32(p + 20, f.data.length, true);
    dv.setUint32(p + 24, f.data.length, true);
    dv.setUint16(p + 28, f.nameBytes.length, true);
    dv.setUint32(p + 42, offsets[i]!, true);
    out.set(f.nameBytes, p + 46);
    p += 46 + f.nameBytes.length;
  });
  dv.setUint32(p, SIG_EOCD, true);
  dv.setUint16(p + 8, encoded.length, true);
  dv.setUint16(p + 10, encoded.length, true);
  dv.setUint32(p + 12, p - cdOffset, true);
  dv.setUint32(p + 16, cdOffset, true);
  return out;
}
