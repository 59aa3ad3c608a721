import { allocate as fresh, type DType, type TypedArray } from '../../dtype.js';

/**
 * Arrays the autograd engine has released (gradients it has consumed), kept for reuse by
 * size. A fresh large typed array costs about 0.5 ms per MB here (V8 zero-fills it, the
 * kernel maps new pages); a pooled one costs a memset of memory already in use. The pool
 * holds at most `LIMIT` bytes and only arrays of at least `MIN` elements.
 */
const LIMIT = 256 * 2 ** 20;
const MIN = 4096;
const free = new Map<string, TypedArray[]>();
const pooled = new WeakSet<TypedArray>();
let bytes = 0;
/**
 * While a scope (../../scope.ts) is open, the large arrays handed out, oldest first: the
 * scope releases those it owns when it closes.
 */
const handedOut: TypedArray[] = [];
let recording = 0;

/** An array from the pool when one of this size is there, zero-filled unless the caller overwrites it all. */
export function allocate(dtype: DType, size: number, zeroed = true): TypedArray {
  if (size < MIN) return fresh(dtype, size);
  let a = free.get(`${dtype}:${size}`)?.pop();
  if (a !== undefined) {
    pooled.delete(a);
    bytes -= a.byteLength;
    if (zeroed) a.fill(0);
  } else a = fresh(dtype, size);
  if (recording > 0) handedOut.push(a);
  return a;
}

/** Starts (`+1`) or ends (`-1`) a scope's recording of the arrays handed out; returns where its own start. */
export function recordArrays(delta: 1 | -1): number {
  recording += delta;
  return handedOut.length;
}

/** The arrays handed out since `mark`, taken off the record (a closing scope keeps or releases each). */
export function arraysSince(mark: number): TypedArray[] {
  return handedOut.splice(mark);
}

/** Puts arrays back on the record (those a closing scope hands to the one around it). */
export function recordAgain(arrays: readonly TypedArray[]): void {
  for (const a of arrays) handedOut.push(a);
}

/** Takes back an array nothing references any more (the caller guarantees it). */
export function release(a: TypedArray): void {
  if (a.length < MIN || pooled.has(a) || bytes + a.byteLength > LIMIT || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) return;
  const key = `${a instanceof Float32Array ? 'float32' : a instanceof Float64Array ? 'float64' : 'int32'}:${a.length}`;
  let list = free.get(key);
  if (list === undefined) {
    list = [];
    free.set(key, list);
  }
  list.push(a);
  pooled.add(a);
  bytes += a.byteLength;
}

/** Bytes held for reuse (tests, memory reports). */
export function pooledBytes(): number {
  return bytes;
}
