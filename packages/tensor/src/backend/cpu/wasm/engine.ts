import type { TypedArray } from '../../../dtype.js';
import { canBlock, isNode, nodeBuiltin, threadsUnavailable } from '../../../platform.js';
import { allocate } from '../../reference/pool.js';
import { attentionFunctions } from './attention-kernel.js';
import { buildModule } from './emit.js';
import { elementwiseFunctions } from './elementwise-kernel.js';
import { features } from './features.js';
import { gemmFunctions, kernelNames, Slot, type KernelShape } from './kernel.js';
import { rowwiseFunctions } from './rowwise-kernel.js';
import { TASKS, type Task, type TaskName } from './tasks.js';

const PAGE = 65536;
/** The memory's maximum (65536 pages); the heap takes at most half, leaving room for the operands. */
const MAX_BYTES = 65536 * PAGE;
/**
 * Below this many multiply-adds (or their equivalent in time, for the other kernels) a
 * second thread costs more than it saves; 2²⁴ is about 0.8 ms of one core. Measured here,
 * 1 vs 2 threads alternated in one process (medians of 9), ViT-S/16's batch-1 forward and
 * the small ViT's batch-64 training step: at 2²² 0.68× and 0.99×, 2²³ 0.66× and 0.86×,
 * 2²⁴ 0.61× and 0.77×, 2²⁵ 0.68× and 0.93×, 2²⁶ 0.78× and 1.09×.
 */
const THREAD_MIN_MACS = 1 << 24;
/**
 * Polls of a control word before sleeping on it (a few tens of µs): waking a sleeping
 * thread costs 50-200 µs here, so jobs that follow each other keep both threads awake.
 */
const SPIN = 20_000;
/**
 * The bytes of A a share of a product multiplies at a time (its block of row panels, see
 * kernel.ts), so that a block and the share's packed panels fit a 1 MB L2. ViT-S/16's
 * batch-32 products, 2 threads, alternated in one run (medians of 7, GFLOP/s): with k =
 * 1536, 69 unblocked, 74 in blocks of 128 K to 512 K; with k = 384, 73-77 either way.
 */
const A_BLOCK_BYTES = 256 * 1024;
/**
 * Bytes after every heap block: a product writing C in place pads it to whole tiles, up to
 * mr − 1 rows past the end (see gemm.ts).
 */
export const SLACK = 32 * 1024;
/** The heap's arrays of `alloc` stop here (arrays past it come from the JavaScript heap). */
const HEAP_LIMIT = 1024 * 2 ** 20;
/** A worker that does not finish its share in this time is taken for dead. */
const WORKER_TIMEOUT_MS = 60_000;
/** Float64 arguments of a task, written by the main thread where every thread reads them. */
const ARGS = 16;

/** The slots claimUnits reads and writes: Np, Chunk, Next, J0, J1. */
const CLAIM_SLOTS = [Slot.Np, Slot.Chunk, Slot.Next, Slot.J0, Slot.J1] as const;

/**
 * The whole of a worker: sleep on the control block's sequence number; on a new job, take
 * it (unless the main thread took it back, having done all of it first), claim chunks of its
 * units from the main thread's counter and run them: the gemm's `part` function, or a task
 * of ./tasks.ts. Plain JavaScript evaluated in the worker, so it loads the same way under a
 * TypeScript loader, from the built package, or bundled; `start` gets the module, the shared
 * memory, the control block's offset and the task arguments' (Node's workerData, or a Web
 * Worker's first message).
 */
const workerSource = (start: string) => `
${start}
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctrl = new Int32Array(memory.buffer, offset, ${Slot.Count});
const counter = new Int32Array(memory.buffer, 0, ${Slot.Count});
const args = new Float64Array(memory.buffer, argsAt, ${ARGS});
const thread = offset / ${Slot.Count * 4};
const claimUnits = ${claimUnits.toString()};
const tasks = [${TASKS.map((t) => t.run.toString()).join(',\n')}];
Atomics.store(ctrl, ${Slot.Ready}, 1);
let seen = 0;
for (;;) {
  for (let i = 0; i < ${SPIN} && Atomics.load(ctrl, ${Slot.Seq}) === seen; i++);
  Atomics.wait(ctrl, ${Slot.Seq}, seen);
  seen = Atomics.load(ctrl, ${Slot.Seq});
  if (seen < 0) break;
  if (Atomics.compareExchange(ctrl, ${Slot.Claim}, seen, 0) !== seen) continue;
  const task = ctrl[${Slot.Task}];
  const run = task < 0 ? exports['part' + ctrl[${Slot.Shape}]] : () => tasks[task](exports, args, ctrl[${Slot.J0}], ctrl[${Slot.J1}], thread);
  claimUnits(ctrl, counter, run, offset, ${JSON.stringify(CLAIM_SLOTS)});
  Atomics.store(ctrl, ${Slot.Done}, seen);
  Atomics.notify(ctrl, ${Slot.Done});
}`;
const NODE_WORKER = workerSource("const { module, memory, offset, argsAt } = require('node:worker_threads').workerData;");
const WEB_WORKER = `onmessage = (e) => { onmessage = null; const { module, memory, offset, argsAt } = e.data; ${workerSource('')} };`;

