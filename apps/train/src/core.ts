/**
 * @ggem/train/core: the trainer's runtime-neutral parts, for the web app's training worker
 * (and any program that trains in a browser as the CLI does): the options and recipe, the
 * model, the data (IDX bytes, splits, batches) and the steps. Everything Node-only (files,
 * checkpoints, worker threads, the progress bar) stays in the CLI's modules.
 */
export { defaults, validate, trainsP, P_LR_SCALE, type TrainOptions } from './options.js';
export { buildModel, freeze, parameterGroups } from './model.js';
export { optimization, epochBatches, forwardBackward, forwardBackwardAsync, update, updateAsync, type Optimization } from './loop.js';
export { decodeIdx, encodeIdx, type Idx } from './data/idx-format.js';
export { splitOf, limitSplit, filterClasses, CLASS_NAMES, type Split } from './data/split.js';
export { makeBatch, shuffled, MEAN, STD, type Augment } from './data/batches.js';
export { accuracy } from './evaluate.js';
