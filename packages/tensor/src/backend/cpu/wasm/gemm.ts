import { gelu as geluOf } from '../../reference/math.js';
import type { Gemm } from '../../reference/matmul.js';
import { WasmEngine } from './engine.js';
import { Slot, type KernelShape } from './kernel.js';

type Pack = (src: number, rs: number, cs: number, lines: number, k: number, dst: number) => void;

/**
 * The float32 gemm of tile shape `i` of an engine. A and B are copied into its memory as
 * they are (a memcpy), unless B is pinned there (a weight: read in place). B is packed there into column panels through its strides (so a
 * transposed B costs nothing extra); a row-major A is read in place and a transposed one
 * packed. The kernel writes a C padded to whole tiles, whose valid part is copied out.
 * Packing is O(mk + kn) against the kernel's O(mnk). On several threads each claims chunks
 * of B's column panels, packs and multiplies them (the module's part{i}). With `gelu` each
 * share then applies the GELU pass's kernel to its part of C in place, while it is in cache.
 */
export function engineGemm(engine: WasmEngine, i: number): Gemm {
  const { mr, nr } = engine.shapes[i]!;
  const part = engine.kernels[`part${i}`]! as (ctrl: number) => void;
  const packA = engine.kernels[engine.names(i).packA]! as Pack;
  return (m, n, k, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, bias, accumulate = false, gelu = false) => {
    if (m === 0 || n === 0) return;
    if (k === 0) {
      for (let r = 0; r < m; r++) {
        for (let j = 0; j < n; j++) {
          const v = (accumulate ? c[cOff + r * n + j]! : 0) + (bias === null ? 0 : bias[j]!);
          c[cOff + r * n + j] = gelu ? geluOf(v) : v;
        }
      }
      return;
    }
    const mp = Math.ceil(m / mr);
    const np = Math.ceil(n / nr);
    const ldc = np * nr;
    // layout (floats): A as given (+ rows of slack for the last panel), B as given (+ slack
    // for the last panel's vector loads), packed A (when transposed), packed B, padded C,
    // the bias row (zeros without one)
    const rowMajorA = aCol === 1;
    const ra = engine.base / 4;
    // a pinned B (a weight in the engine's memory) is read where it is
    const pinnedB = engine.offsetOf(b);
    const rb = pinnedB >= 0 ? pinnedB / 4 + bOff : ra + mp * mr * k;
    const ap = pinnedB >= 0 ? ra + mp * mr * k : rb + k * n + nr;
    const bp = ap + (rowMajorA ? 0 : mp * mr * k);
    const cp = bp + np * nr * k;
    const biasAt = cp + mp * mr * ldc;
    engine.reserve((biasAt + ldc) * 4);
    const f32 = engine.f32;
    f32.set(a.subarray(aOff, aOff + m * k), ra);
    if (pinnedB < 0) f32.set(b.subarray(bOff, bOff + k * n), rb);
    if (bias === null) f32.fill(0, biasAt, biasAt + ldc);
    else {
      f32.set(bias.subarray(0, n), biasAt);
      f32.fill(0, biasAt + n, biasAt + ldc);
    }
    if (!rowMajorA) packA(ra * 4, aRow * 4, aCol * 4, m, k, ap * 4);
    const job = engine.ctrl;
    job[Slot.Task] = -1;
    job[Slot.Shape] = i;
    job[Slot.RowMajorB] = bCol === 1 ? 1 : 0;
    job[Slot.Rb] = rb * 4;
    job[Slot.BRow] = bRow * 4;
    job[Slot.BCol] = bCol * 4;
    job[Slot.N] = n;
    job[Slot.K] = k;
    job[Slot.Bp] = bp * 4;
    job[Slot.A] = (rowMajorA ? ra : ap) * 4;
    job[Slot.Ars] = rowMajorA ? aRow * 4 : 4;
    job[Slot.Aks] = rowMajorA ? 4 : mr * 4;
    job[Slot.Aps] = rowMajorA ? mr * aRow * 4 : k * mr * 4;
    job[Slot.Cp] = cp * 4;
    job[Slot.Mp] = mp;
    job[Slot.Mb] = Math.max(1, Math.floor(engine.aBlockBytes / (mr * k * 4)));
    job[Slot.Ldc] = ldc * 4;
    job[Slot.Bias] = biasAt * 4;
    job[Slot.Acc] = accumulate ? 1 : 0;
    job[Slot.Gelu] = gelu ? 1 : 0;
    if (accumulate) {
      if (ldc === n) f32.set(c.subarray(cOff, cOff + m * n), cp);
      else for (let r = 0; r < m; r++) f32.set(c.subarray(cOff + r * n, cOff + (r + 1) * n), cp + r * ldc);
    }
    engine.split(np, m * n * k, part);
    if (ldc === n) c.set(f32.subarray(cp, cp + m * n), cOff);
    else for (let r = 0; r < m; r++) c.set(f32.subarray(cp + r * ldc, cp + r * ldc + n), cOff + r * n);
  };
}

/** A single-shape gemm (tests and tile experiments). */
export function createWasmGemm(shape: KernelShape, threads = 1): Gemm {
  return engineGemm(new WasmEngine([shape], threads), 0);
}
