import { tensor, type Tensor } from '@ggem/tensor';

/**
 * safetensors, after the format's specification: 8 bytes of little-endian u64 header
 * length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, ...,
 * "__metadata__": { string: string } }`, then the byte buffer the offsets index (from its
 * start; entirely covered, without holes or overlaps). Every dtype of the format is read:
 * F64 as float64; F32, F16, BF16, F8_E4M3 and F8_E5M2 as float32 (exactly: each is a subset
 * of float32); the integers and BOOL as int32, I64 / U64 / U32 too when every value fits
 * (a file's step counters do), else an error naming the tensor. Floats are written as F32
 * by default, or F64, F16 or BF16 (`{ dtype }`, rounded to nearest even); int32 as I32.
 */

export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;
type DTypeName = keyof typeof DTYPE_BYTES;
/** The dtypes floats can be written as. */
export type FloatStorage = 'F64' | 'F32' | 'F16' | 'BF16';

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

interface Entry {
  name: string;
  dtype: DTypeName;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and checks a whole file held in memory; `source` names it in errors. */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n > BigInt(bytes.length - 8)) fail(`header length ${n} runs past the end of the file (${bytes.length} bytes): truncated?`);
  const headerEnd = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)));
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const dataLength = bytes.length - headerEnd;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        fail(`__metadata__ is ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)}, not an object of strings`);
      for (const [k, v] of Object.entries(raw as object)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        put(metadata, k, v as string);
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`tensor '${name}' is not an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES))
      fail(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; supported: ${Object.keys(DTYPE_BYTES).join(', ')}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1])
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
    const [begin, end] = off as [number, number];
    if (end > dataLength) fail(`tensor '${name}' data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data buffer: truncated?`);
    const dtype = e.dtype as DTypeName;
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count * DTYPE_BYTES[dtype] !== end - begin)
      fail(`tensor '${name}' of shape [${(shape as number[]).join(', ')}] ${dtype} needs ${count * DTYPE_BYTES[dtype]} bytes, its offsets give ${end - begin}`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of entries) {
    if (e.begin < covered) fail(`tensor '${e.name}' [${e.begin}, ${e.end}) overlaps the tensor before it`);
    if (e.begin > covered) fail(`bytes [${covered}, ${e.begin}) of the data buffer belong to no tensor`);
    covered = e.end;
  }
  if (covered !== dataLength) fail(`bytes [${covered}, ${dataLength}) of the data buffer belong to no tensor`);
  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    try {
      put(tensors, e.name, decode(bytes.subarray(headerEnd + e.begin, headerEnd + e.end), e));
    } catch (err) {
      fail((err as Error).message);
    }
  }
  return { tensors, metadata };
}

/** An own property, also for the key `__proto__` (which plain assignment would take as the prototype). */
function put<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function decode(raw: Uint8Array, e: Entry): Tensor {
  const copy = new Uint8Array(raw); // aligned, owned (a copy even of a Node Buffer, whose slice() is a view)
  const b = copy.buffer;
  const shape = e.shape;
  const ints = (a: ArrayLike<number>) => tensor(Int32Array.from(a), { shape, dtype: 'int32' });
  switch (e.dtype) {
    case 'F32':
      return tensor(new Float32Array(b), { shape });
    case 'F64':
      return tensor(new Float64Array(b), { shape });
    case 'BF16': {
      const h = new Uint16Array(b);
      const bits = new Uint32Array(h.length);
      for (let i = 0; i < h.length; i++) bits[i] = h[i]! << 16;
      return tensor(new Float32Array(bits.buffer), { shape });
    }
    case 'F16':
      return tensor(Float32Array.from(new Uint16Array(b), halfToFloat), { shape });
    case 'F8_E5M2':
      return tensor(
        Float32Array.from(copy, (v) => halfToFloat(v << 8)),
        { shape },
      ); // the top byte of a half
    case 'F8_E4M3':
      return tensor(Float32Array.from(copy, e4m3ToFloat), { shape });
    case 'I32':
      return tensor(new Int32Array(b), { shape, dtype: 'int32' });
    case 'I16':
      return ints(new Int16Array(b));
    case 'I8':
      return ints(new Int8Array(b));
    case 'U16':
      return ints(new Uint16Array(b));
    case 'U8':
      return ints(copy);
    case 'BOOL':
      return ints(copy.map((v) => (v ? 1 : 0)));
    case 'U32':
    case 'I64':
    case 'U64': {
      const wide = e.dtype === 'U32' ? Array.from(new Uint32Array(b), BigInt) : [...(e.dtype === 'I64' ? new BigInt64Array(b) : new BigUint64Array(b))];
      const out = new Int32Array(wide.length);
      wide.forEach((v, i) => {
        if (v < -2147483648n || v > 2147483647n)
          throw new Error(`tensor '${e.name}' (${e.dtype}) holds ${v} at ${i}, beyond int32, the widest integer a tensor here holds`);
        out[i] = Number(v);
      });
      return tensor(out, { shape, dtype: 'int32' });
    }
  }
}

/** OCP FP8 E4M3 ("e4m3fn": bias 7, no infinities, S.1111.111 is NaN) → number. */
export function e4m3ToFloat(v: number): number {
  const sign = v & 0x80 ? -1 : 1;
  const exp = (v >> 3) & 0xf;
  const frac = v & 7;
  if (exp === 15 && frac === 7) return NaN;
  if (exp === 0) return sign * frac * 2 ** -9;
  return sign * (1 + frac / 8) * 2 ** (exp - 7);
}

/** IEEE half → number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number → IEEE half bits, rounded to nearest even (overflow to ±Infinity, subnormals kept). */
export function floatToHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0)); // a carry into the exponent is right
}

/** number → bfloat16 bits (the top half of float32), rounded to nearest even; NaN stays NaN. */
export function floatToBf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  if ((u & 0x7f800000) === 0x7f800000 && u & 0x7fffff) return (u >>> 16) | 0x40;
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

function encode(t: Tensor, floats: FloatStorage): { dtype: string; bytes: Uint8Array } {
  const d = t.data;
  const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (t.dtype === 'int32') return { dtype: 'I32', bytes: view(d) };
  if (floats === 'F64') return { dtype: 'F64', bytes: view(d instanceof Float64Array ? d : Float64Array.from(d)) };
  if (floats === 'F32') return { dtype: 'F32', bytes: view(d instanceof Float32Array ? d : Float32Array.from(d)) };
  return { dtype: floats, bytes: view(Uint16Array.from(d, floats === 'F16' ? floatToHalf : floatToBf16)) };
}

/**
 * Serialises tensors: floats as `options.dtype` (F32 by default; F64, F16 or BF16), int32 as
 * I32; the header padded to 8 bytes.
 */
export function writeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}, options: { dtype?: FloatStorage } = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const { dtype, bytes } = encode(t, options.dtype ?? 'F32');
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    parts.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((new TextEncoder().encode(json).length + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
