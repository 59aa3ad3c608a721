import { gelu as geluOf } from '../../reference/math.js';
import type { Gemm } from '../../reference/matmul.js';
import { SLACK, WasmEngine } from './engine.js';
import { Slot, type KernelShape } from './kernel.js';

type Pack = (src: number, rs: number, cs: number, lines: number, k: number, dst: number) => void;

/**
 * The float32 gemm of tile shape `i` of an engine. A and B are copied into its memory as
 * they are (a memcpy), unless they live there (a pinned weight, an array of the heap): then
 * they are read in place, and a C of the heap is written in place. B is packed there into column panels (a transposed B, as `linear`
 * multiplies its weight, four columns by four steps at a time through shuffles); a
 * row-major A is read in place and a transposed one packed. Each operand is dense, row-major
 * or transposed (one of its strides is 1). The kernel writes a C padded to whole tiles, whose valid part is copied out.
 * Packing is O(mk + kn) against the kernel's O(mnk). On several threads each claims chunks
 * of B's column panels, packs and multiplies them (the module's part{i}). With `gelu` each
 * share then applies the GELU pass's kernel to its part of C in place, while it is in cache.
 */
export function engineGemm(engine: WasmEngine, i: number): Gemm {
  const { mr, nr } = engine.shapes[i]!;
  const part = engine.kernels[`part${i}`]! as (ctrl: number) => void;
  const packA = engine.kernels[engine.names(i).packA]! as Pack;
  return (m, n, k, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, bias, accumulate = false, gelu = false) => {
    // the copies below and the packs take each operand dense, row-major or transposed
    if (!((aRow === k && aCol === 1) || (aRow === 1 && aCol === m)) || !((bRow === n && bCol === 1) || (bRow === 1 && bCol === k)))
      throw new Error(
        `gemm: A [${m}, ${k}] strides (${aRow}, ${aCol}) and B [${k}, ${n}] strides (${bRow}, ${bCol}): each must be dense, row-major or transposed`,
      );
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
    // A and B are read where they are when they live in the memory (an array of the heap, a
    // pinned weight): a row-major A's last panel reads up to mr − 1 rows past it, into the
    // block's slack or what follows, and only C's padding rows get those. C is written in
    // place when it is an array of the heap without padding columns, and its padding rows
    // fit the block's slack (or land on rows of the next matrix, computed after it).
    const rowMajorA = aCol === 1;
    const inA = engine.offsetOf(a);
    const inB = engine.offsetOf(b);
    const padRows = (mp * mr - m) * n;
    const inC = ldc === n && engine.owns(c) && (padRows === 0 || (cOff + m * n === c.length && padRows * 4 <= SLACK)) ? c.byteOffset : -1;
    // layout (floats) of the rest: A as given (+ rows of slack for the last panel), B as
    // given (+ slack for the last panel's vector loads), packed A (when transposed), packed
    // B, padded C, the bias row (zeros without one)
    let end = engine.base / 4;
    const take = (floats: number) => {
      const at = end;
      end += floats;
      return at;
    };
    const ra = inA >= 0 ? inA / 4 + aOff : take(mp * mr * k);
    const rb = inB >= 0 ? inB / 4 + bOff : take(k * n + nr);
    const ap = rowMajorA ? ra : take(mp * mr * k);
    const bp = take(np * nr * k);
    const cp = inC >= 0 ? inC / 4 + cOff : take(mp * mr * ldc);
    const biasAt = take(ldc);
    engine.reserve(end * 4);
    const f32 = engine.f32;
    if (inA < 0) f32.set(a.subarray(aOff, aOff + m * k), ra);
    if (inB < 0) f32.set(b.subarray(bOff, bOff + k * n), rb);
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
    job[Slot.A] = ap * 4;
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
    if (accumulate && inC < 0) {
      if (ldc === n) f32.set(c.subarray(cOff, cOff + m * n), cp);
      else for (let r = 0; r < m; r++) f32.set(c.subarray(cOff + r * n, cOff + (r + 1) * n), cp + r * ldc);
    }
    engine.split(np, m * n * k, part);
    if (inC >= 0) return;
    if (ldc === n) c.set(f32.subarray(cp, cp + m * n), cOff);
    else for (let r = 0; r < m; r++) c.set(f32.subarray(cp + r * ldc, cp + r * ldc + n), cOff + r * n);
  };
}

/** A single-shape gemm (tests and tile experiments). */
export function createWasmGemm(shape: KernelShape, threads = 1): Gemm {
  return engineGemm(new WasmEngine([shape], threads), 0);
}
