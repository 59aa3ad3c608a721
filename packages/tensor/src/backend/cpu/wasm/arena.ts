import type { TypedArray } from '../../../dtype.js';
import { allocate } from '../../reference/pool.js';
import { buildModule } from './emit.js';
import { features } from './features.js';
import { elementwiseFunctions } from './elementwise-kernel.js';
import { attentionFunctions } from './attention-kernel.js';
import { rowwiseFunctions } from './rowwise-kernel.js';

const PAGE = 65536;

type Kernel = (...args: number[]) => void;

/**
 * The SIMD kernels that work on copies of their operands (add, GELU, fused attention,
 * layer norm, column sums) and the one WebAssembly memory they share. A call lays its operands out in the memory from
 * offset 0 (`layout`), copies them in (`put`), runs the kernel and copies the results out
 * (`take`); nothing stays in the memory between calls. Tensors' storage stays plain typed
 * arrays, so no lifetime has to be managed here.
 */
export class Arena {
  readonly memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  readonly kernels: Record<string, Kernel>;
  private view = new Float32Array(this.memory.buffer);

  constructor() {
    const module = new WebAssembly.Module(
      buildModule([...elementwiseFunctions(), ...attentionFunctions(features.relaxedSimd), ...rowwiseFunctions()], { shared: false, min: 1, max: 65536 }),
    );
    this.kernels = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports as Record<string, Kernel>;
  }

  /** Byte offsets of consecutive 16-byte-aligned blocks of these many floats; grows the memory to hold them. */
  layout(...floats: number[]): number[] {
    const at: number[] = [];
    let end = 0;
    for (const n of floats) {
      at.push(end);
      end += Math.ceil(n / 4) * 16;
    }
    if (end > this.memory.buffer.byteLength) this.memory.grow(Math.ceil((end - this.memory.buffer.byteLength) / PAGE));
    return at;
  }

  /** The memory as floats (made anew after a grow, which detaches the old buffer). */
  get f32(): Float32Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }

  put(src: Float32Array, at: number): void {
    this.f32.set(src, at >> 2);
  }

  /**
   * An elementwise kernel `name(in₀, …, out, n)` over n floats: the inputs copied in, the
   * kernel run, the output copied out.
   */
  elementwise(name: string, inputs: TypedArray[], n: number): Float32Array {
    const at = this.layout(...inputs.map(() => n), n);
    inputs.forEach((x, i) => this.put(x as Float32Array, at[i]!));
    this.kernels[name]!(...at, n);
    return this.take(at[inputs.length]!, n);
  }

  /** Float64 accumulators at byte offset `at`, zeroed. */
  zeroF64(at: number, n: number): void {
    new Float64Array(this.memory.buffer, at, n).fill(0);
  }

  /** `n` float64 sums from byte offset `at`, rounded into a new array of `dtype`. */
  takeF64(at: number, n: number, dtype: 'float32'): Float32Array {
    const out = allocate(dtype, n, false) as Float32Array;
    out.set(new Float64Array(this.memory.buffer, at, n));
    return out;
  }

  /** A fresh array with `n` floats from byte offset `at`. */
  take(at: number, n: number): Float32Array {
    const out = allocate('float32', n, false) as Float32Array;
    out.set(this.f32.subarray(at >> 2, (at >> 2) + n));
    return out;
  }
}

let arena: Arena | null | undefined;

/** The arena, or null where WebAssembly SIMD is missing. */
export function simdArena(): Arena | null {
  if (arena === undefined) arena = features.simd ? new Arena() : null;
  return arena;
}
