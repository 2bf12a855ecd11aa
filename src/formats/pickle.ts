/**
 * A restricted unpickler: a data-only interpreter for Python's pickle protocols 0–5 that never executes
 * anything from the stream.
 *
 * Containers, numbers and strings are rebuilt as plain data. Every global the stream names (GLOBAL,
 * STACK_GLOBAL, INST) is checked against an allow-list supplied by the caller *when it is named*, before
 * anything could call it; names outside the list are a `FormatError` naming the global. Calls (REDUCE,
 * NEWOBJ, OBJ, INST) are only possible on allow-listed globals and are dispatched to caller-supplied pure
 * functions. Extension codes and out-of-band buffers are refused. The interpreter is a single forward pass
 * over the bytes (every opcode consumes input), so it always terminates in time linear in the input.
 */
import { FormatError } from '../errors.js';

/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
/** A Python list (also used for sets and frozensets, whose identity does not matter here). */
export class PyList {
  constructor(readonly items: PyValue[]) {}
}
/** A Python dict (or OrderedDict). Keys are primitives; tuple keys are kept by identity. */
export class PyDict {
  readonly map = new Map<unknown, PyValue>();
}
/** An allow-listed global, e.g. `collections.OrderedDict`. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}
/** An opaque value produced by a caller-supplied call handler (tensors, storages, ...). */
export class PyOpaque<T = unknown> {
  constructor(readonly value: T) {}
}

/** Any value the interpreter can produce. */
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyTuple | PyList | PyDict | PyGlobal | PyOpaque;

/** Hooks through which the caller decides everything that is not plain data. */
export interface UnpickleHooks {
  /** Allow-list: return true to allow `module.name`; anything else is refused with a FormatError. */
  isAllowedGlobal(module: string, name: string): boolean;
  /** Calls an allow-listed global with positional arguments (REDUCE, NEWOBJ, OBJ, INST). */
  call(fn: PyGlobal, args: PyValue[]): PyValue;
  /** Resolves a persistent id (BINPERSID). */
  persistentLoad(pid: PyValue): PyValue;
}

/** A short description of a value's type, for messages. */
export function pyTypeName(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyList) return 'list';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PyGlobal) return v.qualifiedName;
  return 'object';
}

/** Python itself refuses to convert integers with more digits than this from text. */
const MAX_INT_DIGITS = 4300;
/** Bytes of a binary LONG4 integer beyond which the stream is considered hostile. */
const MAX_LONG_BYTES = 4096;

/**
 * Interprets a pickle stream.
 * @param source names the stream in error messages
 * @returns the value the stream's STOP opcode returns
 * @throws FormatError for malformed streams, refused globals, unsupported opcodes, and anything the hooks
 *   refuse
 */
