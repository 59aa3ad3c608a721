import type { TypedArray } from './dtype.js';
import { arraysSince, recordAgain, recordArrays, release } from './backend/reference/pool.js';
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
 * Arrays read through `.data` inside a scope are the tensors' own: copy (`.data.slice()`)
 * what must outlive it.
 */
export function scope<T>(fn: () => T): T {
  const tensorMark = tensors.length;
  const arrayMark = recordArrays(1);
  depth++;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    depth--;
    recordArrays(-1);
    // nothing is disposed on the way out of an error: its tensors are the garbage collector's
    close(tensorMark, arrayMark, null, true);
    throw e;
  }
  depth--;
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
  if (ArrayBuffer.isView(s)) keptBuffers.add(s.buffer);
  return t;
}

/** Tensors created inside the open scopes, oldest first (empty when none is open). */
const tensors: Tensor[] = [];
let depth = 0;
const kept = new WeakSet<Tensor>();
/** The buffers of kept tensors: never released by a scope. */
const keptBuffers = new WeakSet<ArrayBufferLike>();

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
  // the storage of what is returned stays, also of a tensor made before the scope
  const returned = new Set<ArrayBufferLike>();
  for (const t of out) {
    const s = t.storageOrDisposed;
    if (ArrayBuffer.isView(s)) returned.add(s.buffer);
  }
  const passed: Tensor[] = [];
  for (const t of created) {
    if (out.has(t) || kept.has(t)) passed.push(t);
    else t.dispose();
  }
  const passedArrays: TypedArray[] = [];
  for (const a of arrays) {
    if (returned.has(a.buffer) || keptBuffers.has(a.buffer)) passedArrays.push(a);
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
