import { canBlock, isNode, nodeBuiltin } from '../../../platform.js';
import type { Gemm } from '../../reference/matmul.js';
import { gemmModule, kernelNames, Slot, type KernelShape } from './kernel.js';

const PAGE = 65536;
/**
 * Below this many multiply-adds a second thread costs more than it saves. Measured here,
 * 1 vs 2 threads alternated: 256³ 0.98 vs 1.10 ms, 512³ 6.3 vs 4.2 ms. The small ViT's
 * products (6400×64×192 at batch 128) gain 10-20 % back to back, but inside a training
 * step, between other ops, the worker has gone to sleep and waking it costs more: the
 * batch-128 step took 382 ms on one thread against 422 ms with them threaded. 2²⁶ splits
 * ViT-S/16's qkv and MLP products at batch 1 (197×384×1152, 197×384×1536: the forward
 * 0.83× on two threads, medians of 11 alternated; it was 1.0× at 2²⁷) and none of the
 * small ViT's at batch 64 (at most 3200×64×192), whose step is unchanged (1.01×).
 */
const THREAD_MIN_MACS = 1 << 26;
/**
 * Polls of a control word before sleeping on it (a few tens of µs): waking a sleeping
 * thread costs 50-200 µs here, so products that follow each other keep both threads awake.
 */
const SPIN = 20_000;
/** A worker that does not finish its share in this time is taken for dead. */
const WORKER_TIMEOUT_MS = 60_000;

/** The slots claimPanels reads and writes: Np, Chunk, Next, J0, J1. */
const CLAIM_SLOTS = [Slot.Np, Slot.Chunk, Slot.Next, Slot.J0, Slot.J1] as const;

/**
 * The whole of a worker: sleep on the control block's sequence number, then claim chunks
 * of the job's column panels from the main thread's counter (claimPanels) and run the
 * `part` function on each, report. Plain JavaScript evaluated in the worker, so it loads
 * the same way under a TypeScript loader, from the built package, or bundled; `start` gets
 * the module, the shared memory and the control block's offset (Node's workerData, or a
 * Web Worker's first message).
 */
const workerSource = (start: string) => `
${start}
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctrl = new Int32Array(memory.buffer, offset, ${Slot.Count});
const counter = new Int32Array(memory.buffer, 0, ${Slot.Count});
Atomics.store(ctrl, ${Slot.Ready}, 1);
let seen = 0;
for (;;) {
  for (let i = 0; i < ${SPIN} && Atomics.load(ctrl, ${Slot.Seq}) === seen; i++);
  Atomics.wait(ctrl, ${Slot.Seq}, seen);
  seen = Atomics.load(ctrl, ${Slot.Seq});
  if (seen < 0) break;
  (${claimPanels.toString()})(ctrl, counter, exports['part' + ctrl[${Slot.Shape}]], offset, ${JSON.stringify(CLAIM_SLOTS)});
  Atomics.store(ctrl, ${Slot.Done}, seen);
  Atomics.notify(ctrl, ${Slot.Done});
}`;
const NODE_WORKER = workerSource("const { module, memory, offset } = require('node:worker_threads').workerData;");
const WEB_WORKER = `onmessage = (e) => { onmessage = null; const { module, memory, offset } = e.data; ${workerSource('')} };`;

/**
 * One thread's share of a threaded product: claims chunks of column panels from the
 * shared counter until none are left, running `part` on each. The split follows whoever is
 * free, so a worker that wakes late (an idle core can take milliseconds to wake in a VM)
 * takes fewer panels instead of holding up the product. Serialised into the worker source,
 * so it uses nothing but its arguments (the slots come as numbers).
 */
function claimPanels(ctrl: Int32Array, counter: Int32Array, part: (ctrl: number) => void, offset: number, slots: readonly number[]): void {
  const [npSlot, chunkSlot, nextSlot, j0Slot, j1Slot] = slots as [number, number, number, number, number];
  const np = ctrl[npSlot]!;
  const chunk = ctrl[chunkSlot]!;
  for (let j = Atomics.add(counter, nextSlot, chunk); j < np; j = Atomics.add(counter, nextSlot, chunk)) {
    ctrl[j0Slot] = j;
    ctrl[j1Slot] = Math.min(np, j + chunk);
    part(offset);
  }
}