export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, source = 'pickle data'): PyValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pos = 0;
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');

  const fail = (msg: string): never => {
    throw new FormatError(`${source}: ${msg} (pickle byte ${pos})`);
  };
  const need = (k: number): void => {
    if (!Number.isSafeInteger(k) || k < 0 || pos + k > n) fail(`truncated pickle: needs ${k} more bytes`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = dv.getUint32(pos, true) + dv.getUint32(pos + 4, true) * 2 ** 32;
    pos += 8;
    return v;
  };
  const take = (k: number): Uint8Array => {
    need(k);
    const v = bytes.subarray(pos, pos + k);
    pos += k;
    return v;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated pickle: unterminated text argument');
    const v = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return v;
  };
  const decodeUtf8 = (raw: Uint8Array): string => {
    try {
      return utf8.decode(raw);
    } catch {
      return fail('invalid UTF-8 in a pickled string');
    }
  };
  const pop = (): PyValue => {
    if (stack.length === 0) return fail('stack underflow');
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0) return fail('stack underflow');
    return stack[stack.length - 1]!;
  };
  /** Pops everything above the most recent MARK (the items) and restores the enclosing stack. */
  const popMark = (): PyValue[] => {
    const items = stack;
    const outer = marks.pop();
    if (outer === undefined) return fail('MARK not found');
    stack = outer;
    return items;
  };
  const signedLittleEndian = (raw: Uint8Array): number | bigint => {
    if (raw.length === 0) return 0;
    let v = 0n;
    for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]!);
    if (raw[raw.length - 1]! & 0x80) v -= 1n << BigInt(8 * raw.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const parseIntText = (text: string): number | bigint => {
    const t = text.endsWith('L') ? text.slice(0, -1) : text;
    if (!/^[+-]?\d+$/.test(t)) fail(`malformed integer ${JSON.stringify(text.slice(0, 40))}`);
    if (t.length > MAX_INT_DIGITS) fail(`integer with ${t.length} digits is too large`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const quotedText = (text: string): string => {
    const q = text[0];
    if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) fail('malformed STRING argument');
    const body = text.slice(1, -1);
    if (body.includes('\\')) fail('escaped protocol-0 strings are not supported');
    return body;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    if (!hooks.isAllowedGlobal(module, name)) {
      fail(`refusing to load the pickled global "${module}.${name}": only tensor-rebuilding globals are allowed`);
    }
    return new PyGlobal(module, name);
  };
  const callGlobal = (fn: PyValue, args: PyValue[], opcode: string): PyValue => {
    if (!(fn instanceof PyGlobal)) return fail(`${opcode} of a non-callable ${pyTypeName(fn)}`);
    return hooks.call(fn, args);
  };
  const asTupleArgs = (v: PyValue, opcode: string): PyValue[] => {
    if (!(v instanceof PyTuple)) return fail(`${opcode} arguments must be a tuple, got ${pyTypeName(v)}`);
    return v.items;
  };
  const hashable = (k: PyValue): unknown => {
    if (k instanceof PyList || k instanceof PyDict) fail(`unhashable ${pyTypeName(k)} used as a dict key`);
    return k;
  };
  const setItem = (dict: PyValue, k: PyValue, v: PyValue): void => {
    if (!(dict instanceof PyDict)) fail(`SETITEM on a ${pyTypeName(dict)}`);
    (dict as PyDict).map.set(hashable(k), v);
  };
  const appendTo = (list: PyValue, items: PyValue[]): void => {
    if (!(list instanceof PyList)) fail(`APPEND on a ${pyTypeName(list)}`);
    for (const it of items) (list as PyList).items.push(it);
  };

  while (pos < n) {
    const op = bytes[pos++]!;
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) fail(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95: // FRAME: the length is advisory; opcodes are read straight through.
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP (with an empty stack, Python's unpickler discards the most recent MARK)
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x70: // PUT
        memo.set(Number(parseIntText(line())), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x67 ? Number(parseIntText(line())) : op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo key ${key} is not defined`);
        stack.push(memo.get(key)!);
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x49: {
        // INT (protocol 0; "01"/"00" are True/False)
        const text = line();
        stack.push(text === '01' ? true : text === '00' ? false : parseIntText(text));
        break;
      }
      case 0x4c: // LONG
        stack.push(parseIntText(line()));
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(signedLittleEndian(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const k = i32();
        if (k < 0) fail('negative LONG4 length');
        if (k > MAX_LONG_BYTES) fail(`LONG4 integer of ${k} bytes is too large`);
        stack.push(signedLittleEndian(take(k)));
        break;
      }
      case 0x46: {
        // FLOAT
        const text = line().trim();
        let v: number;
        if (/^[+-]?inf$/i.test(text)) v = text.startsWith('-') ? -Infinity : Infinity;
        else if (/^[+-]?nan$/i.test(text)) v = NaN;
        else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) v = Number(text);
        else return fail(`malformed float ${JSON.stringify(text.slice(0, 40))}`);
        stack.push(v);
        break;
      }
      case 0x47: {
        // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x53: // STRING
        stack.push(quotedText(line()));
        break;
      case 0x56: {
        // UNICODE (raw-unicode-escape)
        const text = line();
        if (text.includes('\\')) fail('escaped protocol-0 strings are not supported');
        stack.push(text);
        break;
      }
      case 0x54: {
        // BINSTRING
        const k = i32();
        if (k < 0) fail('negative BINSTRING length');
        stack.push(latin1.decode(take(k)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x58: // BINUNICODE
        stack.push(decodeUtf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(decodeUtf8(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(decodeUtf8(take(u64())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: {
        // TUPLE (popMark() swaps `stack`, so it must run before the push is evaluated)
        const items = popMark();
        stack.push(new PyTuple(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push(new PyList([]));
        break;
      case 0x6c: {
        // LIST
        const items = popMark();
        stack.push(new PyList(items));
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendTo(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendTo(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        if (items.length % 2 !== 0) fail('DICT with an odd number of items');
        const d = new PyDict();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i]!, items[i + 1]!);
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i]!, items[i + 1]!);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new PyList([]));
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendTo(top(), items);
        break;
      }
      case 0x91: {
        // FROZENSET
        const items = popMark();
        stack.push(new PyList(items));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x69: {
        // INST: module and class on text lines, arguments since the MARK
        const module = line();
        const name = line();
        const cls = resolveGlobal(module, name);
        const args = popMark();
        stack.push(callGlobal(cls, args, 'INST'));
        break;
      }
      case 0x6f: {
        // OBJ: class and arguments since the MARK
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        stack.push(callGlobal(items[0]!, items.slice(1), 'OBJ'));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(callGlobal(cls, asTupleArgs(args, 'NEWOBJ'), 'NEWOBJ'));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: keyword arguments must be empty
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof PyDict) || kwargs.map.size !== 0) fail('NEWOBJ_EX with keyword arguments is not supported');
        stack.push(callGlobal(cls, asTupleArgs(args, 'NEWOBJ_EX'), 'NEWOBJ_EX'));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(callGlobal(fn, asTupleArgs(args, 'REDUCE'), 'REDUCE'));
        break;
      }
      case 0x62: {
        // BUILD: object state (attributes such as a state_dict's `_metadata`) carries no tensors; the state
        // is dropped, but only onto objects that can have state.
        pop();
        const obj = top();
        if (!(obj instanceof PyDict || obj instanceof PyOpaque)) fail(`BUILD on a ${pyTypeName(obj)}`);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      case 0x50: // PERSID
        stack.push(hooks.persistentLoad(line()));
        break;
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        fail('pickle extension codes (copyreg registry) are not supported');
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail('out-of-band pickle buffers are not supported');
        break;
      default:
        fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
  return fail('truncated pickle: no STOP opcode');
}
