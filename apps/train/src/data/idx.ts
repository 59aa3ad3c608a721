import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { decodeIdx, type Idx } from './idx-format.js';

export { encodeIdx, type Idx } from './idx-format.js';

/** An IDX file's bytes, raw or gzipped. */
export function parseIdx(bytes: Uint8Array, file: string): Idx {
  return decodeIdx(bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipOrFail(bytes, file) : bytes, file);
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