type Pack = (src: number, rs: number, cs: number, lines: number, k: number, dst: number) => void;

/**
 * float32 gemms on the WebAssembly kernels of some tile shapes, sharing one memory.
 * A and B are copied into the memory as they are (a memcpy). B is packed there into
 * column panels through its strides (so a transposed B costs nothing extra); a row-major A
 * is read in place and a transposed one packed. The kernel writes a C padded to whole
 * tiles, whose valid part is copied out. Packing is O(mk + kn) against the kernel's O(mnk).
 *
 * With `threads` > 1, worker threads share the memory (Node's worker_threads, or Web Workers
 * in a cross-origin isolated page): each thread claims chunks of B's column panels, packs
 * and multiplies them (the module's `part` function), woken and awaited through Atomics on
 * its control block, so no data moves between threads. A page's main thread may not block,
 * so there the wait for the workers spins.
 */
export class WasmGemm {
  private readonly memory: WebAssembly.Memory;
  private readonly parts: ((ctrl: number) => void)[];
  private readonly packA: Pack[];
  private readonly workers: { ctrl: Int32Array; offset: number; seq: number }[] = [];
  private f32: Float32Array;
  private ctrl: Int32Array;

  /** Products split across threads so far (tests check that the threaded path ran). */
  threadedCalls = 0;

