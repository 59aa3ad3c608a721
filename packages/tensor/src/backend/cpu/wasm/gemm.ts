import type { Gemm } from '../matmul.js';
import { gemmModule, type KernelShape } from './kernel.js';

const PAGE = 65536;

type Pack = (src: number, rs: number, cs: number, lines: number, k: number, dst: number) => void;
type PackRows = (src: number, rs: number, n: number, k: number, dst: number) => void;
type Kernel = (ap: number, ars: number, aks: number, aps: number, bp: number, cp: number, mp: number, np: number, k: number, ldc: number) => void;

/**
 * A float32 gemm on the WebAssembly kernels of `shape`. A and B are copied into the
 * module's memory as they are (a memcpy). B is packed there into column panels (through
 * its strides, so a transposed B costs nothing extra); a row-major A is read in place and
 * a transposed one packed. The kernel writes a C padded to whole tiles, whose valid part
 * is copied out. Packing is O(mk + kn) against the kernel's O(mnk).
 */
export function createWasmGemm(shape: KernelShape): Gemm {
  const { mr, nr } = shape;
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  const exports = new WebAssembly.Instance(new WebAssembly.Module(gemmModule(shape, false)), { env: { memory } }).exports;
  const packA = exports.packA as Pack;
  const packB = exports.packB as Pack;
  const packBRows = exports.packBRows as PackRows;
  const kernel = exports.gemm as Kernel;
  let f32 = new Float32Array(memory.buffer);

  return (m, n, k, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff) => {
    if (m === 0 || n === 0) return;
    if (k === 0) {
      c.fill(0, cOff, cOff + m * n);
      return;
    }
    const mp = Math.ceil(m / mr);
    const np = Math.ceil(n / nr);
    const ldc = np * nr;
    // layout (in floats): A as given (+ rows of slack for the last panel), B as given
    // (+ slack for the last panel's vector loads), packed A (when transposed), packed B, padded C
    const rowMajorA = aCol === 1;
    const ra = 0;
    const rb = ra + mp * mr * k;
    const ap = rb + k * n + nr;
    const bp = ap + (rowMajorA ? 0 : mp * mr * k);
    const cp = bp + np * nr * k;
    const end = cp + mp * mr * ldc;
    if (end * 4 > memory.buffer.byteLength) {
      memory.grow(Math.ceil((end * 4 - memory.buffer.byteLength) / PAGE));
      f32 = new Float32Array(memory.buffer);
    }
    f32.set(a.subarray(aOff, aOff + m * k), ra);
    f32.set(b.subarray(bOff, bOff + k * n), rb);
    if (bCol === 1) packBRows(rb * 4, bRow * 4, n, k, bp * 4);
    else packB(rb * 4, bRow * 4, bCol * 4, n, k, bp * 4);
    if (rowMajorA) kernel(ra * 4, aRow * 4, 4, mr * aRow * 4, bp * 4, cp * 4, mp, np, k, ldc * 4);
    else {
      packA(ra * 4, aRow * 4, aCol * 4, m, k, ap * 4);
      kernel(ap * 4, 4, mr * 4, k * mr * 4, bp * 4, cp * 4, mp, np, k, ldc * 4);
    }
    if (ldc === n) c.set(f32.subarray(cp, cp + m * n), cOff);
    else for (let i = 0; i < m; i++) c.set(f32.subarray(cp + i * ldc, cp + i * ldc + n), cOff + i * n);
  };
}
