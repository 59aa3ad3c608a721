import { getCpuThreads, setCpuThreads } from '../backend/cpu/engine.js';
import { allocate, type TypedArray } from '../dtype.js';
import { sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { noGrad } from '../autograd/engine.js';
import { Ctrl, type Job, type Replica, type ReplicaFactory, type ShardInput, type WorkerInit, type WorkerMessage } from './protocol.js';

/** The worker's own module, with this file's extension (.ts under a TypeScript loader, .js built). */
const workerModule = (): string => new URL(`./worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url).href;
/** Evaluated in the worker: the preloads in order, then the worker module. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
(async () => {
  for (const p of workerData.preload) await import(p);
  await (await import(workerData.entry)).run(workerData.init);
})();`;

export interface DataParallelOptions<A> {
  /** The replica module (a file URL or path), imported by the main thread and by every worker. */
  module: string | URL;
  /** The factory's export name. Default `replica`. */
  exportName?: string;
  /** The factory's argument (structured-cloned to the workers). */
  arg?: A;
  /**
   * Modules each worker imports before anything else, in order: a loader's registration
   * when the replica module needs one. Under tsx, whose `--import` does not reach worker
   * threads, that is a module calling `register()` from `tsx/esm/api` (the repository's
   * `scripts/tsx-worker.mjs`).
   */
  preload?: (string | URL)[];
  /** Worker threads besides the main thread. Default: one per core beyond the first. */
  workers?: number;
  /** A worker that does not finish its shard in this time is taken for dead. Default 10 minutes. */
  timeoutMs?: number;
}

interface WorkerSlot {
  worker: Worker;
  port: MessagePort;
  ctrl: Int32Array;
  grads: TypedArray[];
  loss: Float64Array;
  seq: number;
}

/**
 * Data parallelism over threads (Node): every thread holds a replica of the model built
 * by the same factory, the replicas' parameters live in shared memory (one copy, updated
 * in place by the optimizer on the main thread), and `step` splits a batch along its first
 * axis, runs forward and backward of each shard on its own thread, and leaves in the main
 * replica's parameters the gradient of the whole batch's loss: the shards' gradients
 * weighted by their share of the rows.
 *
 *     // replica.ts
 *     export function replica() {
 *       const model = createVit('vit_mnist_small', 'ggem');
 *       return { parameters: model.parameters(), loss: (x, y) => crossEntropy(model.forward(x), y) };
 *     }
 *     // train.ts
 *     const dp = await DataParallel.create({ module: new URL('./replica.js', import.meta.url) });
 *     const opt = new optim.AdamW(dp.parameters, { lr: 1e-3 });
 *     opt.zeroGrad(); const loss = dp.step(x, y); opt.step();
 *
 * Each replica runs its products on one thread (create sets `setCpuThreads(1)`, close
 * restores the previous count). Only parameters are shared: other state (a dropout's
 * random generator) is each replica's own.
 */
export class DataParallel {
  /** The main thread's replica (its parameters are the shared ones). */
  readonly replica: Replica;
  private readonly shared: TypedArray[];
  private readonly slots: WorkerSlot[];
  private readonly timeoutMs: number;
  private readonly threadsBefore: number;
  private closed = false;

  private constructor(replica: Replica, shared: TypedArray[], slots: WorkerSlot[], timeoutMs: number, threadsBefore: number) {
    this.replica = replica;
    this.shared = shared;
    this.slots = slots;
    this.timeoutMs = timeoutMs;
    this.threadsBefore = threadsBefore;
  }

  static async create<A>(options: DataParallelOptions<A>): Promise<DataParallel> {
    const workers = options.workers ?? Math.max(1, availableParallelism() - 1);
    if (!Number.isInteger(workers) || workers < 0) throw new Error(`DataParallel: workers must be an integer >= 0, got ${workers}`);
    const module = options.module instanceof URL ? options.module.href : toUrl(options.module);
    const exportName = options.exportName ?? 'replica';
    const mod = (await import(module)) as Record<string, unknown>;
    const factory = mod[exportName] as ReplicaFactory<A> | undefined;
    if (typeof factory !== 'function') throw new Error(`DataParallel: ${module} has no exported function ${exportName}`);
    const threadsBefore = getCpuThreads();
    setCpuThreads(1);
    const replica = await factory(options.arg as A);
    const params = replica.parameters;
    for (const p of params) {
      if (p.backend.name !== 'cpu') throw new Error(`DataParallel: parameters must be on the cpu backend, got ${p.backend.name}`);
      if (p.dtype === 'int32') throw new Error('DataParallel: parameters must be float32 or float64, got int32');
    }
    const shapes = params.map((p) => [...p.shape]);
    const shared = params.map((p) => {
      const values = allocate(p.dtype, p.size, true);
      values.set(p.data);
      p.storage = p.backend.fromArray(values);
      return values;
    });

    const preload = (options.preload ?? []).map((p) => (p instanceof URL ? p.href : toUrl(p)));
    const slots: WorkerSlot[] = [];
    try {
      for (let index = 1; index <= workers; index++) {
        const { port1, port2 } = new MessageChannel();
        const init: WorkerInit = {
          module,
          exportName,
          arg: options.arg,
          index,
          params: shared,
          shapes,
          port: port2,
          control: allocate('int32', Ctrl.Count, true) as Int32Array,
          grads: params.map((p) => allocate(p.dtype, p.size, true)),
          loss: allocate('float64', 1, true) as Float64Array,
        };
        const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { entry: workerModule(), preload, init }, transferList: [port2] });
        slots.push({ worker, port: port1, ctrl: init.control, grads: init.grads, loss: init.loss, seq: 0 });
        await ready(worker, port1, index);
        worker.unref();
      }
    } catch (e) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      setCpuThreads(threadsBefore);
      throw e;
    }
    return new DataParallel(replica, shared, slots, options.timeoutMs ?? 600_000, threadsBefore);
  }

  /** The main replica's parameters, which every replica shares: give these to the optimizer. */
  get parameters(): Tensor[] {
    return this.replica.parameters;
  }

  /** Replicas in all, the main thread's included. */
  get size(): number {
    return this.slots.length + 1;
  }

  /**
   * Forward and backward of the replicas' loss on `inputs` split along their first axis
   * (as evenly as rows allow, the main thread taking the first shard). Adds to each
   * parameter's `.grad` the gradient of the whole batch's loss, as `loss(...inputs).backward()`
   * on one replica would, and returns that loss (the shards' losses weighted by rows).
   */
  step(...inputs: Tensor[]): number {
    if (this.closed) throw new Error('DataParallel.step: already closed');
    const n = checkBatch(inputs, 'step');
    this.rebind();
    const shards = this.post('loss', inputs, n);
    const params = this.replica.parameters;
    const before = params.map((p) => p.grad);
    for (const p of params) p.grad = null;
    const [lo0, hi0] = shards[0]!;
    let loss = 0;
    let own: (TypedArray | null)[] = params.map(() => null);
    const errors: string[] = [];
    try {
      if (hi0 > lo0) {
        const l = this.replica.loss(...inputs.map((t) => sliceRows(t, lo0, hi0)));
        if (l.size !== 1) throw new Error(`the loss must be a scalar, got shape [${l.shape.join(', ')}]`);
        l.backward();
        loss = (l.item() * (hi0 - lo0)) / n;
        own = params.map((p) => (p.grad === null ? null : p.grad.data));
      }
    } catch (e) {
      errors.push(`replica 0 (this thread): ${(e as Error).message}`); // the workers' shards are still awaited below
    }
    let finished: { slot: WorkerSlot; rows: number }[];
    try {
      finished = this.collect('step', shards, errors);
    } catch (e) {
      params.forEach((p, j) => (p.grad = before[j]!));
      throw e;
    }
    for (const { slot, rows } of finished) loss += (slot.loss[0]! * rows) / n;
    const done = finished.map(({ slot, rows }) => [slot, rows / n] as const);
    if (errors.length > 0) {
      params.forEach((p, i) => (p.grad = before[i]!));
      throw new Error(`DataParallel.step: ${errors.join('; ')}`);
    }
    const w0 = (hi0 - lo0) / n;
    params.forEach((p, i) => {
      if (!p.requiresGrad) return;
      const g = allocate(p.dtype, p.size);
      const mine = own[i];
      if (mine) for (let j = 0; j < g.length; j++) g[j] = w0 * mine[j]!;
      for (const [s, w] of done) {
        const theirs = s.grads[i]!;
        for (let j = 0; j < g.length; j++) g[j]! += w * theirs[j]!;
      }
      const prev = before[i];
      if (prev) {
        const pd = prev.data;
        for (let j = 0; j < g.length; j++) g[j]! += pd[j]!;
      }
      p.grad = new Tensor(p.backend.fromArray(g), p.shape, p.dtype, p.backend);
    });
    return loss;
  }

  /**
   * The replicas' `infer` on `inputs` split along their first axis, as `step` splits them,
   * without the tape: the outputs of the shards, joined along the first axis in row order
   * (as `replica.infer(...inputs)` on one replica would give). For evaluation on every core.
   */
  infer(...inputs: Tensor[]): Tensor {
    if (this.closed) throw new Error('DataParallel.infer: already closed');
    const infer = this.replica.infer;
    if (infer === undefined) throw new Error('DataParallel.infer: the replica has no infer(...inputs): its factory returns only parameters and loss');
    const n = checkBatch(inputs, 'infer');
    this.rebind();
    const shards = this.post('infer', inputs, n);
    const [lo0, hi0] = shards[0]!;
    const errors: string[] = [];
    let own: ShardInput | null = null;
    try {
      if (hi0 > lo0) {
        const y = noGrad(() => infer(...inputs.map((t) => sliceRows(t, lo0, hi0))));
        own = { data: y.data, shape: [...y.shape], dtype: y.dtype };
      }
    } catch (e) {
      errors.push(`replica 0 (this thread): ${(e as Error).message}`);
    }
    const outputs: { rows: number; out: ShardInput }[] = own === null ? [] : [{ rows: hi0 - lo0, out: own }];
    for (const { slot, rows, message } of this.collect('infer', shards, errors)) {
      if (message !== undefined && 'output' in message) outputs.push({ rows, out: message.output });
      else errors.push(`replica ${this.slots.indexOf(slot) + 1}: no output came back`);
    }
    if (errors.length > 0) throw new Error(`DataParallel.infer: ${errors.join('; ')}`);
    const { shape: first, dtype } = outputs[0]!.out;
    const rest = first.slice(1);
    for (const [i, { rows, out }] of outputs.entries()) {
      if (out.shape[0] !== rows || out.dtype !== dtype || out.shape.length !== first.length || rest.some((d, j) => d !== out.shape[j + 1]))
        throw new Error(
          `DataParallel.infer: replica ${i}'s output is ${out.dtype} [${out.shape.join(', ')}] for ${rows} rows; expected one row per input row, each ${dtype} [${rest.join(', ')}] as replica 0's`,
        );
    }
    const values = allocate(dtype, sizeOf([n, ...rest]));
    let at = 0;
    for (const { out } of outputs) {
      values.set(out.data, at);
      at += out.data.length;
    }
    return new Tensor(values, [n, ...rest], dtype);
  }

  /** Posts each worker its shard of `inputs` (`n` rows) for a job of this kind; returns every replica's rows, this thread's first. */
  private post(kind: Job['kind'], inputs: Tensor[], n: number): [number, number][] {
    const shards = split(n, this.size);
    for (const [i, s] of this.slots.entries()) {
      const [lo, hi] = shards[i + 1]!;
      if (hi === lo) continue;
      const job: Job = { kind, inputs: inputs.map((t) => shard(t, lo, hi)) };
      s.port.postMessage(job);
      s.seq++;
      Atomics.store(s.ctrl, Ctrl.Seq, s.seq);
      Atomics.notify(s.ctrl, Ctrl.Seq);
    }
    return shards;
  }

  /**
   * Waits for every worker given a shard; adds the failed ones' errors to `errors` and
   * returns the others with their rows and the message each posted (an output). Throws
   * when one does not finish within the timeout.
   */
  private collect(what: 'step' | 'infer', shards: [number, number][], errors: string[]): { slot: WorkerSlot; rows: number; message?: WorkerMessage }[] {
    const done: { slot: WorkerSlot; rows: number; message?: WorkerMessage }[] = [];
    for (const [i, s] of this.slots.entries()) {
      const [lo, hi] = shards[i + 1]!;
      if (hi === lo) continue;
      if (Atomics.wait(s.ctrl, Ctrl.Done, s.seq - 1, this.timeoutMs) === 'timed-out' && Atomics.load(s.ctrl, Ctrl.Done) !== s.seq)
        throw new Error(`DataParallel.${what}: replica ${i + 1} did not finish its shard within ${this.timeoutMs / 1000} s`);
      const failed = Atomics.load(s.ctrl, Ctrl.Failed) === 1;
      // a failure and an output are posted before Done is stored: already queued
      let message: WorkerMessage | undefined;
      do message = receiveMessageOnPort(s.port)?.message as WorkerMessage | undefined;
      while (message === undefined && (failed || what === 'infer'));
      if (failed) errors.push(`replica ${i + 1}: ${message !== undefined && 'error' in message ? message.error : 'failed'}`);
      else done.push({ slot: s, rows: hi - lo, message });
    }
    return done;
  }

  /** Stops the workers and restores the CPU thread count. The parameters stay usable on the main thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.slots.map(async (s) => {
        s.worker.ref(); // unreferenced while idle: wait for it now
        const exited = new Promise((resolve) => s.worker.once('exit', resolve));
        Atomics.store(s.ctrl, Ctrl.Seq, -1);
        Atomics.notify(s.ctrl, Ctrl.Seq);
        await exited;
        s.port.close();
      }),
    );
    setCpuThreads(this.threadsBefore);
  }

  /** A parameter whose storage was replaced (a loaded state dict) is copied back into shared memory. */
  private rebind(): void {
    this.replica.parameters.forEach((p, i) => {
      const view = this.shared[i]!;
      if (p.storage === view) return;
      view.set(p.data);
      p.storage = p.backend.fromArray(view);
    });
  }
}

