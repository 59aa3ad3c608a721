import { tensor, type Tensor } from '@ggem/tensor';

/**
 * safetensors, after the format's specification: 8 bytes of little-endian u64 header
 * length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, ...,
 * "__metadata__": { string: string } }`, then the byte buffer the offsets index (from its
 * start; entirely covered, without holes or overlaps). F32, F64, F16 and BF16 are read
 * (F16 and BF16 widened to float32); F32 is written.
 */

export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES = { F32: 4, F64: 8, F16: 2, BF16: 2 } as const;
type DTypeName = keyof typeof DTYPE_BYTES;

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
  for (const e of entries) put(tensors, e.name, decode(bytes.subarray(headerEnd + e.begin, headerEnd + e.end), e));
  return { tensors, metadata };
}

/** An own property, also for the key `__proto__` (which plain assignment would take as the prototype). */
function put<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function decode(raw: Uint8Array, e: Entry): Tensor {
  const copy = new Uint8Array(raw); // aligned, owned (a copy even of a Node Buffer, whose slice() is a view)
  switch (e.dtype) {
    case 'F32':
      return tensor(new Float32Array(copy.buffer), { shape: e.shape });
    case 'F64':
      return tensor(new Float64Array(copy.buffer), { shape: e.shape });
    case 'BF16': {
      const h = new Uint16Array(copy.buffer);
      const bits = new Uint32Array(h.length);
      for (let i = 0; i < h.length; i++) bits[i] = h[i]! << 16;
      return tensor(new Float32Array(bits.buffer), { shape: e.shape });
    }
    case 'F16': {
      const h = new Uint16Array(copy.buffer);
      return tensor(Float32Array.from(h, halfToFloat), { shape: e.shape });
    }
  }
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

/** Serialises tensors as F32 (float64 and int32 values are converted), header padded to 8 bytes. */
export function writeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Float32Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
    parts.push(data);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((new TextEncoder().encode(json).length + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return out;
}
