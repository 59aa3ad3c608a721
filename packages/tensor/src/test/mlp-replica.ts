import { isMainThread } from 'node:worker_threads';
import { crossEntropy, Generator, LayerNorm, Linear, Module, type Tensor } from '../index.js';
import type { Replica } from '../parallel/protocol.js';

/** A small classifier for the data-parallel tests: linear, layer norm, GELU, linear. */
export class Mlp extends Module {
  fc1: Linear;
  norm: LayerNorm;
  fc2: Linear;
  constructor(inFeatures: number, hidden: number, classes: number, seed: number) {
    super();
    const generator = new Generator(seed);
    this.fc1 = new Linear(inFeatures, hidden, { generator });
    this.norm = new LayerNorm(hidden);
    this.fc2 = new Linear(hidden, classes, { generator });
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.norm.forward(this.fc1.forward(x)).gelu());
  }
}

export interface MlpArg {
  inFeatures: number;
  hidden: number;
  classes: number;
  seed: number;
  /** For the error tests: where the worker replicas go wrong ('first-main-loss': the main thread's first loss; 'slow': a worker's loss takes 1 s). */
  fail?: 'build' | 'loss' | 'shape' | 'first-main-loss' | 'slow' | 'infer' | 'infer-rows';
  /** A replica without `infer`. */
  noInfer?: boolean;
}

export function replica(arg: MlpArg): Replica {
  const worker = !isMainThread;
  if (worker && arg.fail === 'build') throw new Error('this replica refuses to build');
  const model = new Mlp(arg.inFeatures, worker && arg.fail === 'shape' ? arg.hidden + 1 : arg.hidden, arg.classes, arg.seed + (worker ? 1 : 0));
  let losses = 0;
  return {
    parameters: model.parameters(),
    loss: (x: Tensor, y: Tensor) => {
      if (worker && arg.fail === 'loss') throw new Error(`no loss for a shard of ${x.shape[0]} rows`);
      if (worker && arg.fail === 'slow') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
      if (!worker && arg.fail === 'first-main-loss' && losses++ === 0) throw new Error('the first loss fails here');
      return crossEntropy(model.forward(x), y);
    },
    ...(arg.noInfer
      ? {}
      : {
          infer: (x: Tensor) => {
            if (worker && arg.fail === 'infer') throw new Error(`no output for a shard of ${x.shape[0]} rows`);
            const y = model.forward(x);
            return worker && arg.fail === 'infer-rows' ? y.slice([[0, 1]]) : y;
          },
        }),
  };
}
