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

/**
 * Memory kernels read and write in place (the CPU backend's WebAssembly memory): inside a
 * scope that allows it, large float32 arrays come from there. The scope gives them back
 * when it closes and copies out those it keeps (`evict`), so none outlives it.
 */
export interface Heap {
  /** A new array of n floats there, or null (none, or not now). */
  alloc(n: number): Float32Array | null;
  /** Takes back an array of `alloc`; false for any other array. */
  release(a: TypedArray): boolean;
  owns(a: TypedArray): boolean;
  /** Whether `a` views the heap's memory at all (an array of `alloc`, a subarray of one, a pinned weight). */
  holds(a: TypedArray): boolean;
}
let heap: Heap | null = null;
let heapScopes = 0;
/**
 * Off while another backend than the CPU is active: its kernels would get shared memory
 * they may not accept (WebGL's uploads refuse it).
 */
let heapBackend = true;
/** float32 arrays of at least this many floats go to the heap (smaller ones copy cheaply). */
const HEAP_MIN = 1 << 15;

export function setHeap(h: Heap | null): void {
  heap = h;
}

/** Called by setBackend: whether the active backend is the CPU one, whose kernels the heap serves. */
export function heapForBackend(cpu: boolean): void {
  heapBackend = cpu;
}

/** Opens (`+1`) or closes (`-1`) a scope whose arrays may live in the heap. */
export function heapScope(delta: 1 | -1): void {
  heapScopes += delta;
}

/** Whether `a` is an array of the heap's `alloc`. */
export function inHeap(a: TypedArray): boolean {
  return heap?.owns(a) === true;
}

/** Whether `a` views the heap's memory (a scope that keeps its tensor copies it out). */
export function heapHolds(a: TypedArray): boolean {
  return heap?.holds(a) === true;
}

/**
 * An array from the pool when one of this size is there, zero-filled unless the caller
 * overwrites it all. Inside a heap scope a large float32 array comes from the heap, unless
 * `inPlace` is false (an array written after a kernel's operands were laid out).
 */
export function allocate(dtype: DType, size: number, zeroed = true, inPlace = true): TypedArray {
  if (size < MIN) return fresh(dtype, size);
  if (inPlace && heapScopes > 0 && heapBackend && dtype === 'float32' && size >= HEAP_MIN && heap !== null) {
    const h = heap.alloc(size);
    if (h !== null) {
      if (zeroed) h.fill(0);
      handedOut.push(h);
      return h;
    }
  }
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
  if (heap?.release(a)) return;
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
