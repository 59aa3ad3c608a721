import type { TypedArray } from './dtype.js';
import { arraysSince, heapHolds, heapScope, inHeap, recordAgain, recordArrays, release } from './backend/reference/pool.js';
import type { Tensor } from './tensor.js';

/**
 * Scopes: an option for loops that want their memory reused at once instead of when the
 * garbage collector gets to it. Nothing needs one: without a scope every tensor lives as long
 * as something references it, as always.
 *
 *     const loss = scope(() => {
 *       const l = crossEntropy(model.forward(x), y);
 *       l.backward();
 *       opt.step();
 *       return l.item();
 *     });
 *
 * When the function returns, every tensor it created is disposed (using one afterwards is an
 * error that says so) and the large arrays the CPU backend made for them go back to its pool,
 * for the next step's kernels to write into memory that is already mapped. Kept are the
 * tensors the function returns (alone, or in arrays and plain objects), those passed to
 * `keep`, and every tensor assigned to some tensor's `.grad` (a parameter's gradient). A
 * scope whose graph is still waiting for `backward` (some tensor it created has a recorded,
 * unreleased op) disposes nothing: the rules of that graph may read any of its tensors. It
 * hands them to the scope around it, if any, which decides when it closes. Scopes nest.
 *
 * Inside a scope the CPU backend's large float32 arrays live in its WebAssembly memory,
 * where its kernels read and write them in place (no copy in and out per kernel); what the
 * outermost scope keeps is copied out when it closes, so no tensor outlives its scopes in
 * that memory. `{ heap: false }` opts a scope out of this (by itself: inside a scope that
 * has it, arrays still go there): the ViT's per-block scopes, which free what they can but
 * must not make a loop without a scope of its own keep its arrays in that memory.
 *
 * Arrays read through `.data` inside a scope are the tensors' own: copy (`.data.slice()`)
 * what must outlive it.
 */
export function scope<T>(fn: () => T, options: { heap?: boolean } = {}): T {
  const heap = options.heap ?? true;
  const tensorMark = tensors.length;
  const arrayMark = recordArrays(1);
  depth++;
  if (heap) heapScope(1);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    depth--;
    if (heap) heapScope(-1);
    recordArrays(-1);
    // nothing is disposed on the way out of an error: its tensors are the garbage collector's
    close(tensorMark, arrayMark, null, true);
    throw e;
  }
  depth--;
  if (heap) heapScope(-1);
  recordArrays(-1);
  close(tensorMark, arrayMark, result, false);
  return result;
}

/**
 * Exempts `t` and its storage from every scope: it lives as long as something references
 * it. Tensor's `.grad` setter keeps what is assigned (a parameter's gradient outlives the
 * step that made it).
 */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  const s = t.storageOrDisposed;
  // the heap's arrays share one buffer: they are kept by identity
  if (ArrayBuffer.isView(s)) {
    if (inHeap(s as TypedArray)) keptArrays.add(s);
    else keptBuffers.add(s.buffer);
  }
  return t;
}

/** Tensors created inside the open scopes, oldest first (empty when none is open). */
const tensors: Tensor[] = [];
let depth = 0;
const kept = new WeakSet<Tensor>();
/** The buffers of kept tensors: never released by a scope. */
const keptBuffers = new WeakSet<ArrayBufferLike>();
/** Kept arrays of the heap (one buffer for all of them). */
const keptArrays = new WeakSet<ArrayBufferView>();

/** Called by every Tensor's constructor. */
export function track(t: Tensor): void {
  if (depth > 0) tensors.push(t);
}

/** Marks a tensor disposed: its storage is gone, and reading it says so. */
export const DISPOSED: unique symbol = Symbol('disposed');

function close(tensorMark: number, arrayMark: number, result: unknown, failed: boolean): void {
  const created = tensors.splice(tensorMark);
  const arrays = arraysSince(arrayMark);
  const live = failed || created.some((t) => t.node !== null && typeof t.node === 'object');
  const outer = depth > 0;
  if (live) {
    // the graph may read any of them: the scope around decides, or the garbage collector
    if (outer) {
      for (const t of created) tensors.push(t);
      recordAgain(arrays);
    }
    return;
  }
  const out = new Set<Tensor>();
  collect(result, out, 0);
  const passed: Tensor[] = [];
  for (const t of created) {
    if (out.has(t) || kept.has(t)) passed.push(t);
    else t.dispose();
  }
  // leaving the last scope, what it keeps of the heap is copied out (a storage shared by
  // several tensors once); its arrays then go back with the rest
  if (!outer) {
    const copies = new Map<unknown, TypedArray>();
    for (const t of passed) {
      const s = t.storageOrDisposed;
      if (!ArrayBuffer.isView(s) || !heapHolds(s as TypedArray)) continue;
      const copy = copies.get(s) ?? (s as TypedArray).slice();
      copies.set(s, copy);
      keptArrays.delete(s);
      t.storage = copy;
    }
  }
  // the storage of what is returned stays, also of a tensor made before the scope (by
  // buffer, or by identity for the heap's arrays, which share one)
  const returned = new Set<unknown>();
  for (const t of out) {
    const s = t.storageOrDisposed;
    if (ArrayBuffer.isView(s)) returned.add(inHeap(s as TypedArray) ? s : s.buffer);
  }
  const passedArrays: TypedArray[] = [];
  for (const a of arrays) {
    const keptHere = inHeap(a) ? returned.has(a) || keptArrays.has(a) : returned.has(a.buffer) || keptBuffers.has(a.buffer);
    if (keptHere) passedArrays.push(a);
    else release(a);
  }
  if (outer) {
    for (const t of passed) tensors.push(t);
    recordAgain(passedArrays);
  }
}

/** The tensors in a scope's result: a tensor, or arrays and plain objects of them. */
function collect(x: unknown, out: Set<Tensor>, level: number): void {
  if (x === null || typeof x !== 'object' || level > 8) return;
  if (isTensor(x)) out.add(x);
  else if (Array.isArray(x)) for (const v of x) collect(v, out, level + 1);
  else if (Object.getPrototypeOf(x) === Object.prototype) for (const v of Object.values(x)) collect(v, out, level + 1);
}

function isTensor(x: object): x is Tensor {
  return 'storageOrDisposed' in x && 'shape' in x && 'dtype' in x;
}
