/**
 * One replica of the model a run trains, as `DataParallel` builds it on every thread from
 * the run's options: the same architecture, frozen blocks and initialisation as the main
 * thread's (whose weights the replicas then share), the run's loss on a shard of the
 * batch, and the pooled features of a shard in eval mode (evaluation on every core). The
 * main thread's replica also keeps the logits of its shard, from which the trainer reports
 * the step's accuracy.
 */
import { crossEntropy, type Tensor } from '@ggem/tensor';
import type { Replica } from '@ggem/tensor/node';
import type { VisionTransformer } from '@ggem/vit';
import { features } from './evaluate.js';
import type { TrainOptions } from './options.js';
import { buildModel, freeze } from './model.js';

export interface TrainReplica extends Replica {
  model: VisionTransformer;
  /** The logits of the shard the last `loss` call saw. */
  logits: Tensor | null;
}

export function replica(o: TrainOptions): TrainReplica {
  const model = buildModel(o);
  freeze(model, o.freezeBlocks);
  model.train();
  const r: TrainReplica = {
    model,
    logits: null,
    parameters: model.parameters(),
    loss: (x: Tensor, y: Tensor) => {
      const logits = model.forward(x);
      r.logits = logits;
      return crossEntropy(logits, y, { labelSmoothing: o.labelSmoothing });
    },
    infer: (x: Tensor) => features(model, x),
  };
  return r;
}