/**
 * One thread's share of a job: claims chunks of its units from the shared counter until
 * none are left, running `part` on each (the chunk in the control block's J0, J1). The split
 * follows whoever is free, so a worker that wakes late (an idle core can take milliseconds
 * to wake in a VM) takes fewer units instead of holding up the job. Serialised into the
 * worker source, so it uses nothing but its arguments (the slots come as numbers).
 */
function claimUnits(ctrl: Int32Array, counter: Int32Array, part: (ctrl: number) => void, offset: number, slots: readonly number[]): void {
  const [npSlot, chunkSlot, nextSlot, j0Slot, j1Slot] = slots as [number, number, number, number, number];
  const np = ctrl[npSlot]!;
  const chunk = ctrl[chunkSlot]!;
  for (let j = Atomics.add(counter, nextSlot, chunk); j < np; j = Atomics.add(counter, nextSlot, chunk)) {
    ctrl[j0Slot] = j;
    ctrl[j1Slot] = Math.min(np, j + chunk);
    part(offset);
  }
}

type Kernel = (...args: number[]) => number | undefined;

/**
 * The CPU backend's WebAssembly: one module with every SIMD kernel (the gemm's tile shapes,
 * elementwise, attention, row-wise), one memory they share, and with `threads` > 1 worker
 * threads sharing both (Node's worker_threads, or Web Workers in a cross-origin isolated
 * page), started at the first job worth splitting. Arrays can live in the memory, in a
 * heap after the control blocks: pinned weights (`pin`) and, inside scopes, the pool's
 * large arrays (`alloc`). A kernel call's operands (`operands`) are read and written in
 * place when they live there, and otherwise copied through the call's scratch, laid out
 * after the heap (`layout`). This needs a shared memory (a grow leaves views of a shared
 * memory valid; it detaches a plain one's), so the memory is shared wherever the host can
 * share memory with threads, also at one thread; elsewhere `pin` and `alloc` decline and
 * every operand is copied.
 *
 * A job is split into units (column panels of a product, attention heads, chunks of an
 * elementwise pass) that each thread claims a few at a time: the main thread starts on its
 * own at once, and a worker that has not woken by the time every unit is claimed is taken
 * off the job instead of waited for. Workers are woken and awaited through Atomics on their
 * control blocks, so no data moves between threads. A page's main thread may not block, so
 * there the wait for the workers spins.
 */
export class WasmEngine {
  readonly memory: WebAssembly.Memory;
  readonly kernels: Record<string, Kernel>;
  readonly threads: number;
  private readonly workers: { ctrl: Int32Array; seq: number }[] = [];
  /** Starts the workers (null once they are started, or where there are none). */
  private spawn: (() => void) | null = null;
  private f32view: Float32Array;
  private ctrlView: Int32Array;
  private argsView: Float64Array;
  private readonly argsAt: number;
  /** The first byte of the heap of pinned arrays: after the control blocks and the task arguments. */
  private readonly heapStart: number;
  /** The end of the heap; each call's operands are laid out from here. */
  private heapEnd: number;
  /** Freed heap blocks by their size in bytes. */
  private readonly freeBlocks = new Map<number, number[]>();
  /** The buffers this memory has had (a shared memory's grown buffer is a new object over the same bytes). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  /** Gives a pinned array's block back once the array is collected. */
  private readonly blocks = new FinalizationRegistry<number>((at) => this.free(at));
  private readonly blockBytes = new Map<number, number>();
  private liveBytes = 0;
  /** The arrays of `alloc` not yet released. */
  private readonly allocated = new WeakSet<Float32Array>();

  /** Whether the memory is shared (only then do views of it survive growth, so only then does it lend them). */
  private readonly shared: boolean;

  /** Jobs split across threads so far (tests check that the threaded path ran). */
  threadedCalls = 0;

