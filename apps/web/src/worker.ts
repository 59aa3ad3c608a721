/**
 * The page's worker: it trains (the model a `start` message asks for, on the CPU backend or
 * gpu.js, with the CLI's own steps from @ggem/train/core, one step per task so that pause,
 * reset and the panels' calls are answered between steps) and it answers the panels' calls
 * on the inspected model (./analysis.ts). Each step is posted (loss, accuracy, every p, the
 * gpu.js kernels that ran and any CPU fallback); each epoch ends with the test accuracy.
 */
import { Generator, noGrad, setBackend, tensor, type Tensor } from '@ggem/tensor';
import type { GpujsBackend } from '@ggem/tensor/gpujs';
import {
  accuracy,
  buildModel,
  epochBatches,
  forwardBackward,
  forwardBackwardAsync,
  MEAN,
  makeBatch,
  optimization,
  STD,
  update,
  updateAsync,
  type Split,
  type TrainOptions,
} from '@ggem/train/core';
import { vitFromWeights, weightsToBytes, type VisionTransformer } from '@ggem/vit';
import { attentionMaps, displayGroups, heads, imageOf, patchTokens, pooledByGroup, predictions, topK } from './analysis.js';
import { loadSplit } from './data.js';
import type { Calls, FromWorker, ModelInfo, ToWorker, TrainSettings } from './protocol.js';
import { trainOptions } from './settings.js';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
/** A failure of training, shown in the page (never an uncaught rejection that leaves it waiting). */
const fail = (err: unknown) => post({ type: 'error', message: (err as Error).message ?? String(err) });

interface Run {
  o: TrainOptions;
  model: VisionTransformer;
  optimizing: ReturnType<typeof optimization>;
  rng: Generator;
  epoch: number;
  step: number;
  batches: ReturnType<typeof epochBatches> | null;
  gpu: GpujsBackend | null;
}

let dataUrl = '';
let splits: Promise<{ train: Split; test: Split }> | null = null;
const data = () => (splits ??= Promise.all([loadSplit(dataUrl, 'train'), loadSplit(dataUrl, 't10k')]).then(([train, test]) => ({ train, test })));
let run: Run | null = null;
let paused = false;
let generation = 0;
let inspected: { model: VisionTransformer; info: ModelInfo } | null = null;

async function start(settings: TrainSettings): Promise<void> {
  const mine = ++generation;
  paused = false;
  let gpu: GpujsBackend | null = null;
  if (settings.backend === 'cpu') setBackend('cpu');
  else {
    const { useGpujs } = await import('@ggem/tensor/gpujs');
    gpu = await useGpujs({ mode: settings.backend, warn: () => {} });
    setBackend('gpujs');
  }
  const { train } = await data();
  const o = trainOptions(settings);
  const model = buildModel(o);
  model.train();
  setBackend('cpu'); // the panels' models stay on the CPU
  run = { o, model, optimizing: optimization(model, o, train.count), rng: new Generator(o.seed + 1), epoch: 0, step: 0, batches: null, gpu };
  post({ type: 'ready', backend: gpu ? `gpu.js ${gpu.mode}` : 'the CPU (WebAssembly)' });
  loop(mine).catch(fail);
}

/** Trains until paused, reset, replaced or done, yielding to messages between steps. */
async function loop(mine: number): Promise<void> {
  const { train, test } = await data();
  while (run !== null && mine === generation && !paused) {
    const r = run;
    if (r.epoch >= r.o.epochs) {
      post({ type: 'done' });
      return;
    }
    r.batches ??= epochBatches(train, r.o, r.rng);
    const next = r.batches.next();
    if (next.done) {
      r.batches = null;
      r.epoch++;
      post({ type: 'epoch', epoch: r.epoch, testAcc: await testAccuracy(r.model, test) });
      continue;
    }
    const { x, y, size } = next.value;
    const t0 = performance.now();
    const xs = r.gpu ? x.to(r.gpu) : x;
    const ys = r.gpu ? y.to(r.gpu) : y;
    r.optimizing.opt.zeroGrad();
    const async = r.gpu?.mode === 'webgpu';
    const { loss, logits } = async ? await forwardBackwardAsync(r.model, xs, ys, r.o) : forwardBackward(r.model, xs, ys, r.o);
    if (!Number.isFinite(loss)) {
      post({ type: 'error', message: `the loss is ${loss} at step ${r.step + 1}; training stopped` });
      return;
    }
    if (async) await updateAsync(r.model, r.optimizing, r.o);
    else update(r.model, r.optimizing, r.o);
    r.step++;
    const pred = (await logits.argmax(1).dataAsync()) as Int32Array;
    // p as updated on the device, read back before currentP reads it (webgpu computes asynchronously)
    await Promise.all(
      r.model
        .namedParameters()
        .filter(([n]) => n === 'pool.p')
        .map(([, t]) => t.dataAsync()),
    );
    post({
      type: 'step',
      step: r.step,
      epoch: r.epoch + 1,
      loss,
      acc: accuracy(pred, y.data),
      p: r.model.currentP(),
      imagesPerSecond: size / ((performance.now() - t0) / 1000),
      kernelClasses: r.gpu ? [...r.gpu.kernelClasses] : [],
      fallbacks: r.gpu ? [...r.gpu.fallbacks] : [],
    });
    await new Promise((res) => setTimeout(res, 0)); // let pause, reset and the panels' calls in
  }
  if (paused && mine === generation) post({ type: 'paused' });
}

