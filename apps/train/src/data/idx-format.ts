/**
 * IDX files (the MNIST / Fashion-MNIST format): a magic number 0x0000 0x08 <rank> (unsigned
 * bytes), rank big-endian u32 dimensions, then the bytes. Runtime-neutral (the web app reads
 * them too); ./idx.ts adds files and gzip in Node.
 */
export interface Idx {
  dims: number[];
  data: Uint8Array;
}

/** The dimensions and bytes of an IDX file's contents (decompressed). */
export function decodeIdx(raw: Uint8Array, file: string): Idx {
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

/** Encodes images or labels as IDX bytes (for the embedded subset and tests). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
