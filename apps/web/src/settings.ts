import { defaults, type TrainOptions } from '@ggem/train/core';
import type { TrainSettings } from './protocol.js';

/** The CLI's default recipe with the page's choices (what the worker trains, and the tests compare with Node). */
export function trainOptions(s: TrainSettings): TrainOptions {
  return {
    ...defaults,
    pooling: s.pooling,
    groups: s.pooling === 'ggem' ? s.groups : undefined,
    p: s.p,
    epochs: s.epochs,
    batchSize: s.batchSize,
    seed: s.seed,
    threads: 1,
    quiet: true,
  };
}