/** A path (absolute, or relative to the working directory) as a file URL; URLs and bare specifiers as they are. */
function toUrl(path: string): string {
  return /^\.{0,2}\//.test(path) ? new URL(path, `file://${process.cwd()}/`).href : path;
}

function ready(worker: Worker, port: MessagePort, index: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`DataParallel: replica ${index} did not start: ${why}`));
    port.once('message', (m: WorkerMessage) => ('error' in m ? fail(m.error) : resolve()));
    worker.once('error', (e) => fail(e.stack ?? e.message));
    worker.once('exit', (code) => fail(`its thread exited with code ${code}`));
  }).finally(() => {
    worker.removeAllListeners('error');
    worker.removeAllListeners('exit');
    port.removeAllListeners('message');
  });
}

function checkBatch(inputs: Tensor[], what: 'step' | 'infer'): number {
  if (inputs.length === 0) throw new Error(`DataParallel.${what}: expected at least one input`);
  const n = inputs[0]!.shape[0];
  if (n === undefined || n < 1 || inputs.some((t) => t.shape[0] !== n)) {
    throw new Error(
      `DataParallel.${what}: every input needs the same first (batch) dimension >= 1, got shapes ${inputs.map((t) => `[${t.shape.join(', ')}]`).join(', ')}`,
    );
  }
  return n;
}

/** [lo, hi) rows of each of `parts` shards of `n` rows, as even as rows allow. */
export function split(n: number, parts: number): [number, number][] {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  const out: [number, number][] = [];
  let lo = 0;
  for (let i = 0; i < parts; i++) {
    const hi = lo + base + (i < extra ? 1 : 0);
    out.push([lo, hi]);
    lo = hi;
  }
  return out;
}

function sliceRows(t: Tensor, lo: number, hi: number): Tensor {
  if (lo === 0 && hi === t.shape[0]) return t;
  const r = sizeOf(t.shape.slice(1));
  return new Tensor(t.backend.fromArray(t.data.subarray(lo * r, hi * r)), [hi - lo, ...t.shape.slice(1)], t.dtype, t.backend);
}

function shard(t: Tensor, lo: number, hi: number): ShardInput {
  const r = sizeOf(t.shape.slice(1));
  return { data: t.data.slice(lo * r, hi * r), shape: [hi - lo, ...t.shape.slice(1)], dtype: t.dtype };
}