async function testAccuracy(model: VisionTransformer, test: Split): Promise<number> {
  model.eval();
  const preds = new Int32Array(test.count);
  const be = run?.gpu ?? null;
  for (let s = 0; s < test.count; s += 250) {
    const idx = Int32Array.from({ length: Math.min(250, test.count - s) }, (_, i) => s + i);
    const x = makeBatch(test, idx, null, null).x;
    const logits: Tensor = noGrad(() => model.forward(be ? x.to(be) : x));
    preds.set((await logits.argmax(1).dataAsync()) as Int32Array, s);
  }
  model.train();
  return accuracy(preds, test.labels);
}

async function inspect(model: VisionTransformer, source: string): Promise<ModelInfo> {
  const info: ModelInfo = {
    source,
    pooling: model.config.pooling,
    groups: displayGroups(model),
    patchSize: model.config.patchSize,
    depth: model.blocks.length,
    grid: model.patch_embed.gridSize,
  };
  inspected = { model: model.eval(), info };
  return info;
}

function need(): VisionTransformer {
  if (!inspected) throw new Error('no model yet: train or load one');
  return inspected.model;
}

/** A training run's weights, read back to the host (gpu.js) as safetensors bytes. */
async function snapshotBytes(): Promise<Uint8Array> {
  if (!run) throw new Error('no model is training');
  await Promise.all(run.model.parameters().map((p) => p.dataAsync()));
  return weightsToBytes(run.model);
}

const calls: { [K in keyof Calls]: (...a: Parameters<Calls[K]>) => Promise<ReturnType<Calls[K]>> | ReturnType<Calls[K]> } = {
  async load(bytes, name) {
    const model = await vitFromWeights(new File([bytes as Uint8Array<ArrayBuffer>], name));
    const c = model.config;
    if (c.imgSize !== 28 || c.inChans !== 1 || c.numClasses !== 10)
      throw new Error(`a ${c.imgSize}×${c.imgSize}×${c.inChans} model with ${c.numClasses} classes, not one for Fashion-MNIST (28×28×1, 10 classes)`);
    return inspect(model, `loaded from ${name}`);
  },
  async publish(label) {
    return inspect(await vitFromWeights(await snapshotBytes()), label);
  },
  snapshot: () => snapshotBytes(),
  topK: (pixels) =>
    topK(
      need(),
      tensor(
        Float32Array.from(pixels, (v) => (v / 255 - MEAN) / STD),
        { shape: [1, 1, 28, 28] },
      ),
    ),
  predictions: async (n) => predictions(need(), (await data()).test, n),
  async tokens(image) {
    const model = need();
    const { tokens, grid } = patchTokens(model, imageOf((await data()).test, image));
    const [n, c] = tokens.shape as [number, number];
    const g = displayGroups(model);
    const p = model.currentP();
    return { data: tokens.data as Float32Array, n, c, grid, groups: g, p: p.length === g ? p : new Array<number>(g).fill(3) };
  },
  async pooled(image, ps) {
    return pooledByGroup(patchTokens(need(), imageOf((await data()).test, image)).tokens, ps);
  },
  attention: async (image, block, query) => attentionMaps(need(), imageOf((await data()).test, image), block, query),
  heads: async (block) => heads(need(), (await data()).test, block),
};

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'init') dataUrl = m.dataUrl;
  else if (m.type === 'start') start(m.settings).catch(fail);
  else if (m.type === 'pause') paused = true;
  else if (m.type === 'resume') {
    if (paused && run) {
      paused = false;
      loop(generation).catch(fail);
    }
  } else if (m.type === 'reset') {
    generation++;
    run = null;
    paused = false;
  } else if (m.type === 'call') {
    const f = calls[m.fn] as (...a: unknown[]) => unknown;
    Promise.resolve()
      .then(() => f(...m.args))
      .then(
        (value) => post({ type: 'result', id: m.id, value }, value instanceof Uint8Array ? [value.buffer] : []),
        (err: Error) => post({ type: 'result', id: m.id, error: err.message }),
      );
  }
};