  constructor(
    private readonly shapes: readonly KernelShape[],
    threads = 1,
    private readonly threadMinMacs = THREAD_MIN_MACS,
  ) {
    const workerThreads = threads > 1 && isNode ? nodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads') : null;
    const shared = threads > 1;
    const module = new WebAssembly.Module(gemmModule(shapes, shared));
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared });
    const exports = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports;
    this.parts = shapes.map((_, i) => exports[`part${i}`] as (ctrl: number) => void);
    this.packA = shapes.map((s) => exports[kernelNames(s).packA] as Pack);
    this.f32 = new Float32Array(this.memory.buffer);
    this.ctrl = new Int32Array(this.memory.buffer, 0, Slot.Count);
    if (!shared) return;
    const url = workerThreads === null ? URL.createObjectURL(new Blob([WEB_WORKER], { type: 'text/javascript' })) : '';
    for (let t = 1; t < threads; t++) {
      const offset = t * Slot.Count * 4;
      if (workerThreads !== null) {
        const worker = new workerThreads.Worker(NODE_WORKER, { eval: true, workerData: { module, memory: this.memory, offset } });
        worker.unref();
      } else new Worker(url, { name: `ggem gemm ${t}` }).postMessage({ module, memory: this.memory, offset });
      this.workers.push({ ctrl: new Int32Array(this.memory.buffer, offset, Slot.Count), offset, seq: 0 });
    }
  }

  /** True once every worker has started (until then products run on fewer threads). */
  ready(): boolean {
    return this.workers.every((w) => Atomics.load(w.ctrl, Slot.Ready) === 1);
  }

  /** Bytes before the operands: one control block per thread. */
  private get controlBytes(): number {
    return (this.workers.length + 1) * Slot.Count * 4;
  }

  /** The Gemm of tile shape `i` of this engine. */
  gemm(i: number): Gemm {
    const { mr, nr } = this.shapes[i]!;
    return (m, n, k, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, bias, accumulate = false) => {
      if (m === 0 || n === 0) return;
      if (k === 0) {
        for (let r = 0; r < m; r++) {
          for (let j = 0; j < n; j++) c[cOff + r * n + j] = (accumulate ? c[cOff + r * n + j]! : 0) + (bias === null ? 0 : bias[j]!);
        }
        return;
      }
      const mp = Math.ceil(m / mr);
      const np = Math.ceil(n / nr);
      const ldc = np * nr;
      // layout (floats): control blocks, A as given (+ rows of slack for the last panel), B as
      // given (+ slack for the last panel's vector loads), packed A (when transposed), packed B,
      // padded C, the bias row (zeros without one)
      const rowMajorA = aCol === 1;
      const ra = this.controlBytes / 4;
      const rb = ra + mp * mr * k;
      const ap = rb + k * n + nr;
      const bp = ap + (rowMajorA ? 0 : mp * mr * k);
      const cp = bp + np * nr * k;
      const biasAt = cp + mp * mr * ldc;
      const end = biasAt + ldc;
      if (end * 4 > this.memory.buffer.byteLength) {
        this.memory.grow(Math.ceil((end * 4 - this.memory.buffer.byteLength) / PAGE));
        // growing detaches a non-shared memory's buffer: views must be made again
        this.f32 = new Float32Array(this.memory.buffer);
        this.ctrl = new Int32Array(this.memory.buffer, 0, Slot.Count);
      }
      const f32 = this.f32;
      f32.set(a.subarray(aOff, aOff + m * k), ra);
      f32.set(b.subarray(bOff, bOff + k * n), rb);
      if (bias === null) f32.fill(0, biasAt, biasAt + ldc);
      else {
        f32.set(bias.subarray(0, n), biasAt);
        f32.fill(0, biasAt + n, biasAt + ldc);
      }
      if (!rowMajorA) this.packA[i]!(ra * 4, aRow * 4, aCol * 4, m, k, ap * 4);
      const job = this.ctrl;
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
      job[Slot.Ldc] = ldc * 4;
      job[Slot.Bias] = biasAt * 4;
      job[Slot.Acc] = accumulate ? 1 : 0;
      if (accumulate) {
        if (ldc === n) f32.set(c.subarray(cOff, cOff + m * n), cp);
        else for (let r = 0; r < m; r++) f32.set(c.subarray(cOff + r * n, cOff + (r + 1) * n), cp + r * ldc);
      }
      const ready = m * n * k >= this.threadMinMacs ? this.workers.filter((w) => Atomics.load(w.ctrl, Slot.Ready) === 1).slice(0, np - 1) : [];
      if (ready.length === 0) {
        job[Slot.J0] = 0;
        job[Slot.J1] = np;
        this.parts[i]!(0);
      } else {
        this.threadedCalls++;
        // about four chunks per thread: few claims, and a late thread's share shrinks
        job[Slot.Np] = np;
        job[Slot.Chunk] = Math.max(1, Math.floor(np / (4 * (ready.length + 1))));
        Atomics.store(job, Slot.Next, 0);
        for (const w of ready) {
          w.ctrl.set(job.subarray(Slot.Shape, Slot.Count), Slot.Shape);
          Atomics.store(w.ctrl, Slot.Seq, ++w.seq);
          Atomics.notify(w.ctrl, Slot.Seq);
        }
        claimPanels(job, job, this.parts[i]!, 0, CLAIM_SLOTS);
      }
      for (const w of ready) {
        for (let s = 0; s < SPIN && Atomics.load(w.ctrl, Slot.Done) !== w.seq; s++);
        const t0 = performance.now();
        while (Atomics.load(w.ctrl, Slot.Done) !== w.seq) {
          const late = canBlock ? Atomics.wait(w.ctrl, Slot.Done, w.seq - 1, WORKER_TIMEOUT_MS) === 'timed-out' : performance.now() - t0 > WORKER_TIMEOUT_MS;
          if (late) throw new Error(`matmul: a gemm worker thread did not finish within ${WORKER_TIMEOUT_MS / 1000} s`);
        }
      }
      if (ldc === n) c.set(f32.subarray(cp, cp + m * n), cOff);
      else for (let r = 0; r < m; r++) c.set(f32.subarray(cp + r * ldc, cp + r * ldc + n), cOff + r * n);
    };
  }
}

/** A single-shape gemm (tests and tile experiments). */
export function createWasmGemm(shape: KernelShape, threads = 1): Gemm {
  return new WasmGemm([shape], threads).gemm(0);
}