  /**
   * @param threadMinMacs the smallest job, in multiply-adds of the gemm's time, that is
   *   split over the threads (tests set 0 to split every job)
   * @param aBlockBytes the bytes of A a product's share multiplies at a time (tests set a
   *   few to use many blocks)
   */
  constructor(
    readonly shapes: readonly KernelShape[],
    threads = 1,
    public threadMinMacs = THREAD_MIN_MACS,
    public aBlockBytes = A_BLOCK_BYTES,
  ) {
    const workerThreads = threads > 1 && isNode ? nodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads') : null;
    const shared = threads > 1 || threadsUnavailable() === null;
    this.shared = shared;
    const functions = gemmFunctions(shapes, [...elementwiseFunctions(), ...attentionFunctions(features.relaxedSimd), ...rowwiseFunctions()]);
    const module = new WebAssembly.Module(buildModule(functions, { shared, min: 1, max: 65536 }));
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared });
    this.kernels = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports as Record<string, Kernel>;
    this.threads = threads;
    this.argsAt = Math.ceil((threads * Slot.Count * 4) / 16) * 16;
    this.heapStart = Math.ceil((this.argsAt + ARGS * 8) / 64) * 64;
    this.heapEnd = this.heapStart;
    this.buffers.add(this.memory.buffer);
    this.f32view = new Float32Array(this.memory.buffer);
    this.ctrlView = new Int32Array(this.memory.buffer, 0, Slot.Count);
    this.argsView = new Float64Array(this.memory.buffer, this.argsAt, ARGS);
    if (!shared) return;
    this.spawn = () => {
      const url = workerThreads === null ? URL.createObjectURL(new Blob([WEB_WORKER], { type: 'text/javascript' })) : '';
      for (let t = 1; t < threads; t++) {
        const offset = t * Slot.Count * 4;
        const data = { module, memory: this.memory, offset, argsAt: this.argsAt };
        if (workerThreads !== null) new workerThreads.Worker(NODE_WORKER, { eval: true, workerData: data }).unref();
        else new Worker(url, { name: `ggem kernels ${t}` }).postMessage(data);
        this.workers.push({ ctrl: new Int32Array(this.memory.buffer, offset, Slot.Count), seq: 0 });
      }
    };
  }

  /**
   * Starts the worker threads, once: at the first job worth splitting, or when `ready` is
   * asked. A program whose kernels are all small never starts them (a Node worker thread
   * is a V8 isolate of its own: a softmax loop's peak RSS measured 6-14 MB higher with one).
   */
  private start(): void {
    const spawn = this.spawn;
    this.spawn = null;
    spawn?.();
  }

  /** The worker threads started so far (none until a job is worth splitting). */
  get startedWorkers(): number {
    return this.workers.length;
  }

  /** True once every worker has started (until then jobs run on fewer threads); starts them if they are not yet. */
  ready(): boolean {
    this.start();
    return this.workers.every((w) => Atomics.load(w.ctrl, Slot.Ready) === 1);
  }

  /** The memory as floats. */
  get f32(): Float32Array {
    return this.f32view;
  }

  /** The main thread's control block: a gemm writes its job there before `split`. */
  get ctrl(): Int32Array {
    return this.ctrlView;
  }

  /** The first byte a call's operands may use: after the control blocks, the task arguments and the pinned arrays. */
  get base(): number {
    return this.heapEnd;
  }

  /**
   * A copy of `src` in this memory, which the kernels read in place (`offsetOf`), or null
   * where the memory is not shared or the heap would pass half of its 4 GB. Its block is reused once the copy is collected, so
   * keep the copy itself, not only a subarray of it, for as long as it is used.
   */
  pin(src: Float32Array): Float32Array | null {
    const view = this.block(src.length);
    view?.set(src);
    return view;
  }

  /**
   * A new array of `n` floats in this memory (the pool's arrays inside a scope, see
   * ../../reference/pool.ts), or null where the memory is not shared or the heap's arrays
   * already take `HEAP_LIMIT` bytes. `release` gives it back; else its collection does.
   */
  alloc(n: number): Float32Array | null {
    if (this.heapBytes >= HEAP_LIMIT) return null;
    const view = this.block(n);
    if (view !== null) this.allocated.add(view);
    return view;
  }

  /** Gives back the block of an array of `alloc` at once (nothing may use it afterwards); false for any other array. */
  release(view: ArrayBufferView): boolean {
    if (!(view instanceof Float32Array) || !this.allocated.has(view)) return false;
    this.allocated.delete(view);
    this.blocks.unregister(view);
    this.free(view.byteOffset);
    return true;
  }

  /** The byte offset of `x` in this memory when it is a view of it (pinned, or of `alloc`), else −1. */
  offsetOf(x: ArrayBufferView): number {
    return this.buffers.has(x.buffer) ? x.byteOffset : -1;
  }

  /** Whether `x` came from `alloc` and is not released. */
  owns(x: ArrayBufferView): boolean {
    return x instanceof Float32Array && this.allocated.has(x);
  }

  /** Bytes of the heap's live blocks (pinned and allocated arrays). */
  get heapBytes(): number {
    return this.liveBytes;
  }

  /**
   * A block of `n` floats and `SLACK` bytes (a product may write its padding rows there),
   * reused from a freed one of its size where there is one, given back when the view is
   * collected unless released first.
   */
  private block(n: number): Float32Array | null {
    // (not `instanceof SharedArrayBuffer`: a page that is not cross-origin isolated has no such global)
    if (!this.shared) return null;
    const bytes = Math.ceil((n * 4 + SLACK) / 64) * 64;
    let at = this.freeBlocks.get(bytes)?.pop();
    if (at === undefined) {
      // past the memory's 4 GB the array stays where it is (its kernels copy it, as elsewhere)
      if (this.heapEnd + bytes > MAX_BYTES / 2) return null;
      at = this.heapEnd;
      this.heapEnd += bytes;
      this.reserve(this.heapEnd);
    }
    this.blockBytes.set(at, bytes);
    this.liveBytes += bytes;
    const view = new Float32Array(this.memory.buffer, at, n);
    this.blocks.register(view, at, view);
    return view;
  }

  private free(at: number): void {
    const bytes = this.blockBytes.get(at)!;
    this.blockBytes.delete(at);
    this.liveBytes -= bytes;
    const list = this.freeBlocks.get(bytes) ?? [];
    list.push(at);
    this.freeBlocks.set(bytes, list);
  }

  /** Grows the memory to hold `bytes` (views are made again: a grow detaches a non-shared memory's buffer). */
  reserve(bytes: number): void {
    if (bytes <= this.memory.buffer.byteLength) return;
    this.memory.grow(Math.ceil((bytes - this.memory.buffer.byteLength) / PAGE));
    this.buffers.add(this.memory.buffer);
    this.f32view = new Float32Array(this.memory.buffer);
    this.ctrlView = new Int32Array(this.memory.buffer, 0, Slot.Count);
    this.argsView = new Float64Array(this.memory.buffer, this.argsAt, ARGS);
  }

  /** Byte offsets of consecutive 16-byte-aligned blocks of these many floats after `base`; grows the memory to hold them. */
  layout(...floats: number[]): number[] {
    const at: number[] = [];
    let end = this.base;
    for (const n of floats) {
      at.push(end);
      end += Math.ceil(n / 4) * 16;
    }
    this.reserve(end);
    return at;
  }

  /**
   * The operands of one kernel call, as byte offsets: an input (an array and how many of
   * its floats) is read where it is when it lives in this memory (a pinned weight, an
   * array of the heap) and copied into the call's scratch otherwise; an output is a new
   * array of the pool, written in place when the pool gave one of the heap and in the
   * scratch otherwise, then copied out by `results`. The outputs are allocated before the
   * scratch is laid out (after the heap), so no new block lands on it.
   */
  operands(inputs: readonly (readonly [TypedArray, number])[], outputs: readonly number[], scratch: readonly number[] = []): Operands {
    const outs = outputs.map((n) => allocate('float32', n, false) as Float32Array);
    const inAt = inputs.map(([x]) => this.offsetOf(x));
    const outAt = outs.map((a) => (this.owns(a) ? a.byteOffset : -1));
    const copied = outAt.map((o) => o < 0);
    const at = this.layout(...inputs.filter((_, i) => inAt[i]! < 0).map(([, n]) => n), ...outputs.filter((_, i) => copied[i]), ...scratch);
    let s = 0;
    inputs.forEach(([x, n], i) => {
      if (inAt[i]! >= 0) return;
      inAt[i] = at[s++]!;
      this.f32.set((x as Float32Array).subarray(0, n), inAt[i]! >> 2);
    });
    outAt.forEach((o, i) => {
      if (o < 0) outAt[i] = at[s++]!;
    });
    return {
      inputs: inAt,
      outputs: outAt,
      scratch: at.slice(s),
      results: () =>
        outs.map((a, i) => {
          if (copied[i]) a.set(this.f32.subarray(outAt[i]! >> 2, (outAt[i]! >> 2) + a.length));
          return a;
        }),
    };
  }

  /** Float64 accumulators at byte offset `at`, zeroed. */
  zeroF64(at: number, n: number): void {
    new Float64Array(this.memory.buffer, at, n).fill(0);
  }

  /** `n` float64 sums from byte offset `at`, rounded into a new array of `dtype`. */
  takeF64(at: number, n: number, dtype: 'float32'): Float32Array {
    const out = allocate(dtype, n, false, false) as Float32Array;
    out.set(new Float64Array(this.memory.buffer, at, n));
    return out;
  }

  /**
   * An elementwise kernel of ./elementwise-kernel.ts over n floats (`operands`), run in
   * chunks on every thread when it is long enough.
   */
  elementwise(name: 'add' | 'geluForward' | 'geluBackward', inputs: TypedArray[], n: number, macsPerFloat: number): Float32Array {
    const io = this.operands(
      inputs.map((x) => [x, n] as const),
      [n],
    );
    const at = [...io.inputs, io.outputs[0]!];
    const kernel = ['add', 'geluForward', 'geluBackward'].indexOf(name);
    const chunk = 1 << 14;
    this.parallel('elementwise', Math.ceil(n / chunk), [kernel, at[0]!, at[1]!, at[2] ?? 0, n, chunk], n * macsPerFloat);
    return io.results()[0]!;
  }

  /**
   * Runs a task of ./tasks.ts over `units` with these arguments: on every ready thread when
   * its cost (in multiply-adds of the gemm's time) reaches the threading threshold, else on
   * this one. Each thread gets its index (0 here) for scratch space of its own.
   */
  parallel(name: TaskName, units: number, args: readonly number[], macs: number): void {
    const i = TASKS.findIndex((t) => t.name === name);
    const task = TASKS[i]!.run as Task;
    this.argsView.set(args);
    this.ctrl[Slot.Task] = i;
    this.split(units, macs, () => task(this.kernels, this.argsView, this.ctrl[Slot.J0]!, this.ctrl[Slot.J1]!, 0));
  }

  /**
   * Runs the job in the main control block (a gemm part, `Task` −1, or a task) on units
   * [0, units): `main` is this thread's share of the chunk in J0, J1.
   */
  split(units: number, macs: number, main: (ctrl: number) => void): void {
    const job = this.ctrl;
    const worth = macs >= this.threadMinMacs;
    if (worth) this.start();
    const ready = worth ? this.workers.filter((w) => Atomics.load(w.ctrl, Slot.Ready) === 1).slice(0, units - 1) : [];
    if (ready.length === 0) {
      job[Slot.J0] = 0;
      job[Slot.J1] = units;
      main(0);
      return;
    }
    this.threadedCalls++;
    // about four chunks per thread: few claims, and a late thread's share shrinks
    job[Slot.Np] = units;
    job[Slot.Chunk] = Math.max(1, Math.floor(units / (4 * (ready.length + 1))));
    Atomics.store(job, Slot.Next, 0);
    for (const w of ready) {
      w.ctrl.set(job.subarray(Slot.Task, Slot.Count), Slot.Task);
      w.seq++;
      Atomics.store(w.ctrl, Slot.Claim, w.seq);
      Atomics.store(w.ctrl, Slot.Seq, w.seq);
      Atomics.notify(w.ctrl, Slot.Seq);
    }
    claimUnits(job, job, main, 0, CLAIM_SLOTS);
    for (const w of ready) {
      // a worker that has not taken the job yet never will: every unit is done
      if (Atomics.compareExchange(w.ctrl, Slot.Claim, w.seq, 0) === w.seq) continue;
      for (let s = 0; s < SPIN && Atomics.load(w.ctrl, Slot.Done) !== w.seq; s++);
      const t0 = performance.now();
      for (let done = Atomics.load(w.ctrl, Slot.Done); done !== w.seq; done = Atomics.load(w.ctrl, Slot.Done)) {
        const late = canBlock ? Atomics.wait(w.ctrl, Slot.Done, done, WORKER_TIMEOUT_MS) === 'timed-out' : performance.now() - t0 > WORKER_TIMEOUT_MS;
        if (late) throw new Error(`a CPU kernel worker thread did not finish within ${WORKER_TIMEOUT_MS / 1000} s`);
      }
    }
  }

  /** Export names of tile shape `i`'s functions. */
  names(i: number): ReturnType<typeof kernelNames> {
    return kernelNames(this.shapes[i]!);
  }
}

/** A kernel call's operands (`WasmEngine.operands`): byte offsets, and the outputs once it has run. */
export interface Operands {
  inputs: number[];
  outputs: number[];
  scratch: number[];
  results(): Float32Array[];
}
