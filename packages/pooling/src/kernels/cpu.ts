import { extend, type DType, type TypedArray } from '@ggem/tensor';
import type { TypedArrayGem } from './index.js';
import * as reference from './reference.js';
import { groupSums, type GemSaved, type PerImage } from './reference.js';
import { gemModule } from './wasm.js';

/**
 * GeM / GGeM with WebAssembly SIMD (float32, C a multiple of 4: vectorised exp and log over
 * 4 channels), in the scaled form of the reference (./reference.ts), whose state and
 * last step it shares; every other case runs the reference.
 */

const PAGE = 65536;

let simd: { memory: WebAssembly.Memory; forward: (...a: number[]) => void; backward: (...a: number[]) => void } | null | undefined;
/**
 * The forward whose x and r^p are in the SIMD kernel's memory: a forward is usually
 * followed by its own backward, which then reads them in place. Another forward overwrites
 * them; a backward that finds its forward gone (a second backward through a kept graph,
 * or two poolings interleaved) computes r^p again from x, which the forward keeps.
 */
let resident: GemSaved | null = null;

function wasm(): typeof simd {
  if (simd === undefined) {
    if (!extend.wasmFeatures.simd) simd = null;
    else {
      const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
      const ex = new WebAssembly.Instance(new WebAssembly.Module(gemModule()), { env: { memory } }).exports;
      simd = { memory, forward: ex.gemForward as (...a: number[]) => void, backward: ex.gemBackward as (...a: number[]) => void };
    }
  }
  return simd;
}

function ensure(memory: WebAssembly.Memory, bytes: number): void {
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
}

function simdFor(dtype: DType, c: number): NonNullable<typeof simd> | null {
  return dtype === 'float32' && c % 4 === 0 ? (wasm() ?? null) : null;
}

export const gem: TypedArrayGem = (x, b, n, c, start, pg, groups, eps, dtype) => {
  const k = simdFor(dtype, c);
  if (k === null) return reference.gem(x, b, n, c, start, pg, groups, eps, dtype);
  const { y, saved, each } = reference.gemState(x, b, n, c, start, pg, groups, eps, dtype);
  simdForward(k, saved, each);
  return { y, saved };
};

/** The SIMD forward: x and r^p into the kernel's memory, the column sums of each image to `each`. */
function simdForward(k: NonNullable<typeof simd>, saved: GemSaved, each: PerImage): void {
  const { x, b, n, c, start, eps, p } = saved;
  const tokens = n - start;
  const { pp, mp, sp, tp, rpp } = layout(b, n, c, start);
  ensure(k.memory, rpp + b * tokens * c * 4);
  const buf = k.memory.buffer;
  new Float32Array(buf, 0, b * n * c).set(x);
  new Float32Array(buf, pp, c).set(p);
  const M = new Float32Array(buf, mp, c);
  const s = new Float64Array(buf, sp, c);
  const T = new Float64Array(buf, tp, c);
  for (let bi = 0; bi < b; bi++) {
    k.forward(bi * n * c * 4, n, c, start, pp, eps, mp, rpp + bi * tokens * c * 4, sp, tp);
    each(bi, M, s, T);
  }
  resident = saved;
}

/** Byte offsets in the SIMD kernel's memory: x, p per channel, M, s, T, r^p, then backward's k and gx. */
function layout(b: number, n: number, c: number, start: number) {
  const pp = b * n * c * 4;
  const mp = pp + c * 4;
  const sp = mp + c * 4;
  const tp = sp + c * 8;
  const rpp = tp + c * 8;
  const kp = rpp + b * (n - start) * c * 4;
  const gxp = kp + b * c * 4;
  return { pp, mp, sp, tp, rpp, kp, gxp, end: gxp + b * n * c * 4 };
}

/** The backward of a SIMD forward (r^p in the kernel's memory, computed again if another forward overwrote it). */
export function gemBackward(state: unknown, gy: TypedArray, dtype: DType): { gx: TypedArray; gp: TypedArray } {
  const saved = state as GemSaved;
  if (saved.rp !== null) return reference.gemBackward(state, gy, dtype);
  const { b, n, c, start, groups, eps, kx, dydp } = saved;
  const kw = wasm()!;
  const gx = extend.allocate(dtype, b * n * c);
  const tokens = n - start;
  const { rpp, kp, gxp, end } = layout(b, n, c, start);
  ensure(kw.memory, end);
  if (resident !== saved) simdForward(kw, saved, () => {});
  const buf = kw.memory.buffer;
  const kv = new Float32Array(buf, kp, b * c);
  for (let i = 0; i < b * c; i++) kv[i] = gy[i]! * kx[i]!;
  for (let bi = 0; bi < b; bi++) kw.backward(bi * n * c * 4, rpp + bi * tokens * c * 4, kp + bi * c * 4, gxp + bi * n * c * 4, n, c, start, eps);
  const out = new Float32Array(buf, gxp, b * n * c);
  for (let bi = 0; bi < b; bi++) gx.set(out.subarray((bi * n + start) * c, (bi + 1) * n * c), (bi * n + start) * c);
  return { gx, gp: groupSums(gy, dydp, b, c, groups, dtype) };
}
