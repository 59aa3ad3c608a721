import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/**
 * IDX files (the MNIST / Fashion-MNIST format), raw or gzipped: a magic number
 * 0x0000 0x08 <rank> (unsigned bytes), rank big-endian u32 dimensions, then the bytes.
 */
export interface Idx {
  dims: number[];
  data: Uint8Array;
}

export function parseIdx(bytes: Uint8Array, file: string): Idx {
  const raw = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipOrFail(bytes, file) : bytes;
  if (raw.length < 4) throw new Error(`${file}: ${raw.length} bytes is too short for an IDX header`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0, false);
  const rank = magic & 0xff;
  if (magic >>> 8 !== 0x08 || rank < 1 || rank > 4) {
    throw new Error(`${file}: bad IDX magic number 0x${magic.toString(16).padStart(8, '0')} (expected 0x0000080N: unsigned bytes, N dimensions)`);
  }
  if (raw.length < 4 + 4 * rank) throw new Error(`${file}: truncated IDX header (${rank} dimensions need ${4 + 4 * rank} bytes)`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const body = raw.length - 4 - 4 * rank;
  if (body !== size)
    throw new Error(`${file}: dimensions [${dims.join(', ')}] need ${size} bytes of data, the file has ${body}${body < size ? ' (truncated)' : ''}`);
  return { dims, data: raw.subarray(4 + 4 * rank) };
}

function gunzipOrFail(bytes: Uint8Array, file: string): Uint8Array {
  try {
    return new Uint8Array(gunzipSync(bytes));
  } catch (e) {
    throw new Error(`${file}: corrupt gzip data (${(e as Error).message})`);
  }
}

export function readIdx(file: string): Idx {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseIdx(bytes, file);
}

/** Encodes images or labels as IDX bytes (for the embedded subset and tests). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
